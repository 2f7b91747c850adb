"""jaxmlp.sweep end to end: every config equals train (divergence, mini-batches, depth,
softmax, learning rates), result shapes, and resume after a kill in a subprocess.

The parts are tested alone, fast, in test_sweep_{plan,bins,init,resume,checks}.py; these
compile whole sweeps (and train per config) and are marked slow where they take > ~5 s."""

from __future__ import annotations

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
from jaxmlp._sweep import plan

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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_loss_curves_are_subsampled(result, data):
    X, _, y, _ = data
    r = jaxmlp.sweep(
        X, y, widths=WIDTHS, activations=ACTS, seeds=SEEDS, steps=STEPS, optimizer=OPT,
        chunk_steps=4, loss_points=4,
    )  # fmt: skip
    assert r.loss_steps[0] == 0 and r.loss_steps[-1] == STEPS - 1 and len(r.loss_steps) == 4
    np.testing.assert_array_equal(r.loss, result.loss[..., r.loss_steps])


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_softmax_outputs_equal_train():
    """Three classes; widths 1 and 8 pack four width-1 models into a bin (K * k = 12 > 8)."""
    X, _ = jaxmlp.datasets.blobs(jax.random.key(2), 30)
    y = jnp.asarray(np.arange(30) % 3, jnp.int32)
    opt = optax.adam(0.05)
    widths, seeds = (1, 8), (1, 2, 3, 4, 5)
    assert plan.pack(widths, len(seeds), rows=30).slots == 4
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_learning_rate_axis_equals_train(data, result):
    """Model (w, a, s, r) is train with the rate injected into its optimizer state.

    The two width-3 models (one per rate) share a bin (3 + 3 <= 8): one bin, two rates.
    """
    X, _, y, _ = data
    rates = (0.01, 0.2)
    widths, steps = (3, 8), 10
    (bin_a, _, _), (bin_b, _, _) = plan.pack(widths, 2, rows=len(y)).places[0]
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
        result.params(2, "relu", 0, 0.1)  # the module's sweep: no rate axis
