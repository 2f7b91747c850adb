"""Hostile input, round 3 (issue 27), classes 2, 3 and 5: one set of limits at every entry
point, every long run stoppable by Ctrl-C keeping what finished, exact exit codes.

The limits live in :mod:`jaxmlp.validation`; each test here fails on the code before them
(a hang, a MemoryError, an OverflowError, a silent NaN or an exit status of 1).
"""

import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp import cli, io, validation

GRID = dict(activations=("tanh",), seeds=(0,), optimizer=optax.sgd(0.1))


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(widths=(2**31,), steps=5), r"widths entry 2147483648 .* MAX_PARAMS"),
        (dict(widths=(3_000_000_000,), steps=5), r"widths entry 3000000000 .* MAX_PARAMS"),
        (dict(widths=(60_000,), depth=2, steps=5), r"widths entry 60000 at depth 2"),
        (dict(widths=(2,), depth=20_000, steps=5), r"depth must be at most MAX_LAYERS - 1"),
        (dict(widths=(2,), steps=2**40), r"steps must be <= MAX_STEPS"),
    ],
)
def test_sweep_has_train_s_limits(circles_data, options, message):
    """Each of these grew to 24 GB, hung or overflowed; now a ValueError before compiling."""
    X, y = circles_data
    with pytest.raises(ValueError, match=message):
        jaxmlp.sweep(X, y, **GRID, **options)


def test_sweep_refuses_a_grid_beyond_the_memory_limit(circles_data, monkeypatch):
    X, y = circles_data
    monkeypatch.setattr(validation, "memory_bytes", lambda: 2**16)  # a 64 KiB machine
    with pytest.raises(ValueError, match="a sweep of 3 models .* needs .* MEMORY_FRACTION"):
        jaxmlp.sweep(X, y, widths=(64,), activations=("tanh",), seeds=(0, 1, 2), steps=5,
                     optimizer=optax.sgd(0.1))  # fmt: skip


def test_sweep_refuses_float64_data_beyond_float32(circles_data):
    """The sweep computes in float32: such data gave NaN results silently."""
    X, y = circles_data
    big = np.asarray(X, np.float64) * 1e39
    with pytest.raises(ValueError, match="X must be finite in float32"):
        jaxmlp.sweep(big, y, widths=(2,), steps=5, **GRID)
    with pytest.raises(ValueError, match="X_test must be finite in float32"):
        jaxmlp.sweep(X, y, X_test=big, y_test=y, widths=(2,), steps=5, **GRID)


def test_sizes_have_a_layer_limit():
    with pytest.raises(ValueError, match="MAX_LAYERS = 64"):
        jaxmlp.init_mlp(jax.random.key(0), (2,) + (3,) * 70 + (1,))


def test_train_refuses_memory_beyond_the_limit(circles_data, monkeypatch):
    X, y = circles_data
    params = jaxmlp.init_mlp(jax.random.key(0), (2, 64, 1))
    monkeypatch.setattr(validation, "memory_bytes", lambda: 2**17)
    with pytest.raises(ValueError, match="this training run needs"):
        jaxmlp.train(params, X, y, optimizer=optax.sgd(0.1), steps=3)


def test_a_fit_counts_its_data_copies_in_the_memory_limit(monkeypatch):
    """The fit's program holds the data padded to a bucket and each epoch's copy of it:
    a data set whose copies exceed the limit is refused before anything is compiled,
    though one mini-batch's training memory is small."""
    from jaxmlp.sklearn import MLPClassifier

    X = np.zeros((5000, 20), np.float32)
    y = np.arange(5000) % 2
    monkeypatch.setattr(validation, "memory_bytes", lambda: 2**20)  # 1 MiB: 0.5 MiB allowed
    assert validation.training_bytes((20, 8, 1), rows=200) < 2**19  # a batch would fit
    with pytest.raises(ValueError, match="this fit needs .* MEMORY_FRACTION"):
        MLPClassifier((8,), max_iter=2).fit(X, y)


@pytest.mark.parametrize("transform", ["jit", "vmap"])
def test_train_under_a_transformation_says_how_to_call_it(circles_data, transform):
    X, y = circles_data
    params = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))

    def run(X):
        return jaxmlp.train(params, X, y, optimizer=optax.sgd(0.1), steps=3).loss

    wrapped = jax.jit(run) if transform == "jit" else jax.vmap(run)
    with pytest.raises(TypeError, match=r"call it outside jax.jit and jax.vmap.*jaxmlp.sweep"):
        wrapped(X if transform == "jit" else X[None])


def test_work_chunks_bound_one_compiled_call():
    from jaxmlp._sweep.plan import work_chunk

    assert work_chunk(1000, 1e3, 2e9) == 1000  # a small run: one chunk, one program
    assert work_chunk(40_000, 1e7, 2e9) == 200  # about 2e9 multiply-adds a chunk
    assert work_chunk(997, 1e7, 2e9) == 200  # a prime: equal chunks and a last one
    assert 1000 % work_chunk(1000, 3e7, 2e9) == 0  # a divisor where one is within 2x
    assert work_chunk(100_000_000, 1.0, 2e9) == 100_000_000


@pytest.fixture
def terminal_ctrl_c():
    """Python's own SIGINT handler, as a terminal's Ctrl-C finds it: a shell starts background
    jobs (and so, run that way, this suite) with SIGINT ignored, and a Ctrl-C sent then is lost."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _interrupt_after(chunks: int, swallow: bool = False):
    """An on_chunk callback that presses Ctrl-C after ``chunks`` chunks (with ``swallow``, its
    KeyboardInterrupt is dropped, as Python drops one raised in a gc callback)."""
    seen = []

    def on_chunk(done):
        seen.append(done)
        if len(seen) == chunks:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)  # the handler runs here
            except KeyboardInterrupt:
                if not swallow:
                    raise

    return on_chunk, seen


@pytest.mark.parametrize("swallow", [False, True])
@pytest.mark.slow  # the fast loop's budget; the full suite runs it
def test_ctrl_c_stops_a_sweep_between_chunks_keeping_what_finished(
    circles_data, swallow, terminal_ctrl_c
):
    X, y = circles_data
    on_chunk, seen = _interrupt_after(2, swallow)
    options = dict(widths=(2, 3), activations=("tanh",), seeds=(0, 1), steps=40,
                   optimizer=optax.sgd(0.5))  # fmt: skip
    with pytest.raises(jaxmlp.SweepInterrupted) as caught:
        jaxmlp.sweep(X, y, **options, chunk_steps=10, loss_points=40, on_chunk=on_chunk)
    e = caught.value
    assert isinstance(e, KeyboardInterrupt) and (e.steps_done, e.steps) == (20, 40)
    assert seen == [10, 20]
    part = e.result
    assert part.steps == 20 and part.loss_steps.tolist() == list(range(20))
    full = jaxmlp.sweep(X, y, **{**options, "steps": 20}, chunk_steps=10, loss_points=20)
    np.testing.assert_array_equal(part.final_loss, full.final_loss)
    np.testing.assert_array_equal(part.loss, full.loss)


def test_ctrl_c_before_the_first_chunk_is_a_plain_keyboard_interrupt(circles_data):
    X, y = circles_data

    def interrupt(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as caught:
        jaxmlp.sweep(X, y, widths=(2,), steps=10, chunk_steps=5, on_chunk=interrupt, **GRID)
    assert isinstance(caught.value, jaxmlp.SweepInterrupted)  # one chunk finished: kept


@pytest.mark.slow  # the fast loop's budget; the full suite runs it
def test_the_cli_sweep_writes_what_finished_on_ctrl_c(
    tmp_path, monkeypatch, capsys, terminal_ctrl_c
):
    real = jaxmlp.sweep
    on_chunk, _ = _interrupt_after(1)
    monkeypatch.setattr(jaxmlp, "sweep", lambda **kw: real(**kw, on_chunk=on_chunk))
    monkeypatch.setattr(validation, "CHUNK_FLOPS", 1e5)  # chunks of a few steps
    out = tmp_path / "s"
    argv = ["sweep", "--widths", "2,3", "--seeds", "0", "--steps", "400", "--out", str(out),
            "--no-cache"]  # fmt: skip
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert "sweep interrupted after" in err and "results.safetensors" in err
    arrays, meta = io.load_results(out / "results.safetensors")
    assert 0 < meta["steps"] < 400 and meta["steps_requested"] == 400
    assert np.isfinite(arrays["final_loss"]).all()


@pytest.mark.parametrize(
    "flags, flag",
    [
        (["--widths", "2,2"], "--widths"),
        (["--seeds", "1,1"], "--seeds"),
        (["--activations", "tanh,tanh"], "--activations"),
        (["--lrs", "0.1,0.1"], "--lrs"),
        (["--batch-size", "1000"], "--batch-size"),
        (["--widths", "3000000000"], "--widths"),
        (["--depth", "20000"], "--depth"),
        (["--out", ""], "--out"),
    ],
)
def test_sweep_usage_errors_exit_2_naming_the_option(tmp_path, capsys, flags, flag):
    argv = ["sweep", "--steps", "5", "--out", str(tmp_path / "o"), "--no-cache", *flags]
    assert cli.main(argv) == 2
    assert flag in capsys.readouterr().err
    assert not (tmp_path / "o" / "results.safetensors").exists()


def test_train_refuses_an_empty_out(capsys):
    assert cli.main(["train", "--out", "", "--no-cache"]) == 2
    assert "--out" in capsys.readouterr().err


def test_checkpoint_files_are_checked_before_training(tmp_path, capsys):
    ckpt = tmp_path / "ck.safetensors"
    (tmp_path / "ck.safetensors.json").mkdir()  # its sidecar cannot be written
    argv = ["sweep", "--steps", "5", "--out", str(tmp_path / "o"), "--checkpoint", str(ckpt),
            "--no-cache"]  # fmt: skip
    assert cli.main(argv) == 2
    assert "ck.safetensors.json" in capsys.readouterr().err
    assert not ckpt.exists()


# `jaxmlp ARGS` as the console script runs it, with Ctrl-C's default handler (a pytest
# worker's children may inherit SIGINT ignored; a preexec_fn would fork a JAX process).
CONSOLE_SCRIPT = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from jaxmlp.cli import main; sys.exit(main())"
)


@pytest.mark.slow
def test_two_quick_ctrl_c_presses_never_abort_a_sweep(tmp_path):
    """Two presses 0.02-0.1 s apart during `jaxmlp sweep --checkpoint` ended in SIGABRT in
    2 of 10 runs (the second interrupted the thread pool's shutdown while XLA ran)."""
    for gap in (0.02, 0.06):
        ckpt, out = tmp_path / f"ck{gap}.safetensors", tmp_path / f"out{gap}"
        args = ["sweep", "--n", "1000", "--widths", "32,64", "--steps", "100000", "--out",
                str(out), "--checkpoint", str(ckpt), "--no-cache"]  # fmt: skip
        with subprocess.Popen(
            [sys.executable, "-c", CONSOLE_SCRIPT, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ) as child:  # fmt: skip
            deadline = time.monotonic() + 240
            while not ckpt.exists() and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)  # the first chunk has finished when the checkpoint appears
            child.send_signal(signal.SIGINT)
            time.sleep(gap)
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
            _, err = child.communicate(timeout=120)
        assert child.returncode == 130, err[-2000:]  # not -6 (SIGABRT)
        assert "interrupted" in err  # a second press may skip the results; the checkpoint holds
        leaves, meta = jaxmlp.checkpoint.load(str(ckpt))
        assert meta["step"] > 0


def test_estimator_limits():
    from jaxmlp.sklearn import MLPClassifier

    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
    with pytest.raises(ValueError, match=r"hidden_layer_sizes .* 2\.5"):
        MLPClassifier(hidden_layer_sizes=(2.5,)).fit(X, y)
    with pytest.raises(ValueError, match="max_iter must be <= MAX_STEPS"):
        MLPClassifier(max_iter=10**9).fit(X, y)
    with pytest.raises(ValueError, match="MAX_PARAMS"):
        MLPClassifier(hidden_layer_sizes=(2**31,)).fit(X, y)
    with pytest.raises(ValueError, match="MAX_LAYERS"):
        MLPClassifier(hidden_layer_sizes=(2,) * 70).fit(X, y)
    for solver in ("lbfgs", "adam"):  # lbfgs returned the untrained network
        with pytest.raises(ValueError, match="X must be finite in float32"):
            MLPClassifier(solver=solver).fit(X * 1e39, y)


def test_jnp_inputs_still_work_inside_limits(circles_data):
    X, y = circles_data
    r = jaxmlp.sweep(jnp.asarray(X), y, widths=(2,), steps=5, **GRID)
    assert r.steps == 5


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd"])
def test_warm_start_with_other_layer_sizes_says_what_to_do(solver):
    """lbfgs failed with "cannot reshape array of shape (0,)"; the others kept the old net."""
    from jaxmlp.sklearn import MLPClassifier

    X, y = np.random.default_rng(0).normal(size=(40, 2)), np.arange(40) % 2
    model = MLPClassifier((3,), solver=solver, warm_start=True, max_iter=5).fit(X, y)
    model.set_params(hidden_layer_sizes=(5,))
    with pytest.raises(ValueError, match=r"layer sizes \[2, 3, 1\].*\[2, 5, 1\].*warm_start=False"):
        model.fit(X, y)
    model.set_params(warm_start=False).fit(X, y)
    assert model.coefs_[0].shape == (2, 5)


def _digits_like(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    return X, (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "options",
    [
        dict(solver="adam"),
        dict(solver="sgd", learning_rate="adaptive"),
        dict(solver="adam", early_stopping=True, n_iter_no_change=2),
    ],  # fmt: skip
)
def test_a_fit_in_chunks_equals_one_call(monkeypatch, options):
    """The fit runs in chunks of epochs so Ctrl-C can stop it; the chunks continue each other
    exactly (state, shuffles), also when it stops at a chunk's last epoch."""
    from jaxmlp.sklearn import MLPClassifier

    X, y = _digits_like()
    fit = lambda: MLPClassifier((16,), max_iter=40, random_state=0, **options).fit(X, y)  # noqa: E731
    monkeypatch.setattr(validation, "CHUNK_FLOPS", 1e15)
    whole = fit()
    for per_chunk_epochs in (1, 3):
        flops = validation.step_flops(
            (8, 16, 1), rows=len(X) if not options.get("early_stopping") else 270
        )
        monkeypatch.setattr(validation, "CHUNK_FLOPS", flops * per_chunk_epochs)
        chunked = fit()
        assert chunked.n_iter_ == whole.n_iter_
        np.testing.assert_array_equal(chunked.loss_curve_, whole.loss_curve_)
        for a, b in zip(chunked.coefs_, whole.coefs_, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_ctrl_c_stops_a_fit_between_chunks_keeping_the_finished_epochs(monkeypatch):
    """A compiled fit could not be stopped by Ctrl-C."""
    from jaxmlp.sklearn import MLPClassifier, _fit

    X, y = _digits_like()
    whole = MLPClassifier((16,), max_iter=30, random_state=0).fit(X, y)
    # 5 epochs a chunk (the chunk is sized from the 300 rows' bucket, 512)
    monkeypatch.setattr(validation, "CHUNK_FLOPS", validation.step_flops((8, 16, 1), rows=512) * 5)
    real, calls = _fit.run_epochs, []

    def interrupted_third_call(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C during the third chunk
        return real(*args, **kwargs)

    monkeypatch.setattr(_fit, "run_epochs", interrupted_third_call)
    model = MLPClassifier((16,), max_iter=30, random_state=0)
    with pytest.raises(KeyboardInterrupt, match="after 10 of 30 epochs"):
        model.fit(X, y)
    assert model.n_iter_ == 10
    np.testing.assert_array_equal(model.loss_curve_, whole.loss_curve_[:10])
    assert model.predict(X).shape == y.shape  # a usable network


@pytest.mark.parametrize("sizes", ["3,,4", ",3", ","])
def test_an_empty_item_in_a_list_option_is_refused(capsys, sizes):
    """`--sizes 3,,4` trained a 2-3-4-1 network as if it were 3,4."""
    assert cli.main(["train", "--sizes", sizes, "--no-cache"]) == 2
    assert "--sizes" in capsys.readouterr().err
