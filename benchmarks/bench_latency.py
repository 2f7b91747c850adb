"""Latency as people call it: fresh optimizers per call, learning-rate loops, new processes.

    python benchmarks/bench_latency.py --out out/bench            # full run
    python benchmarks/bench_latency.py --out /tmp/bl --quick      # a smoke run

1. The post's problem (200 circle points, 2-3-1 sigmoid, U(0, 1) init, 1000
   full-batch steps of SGD with rate 2.0) written the natural way: a loop over 20
   seeds that builds ``optax.sgd(2.0)`` inside each ``jaxmlp.train`` call. Every
   call's time against the NumPy loop of the post's formulas, timed in the same
   loop (one NumPy run after each call); the same loop with one shared optimizer
   object beside it.
2. A loop over 5 learning rates, ``train(..., optimizer=optax.adam,
   learning_rate=r)``: per-call time and the number of XLA compilations, against
   ``optax.adam(r)`` built per call (a new program per rate).
3. New processes: ``jaxmlp train --dataset circles`` (the CLI's code, in-process
   via ``jaxmlp.cli.main``) and ``experiments/blog.py``, each run twice in a fresh
   process with JAX's persistent compilation cache
   (:mod:`jaxmlp.compilation_cache`) in an empty directory: compile time of the
   first process (cache filled) against the second (cache read).

Every comparison is a ratio of timings made in this run, back to back. Writes
bench_latency.json and bench_latency.md to ``--out``.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import sys

import _harness as harness
import jax
import numpy as np
import optax
from _baselines import numpy_loop
from _harness import Table, timed

import jaxmlp

BLOG = harness.ROOT / "experiments" / "blog.py"


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of a run; written to bench_latency.json."""

    n: int = 200
    sizes: tuple[int, ...] = (2, 3, 1)
    learning_rate: float = 2.0
    steps: int = 1000
    seeds: int = 20
    rates: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1)
    rate_steps: int = 1000
    cli_args: tuple[str, ...] = ("train", "--dataset", "circles")
    blog_args: tuple[str, ...] = ()  # e.g. ("--quick",)
    processes: bool = True


QUICK = dict(seeds=4, steps=200, rate_steps=100, rates=(0.01, 0.03, 0.1), blog_args=("--quick",))


def bench_post_loop(cfg: Config) -> dict:
    """Section 1: the loop of seeds, a fresh optax.sgd per call, against NumPy."""
    X, y = jaxmlp.datasets.circles(jax.random.key(0), cfg.n)
    Xn, yn = np.asarray(X), np.asarray(y)
    kw = dict(learning_rate=cfg.learning_rate, steps=cfg.steps)
    out: dict = {}
    for mode in ("fresh optax.sgd(2.0) per call", "one shared optax.sgd(2.0)"):
        shared = optax.sgd(cfg.learning_rate)
        calls, numpy_s = [], []
        for seed in range(cfg.seeds):
            p = jaxmlp.init_mlp(jax.random.key(seed), cfg.sizes, scheme="uniform01")
            opt = optax.sgd(cfg.learning_rate) if mode.startswith("fresh") else shared
            train = lambda p=p, o=opt: jaxmlp.train(p, X, y, optimizer=o, steps=cfg.steps).loss  # noqa: E731
            (seconds, result), (numpy, losses) = (
                timed(train),
                timed(lambda p=p: numpy_loop(p, Xn, yn, **kw)),
            )
            calls.append(seconds)
            numpy_s.append(numpy)
            np.testing.assert_allclose(losses[-1], result[-1], rtol=2e-2, atol=1e-3)
        later, numpy_median = calls[1:], statistics.median(numpy_s)
        out[mode] = {
            "first_call_s": calls[0], "later_calls_median_s": statistics.median(later),
            "later_calls_max_s": max(later), "numpy_loop_median_s": numpy_median,
            "worst_later_call_vs_numpy": numpy_median / max(later),
            "median_later_call_vs_numpy": numpy_median / statistics.median(later),
            "calls_s": calls,
        }  # fmt: skip
    return out


def bench_rate_loop(cfg: Config) -> dict:
    """Section 2: 5 learning rates, one run each, and the programs they compile."""
    X, y = jaxmlp.datasets.circles(jax.random.key(0), cfg.n)
    params = jaxmlp.init_mlp(jax.random.key(0), cfg.sizes, scheme="uniform01")
    ways = {
        "optimizer=optax.adam, learning_rate=r": lambda r: {"optimizer": optax.adam,
                                                            "learning_rate": r},
        "optimizer=optax.adam(r) built per call": lambda r: {"optimizer": optax.adam(r)},
    }  # fmt: skip
    out, kw = {}, dict(activation="tanh", steps=cfg.rate_steps)
    for name, how in ways.items():
        with harness.jax_events() as events:
            calls = [timed(lambda r=r, how=how: jaxmlp.train(params, X, y, **kw, **how(r)).loss)[0]
                     for r in cfg.rates]  # fmt: skip
        out[name] = {"compiles": events["counts"][harness.COMPILE], "first_call_s": calls[0],
                     "later_calls_median_s": statistics.median(calls[1:]), "total_s": sum(calls),
                     "calls_s": calls}  # fmt: skip
    return out


EVENTS = {
    "compile_s": harness.COMPILE,  # XLA compilation, or reading it from the cache
    "trace_s": "/jax/core/compile/jaxpr_trace_duration",
    "lower_s": "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "cache_read_s": "/jax/compilation_cache/cache_retrieval_time_sec",
}


def child(cfg: Config, target: str, *argv: str) -> dict:
    """Runs in a fresh process: the CLI's ``main`` or a script, with JAX's events summed."""
    import runpy

    from jaxmlp import cli

    with harness.jax_events() as events:
        if target == "cli":
            cli.main(list(argv))
        else:
            sys.argv = [target, *argv]
            sys.path.insert(0, os.path.dirname(target))  # as `python target` does
            runpy.run_path(target, run_name="__main__")
    row = {name: events["seconds"].get(event, 0.0) for name, event in EVENTS.items()}
    return row | {"programs": events["counts"].get(harness.COMPILE, 0)}


def bench_processes(cfg: Config) -> dict:
    """Section 3: two fresh processes sharing an empty persistent cache, per target."""
    commands = {
        "jaxmlp " + " ".join(cfg.cli_args): ("cli", *cfg.cli_args),
        "experiments/blog.py " + " ".join(cfg.blog_args): (str(BLOG), *cfg.blog_args),
    }
    commands = {k: harness.child_command(__file__, cfg, *v, "--out", "{tmp}/out")
                for k, v in commands.items()}  # fmt: skip
    runs = harness.interleaved_processes(commands, 1, empty_cache=True, warm=list(commands))
    out = {}
    for name, [second] in runs.items():
        first = second.pop("warming")
        steps = lambda r: sum(r[k] for k in ("compile_s", "trace_s", "lower_s"))  # noqa: E731
        out[name] = {
            "first": first, "second": second,
            "compile_ratio": first["compile_s"] / max(second["compile_s"], 1e-9),
            "trace_lower_compile_ratio": steps(first) / max(steps(second), 1e-9),
            "wall_ratio": first["wall_s"] / second["wall_s"],
        }  # fmt: skip
    return out


def tables(r: dict) -> list[Table]:
    """bench_latency.md: one table per section."""
    cfg = r["config"]
    post = [
        [name, x["first_call_s"] * 1e3, x["later_calls_median_s"] * 1e3,
         x["later_calls_max_s"] * 1e3, x["numpy_loop_median_s"] * 1e3,
         x["median_later_call_vs_numpy"], x["worst_later_call_vs_numpy"]]
        for name, x in r["post_loop"].items()
    ]  # fmt: skip
    rates = [
        [f"`{name}`", x["compiles"], x["first_call_s"] * 1e3, x["later_calls_median_s"] * 1e3,
         x["total_s"]]
        for name, x in r["rate_loop"].items()
    ]  # fmt: skip
    out = [
        Table(
            f"1. A loop over seeds (the post's problem, {cfg['steps']} SGD steps)",
            ["optimizer", "first call (ms)", "later calls: median (ms)", "max (ms)",
             "NumPy loop: median (ms)", "x NumPy (median)", "x NumPy (worst)"],
            post,
        ),
        Table(
            f"2. A loop over {len(cfg['rates'])} learning rates (Adam, 2-3-1 tanh)",
            ["how", "XLA compiles", "first call (ms)", "later calls: median (ms)", "total (s)"],
            rates,
        ),
    ]  # fmt: skip
    if r.get("processes"):
        rows = [
            [f"`{name.strip()}`", x["first"]["programs"], x["first"]["compile_s"],
             x["second"]["compile_s"], x["compile_ratio"], x["trace_lower_compile_ratio"],
             x["first"]["wall_s"], x["second"]["wall_s"]]
            for name, x in r["processes"].items()
        ]  # fmt: skip
        columns = ["command", "programs", "compile, 1st process (s)", "compile, 2nd (s)"]
        columns += ["ratio", "trace + lower + compile ratio", "wall, 1st (s)", "wall, 2nd (s)"]
        out.append(Table("3. New processes with the persistent compilation cache", columns, rows))
    return out


def run(cfg: Config, args) -> dict:
    results = {"post_loop": bench_post_loop(cfg), "rate_loop": bench_rate_loop(cfg)}
    if cfg.processes:
        results["processes"] = bench_processes(cfg)
    return results


def _flags(parser) -> None:
    parser.add_argument("--no-processes", dest="processes", action="store_const", const=False,
                        help="skip section 3")  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, flags=_flags,
                        child=child)  # fmt: skip


if __name__ == "__main__":
    main()
