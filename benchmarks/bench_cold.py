"""The cold path as people meet it: first calls in fresh processes, with empty caches.

Each row runs jaxmlp and its baseline (scikit-learn's MLP, or the post's NumPy loop) in
alternating fresh processes, ``--repeats`` rounds; every jaxmlp process gets an empty
``JAXMLP_CACHE_DIR`` unless the row says warm (then a process before it filled one). Times
exclude the interpreter's start and imports unless a row says "process"; the first ``train``
and ``predict`` come after the data and the network are made as in the README. "XLA compile"
sums JAX's backend-compile events of the timed call, a program loaded from jaxmlp's cache
included; in ``cross_val_score`` the compiles happen in the workers and are not counted. The
process rows (``cli``, ``blog``) run the CLI's ``main`` or the script in a fresh process (their
compiles summed); warm, a process before filled the cache: compile read against compiled.

The ``refits`` row (``bench_sklearn.py``'s first fits until 2026-12-07) runs, in one process
per library, a first ``MLPClassifier((64,), max_iter=30).fit`` on digits scaled to [0, 1], then
the refits of :data:`REFITS` as a user meets them, each timed with jaxmlp's XLA compilations,
then a compiled refit (median of 3); its own table gives every step (medians over rounds).

    python benchmarks/bench_cold.py --out docs/bench          # about 10 minutes on 2 cores
    python benchmarks/bench_cold.py --rows train,predict --repeats 3 --out /tmp/bcold
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import pathlib
import statistics
import sys
import time
import warnings

import _harness as harness
from _harness import Table

ROWS = {
    "fit": "first fit on digits (64 relu, adam, max_iter=50)",
    "fit_warm": "first fit, a later process (warm cache)",
    "train": "first train, post's problem (2-3-1 sigmoid, sgd 2.0, 1000 steps)",
    "predict": "first predict (2-3-1, 200 rows)",
    "cvs": "cross_val_score(cv=5, n_jobs=2), defaults",
    "cvs_warm": "cross_val_score(cv=5, n_jobs=2), a later process (warm cache)",
    "blog": "python experiments/blog.py --out ... (process, cold)",
    "blog_warm": "python experiments/blog.py --out ... (process, warm cache)",
    "cli": "jaxmlp train --dataset circles --out ... (process, cold)",
    "cli_warm": "jaxmlp train --dataset circles --out ... (process, warm cache)",
    "refits": "first fit, then 15 refits with new rows and options (sum; steps below)",
}
REFITS = [  # (step, options, rows (None: all), call) of the refits row, in this order
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
FORMER = {  # rows of the stored record (2026-12-06), now bench_search.py's digits grid
    "grid": "GridSearchCV, 27 fits (3 rates x 3 alphas x 3 folds), defaults",
    "grid50": "GridSearchCV, 27 fits, max_iter=50",
}
BASELINE = {"train": "NumPy loop", "predict": "NumPy forward"} | dict.fromkeys(
    ("blog", "blog_warm", "cli", "cli_warm")
)
PROCESS = {"blog": [str(harness.ROOT / "experiments" / "blog.py")], "cli": ["cli", "train",
           "--dataset", "circles"]}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Config:
    rows: tuple[str, ...] = tuple(ROWS)
    repeats: int = 3  # rounds of alternating fresh processes


QUICK = {"rows": ("fit", "train", "predict"), "repeats": 1}


def child(cfg: Config, row: str, side: str, *argv: str) -> dict:
    """Runs in a fresh process: one row's first call of jaxmlp or of its baseline, timed; a
    process row's command (``argv``: the CLI's arguments or a script's path and arguments)."""
    warnings.simplefilter("ignore")
    if row in PROCESS:
        return process_child(*argv)
    if side == "jaxmlp":
        import jax

        import jaxmlp
        from jaxmlp.sklearn import MLPClassifier
    else:
        from sklearn.neural_network import MLPClassifier
    from sklearn.datasets import load_digits
    from sklearn.model_selection import cross_val_score

    X, y = load_digits(return_X_y=True)
    if row == "refits":
        counts = contextlib.nullcontext({"counts": collections.Counter()})  # no JAX imported
        with harness.jax_events() if side == "jaxmlp" else counts as events:
            return refits(MLPClassifier, X / 16.0, y, events["counts"])
    calls = {
        "fit": lambda: MLPClassifier((64,), max_iter=50, random_state=0).fit(X, y),
        "cvs": lambda: cross_val_score(MLPClassifier((64,), random_state=0), X, y, cv=5, n_jobs=2),
    }
    if row in ("train", "predict") and side == "jaxmlp":  # the README's data and network
        import optax

        Xc, yc = jaxmlp.datasets.circles(jax.random.key(0), 200)
        params = jax.block_until_ready(jaxmlp.init_mlp(jax.random.key(1), (2, 3, 1), "uniform01"))
        train = lambda: jaxmlp.train(params, Xc, yc, optimizer=optax.sgd(2.0), steps=1000)  # noqa: E731
        calls |= {"train": train, "predict": lambda: jaxmlp.predict(params, Xc)}
    elif row in ("train", "predict"):
        calls[row] = numpy_call(row)
    if side != "jaxmlp":
        start = time.perf_counter()
        calls[row]()
        return {"s": time.perf_counter() - start, "compile_s": 0.0}
    with harness.jax_events() as events:
        start = time.perf_counter()
        jax.block_until_ready(calls[row]())
        seconds = time.perf_counter() - start
    return {"s": seconds, "compile_s": events["seconds"][harness.COMPILE]}


def refits(MLPClassifier, X, y, compiles: collections.Counter) -> dict:
    """The refits row: every step of :data:`REFITS` in turn, timed, with the programs it
    compiled (``compiles``: JAX's event counts), then the compiled refit's median of 3."""
    base, steps, fitted = dict(hidden_layer_sizes=(64,), max_iter=30, random_state=0), [], None
    for name, options, n, call in REFITS:
        model = MLPClassifier(**base | options)
        before, start = compiles[harness.COMPILE], time.perf_counter()
        if call == "fit":
            fitted = model.fit(X[:n], y[:n])
        elif call == "warm":
            model.fit(X, y).fit(X, y)
        elif call == "partial":
            for m in (1797, 1500, 1000):
                model.partial_fit(X[:m], y[:m], classes=list(range(10)))
        else:
            fitted.predict(X[:n])
        steps.append({"step": name, "s": time.perf_counter() - start,
                      "compiles": compiles[harness.COMPILE] - before})  # fmt: skip
    steady = harness.interleaved({"": lambda: MLPClassifier(**base).fit(X, y)}, 3)[""]
    return {"s": sum(x["s"] for x in steps), "steps": steps, "steady_s": steady["median_s"]}


def process_child(target: str, *argv: str) -> dict:
    """The CLI's ``main`` (``target`` "cli") or a script as ``python target`` runs it, with
    JAX's compiles summed; the row's time is the whole process's."""
    import runpy

    from jaxmlp import cli

    with harness.jax_events() as events:
        if target == "cli":
            cli.main(list(argv))
        else:
            sys.argv = [target, *argv]
            sys.path.insert(0, str(pathlib.Path(target).parent))
            runpy.run_path(target, run_name="__main__")
    return {"compile_s": events["seconds"][harness.COMPILE],
            "programs": events["counts"][harness.COMPILE]}  # fmt: skip


def numpy_call(row: str):
    """The post's problem in NumPy (``_baselines``, no JAX imported), data and network made
    beforehand: 1000 steps of the post's loop, or one forward pass."""
    import numpy as np
    from _baselines import numpy_loop

    n, rng = 200, np.random.default_rng(0)
    r = np.where(np.arange(n) < n // 2, 3.0, 1.0) + rng.normal(0, 0.05, n)
    a = rng.uniform(0, 2 * np.pi, n)
    X = np.stack([r * np.cos(a), r * np.sin(a)], 1).astype(np.float32)
    y = (np.arange(n) >= n // 2).astype(np.float32)
    W1, b1, W2, b2 = (rng.uniform(size=s).astype(np.float32) for s in ((3, 2), 3, (1, 3), 1))
    if row == "train":
        return lambda: numpy_loop([(W1, b1), (W2, b2)], X, y, learning_rate=2.0, steps=1000)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    return lambda: (sigmoid(sigmoid(X @ W1.T + b1) @ W2.T + b2)[:, 0] >= 0.5).astype(np.int32)


def run(cfg: Config, args) -> dict:
    commands, warm = {}, []
    for row in cfg.rows:
        base = row.removesuffix("_warm")
        for side in ["jaxmlp"] if BASELINE.get(row, "x") is None else ["jaxmlp", "baseline"]:
            extra = [*PROCESS[base], "--out", "{tmp}/out"] if base in PROCESS else []
            commands[f"{row}|{side}"] = harness.child_command(__file__, cfg, base, side, *extra)
        if row.endswith("_warm"):
            warm.append(f"{row}|jaxmlp")
    got = harness.interleaved_processes(commands, cfg.repeats, empty_cache=True, warm=warm)
    rows = {}
    for row in cfg.rows:
        runs = {side: got.get(f"{row}|{side}", []) for side in ("jaxmlp", "baseline")}
        for result in runs["jaxmlp"]:
            result.setdefault("s", result["wall_s"])  # a whole process
        j, b = harness.medians(runs["jaxmlp"]), harness.medians(runs["baseline"])
        rows[row] = {"jaxmlp_s": j["s"], "jaxmlp_compile_s": j.get("compile_s"),
                     "baseline_s": b.get("s"), "ratio": j["s"] / b["s"] if b else None,
                     "runs": runs}  # fmt: skip
    return {"rows": rows}


def tables(r: dict) -> list[Table]:
    """bench_cold.md: every row, jaxmlp and its baseline side by side (medians)."""
    rows = [[(ROWS | FORMER)[row], v["jaxmlp_s"], v["jaxmlp_compile_s"],
             BASELINE.get(row, "scikit-learn MLPClassifier"), v["baseline_s"], v["ratio"]]
            for row, v in r["rows"].items()]  # fmt: skip
    columns = ["row", "jaxmlp (s)", "of which XLA compile (s)", "baseline", "baseline (s)",
               "jaxmlp / baseline"]  # fmt: skip
    out = [Table("Fresh processes, medians", columns, rows)]
    return out + ([refits_table(r["rows"]["refits"]["runs"])] if "refits" in r["rows"] else [])


def refits_table(runs: dict) -> Table:
    """The refits row step by step: medians over rounds (jaxmlp's compiles in brackets)."""
    rows = []
    for i, step in enumerate(runs["jaxmlp"][0]["steps"]):
        j, b = (statistics.median(r["steps"][i]["s"] for r in runs[v]) for v in runs)
        rows.append([step["step"], f"{j:.2f} ({step['compiles']})", f"{b:.2f}", j / b])
    j, b = (harness.medians(runs[v])["steady_s"] for v in runs)
    rows.append(["steady refit, compiled (median of 3)", j, b, j / b])
    columns = ["step", "jaxmlp s (compiles)", "scikit-learn s", "jaxmlp / scikit-learn"]
    return Table("Refits: a fresh process per library, medians over rounds", columns, rows)


def main(argv=None) -> dict:
    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, child=child)


if __name__ == "__main__":
    main()
