"""Fused Pallas kernels against XLA on a GPU: the kernels alone, many models, train.

    python benchmarks/bench_gpu.py --out out/bench_gpu      # < 5 min on an H200
    python benchmarks/bench_gpu.py --out /tmp/b --quick     # tiny sizes; CPU smoke test
    nox -s gpu                                              # pytest -m gpu, then this

1. (a) tiny-cuda-nn's regime: width 64, three hidden layers, n = 2^20 rows;
   forward, and forward + gradients, Pallas (``fused_forward``,
   ``loss_and_fused_grads``) vs XLA (``vmap(forward)``; the post's gradients
   ``loss_and_manual_grads``; ``jax.value_and_grad``), at exact float32
   (``precision="highest"`` vs XLA at matmul precision "highest") and at
   TF32 (``"default"`` vs XLA's default).
2. (b) 10,000 blog-size models (2-3-1, sigmoid, the post's circles, n = 200)
   x 1000 steps of full-batch gradient descent, one learning rate per model:
   ``fused_train`` vs XLA's vmapped sweep (``jax.vmap`` over models of a
   ``lax.scan`` of the post's gradients and the SGD update, in one ``jit``),
   and ``jaxmlp.sweep`` end to end on the same models (one learning rate).
3. ``jaxmlp.train`` with ``backend="xla"`` vs ``"pallas"`` (the blog's network and
   the wide one at n = 2^16), to check that ``"auto"`` -> pallas pays off on GPU.

Every section is timed after a compile-and-warm-up call (median of
``repeats``), checks that both sides agree, and records errors instead of
stopping. Writes ``bench_gpu.json`` and ``bench_gpu.md`` to ``--out``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import statistics
import time
import traceback

import _harness as harness
import jax
import jax.numpy as jnp
import numpy as np
from _harness import Table

import jaxmlp
from jaxmlp import backprop, kernels


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of the run; written to bench_gpu.json."""

    seed: int = 0
    # (a) tiny-cuda-nn's regime
    mlp_sizes: tuple[int, ...] = (32, 64, 64, 64, 16)
    mlp_activation: str = "relu"
    mlp_log2_n: int = 20
    # (b) many blog-size models
    sweep_sizes: tuple[int, ...] = (2, 3, 1)
    sweep_activation: str = "sigmoid"
    sweep_models: int = 10_000
    sweep_steps: int = 1000
    sweep_n: int = 200
    sweep_lr_range: tuple[float, float] = (0.5, 3.0)
    repeats: int = 5
    sweep_repeats: int = 3
    train_steps: int = 1000
    tuning_budget_s: float = 230.0  # after this, only each pass's first configuration runs


QUICK = {
    "train_steps": 5,
    "mlp_log2_n": 10,
    "sweep_models": 8,
    "sweep_steps": 20,
    "repeats": 2,
    "sweep_repeats": 1,
}


def _timed(fn, *args, repeats: int) -> dict:
    """Compile-and-warm-up call, then the median and min wall time of ``repeats`` calls."""
    outs = []
    first, times = harness.time_calls(
        lambda: outs.append(jax.block_until_ready(fn(*args))), repeats
    )
    return {
        "first_call_s": first,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "out": outs[0],
    }


def _max_diff(a, b) -> float:
    return max(
        float(jnp.max(jnp.abs(jnp.asarray(x, jnp.float32) - jnp.asarray(y, jnp.float32))))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def _section(results: dict, name: str, fn) -> None:
    print(f"== {name}", flush=True)
    start = time.perf_counter()
    try:
        results[name] = fn()
    except Exception as exc:  # a failed section must not stop the others
        results[name] = {
            "error": f"{type(exc).__name__}: {exc}"[:2000],
            "traceback": traceback.format_exc()[-4000:],
        }
    results[name]["section_s"] = time.perf_counter() - start
    print(json.dumps(results[name], indent=1, default=str)[:3000], flush=True)


FORWARD_CONFIGS = (
    {"block_rows": 128, "num_warps": 4},
    {"block_rows": 64, "num_warps": 4},
    {"block_rows": 128, "num_warps": 8},
    {"block_rows": 256, "num_warps": 8},
)
GRAD_CONFIGS = (
    {"block_rows": 128, "blocks_per_program": None, "num_warps": 4},
    {"block_rows": 64, "blocks_per_program": None, "num_warps": 4},
    {"block_rows": 64, "blocks_per_program": None, "num_warps": 8},
    {"block_rows": 32, "blocks_per_program": None, "num_warps": 4},
    {"block_rows": 128, "blocks_per_program": 1, "num_warps": 8},
    {"block_rows": 64, "blocks_per_program": 1, "num_warps": 4},
)
SWEEP_WARPS = (1, 2, 4)


class Deadline:
    """Skips the remaining tuning configurations once the time budget is spent."""

    def __init__(self, seconds: float):
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()


def _tune(make, configs, args, *, repeats, deadline, reference) -> dict:
    """Times ``make(**config)(*args)`` for each config; the first one always runs."""
    rows = []
    for i, config in enumerate(configs):
        if i and deadline.left() < 0:
            rows.append({"config": config, "skipped": "time budget spent"})
            continue
        try:
            r = _timed(make(**config), *args, repeats=repeats)
            rows.append(
                {
                    "config": config,
                    "ms": 1e3 * r["median_s"],
                    "first_call_s": r["first_call_s"],
                    "max_abs_diff": _max_diff(r["out"], reference),
                }
            )
        except Exception as exc:
            rows.append({"config": config, "error": f"{type(exc).__name__}: {exc}"[:1000]})
    timed = [r for r in rows if "ms" in r]
    best = min(timed, key=lambda r: r["ms"]) if timed else None
    return {"configs": rows, "best": best}


def bench_mlp(cfg: Config, deadline: Deadline) -> dict:
    n = 1 << cfg.mlp_log2_n
    rng = np.random.default_rng(cfg.seed)
    params = jaxmlp.init_mlp(jax.random.key(cfg.seed), cfg.mlp_sizes, scheme="he_normal")
    X = jnp.asarray(rng.normal(size=(n, cfg.mlp_sizes[0])), jnp.float32)
    y = jnp.asarray(rng.integers(0, cfg.mlp_sizes[-1], n), jnp.int32)
    act = cfg.mlp_activation
    out: dict = {"n": n, "sizes": list(cfg.mlp_sizes), "activation": act}
    for precision in ("highest", "default"):
        with jax.default_matmul_precision(precision if precision == "highest" else None):
            xla_forward = jax.jit(
                jax.vmap(jaxmlp.forward, in_axes=(None, 0, None)), static_argnums=2
            )
            xla_manual = jax.jit(backprop.loss_and_manual_grads, static_argnums=3)
            xla_autodiff = jax.jit(jax.value_and_grad(jaxmlp.loss), static_argnums=3)
            fwd_x = _timed(xla_forward, params, X, act, repeats=cfg.repeats)
            grad_x = _timed(xla_manual, params, X, y, act, repeats=cfg.repeats)
            grad_a = _timed(xla_autodiff, params, X, y, act, repeats=cfg.repeats)

            def make_forward(precision=precision, **config):
                return jax.jit(
                    lambda p, X: kernels.fused_forward(p, X, act, precision=precision, **config)
                )

            def make_grads(precision=precision, **config):
                return jax.jit(
                    lambda p, X, y: kernels.loss_and_fused_grads(
                        p, X, y, act, precision=precision, **config
                    )
                )

            fwd_p = _tune(
                make_forward,
                FORWARD_CONFIGS,
                (params, X),
                repeats=cfg.repeats,
                deadline=deadline,
                reference=fwd_x["out"],
            )
            grad_p = _tune(
                make_grads,
                GRAD_CONFIGS,
                (params, X, y),
                repeats=cfg.repeats,
                deadline=deadline,
                reference=grad_x["out"],
            )
        xla_ms = {
            "forward": 1e3 * fwd_x["median_s"],
            "manual_grads": 1e3 * grad_x["median_s"],
            "autodiff_grads": 1e3 * grad_a["median_s"],
        }
        summary = {"xla_ms": xla_ms, "pallas_forward": fwd_p, "pallas_grads": grad_p}
        if fwd_p["best"]:
            summary["forward_speedup"] = xla_ms["forward"] / fwd_p["best"]["ms"]
        if grad_p["best"]:
            summary["grads_speedup_vs_manual"] = xla_ms["manual_grads"] / grad_p["best"]["ms"]
            summary["grads_speedup_vs_autodiff"] = xla_ms["autodiff_grads"] / grad_p["best"]["ms"]
        out[precision] = summary
    return out


def _xla_sweep(activation: str, steps: int):
    """XLA's vmapped sweep: vmap over models of a scan of GD steps, one jit."""

    def run_one(params, X, y, lr):
        def step(p, _):
            value, grads = backprop.loss_and_manual_grads(p, X, y, activation)
            return jax.tree.map(lambda w, g: w - lr * g, p, grads), value

        return jax.lax.scan(step, params, None, length=steps)

    return jax.jit(jax.vmap(run_one, in_axes=(0, None, None, 0)))


def bench_sweep(cfg: Config, deadline: Deadline) -> dict:
    X, y = jaxmlp.datasets.circles(jax.random.key(cfg.seed), cfg.sweep_n)
    M = cfg.sweep_models
    keys = jax.random.split(jax.random.key(cfg.seed + 1), M)
    params = jax.vmap(jaxmlp.init_mlp, in_axes=(0, None, None))(keys, cfg.sweep_sizes, "uniform01")
    lrs = jnp.asarray(np.linspace(*cfg.sweep_lr_range, M), jnp.float32)
    act, steps = cfg.sweep_activation, cfg.sweep_steps
    out: dict = {
        "models": M,
        "steps": steps,
        "sizes": list(cfg.sweep_sizes),
        "activation": act,
        "n": cfg.sweep_n,
        "precision": "highest",
    }
    with jax.default_matmul_precision("highest"):
        res_x = _timed(_xla_sweep(act, steps), params, X, y, lrs, repeats=cfg.sweep_repeats)
    final_x, loss_x = res_x["out"]

    def make(num_warps):
        def run(p, X, y, lr):
            result = kernels.fused_train(
                p, X, y, activation=act, learning_rate=lr, steps=steps, num_warps=num_warps
            )
            return result.params, result.loss, result.diverged_at

        return jax.jit(run)

    configs = [{"num_warps": w} for w in SWEEP_WARPS]
    tuned = _tune(
        make,
        configs,
        (params, X, y, lrs),
        repeats=cfg.sweep_repeats,
        deadline=deadline,
        reference=(final_x, loss_x, jnp.full((M,), -1, jnp.int32)),
    )
    out["xla_s"] = res_x["median_s"]
    out["xla_first_call_s"] = res_x["first_call_s"]
    out["pallas"] = tuned
    if tuned["best"]:
        best_s = tuned["best"]["ms"] / 1e3
        out["pallas_s"] = best_s
        out["speedup"] = res_x["median_s"] / best_s
        out["model_steps_per_s_pallas"] = M * steps / best_s
        out["model_steps_per_s_xla"] = M * steps / res_x["median_s"]
    out["median_final_loss_xla"] = float(jnp.median(loss_x[:, -1]))
    if deadline.left() > 0:
        try:
            out["jaxmlp_sweep"] = _bench_sweep_api(cfg, X, y)
        except Exception as exc:
            out["jaxmlp_sweep"] = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
    return out


def _bench_sweep_api(cfg: Config, X, y) -> dict:
    """``jaxmlp.sweep`` (XLA, end to end) against ``fused_train`` on the same models."""
    import optax

    sweep = getattr(jaxmlp, "sweep", None)
    if not callable(sweep):
        return {"skipped": "jaxmlp.sweep is not available"}
    M, steps, act, lr = cfg.sweep_models, cfg.sweep_steps, cfg.sweep_activation, 2.0
    width = cfg.sweep_sizes[1]
    optimizer = optax.sgd(lr)

    def run_sweep():
        return sweep(
            X,
            y,
            widths=(width,),
            activations=(act,),
            seeds=tuple(range(M)),
            steps=steps,
            optimizer=optimizer,
            scheme="uniform01",
        )

    params = jax.vmap(lambda s: jaxmlp.init_mlp(jax.random.key(s), cfg.sweep_sizes, "uniform01"))(
        jnp.arange(M)
    )
    fused = jax.jit(
        lambda p: (
            kernels.fused_train(
                p, X, y, activation=act, learning_rate=lr, steps=steps, num_warps=2
            ).loss
        )
    )
    res_s = _timed(run_sweep, repeats=1)
    res_p = _timed(fused, params, repeats=1)
    r = res_s["out"]
    curves = np.asarray(r.loss)[0, 0]  # (M, T) at r.loss_steps
    return {
        "sweep_s": res_s["median_s"],
        "pallas_s": res_p["median_s"],
        "speedup": res_s["median_s"] / res_p["median_s"],
        "learning_rate": lr,
        "max_abs_diff_loss_curves": float(
            np.max(np.abs(curves - np.asarray(res_p["out"])[:, np.asarray(r.loss_steps)]))
        ),
    }


def bench_train(cfg: Config, deadline: Deadline) -> dict:
    """``jaxmlp.train`` with backend="xla" vs "pallas": is "auto" -> pallas right on GPU?"""
    import inspect

    import optax

    if "backend" not in inspect.signature(jaxmlp.train).parameters:
        return {"skipped": "jaxmlp.train has no backend argument"}
    rng = np.random.default_rng(cfg.seed)
    X_blog, y_blog = jaxmlp.datasets.circles(jax.random.key(cfg.seed), cfg.sweep_n)
    n_wide = 1 << min(cfg.mlp_log2_n, 16)
    X_wide = jnp.asarray(rng.normal(size=(n_wide, cfg.mlp_sizes[0])), jnp.float32)
    y_wide = jnp.asarray(rng.integers(0, cfg.mlp_sizes[-1], n_wide), jnp.int32)
    problems = {
        "blog": (cfg.sweep_sizes, cfg.sweep_activation, X_blog, y_blog, 2.0),
        f"wide_n{n_wide}": (cfg.mlp_sizes, cfg.mlp_activation, X_wide, y_wide, 0.05),
    }
    out: dict = {"steps": cfg.train_steps}
    for name, (sizes, act, X, y, lr) in problems.items():
        if deadline.left() < 0:
            out[name] = {"skipped": "time budget spent"}
            continue
        params = jaxmlp.init_mlp(jax.random.key(cfg.seed), sizes, "he_normal")
        optimizer = optax.sgd(lr)
        row: dict = {"sizes": list(sizes), "n": int(X.shape[0])}
        with jax.default_matmul_precision("highest"):
            for backend in ("xla", "pallas"):
                run = functools.partial(
                    jaxmlp.train,
                    activation=act,
                    optimizer=optimizer,
                    steps=cfg.train_steps,
                    backend=backend,
                )
                r = _timed(lambda *a, run=run: run(*a).loss, params, X, y, repeats=2)
                row[f"{backend}_s"] = r["median_s"]
                row[f"{backend}_final_loss"] = float(r["out"][-1])
        row["pallas_speedup"] = row["xla_s"] / row["pallas_s"]
        out[name] = row
    return out


def tables(r: dict) -> list[Table]:
    """bench_gpu.md: (a) the kernels, (b) many models, and train's two backends."""
    out = []
    mlp, sweep, train = r.get("mlp", {}), r.get("sweep", {}), r.get("train", {})
    if "xla_ms" in mlp.get("highest", {}):
        rows = []
        for precision in ("highest", "default"):
            x = mlp[precision]
            for name, xla_key, tuned, speedup in (
                ("forward", "forward", x["pallas_forward"], x.get("forward_speedup")),
                ("forward + grads vs manual", "manual_grads", x["pallas_grads"],
                 x.get("grads_speedup_vs_manual")),
                ("forward + grads vs autodiff", "autodiff_grads", x["pallas_grads"],
                 x.get("grads_speedup_vs_autodiff")),
            ):  # fmt: skip
                best = tuned["best"] or {}
                rows.append([precision, name, x["xla_ms"][xla_key], best.get("ms"), speedup,
                             str(best.get("config")), best.get("max_abs_diff")])  # fmt: skip
        title = f"(a) sizes {tuple(mlp['sizes'])}, {mlp['activation']}, n = {mlp['n']}"
        columns = ["precision", "pass", "XLA ms", "Pallas ms", "speedup", "Pallas config",
                   "max abs diff"]  # fmt: skip
        note = "Median ms; Pallas at its best configuration (all configurations in the JSON)."
        out.append(Table(title, columns, rows, note))
    if "xla_s" in sweep:
        best, api = sweep["pallas"]["best"] or {}, sweep.get("jaxmlp_sweep", {})
        rows = [["fused_train vs XLA's vmapped sweep", sweep["xla_s"], sweep.get("pallas_s"),
                 sweep.get("speedup"), str(best.get("config")),
                 best.get("max_abs_diff")]]  # fmt: skip
        if "sweep_s" in api:
            rows.append([f"fused_train vs jaxmlp.sweep (rate {api['learning_rate']})",
                         api["sweep_s"], api["pallas_s"], api["speedup"], "",
                         api["max_abs_diff_loss_curves"]])  # fmt: skip
        title = (f"(b) {sweep['models']} models {tuple(sweep['sizes'])} x {sweep['steps']} steps "
                 f"({sweep['activation']}, n = {sweep['n']}, float32 'highest')")  # fmt: skip
        columns = ["comparison", "XLA s", "Pallas s", "speedup", "Pallas config", "max abs diff"]
        out.append(Table(title, columns, rows))
    rows = [[name, str(tuple(x["sizes"])), x["n"], x["xla_s"], x["pallas_s"], x["pallas_speedup"]]
            for name, x in train.items() if isinstance(x, dict) and "xla_s" in x]  # fmt: skip
    if rows:
        title = f"jaxmlp.train, {train['steps']} steps: backend xla vs pallas"
        columns = ["problem", "sizes", "n", "xla s", "pallas s", "pallas speedup"]
        out.append(Table(title, columns, rows))
    errors = [[name, r[name]["error"]] for name in ("mlp", "sweep", "train") if "error" in r[name]]
    if errors:
        out.append(Table("Failed sections", ["section", "error"], errors))
    return out


def run(cfg: Config, args) -> dict:
    if jax.default_backend() == "cpu":
        print("CPU: the Pallas kernels run in interpret mode; a smoke test, not GPU speed")
    results: dict = {}
    start = time.perf_counter()
    deadline = Deadline(cfg.tuning_budget_s)
    _section(results, "mlp", lambda: bench_mlp(cfg, deadline))
    _section(results, "sweep", lambda: bench_sweep(cfg, deadline))
    _section(results, "train", lambda: bench_train(cfg, deadline))
    results["total_s"] = time.perf_counter() - start
    return json.loads(json.dumps(results, default=str))  # NumPy scalars and configs as JSON


def main(argv=None) -> dict:
    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, out="out/bench_gpu")


if __name__ == "__main__":
    main()
