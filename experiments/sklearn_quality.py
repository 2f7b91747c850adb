"""Test scores of jaxmlp.sklearn and scikit-learn's MLPs on scikit-learn's bundled data.

Classification: digits, breast cancer, iris (accuracy); regression: diabetes and
``make_regression(n_samples=500, n_features=20, noise=10, random_state=0)`` (R^2).
For each data set: one split (75/25, ``random_state=0``, stratified for
classes), features standardised on the training part (regression targets too);
then for every solver (sgd, adam, lbfgs) and every seed both libraries' estimators
with identical settings (64 ReLU units, ``max_iter=200``, scikit-learn's defaults
otherwise, ``random_state=seed``) are fitted and scored on the test part.

Writes ``OUT/sklearn_quality.json`` and ``OUT/sklearn_quality.md``::

    python experiments/sklearn_quality.py --out out/bench
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import platform
import statistics
import time
import warnings


@dataclasses.dataclass(frozen=True)
class Config:
    seeds: tuple[int, ...] = (0, 1, 2)
    hidden: int = 64
    max_iter: int = 200
    test_size: float = 0.25
    split_seed: int = 0
    solvers: tuple[str, ...] = ("sgd", "adam", "lbfgs")


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

    X_tr, X_te, y_tr, y_te = train_test_split(
        X,
        y,
        test_size=cfg.test_size,
        random_state=cfg.split_seed,
        stratify=y if classification else None,
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
                    model = Estimator(
                        hidden_layer_sizes=(cfg.hidden,),
                        solver=solver,
                        max_iter=cfg.max_iter,
                        random_state=seed,
                    )
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


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        "| data | solver | metric | jaxmlp mean (per seed) | scikit-learn mean (per seed) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [
            f"{r[lib]['mean']:.4f} ({', '.join(f'{s:.3f}' for s in r[lib]['scores'])})"
            for lib in ("jaxmlp", "sklearn")
        ]
        lines.append(f"| {r['data']} | {r['solver']} | {r['metric']} | {cells[0]} | {cells[1]} |")
    lines += ["", f"Versions: {meta}", ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/bench")
    args = parser.parse_args(argv)
    import jax
    import sklearn

    cfg = Config()
    meta = {
        "jax": jax.__version__,
        "scikit-learn": sklearn.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    rows = run(cfg)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"config": dataclasses.asdict(cfg), "versions": meta, "rows": rows}
    (out / "sklearn_quality.json").write_text(json.dumps(payload, indent=2))
    (out / "sklearn_quality.md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))


if __name__ == "__main__":
    main()
