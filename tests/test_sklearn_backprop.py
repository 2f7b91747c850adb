"""The weighted, any-output backward pass the estimators use, against jax.grad."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import backprop, losses, mlp


@pytest.mark.parametrize(
    "output, k",
    [
        ("logistic", 1),
        ("logistic", 3),
        ("softmax", 3),
        ("identity", 1),
        ("identity", 2),
        ("exp", 2),
    ],  # fmt: skip
)
@pytest.mark.parametrize("activation", ["relu", pytest.param("tanh", marks=pytest.mark.slow)])
def test_weighted_manual_grads_equal_autodiff(output, k, activation):
    # data and params drawn by NumPy: eager jax.random calls would compile a program each
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 4)).astype(np.float32)
    if output == "softmax":
        Y = np.eye(k, dtype=np.float32)[rng.integers(0, k, 7)]
    elif output == "logistic":
        Y = (rng.random((7, k)) < 0.5).astype(np.float32)
    else:
        Y = np.abs(rng.normal(size=(7, k))).astype(np.float32)
    w = rng.random(7).astype(np.float32)
    sizes = (4, 5, 3, k)
    params = tuple(
        mlp.Dense(
            W=rng.normal(0, fan_in**-0.5, (fan_out, fan_in)).astype(np.float32),
            b=rng.normal(0, 0.1, fan_out).astype(np.float32),
        )
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True)
    )

    def objective(p):
        z = mlp.forward_with_intermediates(p, X, activation).s[-1]
        return jnp.sum(w * losses.per_example_output_loss(z, Y, output))

    manual = jax.jit(backprop.weighted_loss_and_manual_grads, static_argnums=(4, 5))
    value, grads = manual(params, X, Y, w, activation, output)
    chex.assert_trees_all_close(value, jax.jit(objective)(params), rtol=1e-5)
    chex.assert_trees_all_close(grads, jax.jit(jax.grad(objective))(params), rtol=2e-4, atol=1e-6)


@pytest.mark.slow
def test_per_example_output_loss_reference_values():
    z = np.array([[2.0, -1.0]], np.float32)
    Y = np.array([[1.0, 0.0]], np.float32)
    loss = jax.jit(losses.per_example_output_loss, static_argnums=2)
    softmax = float(loss(z, Y, "softmax")[0])
    assert softmax == pytest.approx(np.log1p(np.exp(-3.0)), rel=1e-6)
    assert float(loss(z, Y, "identity")[0]) == pytest.approx(1.0)
    poisson = float(loss(z, Y, "exp")[0])
    assert poisson == pytest.approx(np.exp(2.0) - 2.0 - 1.0 + np.exp(-1.0), rel=1e-6)
    with pytest.raises(ValueError, match="output must be one of"):
        losses.per_example_output_loss(z, Y, "tanh")
