"""jaxmlp.sweep: exactness against train, result shapes, input checks, checkpoint/resume."""

from __future__ import annotations

import importlib
import itertools
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp import checkpoint

sweep_module = importlib.import_module("jaxmlp.sweep")

WIDTHS = (3, 2)  # not sorted on purpose: results follow the order given
ACTS = ("sigmoid", "relu")
SEEDS = (0, 5)
STEPS = 12
OPT = optax.adam(0.05)


@pytest.fixture(scope="module")
def data():
    X, y = jaxmlp.datasets.circles(jax.random.key(0), 48)
    return jaxmlp.datasets.train_test_split(jax.random.key(1), X, y)


@pytest.fixture(scope="module")
def result(data):
    X, X_test, y, y_test = data
    return jaxmlp.sweep(
        X,
        y,
        widths=WIDTHS,
        activations=ACTS,
        seeds=SEEDS,
        steps=STEPS,
        optimizer=OPT,
        X_test=X_test,
        y_test=y_test,
        chunk_steps=4,
    )


def test_shapes_and_axes(result):
    W, A, S = len(WIDTHS), len(ACTS), len(SEEDS)
    assert result.widths == WIDTHS and result.activations == ACTS and result.seeds == SEEDS
    for name in ("final_loss", "train_accuracy", "test_loss", "test_accuracy", "diverged_at"):
        assert getattr(result, name).shape == (W, A, S), name
    assert result.loss.shape == (W, A, S, STEPS)
    np.testing.assert_array_equal(result.loss_steps, np.arange(STEPS))
    np.testing.assert_array_equal(result.diverged_at, -1)
    assert np.all((result.train_accuracy >= 0) & (result.train_accuracy <= 1))
    # Training reduced every model's loss.
    assert np.all(result.loss[..., -1] < result.loss[..., 0])


def test_every_config_equals_train(result, data):
    X, X_test, y, y_test = data
    for i, w in enumerate(WIDTHS):
        for j, a in enumerate(ACTS):
            for k, s in enumerate(SEEDS):
                init = jaxmlp.init_mlp(jax.random.key(s), (2, w, 1))
                ref = jaxmlp.train(init, X, y, activation=a, optimizer=OPT, steps=STEPS)
                params = result.params(w, a, s)
                assert [layer.W.shape for layer in params] == [(w, 2), (1, w)]
                pairs = zip(jax.tree.leaves(params), jax.tree.leaves(ref.params), strict=True)
                for got, want in pairs:
                    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
                np.testing.assert_allclose(result.loss[i, j, k], ref.loss, rtol=1e-5, atol=1e-6)
                final = jaxmlp.loss(ref.params, X, y, activation=a)
                np.testing.assert_allclose(result.final_loss[i, j, k], final, rtol=1e-5)
                acc = np.mean(np.asarray(jaxmlp.predict(ref.params, X, activation=a)) == y)
                assert result.train_accuracy[i, j, k] == pytest.approx(acc)
                test_acc = np.mean(
                    np.asarray(jaxmlp.predict(ref.params, X_test, activation=a)) == y_test
                )
                assert result.test_accuracy[i, j, k] == pytest.approx(test_acc)


def test_minibatches_and_sigmoid_padding_free_match_train(data):
    X, _, y, _ = data
    key = jax.random.key(3)
    r = jaxmlp.sweep(
        X, y, widths=(4,), activations=("tanh",), seeds=(2,), steps=10,
        optimizer=optax.sgd(0.5), batch_size=12, key=key,
    )  # fmt: skip
    init = jaxmlp.init_mlp(jax.random.key(2), (2, 4, 1))
    ref = jaxmlp.train(
        init, X, y, activation="tanh", optimizer=optax.sgd(0.5), steps=10, batch_size=12, key=key
    )
    np.testing.assert_allclose(r.loss[0, 0, 0], ref.loss, rtol=1e-5, atol=1e-6)


def test_loss_curves_are_subsampled(result, data):
    X, _, y, _ = data
    r = jaxmlp.sweep(
        X, y, widths=WIDTHS, activations=ACTS, seeds=SEEDS, steps=STEPS, optimizer=OPT,
        chunk_steps=4, loss_points=4,
    )  # fmt: skip
    assert r.loss_steps[0] == 0 and r.loss_steps[-1] == STEPS - 1 and len(r.loss_steps) == 4
    np.testing.assert_array_equal(r.loss, result.loss[..., r.loss_steps])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"widths": (3, 3)}, ValueError, "widths must not repeat"),
        ({"widths": (0,)}, ValueError, "widths entries must be a positive int"),
        ({"widths": (2.5,)}, TypeError, "widths must hold ints"),
        ({"activations": ("nope",)}, ValueError, "activation must be one of"),
        ({"seeds": ()}, ValueError, "seeds must not be empty"),
        ({"steps": 0}, ValueError, "steps must be a positive int"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be an optax"),
        ({"X_test": jnp.ones((3, 2))}, ValueError, "given together"),
        ({"batch_size": 4}, ValueError, "key must be given"),
        ({"scheme": "zeros"}, ValueError, "scheme must be one of"),
        ({"depth": 0}, ValueError, "depth must be a positive int"),
        ({"depth": 2.0}, TypeError, "depth must be a positive int"),
        ({"optimizer": optax.adam}, TypeError, "needs learning_rates"),
        ({"learning_rates": (0.1,)}, TypeError, "must be a factory"),
        ({"optimizer": optax.adam, "learning_rates": (0.1, -1.0)}, ValueError, "positive"),
        ({"optimizer": optax.adam, "learning_rates": (0.1, 0.1)}, ValueError, "not repeat"),
        ({"optimizer": optax.adam, "learning_rates": ("0.1",)}, TypeError, "hold numbers"),
    ],
)
def test_bad_input_is_rejected(data, kwargs, error, match):
    X, _, y, _ = data
    args = dict(widths=(2,), activations=("tanh",), seeds=(0,), steps=2, optimizer=OPT)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        jaxmlp.sweep(X, y, **args)


def test_params_rejects_unknown_config(result):
    with pytest.raises(ValueError, match="width must be one of"):
        result.params(7, "relu", 0)


def test_checkpoint_roundtrip_without_pickle(tmp_path):
    path = str(tmp_path / "ck.npz")
    tree = {"a": np.arange(3.0), "b": (np.ones((2, 2), np.int32),)}
    checkpoint.save(path, tree, {"step": 4})
    leaves, meta = checkpoint.load(path)
    assert meta == {"step": 4}
    np.testing.assert_array_equal(leaves[0], tree["a"])
    np.testing.assert_array_equal(leaves[1], tree["b"][0])
    assert os.path.exists(path + ".json")
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]


RESUME_SCRIPT = textwrap.dedent(
    """
    import os, sys, jax, optax, jaxmlp
    X, y = jaxmlp.datasets.circles(jax.random.key(0), 48)
    X, X_test, y, y_test = jaxmlp.datasets.train_test_split(jax.random.key(1), X, y)

    def on_chunk(done):
        if done >= 8:  # killed after the second chunk, its checkpoint written
            os._exit(17)

    jaxmlp.sweep(X, y, widths=(3, 2), activations=("sigmoid", "relu"), seeds=(0, 5),
                 steps=12, optimizer=optax.adam(0.05), X_test=X_test, y_test=y_test,
                 chunk_steps=4, checkpoint=sys.argv[1], on_chunk=on_chunk)
    """
)


def test_interrupted_sweep_resumes_to_identical_results(result, data, tmp_path):
    X, X_test, y, y_test = data
    path = str(tmp_path / "sweep.npz")
    proc = subprocess.run(
        [sys.executable, "-c", RESUME_SCRIPT, path], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 17, proc.stderr
    _, meta = checkpoint.load(path)
    assert meta["step"] == 8
    seen = []
    resumed = jaxmlp.sweep(
        X, y, widths=WIDTHS, activations=ACTS, seeds=SEEDS, steps=STEPS, optimizer=OPT,
        X_test=X_test, y_test=y_test, chunk_steps=4, checkpoint=path, on_chunk=seen.append,
    )  # fmt: skip
    assert seen == [12]  # only the last chunk ran
    for name in ("final_loss", "train_accuracy", "test_accuracy", "loss", "diverged_at"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(result, name), name)
    for got, want in zip(
        jax.tree.leaves(resumed.group_params), jax.tree.leaves(result.group_params), strict=True
    ):
        np.testing.assert_array_equal(got, want)
    # Another grid must not silently reuse this checkpoint.
    with pytest.raises(ValueError, match="other arguments"):
        jaxmlp.sweep(
            X, y, widths=WIDTHS, activations=ACTS, seeds=(0, 6), steps=STEPS, optimizer=OPT,
            X_test=X_test, y_test=y_test, chunk_steps=4, checkpoint=path,
        )  # fmt: skip


def test_default_chunk_prefers_divisors():
    assert sweep_module._default_chunk(1000) == 100
    assert sweep_module._default_chunk(12) == 2
    assert sweep_module._default_chunk(997) == 100


@pytest.mark.parametrize("depth, scale, lr", [(1, 30.0, 1e3), (2, 100.0, 1e4)])
def test_diverging_models_stop_where_train_stops(data, depth, scale, lr):
    """A chunk whose models blow up is redone with the guard: per model, as train does."""
    X, _, y, _ = data
    X = X * scale
    opt = optax.sgd(lr)
    r = jaxmlp.sweep(
        X, y, widths=WIDTHS, activations=ACTS, seeds=SEEDS, steps=STEPS, optimizer=opt,
        chunk_steps=4, depth=depth,
    )  # fmt: skip
    assert (r.diverged_at >= 0).any() and (r.diverged_at < 0).any()  # both kinds present
    for i, w in enumerate(WIDTHS):
        for j, a in enumerate(ACTS):
            for k, s in enumerate(SEEDS):
                init = jaxmlp.init_mlp(jax.random.key(s), (2,) + (w,) * depth + (1,))
                ref = jaxmlp.train(init, X, y, activation=a, optimizer=opt, steps=STEPS)
                expected = -1 if ref.diverged_at is None else ref.diverged_at
                assert r.diverged_at[i, j, k] == expected, (w, a, s)
                pairs = zip(
                    jax.tree.leaves(r.params(w, a, s)), jax.tree.leaves(ref.params), strict=True
                )
                # a learning rate this large amplifies float rounding: looser tolerance
                for got, want in pairs:
                    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
                np.testing.assert_allclose(r.loss[i, j, k], ref.loss, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    "scheme, depth",
    [("glorot_uniform", 1), ("he_normal", 1), ("uniform01", 1), ("he_normal", 3),
     ("uniform01", 2)],
)  # fmt: skip
def test_initial_params_equal_init_mlp(scheme, depth):
    """Zero learning rate: every model keeps init_mlp(key(seed), sizes, scheme), bit for bit."""
    X = jax.random.normal(jax.random.key(0), (12, 3))
    y = jnp.arange(12) % 3
    widths, seeds = (4, 1, 7), (2, 9)
    r = jaxmlp.sweep(
        X, y, widths=widths, activations=("tanh",), seeds=seeds, steps=1,
        optimizer=optax.sgd(0.0), scheme=scheme, depth=depth,
    )  # fmt: skip
    for w in widths:
        for s in seeds:
            want = jaxmlp.init_mlp(jax.random.key(s), (3,) + (w,) * depth + (3,), scheme)
            got_params = jax.tree.leaves(r.params(w, "tanh", s))
            for got, ref in zip(got_params, jax.tree.leaves(want), strict=True):
                np.testing.assert_array_equal(got, ref)


def test_softmax_outputs_equal_train():
    """Three classes; widths 1 and 8 pack four width-1 models into a bin (K * k = 12 > 8)."""
    X, _ = jaxmlp.datasets.blobs(jax.random.key(2), 30)
    y = jnp.asarray(np.arange(30) % 3, jnp.int32)
    opt = optax.adam(0.05)
    widths, seeds = (1, 8), (1, 2, 3, 4, 5)
    assert sweep_module.pack(widths, len(seeds), rows=30).slots == 4
    r = jaxmlp.sweep(
        X, y, widths=widths, activations=("relu",), seeds=seeds, steps=6, optimizer=opt
    )
    for i, w in enumerate(widths):
        for k, s in enumerate(seeds):
            ref = jaxmlp.train(
                jaxmlp.init_mlp(jax.random.key(s), (2, w, 3)), X, y, activation="relu",
                optimizer=opt, steps=6,
            )  # fmt: skip
            np.testing.assert_allclose(r.loss[i, 0, k], ref.loss, rtol=1e-5, atol=1e-6)
            got_params = jax.tree.leaves(r.params(w, "relu", s))
            for got, want in zip(got_params, jax.tree.leaves(ref.params), strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_packing_fills_bins_without_overlap():
    widths = tuple(range(5, 51, 5))
    p = sweep_module.pack(widths, 8, rows=200, n_devices=4, threads=2)
    member = p.member(widths)
    assert p.capacity == 50 and p.slots <= sweep_module.MAX_SLOTS
    assert p.threads == 2 and p.n_bins % (4 * 2 * p.block) == 0
    # every unit belongs to at most one model, every model has exactly its width
    assert member.sum(axis=1).max() == 1
    assert member.sum() == 8 * sum(widths)
    for w, row in zip(widths, p.places, strict=True):
        for b, k, first in row:
            assert member[b, k, first : first + w].all() and member[b, k].sum() == w
    # little padding: 2200 units in bins of 50 need at least 44 bins
    used = np.flatnonzero(member.any(axis=(1, 2)))
    assert len(used) <= 46
    # at most MAX_SLOTS models per bin, even where more would fit (8 units, width 1)
    q = sweep_module.pack((1, 8), 10, rows=10)
    assert q.slots == sweep_module.MAX_SLOTS == 4
    assert q.member((1, 8)).any(axis=2).sum(axis=1).max() == 4


def test_minibatch_divergence_matches_train(data):
    """Mini-batches, several chunks, models diverging at different steps: per model as train."""
    X, _, y, _ = data
    X = X * 30.0
    opt, key = optax.sgd(1e3), jax.random.key(4)
    r = jaxmlp.sweep(
        X, y, widths=WIDTHS, activations=ACTS, seeds=SEEDS, steps=STEPS, optimizer=opt,
        batch_size=8, key=key, chunk_steps=3,
    )  # fmt: skip
    assert (r.diverged_at >= 0).any() and (r.diverged_at < 0).any()
    for i, w in enumerate(WIDTHS):
        for j, a in enumerate(ACTS):
            for k, s in enumerate(SEEDS):
                init = jaxmlp.init_mlp(jax.random.key(s), (2, w, 1))
                ref = jaxmlp.train(
                    init, X, y, activation=a, optimizer=opt, steps=STEPS, batch_size=8, key=key
                )
                expected = -1 if ref.diverged_at is None else ref.diverged_at
                assert r.diverged_at[i, j, k] == expected, (w, a, s)
                pairs = zip(
                    jax.tree.leaves(r.params(w, a, s)), jax.tree.leaves(ref.params), strict=True
                )
                for got, want in pairs:  # lr 1e3 amplifies rounding: looser tolerance
                    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("act", ["relu", "tanh"])
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
    want_value, want_grads = jaxmlp.backprop.loss_and_manual_grads(alone, XT.T, y, act)

    value, (g1, g2) = sweep_module._block_loss_and_grads(params, member, XT, y, act, isolated=True)
    np.testing.assert_allclose(value[0, 0], want_value, rtol=1e-6)
    np.testing.assert_allclose(g1.W[0, :4], want_grads[0].W, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g1.b[0, :4], want_grads[0].b, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g2.W[0, :, :4], want_grads[1].W, rtol=1e-5, atol=1e-7)
    assert not np.isfinite(value[0, 1])  # the overflowing model itself is non-finite
    fast_value, _ = sweep_module._block_loss_and_grads(params, member, XT, y, act)
    assert not np.isfinite(fast_value[0, 0])  # why the guarded form needs isolation


@pytest.mark.parametrize("depth, n_classes, acts", [(2, 2, ("sigmoid", "relu")), (3, 3, ("tanh",))])
def test_deeper_models_equal_train(depth, n_classes, acts):
    """``depth`` hidden layers of width w: config (w, a, s) is train on (d, w, ..., w, k)."""
    if n_classes == 2:
        X, y = jaxmlp.datasets.circles(jax.random.key(0), 40)
    else:
        X, _ = jaxmlp.datasets.blobs(jax.random.key(2), 30)
        y = jnp.asarray(np.arange(30) % 3, jnp.int32)
    widths, seeds = (3, 5), (0, 5)
    r = jaxmlp.sweep(
        X, y, widths=widths, activations=acts, seeds=seeds, steps=STEPS, optimizer=OPT,
        depth=depth, chunk_steps=5,
    )  # fmt: skip
    k = 1 if n_classes == 2 else n_classes
    for i, w in enumerate(widths):
        for j, a in enumerate(acts):
            for m, s in enumerate(seeds):
                init = jaxmlp.init_mlp(jax.random.key(s), (2,) + (w,) * depth + (k,))
                ref = jaxmlp.train(init, X, y, activation=a, optimizer=OPT, steps=STEPS)
                got = r.params(w, a, s)
                assert len(got) == depth + 1 == r.depth + 1
                for g, want in zip(jax.tree.leaves(got), jax.tree.leaves(ref.params), strict=True):
                    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5)
                np.testing.assert_allclose(r.loss[i, j, m], ref.loss, rtol=1e-5, atol=1e-6)
                assert r.diverged_at[i, j, m] == -1


def test_learning_rate_axis_equals_train(data):
    """Model (w, a, s, r) is train with the rate injected into its optimizer state.

    The two width-3 models (one per rate) share a bin (3 + 3 <= 8): one bin, two rates.
    """
    X, _, y, _ = data
    rates = (0.01, 0.2)
    widths, steps = (3, 8), 10
    (bin_a, _, _), (bin_b, _, _) = sweep_module.pack(widths, 2, rows=len(y)).places[0]
    assert bin_a == bin_b
    r = jaxmlp.sweep(
        X, y, widths=widths, activations=("tanh",), seeds=(0,), steps=steps,
        optimizer=optax.adam, learning_rates=rates,
    )  # fmt: skip
    assert r.learning_rates == rates
    assert r.final_loss.shape == r.diverged_at.shape == (2, 1, 1, 2)
    assert r.loss.shape == (2, 1, 1, 2, steps)
    for (i, w), (m, rate) in itertools.product(enumerate(widths), enumerate(rates)):
        init = jaxmlp.init_mlp(jax.random.key(0), (2, w, 1))
        injected = optax.inject_hyperparams(optax.adam)(rate)
        ref = jaxmlp.train(init, X, y, activation="tanh", optimizer=injected, steps=steps)
        got = jax.tree.leaves(r.params(w, "tanh", 0, rate))
        pairs = zip(got, jax.tree.leaves(ref.params), strict=True)
        for leaf, want in pairs:
            np.testing.assert_allclose(leaf, want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(r.loss[i, 0, 0, m], ref.loss, rtol=1e-5, atol=1e-6)
    # optax.adam(rate) itself rounds its updates a little differently from the injected rate
    plain = jaxmlp.train(init, X, y, activation="tanh", optimizer=optax.adam(rate), steps=steps)
    np.testing.assert_allclose(r.loss[-1, 0, 0, -1], plain.loss, rtol=1e-4, atol=1e-5)
    # the rates differ, and so do the models
    assert np.all(np.abs(r.loss[..., 0, -1] - r.loss[..., 1, -1]) > 1e-3)
    with pytest.raises(ValueError, match="learning_rate must be one of"):
        r.params(3, "tanh", 0)
    with pytest.raises(ValueError, match="only for a sweep with learning_rates"):
        jaxmlp.sweep(
            X, y, widths=(2,), activations=("tanh",), seeds=(0,), steps=1, optimizer=OPT
        ).params(2, "tanh", 0, 0.1)
