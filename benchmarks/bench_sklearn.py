"""jaxmlp.sklearn.MLPClassifier against scikit-learn's, side by side on digits.

Two measurements, the same settings for both libraries (64 ReLU units, adam,
batches of 200):

* steady fit: 200 epochs, early stopping off (``n_iter_no_change`` above ``max_iter``, so
  both run every epoch); jaxmlp fits once to compile, then both are timed in alternating
  rounds and the median of each is kept.
* first fits: each library runs one sequence in a fresh Python process (JAX's persistent
  compilation cache off): a first ``MLPClassifier((64,), max_iter=30).fit``, then refits
  as a user meets them (fewer rows, another ``learning_rate_init``, other
  ``hidden_layer_sizes``, ``activation``, ``solver``, ``batch_size``, ``early_stopping``,
  ``warm_start``, ``partial_fit``, ``lbfgs``, ``predict`` on a new row count), then a steady
  refit (median of 3). Every step is timed; for jaxmlp also its XLA compilations.
  ``--baseline REF`` runs a second jaxmlp tree (a git commit's, or a directory holding
  ``jaxmlp/``) in the same way; the processes alternate round by round, and each step's
  figure is the median over rounds.

A cold-process ``GridSearchCV`` on digits (27 fits) is measured by ``bench_search.py``
(scikit-learn's search over either library's MLP) and ``bench_cold.py`` (row ``grid``); the
stored record of 2026-11-29 keeps its row. Writes ``OUT/bench_sklearn.{json,md}``::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_sklearn.py --out out/bench
    python benchmarks/bench_sklearn.py --parts latency --baseline HEAD~5 --out out/bench
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import statistics
import tempfile
import time
import warnings

import _harness as harness
from _harness import Table


@dataclasses.dataclass(frozen=True)
class Config:
    hidden: int = 64
    epochs: int = 200  # of the steady fit
    batch_size: int = 200
    learning_rate: float = 1e-3
    alpha: float = 1e-4
    max_iter: int = 30  # of the first fits
    repeats: int = 3  # rounds: of the steady fit, of the first fits' processes
    parts: tuple[str, ...] = ("steady", "latency")
    seed: int = 0


QUICK = {"epochs": 5, "max_iter": 3, "repeats": 1}

STEPS = [  # (name, options, rows (None: all), call) of the first fits' sequence
    ("first fit", {}, None, "fit"),
    ("same shape and options (compiled)", {}, None, "fit"),
    ("fewer rows (1500)", {}, 1500, "fit"),
    ("learning_rate_init=0.01", {"learning_rate_init": 0.01}, None, "fit"),
    ("hidden_layer_sizes=(32,)", {"hidden_layer_sizes": (32,)}, None, "fit"),
    ("activation='tanh'", {"activation": "tanh"}, None, "fit"),
    ("solver='sgd'", {"solver": "sgd"}, None, "fit"),
    ("solver='sgd', 1500 rows", {"solver": "sgd"}, 1500, "fit"),
    ("batch_size=100", {"batch_size": 100}, None, "fit"),
    ("early_stopping=True", {"early_stopping": True}, None, "fit"),
    ("early_stopping=True, 1500 rows", {"early_stopping": True}, 1500, "fit"),
    ("warm_start refit", {"warm_start": True}, None, "warm"),
    ("partial_fit x3 (1797, 1500, 1000 rows)", {}, None, "partial"),
    ("solver='lbfgs'", {"solver": "lbfgs"}, None, "fit"),
    ("solver='lbfgs', 1500 rows", {"solver": "lbfgs"}, 1500, "fit"),
    ("predict 333 rows", {}, 333, "predict"),
]


def digits():
    """Digits scaled to [0, 1]: X (1797, 64) float64, y (1797,)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def classifier(library: str):
    """The MLPClassifier class of ``library`` ("jaxmlp" or "sklearn")."""
    if library == "jaxmlp":
        from jaxmlp.sklearn import MLPClassifier
    else:
        from sklearn.neural_network import MLPClassifier
    return MLPClassifier


def steady_fit(cfg: Config) -> dict:
    """Median seconds of a full fit, both libraries in alternating rounds."""
    from sklearn.exceptions import ConvergenceWarning

    X, y = digits()
    settings = dict(hidden_layer_sizes=(cfg.hidden,), activation="relu", solver="adam",
                    batch_size=cfg.batch_size, learning_rate_init=cfg.learning_rate,
                    alpha=cfg.alpha, max_iter=cfg.epochs, n_iter_no_change=cfg.epochs + 1,
                    early_stopping=False, random_state=cfg.seed)  # fmt: skip
    models = {lib: classifier(lib)(**settings) for lib in ("jaxmlp", "sklearn")}
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


def child(cfg: Config, library: str) -> dict:
    """Runs in a fresh process: the first fits' sequence (:data:`STEPS`), each step timed."""
    start = time.perf_counter()
    from sklearn.exceptions import ConvergenceWarning

    MLPClassifier = classifier(library)
    events = contextlib.nullcontext({"counts": collections.Counter()})
    if library == "jaxmlp":
        events = harness.jax_events()
    X, y = digits()
    imported = time.perf_counter() - start
    base = dict(hidden_layer_sizes=(cfg.hidden,), max_iter=cfg.max_iter, random_state=cfg.seed)
    rows, fitted = [], None
    warnings.simplefilter("ignore", ConvergenceWarning)
    with events as got:
        for name, options, n, call in STEPS:
            Xn, yn = X[:n], y[:n]
            model = MLPClassifier(**{**base, **options})
            before, start = got["counts"][harness.COMPILE], time.perf_counter()
            if call == "fit":
                fitted = model.fit(Xn, yn)
            elif call == "warm":
                model.fit(X, y).fit(X, y)
            elif call == "partial":
                for m in (1797, 1500, 1000):
                    model.partial_fit(X[:m], y[:m], classes=list(range(10)))
            else:
                fitted.predict(Xn)
            compiles = got["counts"][harness.COMPILE] - before
            rows.append({"step": name, "s": time.perf_counter() - start, "compiles": compiles})
    steady = []
    for _ in range(3):  # no JAX in scikit-learn's process: not harness.timed
        start = time.perf_counter()
        MLPClassifier(**base).fit(X, y)
        steady.append(time.perf_counter() - start)
    return {"import_s": imported, "steps": rows, "steady_s": statistics.median(steady)}


def first_fits(cfg: Config, baseline: str | None) -> dict:
    """The sequence of each variant (jaxmlp, scikit-learn, ``baseline``'s tree) in alternating
    fresh processes, and the median over rounds of every step's seconds (and compiles)."""
    env = {**os.environ, "JAXMLP_NO_CACHE": "1"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    with tempfile.TemporaryDirectory() as folder:
        trees = {"jaxmlp": str(harness.ROOT), "sklearn": ""}
        if baseline:
            trees = {"baseline": str(harness.tree_of(baseline, folder)), **trees}
        commands = {v: harness.child_command(__file__, cfg, "sklearn" if v == "sklearn"
                                             else "jaxmlp") for v in trees}  # fmt: skip
        envs = {v: {**env, "PYTHONPATH": os.pathsep.join([tree, env.get("PYTHONPATH", "")])}
                for v, tree in trees.items()}  # fmt: skip
        runs = harness.interleaved_processes(commands, cfg.repeats, envs=envs)
    median = lambda results, f: statistics.median(f(r) for r in results)  # noqa: E731
    summary = {
        v: {
            "import_s": median(results, lambda r: r["import_s"]),
            "steady_s": median(results, lambda r: r["steady_s"]),
            "steps": {
                step["step"]: {
                    "s": median(results, lambda r, i=i: r["steps"][i]["s"]),
                    "compiles": step["compiles"],
                }
                for i, step in enumerate(results[0]["steps"])
            },
        }  # fmt: skip
        for v, results in runs.items()
    }
    return {"runs": runs, "summary": summary}


def tables(r: dict) -> list[Table]:
    """bench_sklearn.md: the steady fit (and a stored record's cold grid), the first fits."""
    rows, out = [], []
    if s := r.get("steady"):
        rows.append([f"steady fit, {r['config']['epochs']} epochs (median of "
                     f"{len(s['seconds']['jaxmlp'])})", s["median_s"]["jaxmlp"],
                     s["median_s"]["sklearn"], f"{s['speedup']:.1f}x faster"])  # fmt: skip
    note = ""
    if g := r.get("grid"):  # the record of 2026-11-29: a cold-process GridSearchCV
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
    if rows:
        out.append(Table("digits, 64 ReLU units, adam, batch 200", columns, rows, note))
    if "latency" in r:
        out.append(latency_table(r["latency"]["summary"]))
    return out


def latency_table(summary: dict) -> Table:
    """Every step of the first fits, per variant (seconds, and jaxmlp's compiles)."""
    variants = list(summary)

    def ratio(seconds: dict) -> str:
        return f"{seconds['jaxmlp'] / seconds['baseline']:.2f}" if "baseline" in seconds else ""

    rows, totals = [], dict.fromkeys(variants, 0.0)
    for name in summary[variants[0]]["steps"]:
        cells = {v: summary[v]["steps"][name] for v in variants}
        for v, cell in cells.items():
            totals[v] += cell["s"]
        shown = [f"{c['s']:.2f}" + ("" if v == "sklearn" else f" ({c['compiles']})")
                 for v, c in cells.items()]  # fmt: skip
        rows.append([name, *shown, ratio({v: c["s"] for v, c in cells.items()})])
    rows.append(["**sequence total**", *(f"{t:.2f}" for t in totals.values()), ratio(totals)])
    steady = {v: summary[v]["steady_s"] for v in variants}
    rows.append(["steady refit, compiled (median of 3)", *steady.values(), ratio(steady)])
    columns = ["step", *(f"{v} s (compiles)" for v in variants), "jaxmlp / baseline"]
    return Table("First fits: a fresh process per library (median over rounds)", columns, rows)


def run(cfg: Config, args) -> dict:
    out = {"steady": steady_fit(cfg)} if "steady" in cfg.parts else {}
    return out | ({"latency": first_fits(cfg, args.baseline)} if "latency" in cfg.parts else {})


def main(argv=None) -> dict:
    def flags(parser) -> None:
        parser.add_argument("--parts", type=lambda s: tuple(s.split(",")), help="steady,latency")
        parser.add_argument("--baseline", help="a git ref, or a tree holding jaxmlp/, to compare")

    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, flags=flags,
                        child=child)  # fmt: skip


if __name__ == "__main__":
    main()
