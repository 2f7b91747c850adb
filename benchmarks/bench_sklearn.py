"""jaxmlp.sklearn's estimators against scikit-learn's, side by side: speed on digits, scores.

Two measurements, the same settings for both libraries (64 ReLU units; adam and batches of
200 unless a part says otherwise):

* steady fit: 200 epochs, early stopping off (``n_iter_no_change`` above ``max_iter``); jaxmlp
  fits once to compile, then both are timed in alternating rounds (medians).
* scores: test scores of both libraries' MLPs (classifiers: digits, breast cancer, iris,
  accuracy; regressors: diabetes and ``make_regression(n_samples=500, n_features=20,
  noise=10, random_state=0)``, R^2). One split per data set (75/25, ``random_state=0``,
  stratified for classes), standardised on the training part (regression targets too); every
  solver (sgd, adam, lbfgs) and seed, ``max_iter=200``, scikit-learn's defaults otherwise.

A cold ``GridSearchCV`` is ``bench_search.py``'s, the first fits and refits (this script's
until 2026-12-07) ``bench_cold.py``'s ``refits`` row; the stored record of 2026-11-29 keeps the
grid's row, and the scores of that date (measured apart, by ``sklearn_quality.py``)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_sklearn.py --out out/bench
"""

from __future__ import annotations

import dataclasses
import statistics
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
    repeats: int = 3  # rounds of the steady fit
    parts: tuple[str, ...] = ("steady", "scores")
    seed: int = 0
    seeds: tuple[int, ...] = (0, 1, 2)  # of the scores
    score_iter: int = 200
    solvers: tuple[str, ...] = ("sgd", "adam", "lbfgs")


QUICK = {"epochs": 5, "repeats": 1, "seeds": (0,), "score_iter": 10}
SCORED = ("digits", "breast_cancer", "iris", "diabetes", "make_regression")


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
    """bench_sklearn.md: the steady fit (and a stored record's cold grid), the scores."""
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


def run(cfg: Config, args) -> dict:
    out = {"steady": steady_fit(cfg)} if "steady" in cfg.parts else {}
    return out | ({"scores": scores(cfg)} if "scores" in cfg.parts else {})


def main(argv=None) -> dict:
    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv)


if __name__ == "__main__":
    main()
