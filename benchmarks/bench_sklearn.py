"""jaxmlp.sklearn.MLPClassifier against scikit-learn's, side by side on digits.

Two measurements, the same settings for both libraries (64 ReLU units, adam,
batches of 200, early stopping off):

* steady fit: 200 epochs (``n_iter_no_change`` above ``max_iter``, so both run
  every epoch); jaxmlp fits once to compile, then both are timed in alternating
  rounds and the median of each is kept.
* cold-process GridSearchCV over 3 learning rates x 3 alphas x 3 folds (27 fits
  and the refit, default ``tol``/``n_iter_no_change`` as a user leaves them):
  each library in a fresh Python process; the figure is the ``GridSearchCV.fit``
  time (compilations included for jaxmlp), next to the process's import time.
  JAX's persistent compilation cache is off in the child (a cold process).

Writes ``OUT/bench_sklearn.json`` and ``OUT/bench_sklearn.md``::

    python benchmarks/bench_sklearn.py --out out/bench
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings

import _harness as harness
from _harness import Table

LIBRARIES = ("jaxmlp", "sklearn")


@dataclasses.dataclass(frozen=True)
class Config:
    hidden: int = 64
    epochs: int = 200
    batch_size: int = 200
    learning_rate: float = 1e-3
    alpha: float = 1e-4
    repeats: int = 5  # rounds of the steady fit
    grid_learning_rates: tuple[float, ...] = (1e-3, 3e-3, 1e-2)
    grid_alphas: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    folds: int = 3
    seed: int = 0


QUICK = {"epochs": 5, "repeats": 1, "grid_learning_rates": (1e-3,), "grid_alphas": (1e-4,)}


def digits():
    """Digits scaled to [0, 1]: X (1797, 64) float64, y (1797,)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def estimator(library: str, cfg: Config, **overrides):
    """The MLPClassifier of ``library`` ("jaxmlp" or "sklearn") with the benchmark's settings."""
    if library == "jaxmlp":
        from jaxmlp.sklearn import MLPClassifier
    else:
        from sklearn.neural_network import MLPClassifier
    settings = dict(
        hidden_layer_sizes=(cfg.hidden,),
        activation="relu",
        solver="adam",
        batch_size=cfg.batch_size,
        learning_rate_init=cfg.learning_rate,
        alpha=cfg.alpha,
        max_iter=cfg.epochs,
        early_stopping=False,
        random_state=cfg.seed,
    )
    return MLPClassifier(**{**settings, **overrides})


def steady_fit(cfg: Config) -> dict:
    """Median seconds of a full fit, both libraries in alternating rounds."""
    from sklearn.exceptions import ConvergenceWarning

    X, y = digits()
    every_epoch = dict(n_iter_no_change=cfg.epochs + 1)
    models = {lib: estimator(lib, cfg, **every_epoch) for lib in LIBRARIES}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = {lib: (lambda m=model: m.fit(X, y)) for lib, model in models.items()}
        timed = harness.interleaved(fits, cfg.repeats)  # jaxmlp's first call compiles
    median = {lib: t["median_s"] for lib, t in timed.items()}
    return {
        "seconds": {lib: t["times_s"] for lib, t in timed.items()},
        "median_s": median,
        "speedup": median["sklearn"] / median["jaxmlp"],
        "n_iter": {lib: m.n_iter_ for lib, m in models.items()},
        "train_accuracy": {lib: float(m.score(X, y)) for lib, m in models.items()},
    }


def grid_child(cfg: Config, library: str) -> dict:
    """Runs in a fresh process: import, then one GridSearchCV.fit, timed."""
    start = time.perf_counter()
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    X, y = digits()
    model = estimator(library, cfg)
    imported = time.perf_counter() - start
    grid = GridSearchCV(
        model,
        {"learning_rate_init": list(cfg.grid_learning_rates), "alpha": list(cfg.grid_alphas)},
        cv=cfg.folds,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        grid.fit(X, y)
        seconds = time.perf_counter() - start
    result = {"import_s": imported, "grid_s": seconds, "best_score": float(grid.best_score_)}
    if library == "jaxmlp":
        from jaxmlp.sklearn import _fit

        result["programs_compiled"] = _fit.run_epochs._cache_size()
    return result


def cold_grids(cfg: Config) -> dict:
    """GridSearchCV of each library in its own fresh process (no compilation cache)."""
    env = {**os.environ, "JAXMLP_NO_CACHE": "1"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    commands = {lib: harness.child_command(__file__, cfg, lib) for lib in LIBRARIES}
    return {
        lib: runs[0] for lib, runs in harness.interleaved_processes(commands, 1, env=env).items()
    }


def tables(r: dict) -> list[Table]:
    """bench_sklearn.md: the steady fit and the cold grid search, side by side."""
    rows = []
    if s := r.get("steady"):
        rows.append([f"steady fit, {r['config']['epochs']} epochs (median of "
                     f"{len(s['seconds']['jaxmlp'])})", s["median_s"]["jaxmlp"],
                     s["median_s"]["sklearn"], f"{s['speedup']:.1f}x faster"])  # fmt: skip
    note = ""
    if g := r.get("grid"):
        ratio = g["jaxmlp"]["grid_s"] / g["sklearn"]["grid_s"]
        rows.append(["cold-process GridSearchCV + refit", g["jaxmlp"]["grid_s"],
                     g["sklearn"]["grid_s"], f"{ratio:.2f}x the time"])  # fmt: skip
        note = (
            f"jaxmlp: import {g['jaxmlp']['import_s']:.2f} s; programs compiled by the grid: "
            f"{g['jaxmlp'].get('programs_compiled')} (one per training-set size: the folds' and "
            f"the refit's); best CV accuracy {g['jaxmlp']['best_score']:.4f}. scikit-learn: "
            f"best CV accuracy {g['sklearn']['best_score']:.4f}."
        )
    columns = ["measurement", "jaxmlp (s)", "scikit-learn (s)", "ratio"]
    return [Table("digits, 64 ReLU units, adam, batch 200", columns, rows, note)]


def run(cfg: Config, args) -> dict:
    result = {} if args.skip_steady else {"steady": steady_fit(cfg)}
    return result | {"grid": cold_grids(cfg)}


def main(argv=None) -> dict:
    def flags(parser) -> None:
        parser.add_argument("--skip-steady", action="store_true", help="only the grid search")

    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, flags=flags,
                        child=grid_child)  # fmt: skip


if __name__ == "__main__":
    main()
