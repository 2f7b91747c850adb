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

    python experiments/bench_sklearn.py --out out/bench
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
import warnings

LIBRARIES = ("jaxmlp", "sklearn")


@dataclasses.dataclass(frozen=True)
class Config:
    hidden: int = 64
    epochs: int = 200
    batch_size: int = 200
    learning_rate: float = 1e-3
    alpha: float = 1e-4
    rounds: int = 5
    grid_learning_rates: tuple[float, ...] = (1e-3, 3e-3, 1e-2)
    grid_alphas: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    folds: int = 3
    seed: int = 0


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
    """Median seconds of a 200-epoch fit, both libraries in alternating rounds."""
    from sklearn.exceptions import ConvergenceWarning

    X, y = digits()
    every_epoch = dict(n_iter_no_change=cfg.epochs + 1)
    models = {lib: estimator(lib, cfg, **every_epoch) for lib in ("jaxmlp", "sklearn")}
    times: dict[str, list[float]] = {lib: [] for lib in models}
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        models["jaxmlp"].fit(X, y)  # compiles
        for _ in range(cfg.rounds):
            for lib, model in models.items():
                start = time.perf_counter()
                model.fit(X, y)
                times[lib].append(time.perf_counter() - start)
                scores[lib] = (model.n_iter_, float(model.score(X, y)))
    median = {lib: statistics.median(t) for lib, t in times.items()}
    return {
        "seconds": times,
        "median_s": median,
        "speedup": median["sklearn"] / median["jaxmlp"],
        "n_iter": {lib: s[0] for lib, s in scores.items()},
        "train_accuracy": {lib: s[1] for lib, s in scores.items()},
    }


def grid_child(library: str, cfg: Config) -> dict:
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


def cold_grid(cfg: Config, library: str) -> dict:
    """GridSearchCV of ``library`` in its own fresh process."""
    env = {**os.environ, "JAXMLP_NO_CACHE": "1"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    proc = subprocess.run(
        [sys.executable, __file__, "--grid-child", library],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def versions() -> dict:
    import jax
    import sklearn

    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "scikit-learn": sklearn.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }


def markdown(result: dict) -> str:
    """The figures measured so far as a markdown table."""
    lines = [
        "# jaxmlp.sklearn vs scikit-learn on digits (64 ReLU, adam, batch 200)",
        "",
        f"Versions: {result['versions']}",
        "",
        "| measurement | jaxmlp | scikit-learn | ratio |",
        "|---|---|---|---|",
    ]
    s = result.get("steady")
    if s:
        lines.append(
            f"| steady fit, 200 epochs (median of {len(s['seconds']['jaxmlp'])}) "
            f"| {s['median_s']['jaxmlp']:.3f} s | {s['median_s']['sklearn']:.3f} s "
            f"| {s['speedup']:.1f}x faster |"
        )
    g = result.get("grid", {})
    if g:
        cells = [f"{g[lib]['grid_s']:.2f} s" if lib in g else "-" for lib in LIBRARIES]
        ratio = (
            f"{g['jaxmlp']['grid_s'] / g['sklearn']['grid_s']:.2f}x the time" if len(g) == 2 else ""
        )
        lines.append(
            f"| cold-process GridSearchCV 3 lr x 3 alpha x 3 folds + refit | {cells[0]} "
            f"| {cells[1]} | {ratio} |"
        )
        if "jaxmlp" in g:
            lines += [
                "",
                f"jaxmlp: import {g['jaxmlp']['import_s']:.2f} s; programs compiled by the grid: "
                f"{g['jaxmlp'].get('programs_compiled')} (one per training-set size: the "
                f"folds' and the refit's); best CV accuracy {g['jaxmlp']['best_score']:.4f}.",
            ]
        if "sklearn" in g:
            lines.append(f"scikit-learn: best CV accuracy {g['sklearn']['best_score']:.4f}.")
    return "\n".join(lines + [""])


def write(result: dict, out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_sklearn.json").write_text(json.dumps(result, indent=2))
    (out / "bench_sklearn.md").write_text(markdown(result))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/bench")
    parser.add_argument("--rounds", type=int, default=Config.rounds)
    parser.add_argument("--skip-steady", action="store_true", help="only the grid search")
    parser.add_argument("--grid-child", choices=("jaxmlp", "sklearn"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cfg = Config(rounds=args.rounds)
    if args.grid_child:
        print(json.dumps(grid_child(args.grid_child, cfg)))
        return
    result = {"config": dataclasses.asdict(cfg), "versions": versions(), "grid": {}}
    out = pathlib.Path(args.out)
    if not args.skip_steady:
        result["steady"] = steady_fit(cfg)
        write(result, out)  # each figure is kept as soon as it is measured
    for library in LIBRARIES:
        result["grid"][library] = cold_grid(cfg, library)
        write(result, out)
    print(markdown(result))


if __name__ == "__main__":
    main()
