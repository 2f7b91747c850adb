"""The post's hand-derived gradients against ``jax.grad``."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxmlp
from jaxmlp import activations, backprop


def relative_error(a, b):
    """||a - b|| / ||b|| over all leaves, in NumPy (eager jnp ops compile one program per shape)."""
    a, b = (np.concatenate([np.ravel(x) for x in jax.tree.leaves(t)]) for t in (a, b))
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def make_problem(seed, sizes, n, dtype):
    """Glorot-uniform weights, inputs and labels drawn with NumPy (jax.random draws compile
    one program per new shape)."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        W = rng.uniform(-limit, limit, (fan_out, fan_in))
        # Biases away from zero so relu kinks are not hit exactly.
        params.append(
            jaxmlp.Dense(
                jax.device_put(W.astype(dtype)), jax.device_put(np.full(fan_out, 0.1, dtype))
            )
        )
    X = jax.device_put(rng.normal(size=(n, sizes[0])).astype(dtype))
    n_classes = 2 if sizes[-1] == 1 else sizes[-1]
    y = jax.device_put(rng.integers(0, n_classes, n).astype(np.int32))
    return tuple(params), X, y


@functools.partial(jax.jit, static_argnums=3)
def manual_and_autodiff(params, X, y, activation):
    """``(manual_grads, jax.grad(loss))`` in one compiled program per shape and activation."""
    return (
        jaxmlp.manual_grads(params, X, y, activation),
        jax.grad(jaxmlp.loss)(params, X, y, activation),
    )


problems = st.fixed_dictionaries(
    {
        "activation": st.sampled_from(activations.NAMES),
        "hidden": st.lists(st.sampled_from([1, 3, 4]), min_size=0, max_size=3),  # depth 1..4
        "d": st.sampled_from([1, 2, 3]),
        "k": st.sampled_from([1, 3]),
        "n": st.sampled_from([1, 7]),
        "seed": st.integers(0, 2**16),
    }
)


@settings(max_examples=6, deadline=None)
@given(problems)
@pytest.mark.slow
def test_manual_grads_equal_autodiff_float64(problem):
    sizes = (problem["d"], *problem["hidden"], problem["k"])
    with jax.enable_x64(True):
        params, X, y = make_problem(problem["seed"], sizes, problem["n"], jnp.float64)
        manual, auto = manual_and_autodiff(params, X, y, problem["activation"])
        chex.assert_trees_all_equal_shapes_and_dtypes(manual, params)
        assert relative_error(manual, auto) < 1e-10


@settings(max_examples=5, deadline=None)
@given(problems)
@pytest.mark.slow
def test_manual_grads_equal_autodiff_float32(problem):
    sizes = (problem["d"], *problem["hidden"], problem["k"])
    params, X, y = make_problem(problem["seed"], sizes, problem["n"], jnp.float32)
    manual, auto = manual_and_autodiff(params, X, y, problem["activation"])
    assert relative_error(manual, auto) < 1e-4


@pytest.mark.parametrize("activation", activations.NAMES)
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.slow
def test_every_activation_and_depth(activation, depth):
    sizes = (2, *([4] * (depth - 1)), 3)
    with jax.enable_x64(True):
        params, X, y = make_problem(depth, sizes, 5, jnp.float64)
        manual, auto = manual_and_autodiff(params, X, y, activation)
        assert relative_error(manual, auto) < 1e-10


def test_posts_two_layer_formulas_for_one_example():
    """dL/dw_final = (y_hat - y) h, dL/dW = ((y_hat - y) w_final * (1 - h) * h) outer x."""
    params = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1), scheme="uniform01")
    (W, b), (w_final, b_final) = params
    x, y = np.array([0.5, -1.5], np.float32), 1
    # the formulas in NumPy float64 (eager jnp ops would each compile a program)
    W, b, w_final, b_final = (np.asarray(a, np.float64) for a in (W, b, w_final, b_final))
    sigmoid = lambda s: 1 / (1 + np.exp(-s))  # noqa: E731
    h = sigmoid(W @ x + b)
    y_hat = sigmoid(w_final[0] @ h + b_final[0])
    delta = (y_hat - y) * w_final[0] * (1 - h) * h
    grads = jax.tree.map(np.asarray, jaxmlp.manual_grads(params, x[None], np.array([y])))
    np.testing.assert_allclose(grads[1].W[0], (y_hat - y) * h, rtol=1e-6)
    np.testing.assert_allclose(grads[1].b[0], y_hat - y, rtol=1e-6)
    np.testing.assert_allclose(grads[0].W, np.outer(delta, x), rtol=1e-5)
    np.testing.assert_allclose(grads[0].b, delta, rtol=1e-5)


@pytest.mark.slow
def test_manual_grads_with_and_without_jit(maybe_jit, circles_data):
    X, y = circles_data
    params = jaxmlp.init_mlp(jax.random.key(1), (2, 3, 1))
    grads = maybe_jit(lambda p: jaxmlp.manual_grads(p, X, y, "tanh"))(params)
    chex.assert_trees_all_close(grads, jax.grad(jaxmlp.loss)(params, X, y, "tanh"), rtol=1e-4)


@pytest.mark.slow
def test_loss_and_manual_grads_returns_the_loss(circles_data):
    X, y = circles_data
    params = jaxmlp.init_mlp(jax.random.key(1), (2, 3, 1))
    loss_and_grads = jax.jit(backprop.loss_and_manual_grads, static_argnums=3)  # not op by op
    value, _ = loss_and_grads(params, X, y, "sigmoid")
    np.testing.assert_allclose(value, jaxmlp.loss(params, X, y), rtol=1e-6)


def test_backprop_uses_no_autodiff():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(backprop))
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    used |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not used & {"grad", "vjp", "value_and_grad", "jvp", "linearize", "custom_vjp"}


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.slow
def test_output_delta_takes_the_output_axis_anywhere(k):
    """The sweep's bin layout (B, K, k, n), axis 2, gives the (n, k) layout's Delta_L."""
    z = jax.random.normal(jax.random.key(0), (2, 3, k, 5)) * 3
    y = jnp.array([0, 1, 1, 0, 1]) if k == 1 else jnp.array([0, 2, 1, 2, 0])
    got = backprop.output_delta(z, y, axis=2)
    assert got.shape == z.shape
    want = jax.vmap(jax.vmap(lambda zz: backprop.output_delta(zz.T, y).T))(z)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(backprop.output_delta(z, y, axis=-2), got)


# ------------------------------------------------------------------ regression: identity output
@functools.partial(jax.jit, static_argnums=3)
def regression_manual_and_autodiff(params, X, Y, activation):
    """The same pair for ``output="identity"`` (half the squared error)."""
    return (
        jaxmlp.manual_grads(params, X, Y, activation, output="identity"),
        jax.grad(jaxmlp.loss)(params, X, Y, activation, output="identity"),
    )


@pytest.mark.parametrize("activation", activations.NAMES)
@pytest.mark.parametrize("k", [1, 3])
def test_regression_manual_grads_equal_autodiff(activation, k):
    """(P1) is ``Y_hat - Y`` for the identity output too: the post's formulas equal jax.grad."""
    sizes = (2, 4, 3, k)
    with jax.enable_x64(True):
        params, X, _ = make_problem(k, sizes, 7, jnp.float64)
        rng = np.random.default_rng(k)
        Y = jax.device_put(rng.normal(size=(7, k) if k > 1 else (7,)) * 2.0)
        manual, auto = regression_manual_and_autodiff(params, X, Y, activation)
        chex.assert_trees_all_equal_shapes_and_dtypes(manual, params)
        assert relative_error(manual, auto) < 1e-10


def test_regression_loss_and_delta_reference_values():
    """Loss: mean over rows of half the squared error; its (P1) delta: y_hat - y."""
    params = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 2))
    X = np.array([[0.5, -1.0], [2.0, 0.0], [-1.0, 1.0]], np.float32)
    Y = np.array([[1.0, -2.0], [0.0, 3.0], [0.5, 0.5]], np.float32)
    forward = jax.jit(lambda p, X: jaxmlp.mlp.forward_with_intermediates(p, X, "tanh").s[-1])
    z = np.asarray(forward(params, X), np.float64)
    value = jaxmlp.loss(params, X, Y, "tanh", output="identity")
    np.testing.assert_allclose(value, 0.5 * np.sum((z - Y) ** 2) / 3, rtol=1e-6)
    delta = backprop.output_delta(jnp.asarray(z), jnp.asarray(Y), output="identity")
    np.testing.assert_allclose(delta, z - Y, rtol=1e-6)
    loss_and_grads = jax.jit(backprop.loss_and_manual_grads, static_argnums=(3, 4))
    returned, grads = loss_and_grads(params, X, Y, "tanh", "identity")
    np.testing.assert_allclose(returned, value, rtol=1e-6)
    np.testing.assert_allclose(grads[-1].b, np.mean(z - Y, axis=0), rtol=1e-5)  # (P1) mean
