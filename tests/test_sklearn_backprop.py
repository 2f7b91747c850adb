"""The weighted, any-output backward pass the estimators use, against jax.grad."""

import chex
import jax
import jax.numpy as jnp
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
    kx, ky, kw, kp = jax.random.split(jax.random.key(0), 4)
    X = jax.random.normal(kx, (7, 4))
    if output == "softmax":
        Y = jax.nn.one_hot(jax.random.randint(ky, (7,), 0, k), k)
    elif output == "logistic":
        Y = jax.random.bernoulli(ky, 0.5, (7, k)).astype(jnp.float32)
    else:
        Y = jnp.abs(jax.random.normal(ky, (7, k)))
    w = jax.random.uniform(kw, (7,))
    params = mlp.init_mlp(kp, (4, 5, 3, k))

    def objective(p):
        z = mlp.forward_with_intermediates(p, X, activation).s[-1]
        return jnp.sum(w * losses.per_example_output_loss(z, Y, output))

    manual = jax.jit(backprop.weighted_loss_and_manual_grads, static_argnums=(4, 5))
    value, grads = manual(params, X, Y, w, activation, output)
    chex.assert_trees_all_close(value, jax.jit(objective)(params), rtol=1e-5)
    chex.assert_trees_all_close(grads, jax.jit(jax.grad(objective))(params), rtol=2e-4, atol=1e-6)


@pytest.mark.slow
def test_per_example_output_loss_reference_values():
    z = jnp.array([[2.0, -1.0]])
    Y = jnp.array([[1.0, 0.0]])
    softmax = float(losses.per_example_output_loss(z, Y, "softmax")[0])
    assert softmax == pytest.approx(float(jnp.log1p(jnp.exp(-3.0))), rel=1e-6)
    assert float(losses.per_example_output_loss(z, Y, "identity")[0]) == pytest.approx(1.0)
    poisson = float(losses.per_example_output_loss(z, Y, "exp")[0])
    assert poisson == pytest.approx(float(jnp.exp(2.0) - 2.0 - 1.0 + jnp.exp(-1.0)), rel=1e-6)
    with pytest.raises(ValueError, match="output must be one of"):
        losses.per_example_output_loss(z, Y, "tanh")
