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
3. New processes (the stored record of 2026-11-29; now ``bench_cold.py``'s rows ``cli``
   and ``blog``, cold and warm): ``jaxmlp train --dataset circles`` (in-process via
   ``jaxmlp.cli.main``) and ``experiments/blog.py``, each run twice in a fresh process
   with JAX's persistent compilation cache in an empty directory: compile time of the
   first process (cache filled) against the second (cache read).

Every comparison is a ratio of timings made in this run, back to back. Writes
bench_latency.json and bench_latency.md to ``--out``.
"""

from __future__ import annotations

import dataclasses
import statistics

import _harness as harness
import jax
import numpy as np
import optax
from _baselines import numpy_loop
from _harness import Table, timed

import jaxmlp


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


QUICK = dict(seeds=4, steps=200, rate_steps=100, rates=(0.01, 0.03, 0.1))


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
    return {"post_loop": bench_post_loop(cfg), "rate_loop": bench_rate_loop(cfg)}


def main(argv: list[str] | None = None) -> dict:
    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv)


if __name__ == "__main__":
    main()
