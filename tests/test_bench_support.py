"""experiments/bench.py: its reference loops agree with jaxmlp, its pieces run on tiny sizes."""

import json

import jax
import numpy as np
import optax
import pytest

import jaxmlp


@pytest.fixture(scope="module")
def bench(load_experiment):
    return load_experiment("bench")


@pytest.fixture(scope="module")
def post(circles_data):
    X, y = circles_data
    params = jaxmlp.init_mlp(jax.random.key(1), (2, 3, 1), scheme="uniform01")
    reference = jaxmlp.train(params, X, y, optimizer=optax.sgd(2.0), steps=30)
    return params, X, y, reference


def numpy_params(params):
    return [(np.asarray(W), np.asarray(b)) for W, b in params]


def test_numpy_loop_is_the_same_computation_as_train(bench, post):
    params, X, y, reference = post
    losses = bench.numpy_loop(numpy_params(params), X, y, learning_rate=2.0, steps=30)
    np.testing.assert_allclose(losses, reference.loss, rtol=1e-4)


def test_torch_loop_is_the_same_computation_as_train(bench, post):
    pytest.importorskip("torch")
    params, X, y, reference = post
    losses = bench.torch_loop(numpy_params(params), X, y, learning_rate=2.0, steps=30)
    np.testing.assert_allclose(losses, reference.loss, rtol=1e-4)


def test_sklearn_runs_the_requested_full_batch_epochs(bench, circles_data):
    pytest.importorskip("sklearn")
    X, y = (np.asarray(a) for a in circles_data)
    clf = bench.sklearn_fit(X, y, hidden=3, learning_rate=2.0, steps=7, seed=0)
    assert clf.n_iter_ == 7 and len(clf.loss_curve_) == 7
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_train_flops(bench):
    # 6 * batch * (2*3 + 3*1) for the post's network
    assert bench.train_flops((2, 3, 1), 10) == 540.0
    assert bench.train_flops((2, 256, 256, 1), 4096) == 6.0 * 4096 * (512 + 65536 + 256)


def test_interleaved_calls_each_function_once_per_round(bench):
    calls = {"a": 0, "b": 0}

    def bump(name):
        calls[name] += 1

    rows = bench.interleaved({"a": lambda: bump("a"), "b": lambda: bump("b")}, repeats=4)
    assert calls == {"a": 5, "b": 5}  # the first call, then 4 rounds
    assert len(rows["a"]["times_s"]) == 4
    assert rows["a"]["median_s"] == np.median(rows["a"]["times_s"])


@pytest.mark.slow  # > 5 s
def test_matmul_roofline_runs(bench):
    bench.matmul_only((2, 8, 8, 1), 16, 3)()


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
        "command": "python experiments/bench.py",
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


def test_verdicts_state_the_measured_gap(bench):
    lines = bench.verdicts(fake_results(40.0, 50.0, 0.5, 1.0))
    assert "**met** (40.0x)" in lines[0]
    assert "**not met**: 50.0x, a gap of 2.00x" in lines[1]
    assert "**met** (0.40 s)" in lines[2]
    assert "**not met** (lowest 0.50" in lines[3]
    assert "**not met** (lowest 1.00x" in lines[4]
    good = bench.verdicts(fake_results(40.0, 150.0, 0.9, 2.0))
    assert all("**met**" in line for line in good)


def test_markdown_and_plot(bench, tmp_path):
    results = fake_results(40.0, 150.0, 0.9, 2.0)
    text = bench.markdown(results, bench.QUICK)
    assert "| jaxmlp.train, grad='manual' | 2.00 | 2.00 | 0.40 | 40.0 | 150.0 | 0.0088 |" in text
    assert "| 1,000 | 256 |" in text
    assert "## Targets" in text
    bench.plot(results, tmp_path / "bench.png")
    assert (tmp_path / "bench.png").stat().st_size > 10_000


@pytest.mark.slow  # a whole training child run, > 5 s
def test_rss_child_reports_its_peak(bench, capsys):
    bench.main(["--rss-child", "64", "4", "32", "2", "0"])  # what each subprocess runs
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    peak, before = report["peak_rss_bytes"], report["rss_before_training_bytes"]
    assert 2**20 < peak < 2**36  # between 1 MiB and 64 GiB: bytes, not KiB
    assert before is None or 2**20 < before <= peak
