"""The jaxmlp command line, each command run as a subprocess (tiny settings)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jaxmlp import cli, io


def run(*args, env=None, cwd=None):
    full_env = {**os.environ, "JAX_PLATFORMS": "cpu", **(env or {})}
    full_env.pop("JAXMLP_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "jaxmlp", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=600,
    )


def test_help_lists_commands_and_examples():
    done = run("--help")
    assert done.returncode == 0
    for word in ("train", "sweep", "figures", "bench", "info", "examples:", "jaxmlp train"):
        assert word in done.stdout


def test_train_writes_params_metrics_and_figure(tmp_path):
    out = tmp_path / "run"
    done = run("train", "--dataset", "circles", "--sizes", "4", "--activation", "tanh",
               "--optimizer", "adam", "--lr", "0.05", "--steps", "40", "--batch-size", "50",
               "--seed", "3", "--n", "100", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sizes"] == [2, 4, 1] and metrics["steps"] == 40 and metrics["seed"] == 3
    assert metrics["final_loss"] < metrics["initial_loss"]
    assert 0.5 < metrics["train_accuracy"] <= 1.0
    params, meta = io.load_params(out / "params.npz")
    assert meta["activation"] == "tanh" and meta["sizes"] == [2, 4, 1]
    assert params[0].W.shape == (4, 2)
    png = (out / "boundary.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


@pytest.mark.parametrize(
    "args, message",
    [
        (("train", "--dataset", "nope"), "--dataset must be one of"),
        (("train", "--sizes", "3,x"), "--sizes must be comma-separated"),
        (("train", "--lr", "-1"), "--lr must be > 0"),
        (("train", "--n", "10", "--batch-size", "500"), "batch_size must be <="),
    ],
)
def test_errors_are_one_line_with_nonzero_status(tmp_path, args, message):
    done = run(*args, "--out", str(tmp_path / "x"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("jaxmlp: error: ") and message in lines[0]


def test_usage_error_exit_2():
    done = run("train", "--steps", "0")
    assert done.returncode == 2 and "positive int" in done.stderr
    assert run("frobnicate").returncode == 2


def test_sweep_writes_results(tmp_path):
    out = tmp_path / "sweep"
    done = run("sweep", "--widths", "2,3", "--activations", "tanh", "--seeds", "0,1",
               "--steps", "20", "--n", "60", "--depth", "2", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    arrays, meta = io.load_results(out / "results.npz")
    assert arrays["final_loss"].shape == (2, 1, 2)
    assert np.all(np.isfinite(arrays["final_loss"]))
    assert meta["widths"] == [2, 3] and meta["seeds"] == [0, 1] and meta["depth"] == 2
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["mean_test_accuracy"]) == {"2/tanh", "3/tanh"}


def test_sweep_learning_rate_axis(tmp_path):
    out = tmp_path / "sweep"
    done = run("sweep", "--widths", "2", "--activations", "tanh,relu", "--seeds", "0",
               "--optimizer", "momentum", "--lrs", "0.1,0.3", "--steps", "5", "--n", "40",
               "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    arrays, meta = io.load_results(out / "results.npz")
    assert arrays["final_loss"].shape == (1, 2, 1, 2) and arrays["loss"].shape == (1, 2, 1, 2, 5)
    assert meta["learning_rates"] == [0.1, 0.3] and meta["lr"] is None
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["mean_test_accuracy"]) == {
        "2/tanh/0.1",
        "2/tanh/0.3",
        "2/relu/0.1",
        "2/relu/0.3",
    }
    for text, match in (("0.1,nope", "comma-separated numbers"), ("0.1,-1", "positive")):
        with pytest.raises(cli.CLIError, match=match):
            cli._rates(text)


FAKE = """import json, pathlib, sys
args = sys.argv[1:]
out = pathlib.Path(args[args.index("--out") + 1])
out.mkdir(parents=True, exist_ok=True)
(out / "argv.json").write_text(json.dumps(args))
sys.exit(3 if "--fail" in args else 0)
"""


@pytest.mark.parametrize("command, script", [("figures", "blog.py"), ("bench", "bench.py")])
def test_figures_and_bench_run_their_script(tmp_path, command, script):
    # The real scripts take a minute and have their own tests; here a stand-in
    # checks what the command passes and how it reports the script's failure.
    (tmp_path / script).write_text(FAKE)
    env = {"JAXMLP_EXPERIMENTS": str(tmp_path)}
    out = tmp_path / "out"
    done = run(command, "--out", str(out), "--quick", "--", "--steps", "5", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "argv.json").read_text()) == ["--out", str(out), "--quick",
                                                           "--steps", "5"]  # fmt: skip
    failed = run(command, "--out", str(out), "--", "--fail", env=env)
    assert failed.returncode == 1
    assert f"jaxmlp: error: {script} failed with exit status 3" in failed.stderr
    missing = run(command, "--out", str(out), env={"JAXMLP_EXPERIMENTS": str(tmp_path / "no")})
    assert missing.returncode == 1 and "needs a source checkout" in missing.stderr


def test_figures_default_script_exists():
    import jaxmlp.cli

    root = os.path.dirname(os.path.dirname(jaxmlp.cli.__file__))
    for script in ("blog.py", "bench.py"):
        assert os.path.isfile(os.path.join(root, "experiments", script))


def test_info_json():
    done = run("info", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    import jax

    import jaxmlp

    assert info["versions"]["jaxmlp"] == jaxmlp.__version__
    assert info["versions"]["jax"] == jax.__version__
    assert info["backend"] == "cpu" and info["devices"]
    assert "circles" in info["datasets"]
    text = run("info")
    assert text.returncode == 0 and "jaxmlp" in text.stdout and "devices" in text.stdout
