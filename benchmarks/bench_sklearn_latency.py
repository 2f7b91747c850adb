"""First-fit latency of jaxmlp.sklearn: a fresh process, then refits with new shapes and options.

Each library runs the same sequence in a fresh Python process (JAX's persistent
compilation cache off): a first ``MLPClassifier.fit`` on digits, then refits as
a user meets them (fewer rows, another ``learning_rate_init``, other
``hidden_layer_sizes``, ``activation``, ``solver``, ``batch_size``,
``early_stopping``, ``warm_start``, ``partial_fit``, ``lbfgs``, ``predict`` on
a new row count), then a steady refit (median of 3). Every step is timed; for
jaxmlp also its XLA compilations. ``--baseline REF`` runs a second jaxmlp tree (a git
commit's, or a directory holding ``jaxmlp/``) in the same way; the processes alternate
round by round, and each step's figure is the median over rounds::

    python benchmarks/bench_sklearn_latency.py --baseline HEAD~5 --out out/bench
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
    max_iter: int = 30
    repeats: int = 2  # rounds of alternating processes
    seed: int = 0


QUICK = {"max_iter": 3, "repeats": 1}


def steps() -> list[tuple[str, dict, int | None, str]]:
    """(name, options, rows, call) of the sequence after the first fit (rows None: all)."""
    return [
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


def child(cfg: Config, jax: str) -> dict:
    """Runs in a fresh process: the sequence of :func:`steps`, each timed (``jax``: "True" for
    jaxmlp's estimator, "False" for scikit-learn's)."""
    start = time.perf_counter()
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning

    events = contextlib.nullcontext({"counts": collections.Counter()})
    if jax == "False":
        from sklearn.neural_network import MLPClassifier
    else:
        from jaxmlp.sklearn import MLPClassifier

        events = harness.jax_events()
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    imported = time.perf_counter() - start
    base = dict(hidden_layer_sizes=(cfg.hidden,), max_iter=cfg.max_iter, random_state=cfg.seed)
    rows, fitted = [], None
    warnings.simplefilter("ignore", ConvergenceWarning)
    with events as got:
        for name, options, n, call in steps():
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
    for _ in range(3):
        start = time.perf_counter()
        MLPClassifier(**base).fit(X, y)
        steady.append(time.perf_counter() - start)
    return {"import_s": imported, "steps": rows, "steady_s": statistics.median(steady)}


def summarize(runs: dict[str, list[dict]]) -> dict:
    """Median over rounds of every step's seconds (and compiles) per variant."""
    out = {}
    for variant, results in runs.items():
        names = [r["step"] for r in results[0]["steps"]]
        out[variant] = {
            "import_s": statistics.median(r["import_s"] for r in results),
            "steady_s": statistics.median(r["steady_s"] for r in results),
            "steps": {
                name: {
                    "s": statistics.median(r["steps"][i]["s"] for r in results),
                    "compiles": results[0]["steps"][i]["compiles"],
                }
                for i, name in enumerate(names)
            },
        }
    return out


def tables(r: dict) -> list[Table]:
    """bench_sklearn_latency.md: every step, per variant (seconds, and jaxmlp's compiles)."""
    summary = r["summary"]
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
    title = "digits, MLPClassifier, a fresh process per library (median over rounds)"
    return [Table(title, columns, rows)]


def run(cfg: Config, args) -> dict:
    env = {**os.environ, "JAXMLP_NO_CACHE": "1"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    with tempfile.TemporaryDirectory() as folder:
        trees = {"jaxmlp": str(harness.ROOT), "sklearn": ""}
        if args.baseline:
            trees = {"baseline": str(harness.tree_of(args.baseline, folder)), **trees}
        commands = {v: harness.child_command(__file__, cfg, v != "sklearn") for v in trees}
        envs = {v: {**env, "PYTHONPATH": os.pathsep.join([tree, env.get("PYTHONPATH", "")])}
                for v, tree in trees.items()}  # fmt: skip
        runs = harness.interleaved_processes(commands, cfg.repeats, envs=envs)
    return {"runs": runs, "summary": summarize(runs)}


def main(argv=None) -> dict:
    def flags(parser) -> None:
        parser.add_argument("--baseline", help="a git ref, or a tree holding jaxmlp/, to compare")

    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, flags=flags,
                        child=child)  # fmt: skip


if __name__ == "__main__":
    main()
