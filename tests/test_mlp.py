import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmlp
from jaxmlp import mlp


@pytest.mark.slow
def test_init_shapes_any_depth():
    params = jaxmlp.init_mlp(jax.random.key(0), (4, 7, 5, 3))
    assert [p.W.shape for p in params] == [(7, 4), (5, 7), (3, 5)]
    assert [p.b.shape for p in params] == [(7,), (5,), (3,)]
    assert all(isinstance(p, jaxmlp.Dense) for p in params)
    assert mlp.sizes_of(params) == (4, 7, 5, 3)


@pytest.mark.slow
def test_init_schemes_statistics():
    key = jax.random.key(0)
    as_numpy = lambda params: jax.tree.map(np.asarray, params)  # noqa: E731 (no eager jnp ops)
    (layer,) = as_numpy(jaxmlp.init_mlp(key, (400, 300), scheme="uniform01"))
    assert 0.0 <= float(layer.W.min()) and float(layer.W.max()) <= 1.0
    assert abs(float(layer.W.mean()) - 0.5) < 0.01
    assert 0.0 <= float(layer.b.min()) and float(layer.b.max()) <= 1.0
    (layer,) = as_numpy(jaxmlp.init_mlp(key, (400, 300), scheme="glorot_uniform"))
    limit = np.sqrt(6 / 700)
    assert float(np.abs(layer.W).max()) <= limit
    assert abs(float(layer.W.std()) - limit / np.sqrt(3)) < 0.005
    assert float(np.abs(layer.b).max()) == 0.0
    (layer,) = as_numpy(jaxmlp.init_mlp(key, (400, 300), scheme="he_normal"))
    assert abs(float(layer.W.std()) - np.sqrt(2 / 400)) < 0.003


def test_init_is_deterministic_per_key():
    a = jaxmlp.init_mlp(jax.random.key(3), (2, 3, 1))
    b = jaxmlp.init_mlp(jax.random.key(3), (2, 3, 1))
    c = jaxmlp.init_mlp(jax.random.key(4), (2, 3, 1))
    chex.assert_trees_all_equal(a, b)
    assert not np.allclose(a[0].W, c[0].W)


@pytest.mark.slow
def test_init_float64():
    with jax.enable_x64(True):
        params = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1), dtype=jnp.float64)
        assert params[0].W.dtype == jnp.float64


def test_forward_reference_value():
    # The post's MLP(x) = w_final . sigma(W x + b) + b_final, written out by hand.
    W = jnp.array([[1.0, -2.0], [0.5, 0.0], [0.0, 3.0]])
    b = jnp.array([0.1, -0.2, 0.3])
    w = jnp.array([[1.0, -1.0, 2.0]])
    bf = jnp.array([0.5])
    params = (jaxmlp.Dense(W, b), jaxmlp.Dense(w, bf))
    x = jnp.array([0.7, -0.4])
    h = 1 / (1 + np.exp(-(np.asarray(W) @ np.asarray(x) + np.asarray(b))))
    expected = np.asarray(w) @ h + np.asarray(bf)
    np.testing.assert_allclose(jaxmlp.forward(params, x, "sigmoid"), expected, rtol=1e-6)


def test_forward_one_example_with_and_without_jit(maybe_jit):
    params = jaxmlp.init_mlp(jax.random.key(0), (2, 4, 3))
    x = jnp.array([0.3, -1.0])
    f = maybe_jit(lambda p, x: jaxmlp.forward(p, x, activation="tanh"))
    out = f(params, x)
    chex.assert_shape(out, (3,))
    expected = params[1].W @ jnp.tanh(params[0].W @ x + params[0].b) + params[1].b
    np.testing.assert_allclose(out, expected, rtol=1e-6)


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "softplus"])
@pytest.mark.parametrize("sizes", [(2, 1), (2, 3, 1), (3, 5, 4, 3)])
@pytest.mark.slow
def test_vmapped_predict_proba_equals_matrix_form(activation, sizes):
    params = jaxmlp.init_mlp(jax.random.key(1), sizes)
    X = jax.random.normal(jax.random.key(2), (9, sizes[0]))
    # the references in NumPy float64 (eager jnp ops compile a program per shape)
    logits = np.asarray(mlp.forward_with_intermediates(params, X, activation).s[-1], np.float64)
    proba = jaxmlp.predict_proba(params, X, activation)
    if sizes[-1] == 1:
        chex.assert_shape(proba, (9,))
        np.testing.assert_allclose(proba, 1 / (1 + np.exp(-logits[:, 0])), rtol=1e-5)
        np.testing.assert_array_equal(jaxmlp.predict(params, X, activation), logits[:, 0] >= 0)
    else:
        chex.assert_shape(proba, (9, sizes[-1]))
        softmax = np.exp(logits - logits.max(-1, keepdims=True))
        softmax /= softmax.sum(-1, keepdims=True)
        np.testing.assert_allclose(proba, softmax, rtol=1e-5)
        np.testing.assert_allclose(np.asarray(proba).sum(-1), 1.0, rtol=1e-6)
        np.testing.assert_array_equal(jaxmlp.predict(params, X, activation), logits.argmax(-1))


@pytest.mark.slow
def test_intermediates_are_the_posts_named_values():
    params = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
    X = jax.random.normal(jax.random.key(1), (5, 2))
    s, h = mlp.forward_with_intermediates(params, X, "sigmoid")
    assert len(s) == 2 and len(h) == 2
    np.testing.assert_array_equal(h[0], X)
    np.testing.assert_allclose(s[0], X @ params[0].W.T + params[0].b[None], rtol=1e-6)  # s_1
    np.testing.assert_allclose(h[1], jax.nn.sigmoid(s[0]), rtol=1e-6)  # h
    np.testing.assert_allclose(s[1], h[1] @ params[1].W.T + params[1].b[None], rtol=1e-6)  # s_2


@pytest.mark.slow
def test_identity_mlp_collapses_to_one_linear_classifier():
    """The post's exercise: without activations, the MLP is a single linear map."""
    params = jaxmlp.init_mlp(jax.random.key(0), (2, 5, 4, 1))
    W_eff, b_eff = np.eye(2), np.zeros(2)  # in NumPy float64 (eager jnp ops compile per shape)
    for layer in jax.tree.map(lambda a: np.asarray(a, np.float64), params):
        W_eff, b_eff = layer.W @ W_eff, layer.W @ b_eff + layer.b
    X = jax.random.normal(jax.random.key(1), (20, 2))
    logits = jax.vmap(lambda x: jaxmlp.forward(params, x, "identity"))(X)
    np.testing.assert_allclose(logits, np.asarray(X) @ W_eff.T + b_eff[None], rtol=1e-5, atol=1e-6)
