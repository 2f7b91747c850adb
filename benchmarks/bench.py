"""Speed of jaxmlp against the post's NumPy loop, scikit-learn, PyTorch and a plain matmul.

    python benchmarks/bench.py --out out/bench            # full run (~10 min on 2 cores)
    python benchmarks/bench.py --out /tmp/bench --quick   # tiny sizes: a smoke test

1. The post's problem: 200 circle points, 2-3-1 sigmoid, U(0, 1) init, 1000
   full-batch gradient-descent steps (lr 2.0 on the mean loss). ``jaxmlp.train``
   (manual and autodiff gradients) against the NumPy loop of the post's formulas,
   scikit-learn's MLPClassifier (sgd, full batch, same steps), JAX with one
   jitted step per Python iteration (``jaxmlp.make_step``) and a PyTorch loop.
   First call (trace + compile + run) and steady state (median of repeats) apart.
2. Scaling: n x width, two hidden layers, Adam, mini-batches of 4096: a fixed
   number of steps per cell (the cost of a step does not depend on n; an epoch
   costs n / 4096 steps). Samples/s and GFLOP/s against the same step's matmuls
   alone (the roofline) and against PyTorch, all measured in the same run.
3. Memory: peak RSS of training at the largest n, in a fresh subprocess, against
   one at the smallest n with the same network (the difference should be the data).

Every comparison is a ratio of timings made in this process, back to back.
Optional libraries (scikit-learn, PyTorch: ``pip install -e ".[bench]"``) that
are missing give rows that say so. Writes bench.json and bench.md to ``--out``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util

import _baselines as base  # before torch: it sets OMP_WAIT_POLICY
import _harness as harness
import jax
import numpy as np
import optax
from _harness import Table, interleaved

import jaxmlp


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of a run; written to bench.json."""

    seed: int = 0
    repeats: int = 7  # steady-state timings per row (median quoted)
    # 1. the post's problem
    n: int = 200
    sizes: tuple[int, ...] = (2, 3, 1)
    learning_rate: float = 2.0
    steps: int = 1000
    # 2. scaling
    grid_n: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000)
    grid_width: tuple[int, ...] = (8, 64, 256, 1024)
    grid_batch: int = 4096
    grid_adam_lr: float = 1e-3
    grid_repeats: int = 3
    # steps timed per cell, by width (a step costs ~ width^2, not n)
    grid_steps: tuple[tuple[int, int], ...] = ((8, 200), (64, 100), (256, 20), (1024, 5))
    # 3. memory
    rss_width: int = 256
    rss_steps: int = 20


QUICK = dict(repeats=3, grid_n=(1_000, 10_000), grid_width=(8, 64), grid_batch=512,
             grid_repeats=2, grid_steps=((8, 20), (64, 10)), rss_width=64, rss_steps=5)  # fmt: skip
NUMPY, SKLEARN = "NumPy loop of the post's formulas", "scikit-learn MLPClassifier (sgd, full batch)"
TORCH = "PyTorch eager (autograd, SGD)"


def bench_post(cfg: Config) -> dict:
    """Section 1: every implementation on the post's problem, interleaved repeats; each
    function returns its final loss."""
    X, y = jaxmlp.datasets.circles(jax.random.key(cfg.seed), cfg.n)
    params = jaxmlp.init_mlp(jax.random.key(cfg.seed + 1), cfg.sizes, scheme="uniform01")
    opt = optax.sgd(cfg.learning_rate)  # one object: later calls reuse the compiled program
    np_params = [(np.asarray(W), np.asarray(b)) for W, b in params]
    Xn, yn = np.asarray(X), np.asarray(y)
    kw = dict(learning_rate=cfg.learning_rate, steps=cfg.steps)
    step = jaxmlp.make_step(opt, "sigmoid")

    def step_loop():
        p, s = params, opt.init(params)
        for _ in range(cfg.steps):
            p, s, value = step(p, s, X, y)
        return float(value)

    fns = {
        f"jaxmlp.train, grad={grad!r}": lambda grad=grad: float(
            jaxmlp.train(params, X, y, optimizer=opt, steps=cfg.steps, grad=grad).loss[-1]
        )
        for grad in ("manual", "autodiff")
    }
    fns["JAX, one jitted step per Python iteration"] = step_loop
    fns[NUMPY] = lambda: float(base.numpy_loop(np_params, Xn, yn, **kw)[-1])
    notes = {SKLEARN: "not installed", TORCH: "not installed"}
    if importlib.util.find_spec("sklearn"):
        # its own init (Glorot), so a different trajectory; loss_curve_[i] is after update i
        sk = dict(hidden=cfg.sizes[1], seed=cfg.seed, **kw)
        fns[SKLEARN] = lambda: float(base.sklearn_fit(Xn, yn, **sk).loss_curve_[-1])
        notes[SKLEARN] = "own Glorot init: final loss not comparable"
    if importlib.util.find_spec("torch"):
        fns[TORCH] = lambda: float(base.torch_loop(np_params, Xn, yn, **kw)[-1])
        del notes[TORCH]
    rows = interleaved(fns, cfg.repeats, warm=1)
    numpy_s, sk_s = rows[NUMPY]["median_s"], rows.get(SKLEARN, {}).get("median_s")
    for name, row in rows.items():
        row |= {"final_loss": fns[name](), "us_per_step": row["median_s"] / cfg.steps * 1e6,
                "speedup_vs_numpy": numpy_s / row["median_s"],
                "speedup_vs_sklearn": sk_s / row["median_s"] if sk_s else None}  # fmt: skip
    for name, note in notes.items():
        rows.setdefault(name, {})["note"] = note
    return {"rows": rows}


def bench_scaling(cfg: Config) -> dict:
    """Section 2: samples/s and GFLOP/s over n x width, vs the matmul roofline and PyTorch."""
    device = base.torch_device()
    opt = optax.adam(cfg.grid_adam_lr)  # one object for every cell, as train's cache keys on it
    cells, roofline = [], {}  # the matmul timing per (width, batch)
    for width in cfg.grid_width:
        for n in cfg.grid_n:
            cells.append(c := scaling_cell(cfg, n, width, opt, roofline, device))
            print(f"  n={n} width={width}: {c['step_s'] * 1e3:.3f} ms/step", flush=True)
    return {"cells": cells, "torch_device": device, "has_torch": device is not None}


def scaling_cell(cfg: Config, n: int, width: int, opt, roofline: dict, device: str | None) -> dict:
    """One (n, width) cell: jaxmlp, its matmuls alone (once per shape) and PyTorch, interleaved."""
    X, y = jaxmlp.datasets.circles(jax.random.key(cfg.seed), n)
    sizes, batch = (X.shape[1], width, width, 1), min(cfg.grid_batch, n)
    steps = dict(cfg.grid_steps)[width]
    params = jaxmlp.init_mlp(jax.random.key(cfg.seed + 1), sizes)
    key = jax.random.key(cfg.seed + 2)
    kw = dict(optimizer=opt, steps=steps, batch_size=batch, key=key)
    fns = {"jaxmlp": lambda: jaxmlp.train(params, X, y, **kw).loss.block_until_ready()}
    if (width, batch) not in roofline:
        fns["matmul"] = base.matmul_only(sizes, batch, steps)
    if device:
        kw = dict(batch=batch, steps=steps, lr=cfg.grid_adam_lr, seed=cfg.seed, device=device)
        fns["torch"] = base.torch_train(X, y, sizes, **kw)
    timed = interleaved(fns, cfg.grid_repeats)
    roofline.setdefault((width, batch), timed.get("matmul"))
    flops = base.train_flops(sizes, batch) * steps
    jax_s, matmul_s = timed["jaxmlp"]["median_s"], roofline[(width, batch)]["median_s"]
    torch_s = timed["torch"]["median_s"] if device else None
    return {
        "n": n, "width": width, "batch": batch, "steps": steps,
        "first_call_s": timed["jaxmlp"]["first_call_s"], "step_s": jax_s / steps,
        "epoch_s": jax_s / steps * n / batch, "samples_per_s": steps * batch / jax_s,
        "gflops": flops / jax_s / 1e9, "matmul_gflops": flops / matmul_s / 1e9,
        "fraction_of_roofline": matmul_s / jax_s,
        "torch_step_s": torch_s / steps if device else None,
        "speedup_vs_torch": torch_s / jax_s if device else None,
    }  # fmt: skip


def rss_child(cfg: Config, n: str) -> dict:
    """Runs in a fresh process: RSS with the data, then peak RSS while training.

    The peak is reset (Linux: ``/proc/self/clear_refs``) once the data exist, so it
    excludes the transient memory of generating them.
    """
    n, width, batch = int(n), cfg.rss_width, min(cfg.grid_batch, int(n))
    X, y = jaxmlp.datasets.circles(jax.random.key(cfg.seed), n)
    X.block_until_ready()
    before = harness.peak_rss_bytes(reset=True)
    params = jaxmlp.init_mlp(jax.random.key(cfg.seed + 1), (X.shape[1], width, width, 1))
    result = jaxmlp.train(params, X, y, optimizer=optax.adam(1e-3), steps=cfg.rss_steps,
                          batch_size=batch, key=jax.random.key(cfg.seed + 2))  # fmt: skip
    result.loss.block_until_ready()
    return {"peak_rss_bytes": harness.peak_rss_bytes(), "rss_before_training_bytes": before}


def bench_memory(cfg: Config) -> dict:
    """Section 3: peak RSS of training at the largest and smallest n (fresh processes)."""
    small, large = min(cfg.grid_n), max(cfg.grid_n)
    commands = {str(n): harness.child_command(__file__, cfg, n) for n in (small, large)}
    out = {n: runs[0] for n, runs in harness.interleaved_processes(commands, 1).items()}
    batch = min(cfg.grid_batch, large)
    return {
        "width": cfg.rss_width, "batch": batch, "steps": cfg.rss_steps,
        "peak_rss_bytes": {k: v["peak_rss_bytes"] for k, v in out.items()},
        "rss_before_training_bytes": {k: v["rss_before_training_bytes"] for k, v in out.items()},
        "extra_rss_bytes": out[str(large)]["peak_rss_bytes"] - out[str(small)]["peak_rss_bytes"],
        "extra_data_bytes": (large - small) * (2 * 4 + 4),  # X (n, 2) float32, y int32
        "batch_activation_bytes": 2 * 2 * batch * cfg.rss_width * 4,  # activations, gradients
        "one_epoch_copy_bytes": large * 2 * 4,
    }  # fmt: skip


def tables(r: dict) -> list[Table]:
    """bench.md: one table per section."""
    cfg, mem, mib = r["config"], r["memory"], 2**20
    post = [
        [name, row["note"], None, None, None, None, None] if "median_s" not in row else
        [name, row["median_s"] * 1e3, row["us_per_step"], row["first_call_s"],
         row["speedup_vs_numpy"], row["speedup_vs_sklearn"],
         f"{row['final_loss']:.4f}" + (f" ({row['note']})" if "note" in row else "")]
        for name, row in r["post"]["rows"].items()
    ]  # fmt: skip
    keys = ["n", "width", "step_s", "epoch_s", "samples_per_s", "gflops", "matmul_gflops",
            "fraction_of_roofline", "speedup_vs_torch", "first_call_s"]  # fmt: skip
    scaling = [[c[k] for k in keys] for c in r["scaling"]["cells"]]
    for row in scaling:
        row[2] *= 1e3  # ms / step
    before = mem.get("rss_before_training_bytes") or {}
    m = lambda x: None if x is None else round(x / mib)  # noqa: E731
    memory = [[int(n), m(before.get(n)), m(peak), m(peak - before[n]) if before.get(n) else None]
              for n, peak in mem["peak_rss_bytes"].items()]  # fmt: skip
    return [
        Table(
            f"1. The post's problem (n={cfg['n']}, {'-'.join(map(str, cfg['sizes']))} sigmoid, "
            f"{cfg['steps']} full-batch steps)",
            ["implementation", "ms / run", "us / step", "first call (s)", "x NumPy",
             "x sklearn", "final loss"],
            post,
            f"Medians of {cfg['repeats']} rounds; in each round every implementation runs once "
            "untimed, then once timed, in turn. The first call includes tracing and compilation.",
        ),
        Table(
            f"2. Scaling (two hidden layers, sigmoid, Adam, mini-batch {cfg['grid_batch']})",
            ["n", "width", "ms / step", "epoch (s)", "samples/s", "GFLOP/s", "matmul GFLOP/s",
             "of roofline", "x PyTorch", "first call (s)"],
            scaling,
            "A fixed number of steps per cell (a step's cost does not depend on n); epoch = "
            "step x n / batch. GFLOP/s counts matmul FLOPs (6 x batch x weights per step). "
            "Roofline: the same step's matmuls alone, same shapes, same run.",
        ),
        Table(
            f"3. Memory (width {mem['width']}, batch {mem['batch']}, {mem['steps']} Adam steps)",
            ["n", "RSS with the data (MiB)", "peak RSS training (MiB)", "training adds (MiB)"],
            memory,
            f"A fresh process per n. The data differ by {mem['extra_data_bytes'] / mib:.1f} MiB; "
            f"one batch's activations and their gradients are "
            f"{mem['batch_activation_bytes'] / mib:.1f} MiB, a per-epoch shuffled copy of X "
            f"would be {mem['one_epoch_copy_bytes'] / mib:.1f} MiB; batches are gathered inside "
            "the compiled loop.",
        ),
    ]  # fmt: skip


def run(cfg: Config, args) -> dict:
    parts = {"post": bench_post, "scaling": bench_scaling, "memory": bench_memory}
    return harness.sections({k: functools.partial(f, cfg) for k, f in parts.items()})


def main(argv: list[str] | None = None) -> dict:
    # With a warm cache, first calls load compiled programs instead of compiling:
    # JAXMLP_NO_CACHE=1 measures compilation.
    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, child=rss_child)


if __name__ == "__main__":
    main()
