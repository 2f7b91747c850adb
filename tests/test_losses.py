import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxmlp
from jaxmlp import losses

logit_lists = st.lists(st.floats(-1e4, 1e4, allow_nan=False, width=32), min_size=8, max_size=8)
label_lists = st.lists(st.integers(0, 1), min_size=8, max_size=8)


def test_bce_reference_values():
    z = jnp.array([0.0, 2.0, -3.0])
    y = jnp.array([1, 0, 0])
    p = 1 / (1 + np.exp(-np.array([0.0, 2.0, -3.0])))
    expected = [-np.log(p[0]), -np.log(1 - p[1]), -np.log(1 - p[2])]
    np.testing.assert_allclose(losses.binary_cross_entropy(z, y), expected, rtol=1e-6)


def test_softmax_ce_reference_values():
    z = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    y = jnp.array([2, 0])
    z_np = np.asarray(z)
    expected = np.log(np.exp(z_np).sum(1)) - z_np[[0, 1], [2, 0]]
    np.testing.assert_allclose(losses.softmax_cross_entropy(z, y), expected, rtol=1e-6)


@settings(max_examples=50, deadline=None)
@given(logit_lists, label_lists)
def test_bce_properties(zs, ys):
    z = jnp.array(zs, jnp.float32)
    y = jnp.array(ys)
    value = BCE(z, y)
    assert bool(jnp.all(jnp.isfinite(value)))
    assert bool(jnp.all(value >= 0))
    np.testing.assert_allclose(value, BCE(-z, 1 - y), rtol=1e-6)


BCE = jax.jit(losses.binary_cross_entropy)  # one compile for all examples (fixed shapes)


def test_loss_and_gradient_finite_for_huge_logits():
    params = (jaxmlp.Dense(jnp.array([[1e4, -1e4]]), jnp.array([0.0])),)
    X = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    y = jnp.array([0, 1, 1, 0])  # two examples maximally wrong: loss ~ 1e4 / 2
    value = jaxmlp.loss(params, X, y)
    np.testing.assert_allclose(value, 5e3, rtol=1e-6)
    grads = jaxmlp.manual_grads(params, X, y)
    auto = jax.grad(jaxmlp.loss)(params, X, y)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves((grads, auto)))
    chex.assert_trees_all_close(grads, auto, rtol=1e-6)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.slow
def test_loss_with_and_without_jit(maybe_jit, k):
    params = jaxmlp.init_mlp(jax.random.key(0), (2, 4, k))
    X = jax.random.normal(jax.random.key(1), (6, 2))
    y = jnp.array([0, 1, 1, 0, 1, 0]) if k == 1 else jnp.array([0, 1, 2, 2, 1, 0])
    value = maybe_jit(lambda p: jaxmlp.loss(p, X, y, activation="relu"))(params)
    # the reference in NumPy float64 (eager jnp ops compile a program per shape)
    logits = np.asarray(jax.vmap(lambda x: jaxmlp.forward(params, x, "relu"))(X), np.float64)
    y = np.asarray(y)
    if k == 1:
        p = 1 / (1 + np.exp(-logits[:, 0]))
        expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    else:
        shifted = logits - logits.max(-1, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        expected = -np.mean(log_softmax[np.arange(6), y])
    np.testing.assert_allclose(value, expected, rtol=1e-5)


@pytest.mark.slow
def test_softmax_ce_takes_the_class_axis_anywhere():
    """The bin layout (B, K, k, n) with labels (n,) gives train's (n, k) values exactly."""
    z = jax.random.normal(jax.random.key(0), (2, 3, 4, 5)) * 3  # (B, K, k, n)
    y = jnp.array([0, 3, 1, 2, 3])
    got = losses.softmax_cross_entropy(z, y, axis=2)
    assert got.shape == (2, 3, 5)
    want = jax.vmap(jax.vmap(lambda zz: losses.softmax_cross_entropy(zz.T, y)))(z)
    np.testing.assert_array_equal(got, want)  # a one-hot sum picks z_y exactly
    np.testing.assert_array_equal(losses.softmax_cross_entropy(z, y, axis=-2), got)
    flat = z[0, 0].T  # (n, k)
    np.testing.assert_array_equal(
        losses.softmax_cross_entropy(flat.T, y, axis=0), losses.softmax_cross_entropy(flat, y)
    )


@pytest.mark.slow
def test_bce_broadcasts_labels_from_the_right():
    z = jax.random.normal(jax.random.key(1), (2, 3, 5)) * 3  # (B, K, n)
    y = jnp.array([0, 1, 1, 0, 1])
    got = losses.binary_cross_entropy(z, y)
    for b in range(2):
        np.testing.assert_array_equal(got[b, 1], losses.binary_cross_entropy(z[b, 1], y))
