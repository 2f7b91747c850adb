"""jaxmlp.sklearn's estimators against scikit-learn's, side by side: speed on digits, scores.

Three measurements, the same settings for both libraries (64 ReLU units; adam and batches of
200 unless a part says otherwise):

* steady fit: 200 epochs, early stopping off (``n_iter_no_change`` above ``max_iter``); jaxmlp
  fits once to compile, then both are timed in alternating rounds (medians).
* first fits: each library runs one sequence in a fresh process (persistent cache off): a
  first ``MLPClassifier((64,), max_iter=30).fit``, then the refits of :data:`STEPS`, as a user
  meets them, then a steady refit (median of 3); every step timed, for jaxmlp also its XLA
  compilations. ``--baseline REF`` runs a second jaxmlp tree (a git commit's, or a directory
  holding ``jaxmlp/``) alike; the processes alternate round by round (medians over rounds).
* scores: test scores of both libraries' MLPs (classifiers: digits, breast cancer, iris,
  accuracy; regressors: diabetes and ``make_regression(n_samples=500, n_features=20,
  noise=10, random_state=0)``, R^2). One split per data set (75/25, ``random_state=0``,
  stratified for classes), standardised on the training part (regression targets too); every
  solver (sgd, adam, lbfgs) and seed, ``max_iter=200``, scikit-learn's defaults otherwise.

A cold ``GridSearchCV`` is ``bench_search.py``'s; the stored record of 2026-11-29 keeps its
row, and the scores of that date (measured apart, by ``sklearn_quality.py``, now this part)::

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
    parts: tuple[str, ...] = ("steady", "latency", "scores")
    seed: int = 0
    seeds: tuple[int, ...] = (0, 1, 2)  # of the scores
    score_iter: int = 200
    solvers: tuple[str, ...] = ("sgd", "adam", "lbfgs")


QUICK = {"epochs": 5, "max_iter": 3, "repeats": 1, "seeds": (0,), "score_iter": 10}
SCORED = ("digits", "breast_cancer", "iris", "diabetes", "make_regression")

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


def classifier(library: str, kind: str = "MLPClassifier"):
    """The MLPClassifier (or ``kind``) class of ``library`` ("jaxmlp" or "sklearn"); only that
    library is imported."""
    if library == "jaxmlp":
        import jaxmlp.sklearn as module
    else:
        import sklearn.neural_network as module  # type: ignore[no-redef]
    return getattr(module, kind)


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
    steady = harness.interleaved({"": lambda: MLPClassifier(**base).fit(X, y)}, 3)[""]  # no JAX
    return {"import_s": imported, "steps": rows, "steady_s": steady["median_s"]}


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
    return {"runs": runs, "summary": {v: _summary(rs) for v, rs in runs.items()}}


def _summary(results: list[dict]) -> dict:
    """The medians over rounds of a variant's import, steady refit and every step's seconds."""
    med = lambda f: statistics.median(map(f, results))  # noqa: E731
    steps = {x["step"]: {"s": med(lambda r, i=i: r["steps"][i]["s"]), "compiles": x["compiles"]}
             for i, x in enumerate(results[0]["steps"])}  # fmt: skip
    return {"import_s": med(lambda r: r["import_s"]), "steady_s": med(lambda r: r["steady_s"]),
            "steps": steps}  # fmt: skip


def split(name: str):
    """``(X_train, X_test, y_train, y_test, classes)`` of a data set of :data:`SCORED`."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name == "make_regression":
        X, y = datasets.make_regression(n_samples=500, n_features=20, noise=10.0, random_state=0)
    else:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    classes = name != "diabetes" and name != "make_regression"
    parts = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y if classes else None)
    scaler = StandardScaler().fit(parts[0])
    X_tr, X_te, y_tr, y_te = scaler.transform(parts[0]), scaler.transform(parts[1]), *parts[2:]
    if not classes:
        y_tr, y_te = (y_tr - y_tr.mean()) / y_tr.std(), (y_te - y_tr.mean()) / y_tr.std()
    return X_tr, X_te, y_tr, y_te, classes


def scores(cfg: Config) -> dict:
    """Both libraries' test scores on every data set of :data:`SCORED`, solver and seed."""
    from sklearn.exceptions import ConvergenceWarning

    rows = []
    warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter reached, as in both
    for name in SCORED:
        X_tr, X_te, y_tr, y_te, classes = split(name)
        for solver in cfg.solvers:
            row = {"data": name, "solver": solver, "metric": "accuracy" if classes else "R^2"}
            for lib in ("jaxmlp", "sklearn"):
                Estimator = classifier(lib, "MLPClassifier" if classes else "MLPRegressor")
                values = []
                for seed in cfg.seeds:
                    model = Estimator(hidden_layer_sizes=(cfg.hidden,), solver=solver,
                                      max_iter=cfg.score_iter, random_state=seed)  # fmt: skip
                    values.append(float(model.fit(X_tr, y_tr).score(X_te, y_te)))
                row[lib] = {"scores": values, "mean": statistics.fmean(values)}
            rows.append(row)
            print(name, solver, row["jaxmlp"]["mean"], row["sklearn"]["mean"], flush=True)
    return {"rows": rows}


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
        j, k = g["jaxmlp"], g["sklearn"]
        note = (f"jaxmlp: import {j['import_s']:.2f} s; programs compiled by the grid: "
                f"{j.get('programs_compiled')} (one per training-set size: the folds' and the "
                f"refit's); best CV accuracy {j['best_score']:.4f}. scikit-learn: best CV "
                f"accuracy {k['best_score']:.4f}.")  # fmt: skip
    columns = ["measurement", "jaxmlp (s)", "scikit-learn (s)", "ratio"]
    if rows:
        out.append(Table("digits, 64 ReLU units, adam, batch 200", columns, rows, note))
    if "latency" in r:
        out.append(latency_table(r["latency"]["summary"]))
    if "scores" in r:
        out.append(scores_table(r["scores"]))
    return out


def scores_table(s: dict) -> Table:
    """Each data set and solver, both libraries' test scores (mean, then per seed)."""
    rows = [
        [x["data"], x["solver"], x["metric"],
         *(f"{x[lib]['mean']:.4f} ({', '.join(f'{v:.3f}' for v in x[lib]['scores'])})"
           for lib in ("jaxmlp", "sklearn"))]
        for x in s["rows"]
    ]  # fmt: skip
    columns = ["data", "solver", "metric", "jaxmlp mean (per seed)", "scikit-learn mean (per seed)"]
    apart = (
        f"Measured apart: `{s['command']}`, {harness.describe(s['machine'])}."
        if "command" in s
        else ""
    )  # noqa: E501
    return Table("Test scores", columns, rows, apart)


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
    out |= {"latency": first_fits(cfg, args.baseline)} if "latency" in cfg.parts else {}
    return out | ({"scores": scores(cfg)} if "scores" in cfg.parts else {})


def main(argv=None) -> dict:
    def flags(parser) -> None:
        parser.add_argument("--parts", type=harness.names, help="steady,latency,scores")
        parser.add_argument("--baseline", help="a git ref, or a tree holding jaxmlp/, to compare")

    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, flags=flags,
                        child=child)  # fmt: skip


if __name__ == "__main__":
    main()
