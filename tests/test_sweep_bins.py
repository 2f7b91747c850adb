"""jaxmlp._sweep.bins and steps: the post's gradients in bin layout against manual_grads,
slot views, the per-slot guard's select, the shared loss formulas."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmlp
from jaxmlp import backprop, guard, losses
from jaxmlp._sweep import bins
from jaxmlp._sweep import steps as sweep_steps


def _block(params, member, XT, y, act, *, isolated=False):
    """:func:`bins.block_loss_and_grads`, compiled (op by op it costs seconds), as NumPy
    (slicing device arrays op by op compiles a program per slice)."""
    fn = functools.partial(bins.block_loss_and_grads, act=act, isolated=isolated)
    return jax.tree.map(np.asarray, jax.jit(fn)(params, member, XT, y))


def _manual(params, X, y, act):
    fn = functools.partial(backprop.loss_and_manual_grads, activation=act)
    return jax.tree.map(np.asarray, jax.jit(fn)(params, X, y))


def _bin(models, capacity):
    """One bin (B = 1) holding one-hidden-layer ``models`` side by side, and its member."""
    d, k = models[0][0].W.shape[1], models[0][1].W.shape[0]
    W1, b1 = np.zeros((capacity, d), np.float32), np.zeros(capacity, np.float32)
    W2 = np.zeros((k, capacity), np.float32)
    member = np.zeros((len(models), capacity), bool)
    first = 0
    for j, (l1, l2) in enumerate(models):
        w = l1.W.shape[0]
        W1[first : first + w], b1[first : first + w] = l1.W, l1.b
        W2[:, first : first + w] = l2.W
        member[j, first : first + w] = True
        first += w
    b2 = np.stack([np.asarray(l2.b) for _, l2 in models])  # (K, k)
    params = (jaxmlp.Dense(W1[None], b1[None]), jaxmlp.Dense(W2[None], b2[None]))
    return jax.tree.map(jax.device_put, params), jax.device_put(member[None])  # no jit(stage)


@pytest.mark.parametrize(
    "widths, k, isolated",
    [((3, 2), 1, False), ((1, 1, 1, 1), 3, False), ((2, 3), 3, True)],
)  # (1, 1, 1, 1) x 3 outputs: K * k = 12 > SMALL_BACK, the einsum form
@pytest.mark.slow
def test_block_gradients_equal_manual_grads(widths, k, isolated):
    act = jaxmlp.activations.get("tanh")
    X = jax.random.normal(jax.random.key(0), (16, 2))
    y = (jnp.arange(16) % max(k, 2)).astype(jnp.int32)
    models = [jaxmlp.init_mlp(jax.random.key(s), (2, w, k)) for s, w in enumerate(widths)]
    params, member = _bin(models, sum(widths) + 1)  # one padding unit
    value, (g1, g2) = _block(params, member, X.T, y, act, isolated=isolated)
    first = 0
    for j, (model, w) in enumerate(zip(models, widths, strict=True)):
        want_value, (w1, w2) = _manual(model, X, y, act)
        units = slice(first, first + w)
        np.testing.assert_allclose(value[0, j], want_value, rtol=1e-5)
        np.testing.assert_allclose(g1.W[0, units], w1.W, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(g1.b[0, units], w1.b, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(g2.W[0, :, units], w2.W, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(g2.b[0, j], w2.b, rtol=1e-4, atol=1e-6)
        first += w
    np.testing.assert_array_equal(g1.W[0, first:], 0)  # padding gets no gradient


@pytest.mark.slow
def test_deeper_bin_gradients_equal_manual_grads():
    """depth 2, one model per bin: the hidden-to-hidden layer is (C, C) with zero padding."""
    act = jaxmlp.activations.get("relu")
    X = jax.random.normal(jax.random.key(1), (12, 3))
    y = (X[:, 0] > 0).astype(jnp.int32)
    model = jaxmlp.init_mlp(jax.random.key(2), (3, 4, 4, 1))
    C = 5
    l1, l2, l3 = jax.tree.map(np.asarray, model)  # padded in NumPy: eager .at[].set compiles
    W1, b1, W2, b2 = np.zeros((1, C, 3)), np.zeros((1, C)), np.zeros((1, C, C)), np.zeros((1, C))
    W3 = np.zeros((1, 1, C))
    W1[0, :4], b1[0, :4], W2[0, :4, :4], b2[0, :4], W3[0, :, :4] = l1.W, l1.b, l2.W, l2.b, l3.W
    params = jax.tree.map(
        lambda a: jax.device_put(a.astype(np.float32)),
        (jaxmlp.Dense(W1, b1), jaxmlp.Dense(W2, b2), jaxmlp.Dense(W3, l3.b[None, None])),
    )
    member = jax.device_put(np.array([[[True] * 4 + [False]]]))
    value, grads = _block(params, member, X.T, y, act)
    want_value, want = _manual(model, X, y, act)
    np.testing.assert_allclose(value[0, 0], want_value, rtol=1e-5)
    np.testing.assert_allclose(grads[0].W[0, :4], want[0].W, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grads[1].W[0, :4, :4], want[1].W, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grads[2].W[0, :, :4], want[2].W, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grads[2].b[0, 0], want[2].b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("act", ["relu", "tanh"])
@pytest.mark.slow
def test_a_bin_mates_overflow_does_not_reach_a_model(act):
    """Two models share a bin; the second's hidden units overflow (inf, or NaN from inf - inf).

    The guarded form (``isolated``) gives the first model exactly what it gets
    alone; the fast form would let ``0 * inf`` into its logits. (The fast form
    runs only while everything is finite; a non-finite chunk is redone guarded.)
    """
    act = jaxmlp.activations.get(act)
    XT = jax.random.normal(jax.random.key(0), (2, 16))
    y = (XT[0] > 0).astype(jnp.int32)
    (l1, l2) = jaxmlp.init_mlp(jax.random.key(1), (2, 6, 1))
    member = jnp.array([[[True] * 4 + [False] * 2, [False] * 4 + [True] * 2]])  # (B=1, K=2, C=6)
    W1 = l1.W.at[4:].set(jnp.inf)  # model 2's units: s = +-inf or NaN
    params = (
        jaxmlp.Dense(W1[None], l1.b[None]),
        jaxmlp.Dense(l2.W[None], jnp.stack([l2.b, l2.b], axis=0)[None]),
    )
    alone = (jaxmlp.Dense(l1.W[:4], l1.b[:4]), jaxmlp.Dense(l2.W[:, :4], l2.b))
    want_value, want_grads = _manual(alone, XT.T, y, act)

    value, (g1, g2) = _block(params, member, XT, y, act, isolated=True)
    np.testing.assert_allclose(value[0, 0], want_value, rtol=1e-6)
    np.testing.assert_allclose(g1.W[0, :4], want_grads[0].W, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g1.b[0, :4], want_grads[0].b, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g2.W[0, :, :4], want_grads[1].W, rtol=1e-5, atol=1e-7)
    assert not np.isfinite(value[0, 1])  # the overflowing model itself is non-finite
    fast_value, _ = _block(params, member, XT, y, act)
    assert not np.isfinite(fast_value[0, 0])  # why the guarded form needs isolation


def test_slot_views_and_combine_are_inverse():
    models = [jaxmlp.init_mlp(jax.random.key(s), (2, w, 1)) for s, w in enumerate((2, 3))]
    params, member = _bin(models, 6)
    views = bins.slot_views(params, member)
    assert views[0].W.shape == (1, 2, 6, 2) and views[1].W.shape == (1, 2, 1, 6)
    np.testing.assert_array_equal(views[0].W[0, 0, :2], models[0][0].W)
    np.testing.assert_array_equal(views[0].W[0, 0, 2:], 0)  # foreign and padding units
    back = bins.combine(views, member)
    for got, want in zip(jax.tree.leaves(back), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(got, want)


def test_pick_units_follows_each_units_slot():
    models = [jaxmlp.init_mlp(jax.random.key(s), (2, w, 1)) for s, w in enumerate((2, 3))]
    new, member = _bin(models, 6)
    old = jax.tree.map(jnp.zeros_like, new)
    picked = bins.pick_units(member, jnp.array([[False, True]]), new, old)
    np.testing.assert_array_equal(picked[0].W[0, :2], 0)  # slot 0 keeps old
    np.testing.assert_array_equal(picked[0].W[0, 2:5], new[0].W[0, 2:5])  # slot 1 takes new
    np.testing.assert_array_equal(picked[0].W[0, 5], 0)  # padding keeps old
    np.testing.assert_array_equal(picked[1].b[0, 0], 0)  # the output bias is per slot
    np.testing.assert_array_equal(picked[1].b[0, 1], new[1].b[0, 1])


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.slow
def test_output_terms_are_the_shared_loss_and_delta(k):
    """The bin layout (B, K, k, n) calls losses/backprop with the classes on axis 2."""
    z = jax.random.normal(jax.random.key(0), (2, 3, k, 5)) * 3
    y = jnp.array([0, 1, 1, 0, 1]) if k == 1 else jnp.array([0, 2, 1, 2, 0])
    value, delta = jax.jit(bins.output_terms)(z, y)

    def reference(zz):  # (k, n) -> train's layout (n, k)
        return losses.mean_cross_entropy(zz.T, y), backprop.output_delta(zz.T, y).T

    want_value, want_delta = jax.jit(jax.vmap(jax.vmap(reference)))(z)
    np.testing.assert_allclose(value, want_value, rtol=1e-6)
    np.testing.assert_allclose(delta, want_delta, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_the_bin_layouts_guard_equals_each_model_guarded_alone():
    """jaxmlp.guard with the bin layout's selects (sweep steps) vs guard on one network."""
    widths, steps = (2, 3), 4
    oks = np.ones((steps, 2), bool)
    oks[2, 1] = False  # model 1 diverges at step 2
    rng = np.random.default_rng(0)
    normal = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    trajectory = [  # the new params of each update (index 0: the initial ones)
        [(jaxmlp.Dense(normal(w, 2), normal(w)), jaxmlp.Dense(normal(1, w), normal(1)))
         for w in widths]
        for _ in range(steps + 1)
    ]  # fmt: skip
    trajectory[steps][0][0].W[1, 0] = np.inf  # model 0: non-finite after the very last update
    params, member = _bin(trajectory[0], 6)

    @jax.jit  # (op by op it costs seconds)
    def in_bin(params, news, oks):
        state = guard.init(params, jnp.zeros((1, 2)), shape=(1, 2))
        for t, (new, ok) in enumerate(zip(news, oks, strict=True)):
            state = guard.update(
                state, new, state.opt_state + 1, ok[None], jnp.int32(t),
                select=sweep_steps.select_units(member), select_state=sweep_steps.select_slots,
            )  # fmt: skip
        return sweep_steps.final(state, member, steps), state.opt_state

    @jax.jit
    def alone(params, news, oks):
        state = guard.init(params, jnp.float32(0))
        for t, (new, ok) in enumerate(zip(news, oks, strict=True)):
            state = guard.update(state, new, state.opt_state + 1, ok, jnp.int32(t))
        return guard.final(state, guard.all_finite(state.params), steps), state.opt_state

    news = [_bin(models, 6)[0] for models in trajectory[1:]]
    (final, at), opt_state = jax.tree.map(np.asarray, in_bin(params, news, jnp.asarray(oks)))
    np.testing.assert_array_equal(final[0].W[0, 5], params[0].W[0, 5])  # padding: untouched
    for j, units in enumerate([np.arange(2), np.arange(2, 5)]):
        news = [models[j] for models in trajectory[1:]]
        (want, want_at), want_opt = alone(trajectory[0][j], news, oks[:, j])
        assert int(at[0, j]) == int(want_at) and float(opt_state[0, j]) == float(want_opt)
        got = (
            jaxmlp.Dense(final[0].W[0, units], final[0].b[0, units]),
            jaxmlp.Dense(final[1].W[0][:, units], final[1].b[0, j]),
        )
        for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(np.asarray(at), [[steps, 2]])
