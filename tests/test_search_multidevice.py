"""The search's programs split over several devices and processes equal one device's."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

pytestmark = pytest.mark.slow  # subprocesses, ~30 s

# Runs the search; argv: out.json, then "process_id port" under jax.distributed.
SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    import jax
    if len(sys.argv) > 2:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=f"localhost:{sys.argv[3]}",
                                   num_processes=2, process_id=int(sys.argv[2]))
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from jaxmlp.sklearn import GridSearchCV, MLPClassifier, _prefit, _search

    served, sharded = [], []
    restore, program = _prefit.restore, _search.search_programs.sharded_program
    _prefit.restore = lambda *a: served.append(restore(*a)) or served[-1]
    _search.search_programs.sharded_program = lambda *a, **k: sharded.append(1) or program(*a, **k)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3)).astype(np.float32)
    y = (np.arange(90) % 3 + (X[:, 0] > 0)) % 3
    grid = {"hidden_layer_sizes": [(4,), (7,)], "activation": ["relu", "tanh"],
            "alpha": [1e-4, 1e-1]}
    out = {"devices": jax.device_count()}
    warnings.simplefilter("ignore", ConvergenceWarning)
    for vmap in (False, True):
        _search.VMAP_ON_CPU = vmap
        search = GridSearchCV(MLPClassifier(max_iter=12, random_state=0), grid, cv=3).fit(X, y)
        out[f"vmap={vmap}"] = {
            "score": search.cv_results_["mean_test_score"].tolist(),
            "coef": search.best_estimator_.coefs_[0].tolist(),
            "served": sum(served),
            "sharded": len(sharded),
        }
        served.clear()
        sharded.clear()
    # one network over numbers: on one CPU device scikit-learn's loop runs it; on several
    # the programs do (split over the devices)
    _search.VMAP_ON_CPU = False
    one = GridSearchCV(MLPClassifier((5,), max_iter=12, random_state=0), {"alpha": [1e-4, 1e-1]},
                       cv=3).fit(X, y)
    out["one network"] = {"served": sum(served), "sharded": len(sharded),
                          "score": one.cv_results_["mean_test_score"].tolist()}
    if jax.process_index() == 0:
        with open(sys.argv[1], "w") as f:
            json.dump(out, f)
    """
)
GRID = {"hidden_layer_sizes": [(4,), (7,)], "activation": ["relu", "tanh"], "alpha": [1e-4, 1e-1]}


def _search_on_one_device(estimator, grid):
    """The search of the script above, in this process (one device)."""
    from sklearn.exceptions import ConvergenceWarning

    from jaxmlp.sklearn import GridSearchCV

    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3)).astype(np.float32)
    y = (np.arange(90) % 3 + (X[:, 0] > 0)) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GridSearchCV(estimator, grid, cv=3).fit(X, y)


def _check(path: str, devices: int) -> None:
    with open(path) as f:
        out = json.load(f)
    assert out["devices"] == devices
    from jaxmlp.sklearn import MLPClassifier

    one = _search_on_one_device(MLPClassifier(max_iter=12, random_state=0), GRID)
    for vmap in (False, True):
        run = out[f"vmap={vmap}"]
        # every fold's fit of the 8 candidates in the sharded programs (the refit too, or
        # the estimator's own fit where its rows make another program)
        assert run["served"] >= 8 * 3, run["served"]
        assert run["sharded"] >= 1  # the programs split over the devices
        np.testing.assert_allclose(run["score"], one.cv_results_["mean_test_score"], rtol=1e-6)
        np.testing.assert_allclose(run["coef"], one.best_estimator_.coefs_[0], rtol=1e-5, atol=1e-6)
    # a grid of one network goes to the programs because there are several devices
    assert out["one network"]["served"] >= 2 * 3 and out["one network"]["sharded"] >= 1
    network = _search_on_one_device(
        MLPClassifier((5,), max_iter=12, random_state=0), {"alpha": [1e-4, 1e-1]}
    )
    score = network.cv_results_["mean_test_score"]
    np.testing.assert_allclose(out["one network"]["score"], score, rtol=1e-6)


def _env(devices: int) -> dict:
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}"
    return dict(os.environ, XLA_FLAGS=flags.strip(), JAX_PLATFORMS="cpu")


def test_four_devices_equal_one_device(tmp_path):
    out = str(tmp_path / "four.json")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, out], env=_env(4), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check(out, devices=4)


def test_two_processes_equal_one_process(tmp_path):
    """jax.distributed on localhost: two CPU processes of 2 devices each, one search."""
    out = str(tmp_path / "two.json")
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, out, str(i), str(port)],
            env=_env(2),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err[-3000:]
    _check(out, devices=4)
