"""benchmarks/: the baselines agree with jaxmlp; the harness times and renders."""

import dataclasses
import json

import jax
import numpy as np
import optax
import pytest

import jaxmlp


@pytest.fixture(scope="module")
def bench(load_benchmark):
    return load_benchmark("bench")


@pytest.fixture(scope="module")
def harness(load_benchmark):
    return load_benchmark("_harness")


@pytest.fixture(scope="module")
def baselines(load_benchmark):
    return load_benchmark("_baselines")


@pytest.fixture(scope="module")
def post(circles_data):
    X, y = circles_data
    params = jaxmlp.init_mlp(jax.random.key(1), (2, 3, 1), scheme="uniform01")
    reference = jaxmlp.train(params, X, y, optimizer=optax.sgd(2.0), steps=30)
    return params, X, y, reference


def numpy_params(params):
    return [(np.asarray(W), np.asarray(b)) for W, b in params]


def test_numpy_loop_is_the_same_computation_as_train(baselines, post):
    params, X, y, reference = post
    losses = baselines.numpy_loop(numpy_params(params), X, y, learning_rate=2.0, steps=30)
    np.testing.assert_allclose(losses, reference.loss, rtol=1e-4)


def test_torch_loop_is_the_same_computation_as_train(baselines, post):
    pytest.importorskip("torch")
    params, X, y, reference = post
    losses = baselines.torch_loop(numpy_params(params), X, y, learning_rate=2.0, steps=30)
    np.testing.assert_allclose(losses, reference.loss, rtol=1e-4)


def test_sklearn_runs_the_requested_full_batch_epochs(baselines, circles_data):
    pytest.importorskip("sklearn")
    X, y = (np.asarray(a) for a in circles_data)
    clf = baselines.sklearn_fit(X, y, hidden=3, learning_rate=2.0, steps=7, seed=0)
    assert clf.n_iter_ == 7 and len(clf.loss_curve_) == 7
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_train_flops(baselines):
    # 6 * batch * (2*3 + 3*1) for the post's network
    assert baselines.train_flops((2, 3, 1), 10) == 540.0
    assert baselines.train_flops((2, 256, 256, 1), 4096) == 6.0 * 4096 * (512 + 65536 + 256)


def test_interleaved_calls_each_function_once_per_round(harness):
    calls = {"a": 0, "b": 0}

    def bump(name):
        calls[name] += 1

    rows = harness.interleaved({"a": lambda: bump("a"), "b": lambda: bump("b")}, repeats=4)
    assert calls == {"a": 5, "b": 5}  # the first call, then 4 rounds
    assert len(rows["a"]["times_s"]) == 4
    assert rows["a"]["median_s"] == np.median(rows["a"]["times_s"])


@pytest.mark.slow  # > 5 s
def test_matmul_roofline_runs_the_steps_matmuls(baselines):
    """The roofline's thunk returns the batch's inputs after ``steps`` updates: (batch, d),
    finite."""
    H = baselines.matmul_only((2, 8, 8, 1), 16, 3)()
    assert H.shape == (16, 2) and bool(np.isfinite(H).all())


def fake_results(speedup_numpy, speedup_sklearn, roofline, vs_torch):
    row = {
        "median_s": 0.002,
        "first_call_s": 0.4,
        "times_s": [0.002],
        "final_loss": 0.0088,
        "us_per_step": 2.0,
        "speedup_vs_numpy": speedup_numpy,
        "speedup_vs_sklearn": speedup_sklearn,
    }
    cell = {
        "n": 1000,
        "width": 256,
        "batch": 1000,
        "steps": 5,
        "first_call_s": 1.0,
        "step_s": 1e-3,
        "epoch_s": 1e-3,
        "samples_per_s": 1e6,
        "gflops": 10.0,
        "matmul_gflops": 12.0,
        "fraction_of_roofline": roofline,
        "torch_step_s": 2e-3,
        "speedup_vs_torch": vs_torch,
    }
    return {
        "machine": {
            "cpu": "test cpu",
            "cpu_count": 2,
            "jax_backend": "cpu",
            "load_average_at_start": [0.1, 0.1, 0.1],
            "versions": {"jax": "0"},
        },
        "command": "python benchmarks/bench.py",
        "post": {"rows": {"jaxmlp.train, grad='manual'": row}},
        "scaling": {"cells": [cell], "has_torch": True, "torch_device": "cpu"},
        "memory": {
            "width": 256,
            "batch": 4096,
            "steps": 20,
            "peak_rss_bytes": {"1000": 2**28, "1000000": 2**28 + 2**24},
            "extra_rss_bytes": 2**24,
            "extra_data_bytes": 2**23,
            "batch_activation_bytes": 2**22,
            "one_epoch_copy_bytes": 2**23,
        },
    }


def test_page(bench, harness, tmp_path):
    results = fake_results(40.0, 150.0, 0.9, 2.0)
    results["config"] = dataclasses.asdict(bench.Config(**bench.QUICK))
    page = harness.write(tmp_path, "bench", results, bench.__doc__, bench.tables)
    text = page.read_text()
    assert "| jaxmlp.train, grad='manual' | 2 | 2 | 0.4 | 40 | 150 | 0.0088 |" in text
    assert "| 1,000 | 256 |" in text
    assert "Machine: test cpu, 2 CPUs, cpu, jax 0" in text
    assert "Target" not in text  # measurements, no verdicts
    again = bench.main(["--out", str(tmp_path), "--render-only"])  # from the stored JSON
    assert again == json.loads((tmp_path / "bench.json").read_text())
    assert page.read_text() == text


@pytest.mark.slow  # a whole training child run, > 5 s
def test_rss_child_reports_its_peak(bench, capsys):
    cfg = bench.Config(rss_width=4, grid_batch=32, rss_steps=2)
    bench.main(["--child", json.dumps(dataclasses.asdict(cfg)), "64"])  # each subprocess's
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    peak, before = report["peak_rss_bytes"], report["rss_before_training_bytes"]
    assert 2**20 < peak < 2**36  # between 1 MiB and 64 GiB: bytes, not KiB
    assert before is None or 2**20 < before <= peak


def test_interleaved_processes_alternate_fresh_processes(harness):
    import sys

    child = "import json, os; print(json.dumps({'pid': os.getpid()}))"
    commands = {name: [sys.executable, "-c", child] for name in ("a", "b")}
    env = {**__import__("os").environ, "PYTHONPATH": str(harness.ROOT / "benchmarks")}
    runs = harness.interleaved_processes(commands, 2, env=env)
    pids = [r["pid"] for name in "ab" for r in runs[name]]
    assert len(set(pids)) == 4 and all(r["wall_s"] > 0 for name in "ab" for r in runs[name])


def test_interleaved_processes_reverse_odd_rounds_with_empty_caches(harness):
    import sys

    child = "import json, os, time; print(json.dumps({'cache': os.environ['JAXMLP_CACHE_DIR'], 't': time.time()}))"  # noqa: E501
    commands = {name: [sys.executable, "-c", child] for name in ("a", "b")}
    runs = harness.interleaved_processes(commands, 2, empty_cache=True, warm=["b"])
    a, b = runs["a"], runs["b"]
    assert a[0]["t"] < b[0]["t"] and b[1]["t"] < a[1]["t"]  # a, b; then b, a
    assert len({r["cache"] for r in a + b}) == 4  # every process its own empty cache
    assert all(r["warming"]["cache"] == r["cache"] for r in b)  # warmed in the same folder
    assert all("warming" not in r for r in a)


def test_every_stored_result_renders_its_docs_page(load_benchmark, tmp_path):
    """docs/bench/*.md are rendered from the stored JSON by each benchmark's tables."""
    import pathlib
    import shutil

    docs = pathlib.Path(__file__).resolve().parents[1] / "docs" / "bench"
    for script, name in RENDERED.items():
        shutil.copy(docs / f"{name}.json", tmp_path / f"{name}.json")
        module = load_benchmark(script)
        module.main(["--out", str(tmp_path), "--render-only"])
        assert (tmp_path / f"{name}.md").read_text() == (docs / f"{name}.md").read_text(), name


RENDERED = {
    "bench": "bench",
    "bench_cold": "bench_cold",
    "bench_playground": "bench_playground",
    "bench_search": "bench_search",
    "bench_sklearn": "bench_sklearn",
    "bench_sweep": "sweep",
}
