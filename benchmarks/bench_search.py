"""jaxmlp.sklearn.GridSearchCV (one program) against scikit-learn's GridSearchCV, cold and warm.

Two grids at scikit-learn's defaults (adam, ``max_iter=200``, ``tol=1e-4``, batches of
``min(200, n)``), each searched three ways, every one in its own fresh Python process
(JAX's persistent compilation cache off), the processes alternating round by round:

* ``one program``: ``jaxmlp.sklearn.GridSearchCV`` over jaxmlp's ``MLPClassifier``;
* ``jaxmlp in sklearn's loop``: scikit-learn's ``GridSearchCV`` over jaxmlp's estimator;
* ``scikit-learn``: scikit-learn's ``GridSearchCV`` over its own ``MLPClassifier``
  (``n_jobs`` 1 and 2 on the circles).

Grids (:func:`param_grid`): the circles (200 points of the post's generator, 5 folds: 360 fits
and the refit) and digits (1797 x 64 scaled to [0, 1], 64 ReLU units, 3 folds: 27 fits and the
refit). Each child times its imports, the cold ``fit`` (compilation included), a second ``fit``
in the same process (warm), and reports its peak resident memory and best score::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_search.py --out out/bench
"""

from __future__ import annotations

import dataclasses
import math
import resource
import time
import warnings

import _harness as harness
from _harness import Table

WAYS = ("one program", "jaxmlp in sklearn's loop", "scikit-learn")


@dataclasses.dataclass(frozen=True)
class Config:
    repeats: int = 1  # rounds of cold processes
    grids: tuple[str, ...] = ("circles", "digits")
    circles_n: int = 200
    circles_widths: tuple[int, ...] = (2, 3, 8, 32)
    circles_activations: tuple[str, ...] = ("relu", "tanh", "logistic")
    circles_alphas: tuple[float, ...] = (1e-4, 1e-2)
    circles_rates: tuple[float, ...] = (1e-3, 1e-2, 1e-1)
    circles_folds: int = 5
    digits_hidden: int = 64
    digits_rates: tuple[float, ...] = (1e-3, 3e-3, 1e-2)
    digits_alphas: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    digits_folds: int = 3
    n_jobs: tuple[int, ...] = (1, 2)  # scikit-learn's own MLP on the circles
    max_iter: int = 200
    seed: int = 0


QUICK = {
    "circles_widths": (2, 8),
    "circles_activations": ("relu", "tanh"),
    "circles_rates": (1e-2,),
    "circles_folds": 3,
    "digits_rates": (1e-3,),
    "digits_alphas": (1e-4,),
    "max_iter": 20,
    "n_jobs": (1,),
}


def data(grid: str, cfg: Config):
    """(X, y) of a grid: float64 NumPy arrays, int labels."""
    import numpy as np

    if grid == "circles":
        import jax

        import jaxmlp

        X, y = jaxmlp.datasets.circles(jax.random.key(cfg.seed), n=cfg.circles_n)
        return np.asarray(X, np.float64), np.asarray(y)
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def param_grid(grid: str, cfg: Config) -> dict:
    if grid == "circles":
        return {
            "hidden_layer_sizes": [(w,) for w in cfg.circles_widths],
            "activation": list(cfg.circles_activations),
            "alpha": list(cfg.circles_alphas),
            "learning_rate_init": list(cfg.circles_rates),
        }
    return {"learning_rate_init": list(cfg.digits_rates), "alpha": list(cfg.digits_alphas)}


def n_fits(grid: str, cfg: Config) -> int:
    n = math.prod(len(values) for values in param_grid(grid, cfg).values())
    return n * (cfg.circles_folds if grid == "circles" else cfg.digits_folds)


def search_child(cfg: Config, way: str, grid: str, n_jobs: str) -> dict:
    """Runs in a fresh process: imports, then the search's fit twice (cold, warm)."""
    start = time.perf_counter()
    from sklearn import model_selection
    from sklearn.exceptions import ConvergenceWarning

    if way == "scikit-learn":
        from sklearn.neural_network import MLPClassifier
    else:
        from jaxmlp.sklearn import MLPClassifier
    search_class = model_selection.GridSearchCV
    if way == "one program":
        from jaxmlp.sklearn import GridSearchCV as search_class  # noqa: N813
    X, y = data(grid, cfg)
    imported = time.perf_counter() - start
    hidden = {} if grid == "circles" else {"hidden_layer_sizes": (cfg.digits_hidden,)}
    model = MLPClassifier(random_state=cfg.seed, max_iter=cfg.max_iter, **hidden)
    folds = cfg.circles_folds if grid == "circles" else cfg.digits_folds
    search = search_class(model, param_grid(grid, cfg), cv=folds, n_jobs=int(n_jobs))
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(2):
            start = time.perf_counter()
            search.fit(X, y)
            times.append(time.perf_counter() - start)
    result = {
        "import_s": imported,
        "cold_s": times[0],
        "warm_s": times[1],
        "best_score": float(search.best_score_),
        "best_params": {k: str(v) for k, v in search.best_params_.items()},
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if way == "one program":
        from jaxmlp.sklearn import _search_programs

        result["programs_compiled"] = _search_programs.run_models._cache_size()
        result["program_s_warm"] = search.program_time_
    return result


def run(cfg: Config, args) -> dict:
    out: dict = {}
    for grid in cfg.grids:
        commands = {}
        for way in WAYS:
            jobs = cfg.n_jobs if (way == "scikit-learn" and grid == "circles") else (1,)
            for n in jobs:
                commands[f"{way}|{n}"] = harness.child_command(__file__, cfg, way, grid, n)
        runs = harness.interleaved_processes(commands, cfg.repeats, no_cache=True)
        out[grid] = {"fits": n_fits(grid, cfg), "runs": runs}
    return {"grids": out}


def tables(r: dict) -> list[Table]:
    """bench_search.md: one table per grid, every way side by side."""
    result = []
    for grid, g in r["grids"].items():
        runs = g["runs"]
        base, rows = harness.medians(runs["scikit-learn|1"]), []
        for name, xs in runs.items():
            way, n_jobs = name.split("|")
            m = harness.medians(xs)
            cold, warm = m["cold_s"], m["warm_s"]
            rows.append([
                way, int(n_jobs), m["import_s"], cold, f"{cold / base['cold_s']:.2f}x", warm,
                f"{warm / base['warm_s']:.2f}x", g["fits"] / cold, m["peak_rss_mib"],
                xs[0].get("programs_compiled"), f"{xs[0]['best_score']:.4f}",
            ])  # fmt: skip
        columns = ["search", "n_jobs", "import (s)", "cold fit (s)", "cold / scikit-learn",
                   "warm fit (s)", "warm / scikit-learn", "fits/s (cold)", "peak RSS (MiB)",
                   "programs", "best CV score"]  # fmt: skip
        title = f"{grid}: {g['fits']} fits and the refit (median of {len(runs['scikit-learn|1'])})"
        note = (
            "cold: the search's first `fit` in a fresh process, compilation included, "
            "imports apart; warm: a second `fit` of the same search in that process. "
            "Ratios against scikit-learn's GridSearchCV over its own MLP with n_jobs=1."
        )
        result.append(Table(title, columns, rows, note))
    return result


def main(argv=None) -> dict:
    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, child=search_child)


if __name__ == "__main__":
    main()
