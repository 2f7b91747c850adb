"""Test scores of jaxmlp.sklearn and scikit-learn's MLPs on scikit-learn's bundled data.

Classification: digits, breast cancer, iris (accuracy); regression: diabetes and
``make_regression(n_samples=500, n_features=20, noise=10, random_state=0)`` (R^2).
For each data set: one split (75/25, ``random_state=0``, stratified for
classes), features standardised on the training part (regression targets too);
then for every solver (sgd, adam, lbfgs) and every seed both libraries' estimators
with identical settings (64 ReLU units, ``max_iter=200``, scikit-learn's defaults
otherwise, ``random_state=seed``) are fitted and scored on the test part.

Writes ``OUT/sklearn_quality.json`` and ``OUT/sklearn_quality.md``::

    python benchmarks/sklearn_quality.py --out out/bench
"""

from __future__ import annotations

import dataclasses
import statistics
import time
import warnings

import _harness as harness
from _harness import Table


@dataclasses.dataclass(frozen=True)
class Config:
    seeds: tuple[int, ...] = (0, 1, 2)
    hidden: int = 64
    max_iter: int = 200
    test_size: float = 0.25
    split_seed: int = 0
    solvers: tuple[str, ...] = ("sgd", "adam", "lbfgs")


QUICK = {"seeds": (0,), "max_iter": 10}


def datasets() -> dict:
    """name -> (X, y, is_classification)."""
    from sklearn import datasets as ds

    out = {}
    for name in ("digits", "breast_cancer", "iris"):
        X, y = getattr(ds, f"load_{name}")(return_X_y=True)
        out[name] = (X, y, True)
    X, y = ds.load_diabetes(return_X_y=True)
    out["diabetes"] = (X, y, False)
    X, y = ds.make_regression(n_samples=500, n_features=20, noise=10.0, random_state=0)
    out["make_regression"] = (X, y, False)
    return out


def split(X, y, classification: bool, cfg: Config):
    """The same standardised split for both libraries."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    stratify = y if classification else None
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=cfg.test_size, random_state=cfg.split_seed, stratify=stratify
    )
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    if not classification:
        mean, std = y_tr.mean(), y_tr.std()
        y_tr, y_te = (y_tr - mean) / std, (y_te - mean) / std
    return X_tr, X_te, y_tr, y_te


def run(cfg: Config) -> list[dict]:
    from sklearn import neural_network
    from sklearn.exceptions import ConvergenceWarning

    import jaxmlp.sklearn

    rows = []
    for name, (X, y, classification) in datasets().items():
        X_tr, X_te, y_tr, y_te = split(X, y, classification, cfg)
        kind = "MLPClassifier" if classification else "MLPRegressor"
        libs = {"jaxmlp": getattr(jaxmlp.sklearn, kind), "sklearn": getattr(neural_network, kind)}
        for solver in cfg.solvers:
            row = {
                "data": name,
                "solver": solver,
                "metric": "accuracy" if classification else "R^2",
            }
            for lib, Estimator in libs.items():
                scores, seconds = [], []
                for seed in cfg.seeds:
                    model = Estimator(hidden_layer_sizes=(cfg.hidden,), solver=solver,
                                      max_iter=cfg.max_iter, random_state=seed)  # fmt: skip
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        model.fit(X_tr, y_tr)
                    seconds.append(time.perf_counter() - start)
                    scores.append(float(model.score(X_te, y_te)))
                row[lib] = {"scores": scores, "mean": statistics.fmean(scores), "seconds": seconds}
            rows.append(row)
            print(name, solver, row["jaxmlp"]["mean"], row["sklearn"]["mean"], flush=True)
    return rows


def tables(r: dict) -> list[Table]:
    """sklearn_quality.md: each data set and solver, both libraries' test scores."""
    rows = [
        [x["data"], x["solver"], x["metric"],
         *(f"{x[lib]['mean']:.4f} ({', '.join(f'{v:.3f}' for v in x[lib]['scores'])})"
           for lib in ("jaxmlp", "sklearn"))]
        for x in r["rows"]
    ]  # fmt: skip
    columns = ["data", "solver", "metric", "jaxmlp mean (per seed)", "scikit-learn mean (per seed)"]
    return [Table("Test scores", columns, rows)]


def main(argv=None) -> dict:
    return harness.main(
        __file__, __doc__, Config, QUICK, lambda cfg, args: {"rows": run(cfg)}, tables, argv
    )


if __name__ == "__main__":
    main()
