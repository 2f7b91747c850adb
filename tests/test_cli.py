"""The jaxmlp command line, run in-process through ``cli.main`` (one subprocess test, slow).

Ctrl-C and kill tests of real processes are in tests/test_hostile.py.
"""

import functools
import json
import os
import subprocess
import sys

import chex
import jax
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp import _cli_runs, checkpoint, cli, datasets, io, training


@pytest.fixture(autouse=True)
def _no_cache_no_debug(monkeypatch):
    monkeypatch.setenv("JAXMLP_NO_CACHE", "1")  # no persistent cache switched on in pytest
    monkeypatch.delenv("JAXMLP_DEBUG", raising=False)


def run(capsys, *args):
    """``(status, stdout, stderr)`` of ``jaxmlp *args`` in this process."""
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_help_lists_commands_and_examples(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0
    for word in ("train", "sweep", "convert", "figures", "bench", "info", "--no-cache",
                 "examples:", "jaxmlp train"):  # fmt: skip
        assert word in out


@pytest.mark.parametrize(
    "args, line",
    [
        (("train", "--lr", "nan"), "jaxmlp train: error: argument --lr: expected a positive"),
        (("swep",), "jaxmlp: error: argument COMMAND: invalid choice: 'swep'"),
        ((), "jaxmlp: error: the following arguments are required: COMMAND"),
        (("sweep", "--bogus", "1"), "jaxmlp sweep: error: unrecognized arguments: --bogus 1"),
        (("playground", "--port", "x"), "jaxmlp playground: error: argument --port: invalid"),
    ],
)
def test_a_usage_error_is_its_line_and_a_pointer_to_help(capsys, args, line):
    """Not argparse's usage (7-8 lines for train) above the line that says what is wrong;
    the pointer names the command's own --help (the sweep's for an unknown sweep option)."""
    status, out, err = run(capsys, *args)
    assert status == 2 and out == ""
    assert err.startswith(line), err
    command = line.split(": error")[0]
    assert err.endswith(f"\nsee: {command} --help\n") and err.count("\n") == 2, err


def test_version_is_the_packages(capsys):
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out == f"jaxmlp {jaxmlp.__version__}\n"


@pytest.mark.slow  # compiles a full run (and a figure or a sweep): 15-30 s on 2 busy cores
def test_train_writes_params_metrics_and_figure(tmp_path, capsys):
    out = tmp_path / "run"
    status, stdout, err = run(capsys, "train", "--dataset", "circles", "--sizes", "4",
                              "--activation", "tanh", "--optimizer", "adam", "--lr", "0.05",
                              "--steps", "40", "--batch-size", "50", "--seed", "3", "--n", "100",
                              "--out", str(out))  # fmt: skip
    assert status == 0, err
    assert "params.safetensors" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sizes"] == [2, 4, 1] and metrics["steps"] == 40 and metrics["seed"] == 3
    assert metrics["steps_done"] == 40 and metrics["interrupted"] is False
    assert metrics["final_loss"] < metrics["initial_loss"]
    assert 0.5 < metrics["train_accuracy"] <= 1.0
    params, meta = io.load_params(out / "params.safetensors")
    assert meta["activation"] == "tanh" and meta["sizes"] == [2, 4, 1]
    assert params[0].W.shape == (4, 2)
    png = (out / "boundary.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def _reference(
    steps, seed=0, n=100, width=3, optimizer=optax.sgd, lr=1.0, batch_size=None,
    activation="sigmoid",
):  # fmt: skip
    """One ``jaxmlp.train`` call with the settings of ``jaxmlp train`` (default: full-batch
    SGD), which passes ``--lr`` to ``train`` as optimizer state (``learning_rate=``)."""
    X, y = datasets.circles(jax.random.key(seed), n)
    X_train, _, y_train, _ = datasets.train_test_split(jax.random.key(seed + 1), X, y)
    params = jaxmlp.init_mlp(jax.random.key(seed), (2, width, 1))
    key = jax.random.key(seed + 2) if batch_size else None
    return jaxmlp.train(params, X_train, y_train, optimizer=optimizer, learning_rate=lr,
                        steps=steps, batch_size=batch_size, key=key,
                        activation=activation)  # fmt: skip


def _reference_params(steps, **kwargs):
    return _reference(steps, **kwargs).params


def _capture_fits(monkeypatch):
    """The :class:`_cli_runs.Fit` of every ``jaxmlp train`` run in this test, in a list."""
    fits, real_fit = [], _cli_runs._fit

    def fit(*args):
        fits.append(real_fit(*args))
        return fits[-1]

    monkeypatch.setattr(_cli_runs, "_fit", fit)
    return fits


def _assert_params_equal(path, expected):
    got, meta = io.load_params(path)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    return meta


@pytest.mark.slow
def test_train_in_chunks_equals_one_call(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_cli_runs, "MAX_CHUNK_STEPS", 7)  # 30 steps: chunks of 7, 7, 7, 7, 2
    status, _, err = run(capsys, "train", "--steps", "30", "--n", "100", "--out", str(tmp_path))
    assert status == 0, err
    meta = _assert_params_equal(tmp_path / "params.safetensors", _reference_params(30))
    assert meta["steps"] == 30


def _compiled_train_programs() -> int:
    """How many programs ``jaxmlp.train``'s loop has compiled in this process."""
    return training._train_fast._cache_size() + training._train_fast_small._cache_size()


@pytest.mark.slow
def test_adam_mini_batch_chunks_equal_one_call_and_compile_twice(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_cli_runs, "MAX_CHUNK_STEPS", 7)  # 30 steps: chunks of 7, 7, 7, 7, 2
    fits = _capture_fits(monkeypatch)
    before = _compiled_train_programs()
    status, _, err = run(capsys, "train", "--optimizer", "adam", "--lr", "0.05", "--batch-size",
                         "16", "--steps", "30", "--n", "100", "--seed", "4", "--out",
                         str(tmp_path))  # fmt: skip
    assert status == 0, err
    assert _compiled_train_programs() - before == 2  # one per chunk length: 7 and 2
    # 16 of 80 training rows: 5 batches an epoch, so chunks start mid-epoch
    whole = _reference(30, seed=4, optimizer=optax.adam, lr=0.05, batch_size=16)
    np.testing.assert_array_equal(fits[0].loss, np.asarray(whole.loss))
    assert _assert_params_equal(tmp_path / "params.safetensors", whole.params)["steps"] == 30
    assert fits[0].steps_done == 30 and fits[0].diverged_at is None


@pytest.mark.slow  # five programs compiled (fast and guarded loops): ~7 s on 2 busy cores
def test_divergence_stops_the_chunks_at_the_run_step(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_cli_runs, "MAX_CHUNK_STEPS", 3)
    fits = _capture_fits(monkeypatch)
    status, _, err = run(capsys, "train", "--activation", "relu", "--lr", "1000", "--steps", "30",
                         "--n", "100", "--out", str(tmp_path))  # fmt: skip
    assert status == 0, err
    reference = functools.partial(_reference, lr=1000.0, activation="relu")
    whole = reference(30)
    assert whole.diverged_at == 10  # update 1 of the fourth chunk (steps 9, 10, 11)
    assert fits[0].diverged_at == 10 and fits[0].steps_done == 12  # no chunk after it
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["diverged_at"] == 10 and metrics["steps_done"] == 12
    assert "diverged at step 10" in err
    # the finite chunks ran train's fast loop, exactly; a diverging run is redone with
    # the guarded loop, whose rounding differs a little (so one call of 30 steps does)
    np.testing.assert_array_equal(fits[0].loss[:9], np.asarray(reference(9).loss))
    np.testing.assert_allclose(fits[0].loss, np.asarray(whole.loss[:12]), rtol=1e-5)
    got, _ = io.load_params(tmp_path / "params.safetensors")
    chex.assert_trees_all_close(got, whole.params, rtol=1e-5)


@pytest.mark.slow
def test_ctrl_c_saves_the_finished_chunks(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_cli_runs, "MAX_CHUNK_STEPS", 5)
    real_train, calls = jaxmlp.train, []

    def train_then_ctrl_c(*args, **kwargs):
        calls.append(kwargs["steps"])
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if Ctrl-C came during the third chunk
        return real_train(*args, **kwargs)

    monkeypatch.setattr(jaxmlp, "train", train_then_ctrl_c)
    status, _, err = run(capsys, "train", "--steps", "1000", "--n", "100", "--out", str(tmp_path))
    assert status == 130
    assert "interrupted after 10 of 1000 steps" in err and "Traceback" not in err
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["interrupted"] is True and metrics["steps_done"] == 10
    got, meta = io.load_params(tmp_path / "params.safetensors")
    assert meta["steps"] == 10
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(_reference_params(10)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(
    "args, message",
    [
        (("train", "--dataset", "nope"), "argument --dataset: invalid choice"),
        (("train", "--sizes", "3,x"), "argument --sizes: expected comma-separated positive ints"),
        (("train", "--lr", "-1"), "argument --lr: expected a positive finite number"),
        (("train", "--lr", "nan"), "argument --lr: expected a positive finite number"),
        (("train", "--lr", "inf"), "argument --lr: expected a positive finite number"),
        (("train", "--steps", "0"), "argument --steps: expected an int in 1..MAX_STEPS"),
        (("train", "--steps", str(2**40)), "argument --steps: expected an int in 1..MAX_STEPS"),
        (("train", "--seed", "-1"), "argument --seed: expected an int in 0..MAX_SEED"),
        (("train", "--test-fraction", "1.5"), "argument --test-fraction: expected a number in"),
        (("train", "--sizes", "3000000000"), "--sizes: sizes (2, 3000000000, 1) make a network"),
        (("train", "--sizes", "3000000000"), "MAX_PARAMS"),
        (("train", "--n", "10", "--batch-size", "500"), "--batch-size: batch_size must be <="),
        (("sweep", "--seeds", "abc"), "argument --seeds: expected comma-separated ints"),
        (("sweep", "--seeds", "1,-2"), "argument --seeds"),
        (("sweep", "--activations", "tanh,gelu"), "argument --activations"),
        (("sweep", "--lrs", "0.1,nan"), "argument --lrs: expected comma-separated positive"),
        (("sweep", "--widths", ""), "argument --widths"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
    ],
)
@pytest.mark.slow
def test_bad_values_exit_2_naming_the_flag_before_any_work(tmp_path, capsys, args, message):
    out = tmp_path / "x"
    extra = ("--out", str(out)) if args[0] != "frobnicate" else ()
    status, stdout, err = run(capsys, *args, *extra)
    assert status == 2
    assert message in err and "Traceback" not in err
    assert not (out / "params.safetensors").exists() and not (out / "results.safetensors").exists()


def test_output_problems_are_found_before_training(tmp_path, capsys, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained despite a bad --out")

    monkeypatch.setattr(jaxmlp, "train", no_training)
    monkeypatch.setattr(jaxmlp, "sweep", no_training)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for command in ("train", "sweep"):
        status, _, err = run(capsys, command, "--out", str(a_file))
        assert status == 2 and "is an existing file, not a directory" in err
        status, _, err = run(capsys, command, "--out", str(a_file / "sub"))
        assert status == 2 and "is not a writable directory" in err
    (tmp_path / "o" / "params.safetensors").mkdir(parents=True)
    status, _, err = run(capsys, "train", "--out", str(tmp_path / "o"))
    assert status == 2 and "params.safetensors exists and is a directory" in err
    status, _, err = run(capsys, "sweep", "--out", str(tmp_path / "s"), "--checkpoint",
                         str(tmp_path))  # fmt: skip
    assert status == 2 and "--checkpoint" in err and "is a directory" in err


@pytest.mark.slow  # compiles a full run (and a figure or a sweep): 15-30 s on 2 busy cores
def test_sweep_writes_results(tmp_path, capsys):
    out = tmp_path / "sweep"
    status, _, err = run(capsys, "sweep", "--widths", "2,3", "--activations", "tanh",
                         "--seeds", "0,1", "--steps", "20", "--n", "60", "--depth", "2",
                         "--out", str(out))  # fmt: skip
    assert status == 0, err
    arrays, meta = io.load_results(out / "results.safetensors")
    assert arrays["final_loss"].shape == (2, 1, 2)
    assert np.all(np.isfinite(arrays["final_loss"]))
    assert meta["widths"] == [2, 3] and meta["seeds"] == [0, 1] and meta["depth"] == 2
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["mean_test_accuracy"]) == {"2/tanh", "3/tanh"}


@pytest.mark.slow  # compiles a full run (and a figure or a sweep): 15-30 s on 2 busy cores
def test_sweep_checkpoint_is_written_and_resumed(tmp_path, capsys, monkeypatch):
    """Each run says what it did: trained from the start, resumed at the checkpoint's step
    and ran the rest, or found the finished sweep in the checkpoint and ran nothing."""
    ck = tmp_path / "ck.safetensors"
    args = ("sweep", "--widths", "2", "--activations", "tanh", "--seeds", "0,1", "--steps", "20",
            "--n", "40", "--checkpoint", str(ck))  # fmt: skip

    class Stop(Exception):
        pass

    def stop(done):
        raise Stop(f"stopped after {done} steps")

    sweep = jaxmlp.sweep
    monkeypatch.setattr(jaxmlp, "sweep", functools.partial(sweep, on_chunk=stop))
    status, _, err = run(capsys, *args, "--out", str(tmp_path / "a"))
    assert status == 1 and "stopped after" in err
    step = checkpoint.load(str(ck))[1]["step"]
    assert 0 < step < 20
    monkeypatch.setattr(jaxmlp, "sweep", sweep)
    status, out, err = run(capsys, *args, "--out", str(tmp_path / "b"))
    assert status == 0, err
    assert out.splitlines()[0].startswith(
        f"resumed 2 models from the checkpoint {ck} at step {step} and trained them "
        f"{20 - step} more steps, to 20, in "
    )
    status, out, err = run(capsys, *args, "--out", str(tmp_path / "c"))  # resumes: the end state
    assert status == 0, err
    assert out.splitlines()[0] == (
        f"resumed 2 models from the checkpoint {ck}, which holds the finished sweep (20 steps): "
        f"no step run; wrote {tmp_path / 'c'}/results.safetensors, summary.json"
    )
    status, out, err = run(capsys, *args[:-2], "--out", str(tmp_path / "d"))  # no checkpoint
    assert status == 0, err
    assert out.startswith("trained 2 models for 20 steps in ")
    b, _ = io.load_results(tmp_path / "b" / "results.safetensors")
    c, _ = io.load_results(tmp_path / "c" / "results.safetensors")
    np.testing.assert_array_equal(b["final_loss"], c["final_loss"])


@pytest.mark.slow  # one small sweep compiled, then refusals before any compile
def test_a_checkpoint_of_another_sweep_is_a_usage_error_naming_the_flag(tmp_path, capsys):
    ck = tmp_path / "ck.safetensors"
    args = ("sweep", "--activations", "tanh", "--seeds", "0", "--steps", "4", "--n", "40",
            "--checkpoint", str(ck), "--out", str(tmp_path / "out"))  # fmt: skip
    status, _, err = run(capsys, *args, "--widths", "2")
    assert status == 0, err
    tail = (". Rerun with its arguments to resume it, or pass another --checkpoint path (or "
            "delete the file)\n")  # fmt: skip
    head = f"jaxmlp: error: --checkpoint {ck} holds a sweep run with other arguments: "
    for change, named in [
        (("--widths", "2,3"), "--widths (2 there, 2,3 here)"),  # its packing is not named
        (("--widths", "2", "--steps", "6"), "--steps (4 there, 6 here)"),
        (("--widths", "2", "--lr", "0.5"), "--optimizer/--lr"),
        (("--widths", "2", "--n", "60"), "the data (--dataset, --n, --test-fraction, --data-seed)"),
        (("--widths", "2", "--batch-size", "10"), "--batch-size (none there, 10 here)"),
    ]:
        status, _, err = run(capsys, *args, *change)
        assert (status, err) == (2, head + named + tail), change


@pytest.mark.slow  # compiles a full run (and a figure or a sweep): 15-30 s on 2 busy cores
def test_sweep_learning_rate_axis(tmp_path, capsys):
    out = tmp_path / "sweep"
    status, _, err = run(capsys, "sweep", "--widths", "2", "--activations", "tanh,relu",
                         "--seeds", "0", "--optimizer", "momentum", "--lrs", "0.1,0.3",
                         "--steps", "5", "--n", "40", "--out", str(out))  # fmt: skip
    assert status == 0, err
    arrays, meta = io.load_results(out / "results.safetensors")
    assert arrays["final_loss"].shape == (1, 2, 1, 2) and arrays["loss"].shape == (1, 2, 1, 2, 5)
    assert meta["learning_rates"] == [0.1, 0.3] and meta["lr"] is None
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["mean_test_accuracy"]) == {
        "2/tanh/0.1",
        "2/tanh/0.3",
        "2/relu/0.1",
        "2/relu/0.3",
    }
    for text in ("0.1,nope", "0.1,-1", "nan"):
        status, _, err = run(capsys, "sweep", "--lrs", text, "--out", str(tmp_path / "no"))
        assert status == 2 and "--lrs" in err, err


def test_convert_refuses_garbage_with_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    status, _, err = run(capsys, "convert", str(bad), str(tmp_path / "new.safetensors"))
    assert status == 1 and "bad.npz" in err and "Traceback" not in err
    status, _, err = run(capsys, "convert", str(bad), str(bad))
    assert status == 2 and "must differ" in err


def test_convert_of_a_file_that_is_no_parameters_file_says_so(tmp_path, capsys):
    """Not 'declares a header of 8100970193530527779 bytes' (README.md's first 8 bytes)."""
    readme = tmp_path / "README.md"
    readme.write_text("# jaxmlp\n\nMultilayer perceptrons.\n")
    status, _, err = run(capsys, "convert", str(readme), str(tmp_path / "x.safetensors"))
    assert status == 1
    assert err == (
        f"jaxmlp: error: {str(readme)!r} is not a parameters or results file (neither "
        "safetensors nor jaxmlp 0.1's .npz): it starts with b'# jaxmlp'\n"
    )
    assert not (tmp_path / "x.safetensors").exists()


FAKE = """import json, pathlib, sys
args = sys.argv[1:]
out = pathlib.Path(args[args.index("--out") + 1])
out.mkdir(parents=True, exist_ok=True)
(out / "argv.json").write_text(json.dumps(args))
if "--raise" in args:
    raise ValueError("boom in the script")
sys.exit(3 if "--fail" in args else 0)
"""


@pytest.mark.parametrize("command, script", [("figures", "blog.py"), ("bench", "bench.py")])
def test_figures_and_bench_run_their_script(tmp_path, capsys, monkeypatch, command, script):
    # The real scripts take a minute and have their own tests; here a stand-in
    # checks what the command passes and how it reports the script's failure.
    (tmp_path / script).write_text(FAKE)
    monkeypatch.setenv("JAXMLP_EXPERIMENTS", str(tmp_path))
    out = tmp_path / "out"
    status, _, err = run(capsys, command, "--out", str(out), "--quick", "--", "--steps", "5")
    assert status == 0, err
    assert json.loads((out / "argv.json").read_text()) == ["--out", str(out), "--quick",
                                                           "--steps", "5"]  # fmt: skip
    status, _, err = run(capsys, command, "--out", str(out), "--", "--fail")
    assert status == 1 and f"jaxmlp: error: {script} failed with exit status 3" in err
    status, _, err = run(capsys, command, "--out", str(out), "--", "--raise")
    assert status == 1 and "ValueError: boom in the script" in err
    assert "Traceback" not in err  # the script's traceback does not leak
    monkeypatch.setenv("JAXMLP_EXPERIMENTS", str(tmp_path / "no"))
    status, _, err = run(capsys, command, "--out", str(out))
    assert status == 1 and "needs a source checkout" in err


def test_figures_default_script_exists():
    root = os.path.dirname(os.path.dirname(cli.__file__))
    for room, script in (("experiments", "blog.py"), ("benchmarks", "bench.py")):
        assert os.path.isfile(os.path.join(root, room, script))


def test_info_json(capsys):
    status, out, _ = run(capsys, "--no-cache", "info", "--json")
    assert status == 0
    info = json.loads(out)
    assert info["versions"]["jaxmlp"] == jaxmlp.__version__
    assert info["versions"]["jax"] == jax.__version__
    assert info["versions"]["ml_dtypes"]  # jax's dependency, whose version pyproject.toml bounds
    assert info["backend"] == "cpu" and info["devices"]
    assert "circles" in info["datasets"]
    status, out, _ = run(capsys, "info", "--no-cache")
    assert status == 0 and "jaxmlp" in out and "devices" in out


def test_no_cache_flag_reaches_compilation_cache(capsys, monkeypatch):
    from jaxmlp import compilation_cache

    seen = []
    monkeypatch.setattr(compilation_cache, "enable", lambda disable=False: seen.append(disable))
    run(capsys, "--no-cache", "info", "--json")
    run(capsys, "info", "--json")
    assert seen == [True, False]


@pytest.mark.slow
def test_console_entry_point_in_a_subprocess(tmp_path):
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAXMLP_NO_CACHE": "1"}
    env.pop("JAXMLP_DEBUG", None)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "jaxmlp", "train", "--steps", "20", "--n", "60", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert io.load_params(out / "params.safetensors")[1]["steps"] == 20
    # A refused flag's exit status 2 through the entry point: tests/test_hostile.py's
    # test_huge_sizes_do_not_abort_the_interpreter (python -m jaxmlp train --sizes ...);
    # the messages: test_bad_values_exit_2_naming_the_flag_before_any_work, in-process.
