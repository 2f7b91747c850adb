"""Fused Pallas kernels against XLA on a GPU: the kernels alone, many models, train.

(a) Width 64, three hidden layers, 2^20 rows: forward, and forward + gradients, Pallas
(``fused_forward``, ``loss_and_fused_grads``) against XLA (``vmap(forward)``, the post's
gradients, ``jax.value_and_grad``), at exact float32 and at TF32. (b) 10,000 blog-size
models x 1000 full-batch steps, one learning rate each: ``fused_train`` against a vmapped
``lax.scan`` of gradient descent in one ``jit`` (``jaxmlp.sweep`` on a GPU: ``bench_sweep.py``
with ``JAX_PLATFORMS=cuda``). Then ``jaxmlp.train`` with ``backend="xla"`` against
``"pallas"``. Each kernel is timed at a few block sizes and warp counts within a time budget
(median of ``repeats`` after a compile call), both sides are checked to agree, and a failed
section is recorded, not raised.

    nox -s gpu                                              # the kernel tests, then this
    python benchmarks/bench_gpu.py --out out/bench_gpu      # < 5 min on an H200
    python benchmarks/bench_gpu.py --out /tmp/b --quick     # tiny sizes: a CPU smoke test
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time

import _harness as harness
import jax
import jax.numpy as jnp
import numpy as np
import optax
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


QUICK = dict(train_steps=5, mlp_log2_n=10, sweep_models=8, sweep_steps=20, repeats=2,
             sweep_repeats=1)  # fmt: skip


def _max_diff(a, b) -> float:
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return max(float(jnp.max(jnp.abs(jnp.asarray(x, jnp.float32) - y))) for x, y in pairs)


FORWARD_CONFIGS = [dict(block_rows=b, num_warps=w) for b, w in ((128, 4), (64, 4), (128, 8),
                                                                 (256, 8))]  # fmt: skip
GRAD_CONFIGS = [dict(block_rows=b, blocks_per_program=p, num_warps=w) for b, p, w in (
    (128, None, 4), (64, None, 4), (64, None, 8), (32, None, 4), (128, 1, 8), (64, 1, 4)
)]  # fmt: skip
SWEEP_CONFIGS = [dict(num_warps=w) for w in (1, 2, 4)]  # fmt: skip


def _tune(make, configs, args, *, repeats, end, reference) -> dict:
    """Times ``make(**config)(*args)`` for each config until ``end`` (the first always runs)."""
    rows: list[dict] = []
    for i, config in enumerate(configs):
        if i and time.perf_counter() > end:
            rows.append({"config": config, "skipped": "time budget spent"})
            continue
        try:
            r = harness.repeated(make(**config), *args, repeats=repeats)
            rows.append({"config": config, "ms": 1e3 * r["median_s"],
                         "first_call_s": r["first_call_s"],
                         "max_abs_diff": _max_diff(r["out"], reference)})  # fmt: skip
        except Exception as exc:
            rows.append({"config": config, **harness.error(exc)})
    timed = [r for r in rows if "ms" in r]
    return {"configs": rows, "best": min(timed, key=lambda r: r["ms"]) if timed else None}


def _wide(cfg: Config, n: int):
    """Random data of the wide problem: X (n, d) float32, y (n,) int32 class labels."""
    rng = np.random.default_rng(cfg.seed)
    X = jnp.asarray(rng.normal(size=(n, cfg.mlp_sizes[0])), jnp.float32)
    return X, jnp.asarray(rng.integers(0, cfg.mlp_sizes[-1], n), jnp.int32)


def bench_mlp(cfg: Config, end: float) -> dict:
    """(a) The kernels alone against XLA, at exact float32 and at TF32."""
    n, act, r = 1 << cfg.mlp_log2_n, cfg.mlp_activation, cfg.repeats
    params = jaxmlp.init_mlp(jax.random.key(cfg.seed), cfg.mlp_sizes, scheme="he_normal")
    X, y = _wide(cfg, n)
    out: dict = {"n": n, "sizes": list(cfg.mlp_sizes), "activation": act}
    for precision in ("highest", "default"):
        with jax.default_matmul_precision(precision if precision == "highest" else None):
            forward = jax.vmap(jaxmlp.forward, in_axes=(None, 0, None))
            fwd_x = harness.repeated(jax.jit(forward, static_argnums=2), params, X, act, repeats=r)
            grad_x = harness.repeated(jax.jit(backprop.loss_and_manual_grads, static_argnums=3),
                            params, X, y, act, repeats=r)  # fmt: skip
            grad_a = harness.repeated(jax.jit(jax.value_and_grad(jaxmlp.loss), static_argnums=3),
                            params, X, y, act, repeats=r)  # fmt: skip
            kw = dict(repeats=r, end=end)

            def fused(fn, precision=precision):
                return lambda **c: jax.jit(lambda *a: fn(*a, act, precision=precision, **c))

            fwd_p = _tune(fused(kernels.fused_forward), FORWARD_CONFIGS, (params, X),
                          reference=fwd_x["out"], **kw)  # fmt: skip
            grad_p = _tune(fused(kernels.loss_and_fused_grads), GRAD_CONFIGS, (params, X, y),
                           reference=grad_x["out"], **kw)  # fmt: skip
        timed = {"forward": fwd_x, "manual_grads": grad_x, "autodiff_grads": grad_a}
        xla_ms = {k: 1e3 * t["median_s"] for k, t in timed.items()}
        x = {"xla_ms": xla_ms, "pallas_forward": fwd_p, "pallas_grads": grad_p}
        if fwd_p["best"]:
            x["forward_speedup"] = xla_ms["forward"] / fwd_p["best"]["ms"]
        if grad_p["best"]:
            x["grads_speedup_vs_manual"] = xla_ms["manual_grads"] / grad_p["best"]["ms"]
            x["grads_speedup_vs_autodiff"] = xla_ms["autodiff_grads"] / grad_p["best"]["ms"]
        out[precision] = x
    return out


def bench_sweep(cfg: Config, end: float) -> dict:
    """(b) Many blog-size models: fused_train against XLA's vmapped sweep."""
    X, y = jaxmlp.datasets.circles(jax.random.key(cfg.seed), cfg.sweep_n)
    M, act, steps = cfg.sweep_models, cfg.sweep_activation, cfg.sweep_steps
    keys = jax.random.split(jax.random.key(cfg.seed + 1), M)
    params = jax.vmap(jaxmlp.init_mlp, in_axes=(0, None, None))(keys, cfg.sweep_sizes, "uniform01")
    lrs = jnp.asarray(np.linspace(*cfg.sweep_lr_range, M), jnp.float32)

    def run_one(params, lr):  # XLA: a scan of gradient-descent steps, vmapped over models
        def step(p, _):
            value, grads = backprop.loss_and_manual_grads(p, X, y, act)
            return jax.tree.map(lambda w, g: w - lr * g, p, grads), value

        return jax.lax.scan(step, params, None, length=steps)

    with jax.default_matmul_precision("highest"):
        res_x = harness.repeated(jax.jit(jax.vmap(run_one)), params, lrs, repeats=cfg.sweep_repeats)
    final_x, loss_x = res_x["out"]

    def make(num_warps):
        def run(p, lr):
            r = kernels.fused_train(p, X, y, activation=act, learning_rate=lr, steps=steps,
                                    num_warps=num_warps)  # fmt: skip
            return r.params, r.loss, r.diverged_at

        return jax.jit(run)

    reference = (final_x, loss_x, jnp.full((M,), -1, jnp.int32))
    tuned = _tune(make, SWEEP_CONFIGS, (params, lrs), repeats=cfg.sweep_repeats, end=end,
                  reference=reference)  # fmt: skip
    out = {"models": M, "steps": steps, "sizes": list(cfg.sweep_sizes), "activation": act,
           "n": cfg.sweep_n, "precision": "highest", "xla_s": res_x["median_s"],
           "xla_first_call_s": res_x["first_call_s"], "pallas": tuned,
           "median_final_loss_xla": float(jnp.median(loss_x[:, -1]))}  # fmt: skip
    if tuned["best"]:
        best_s = tuned["best"]["ms"] / 1e3
        out |= {"pallas_s": best_s, "speedup": res_x["median_s"] / best_s,
                "model_steps_per_s_pallas": M * steps / best_s,
                "model_steps_per_s_xla": M * steps / res_x["median_s"]}  # fmt: skip
    return out


def bench_train(cfg: Config, end: float) -> dict:
    """``jaxmlp.train`` with backend="xla" vs "pallas": is "auto" -> pallas right on GPU?"""
    n_wide = 1 << min(cfg.mlp_log2_n, 16)
    problems = {
        "blog": (cfg.sweep_sizes, cfg.sweep_activation,
                 *jaxmlp.datasets.circles(jax.random.key(cfg.seed), cfg.sweep_n), 2.0),
        f"wide_n{n_wide}": (cfg.mlp_sizes, cfg.mlp_activation, *_wide(cfg, n_wide), 0.05),
    }  # fmt: skip
    out: dict = {"steps": cfg.train_steps}
    for name, (sizes, act, X, y, lr) in problems.items():
        if time.perf_counter() > end:
            out[name] = {"skipped": "time budget spent"}
            continue
        params = jaxmlp.init_mlp(jax.random.key(cfg.seed), sizes, "he_normal")
        row: dict = {"sizes": list(sizes), "n": int(X.shape[0])}
        kw = dict(activation=act, optimizer=optax.sgd(lr), steps=cfg.train_steps)
        with jax.default_matmul_precision("highest"):
            for backend in ("xla", "pallas"):
                run = lambda *a, b=backend, kw=kw: jaxmlp.train(*a, backend=b, **kw).loss  # noqa: E731
                r = harness.repeated(run, params, X, y, repeats=2)
                row |= {f"{backend}_s": r["median_s"], f"{backend}_final_loss": float(r["out"][-1])}
        out[name] = row | {"pallas_speedup": row["xla_s"] / row["pallas_s"]}
    return out


def tables(r: dict) -> list[Table]:
    """bench_gpu.md: (a) the kernels, (b) many models, and train's two backends."""
    out, mlp, sweep, train = [], r.get("mlp", {}), r.get("sweep", {}), r.get("train", {})
    cols = ["Pallas config", "max abs diff"]
    if "xla_ms" in mlp.get("highest", {}):
        rows = []
        for precision in ("highest", "default"):
            x = mlp[precision]
            for name, key, tuned, speedup in (
                ("forward", "forward", "pallas_forward", "forward_speedup"),
                ("forward + grads vs manual", "manual_grads", "pallas_grads",
                 "grads_speedup_vs_manual"),
                ("forward + grads vs autodiff", "autodiff_grads", "pallas_grads",
                 "grads_speedup_vs_autodiff"),
            ):  # fmt: skip
                best = x[tuned]["best"] or {}
                rows.append([precision, name, x["xla_ms"][key], best.get("ms"), x.get(speedup),
                             str(best.get("config")), best.get("max_abs_diff")])  # fmt: skip
        title = f"(a) sizes {tuple(mlp['sizes'])}, {mlp['activation']}, n = {mlp['n']}"
        note = "Median ms; Pallas at its best configuration (all configurations in the JSON)."
        columns = ["precision", "pass", "XLA ms", "Pallas ms", "speedup", *cols]
        out.append(Table(title, columns, rows, note))
    if "xla_s" in sweep:
        best = sweep["pallas"]["best"] or {}
        row = ["fused_train vs XLA's vmapped sweep", sweep["xla_s"], sweep.get("pallas_s"),
               sweep.get("speedup"), str(best.get("config")), best.get("max_abs_diff")]  # fmt: skip
        title = (f"(b) {sweep['models']} models {tuple(sweep['sizes'])} x {sweep['steps']} steps "
                 f"({sweep['activation']}, n = {sweep['n']}, float32 'highest')")  # fmt: skip
        out.append(Table(title, ["comparison", "XLA s", "Pallas s", "speedup", *cols], [row]))
    rows = [[name, str(tuple(x["sizes"])), x["n"], x["xla_s"], x["pallas_s"], x["pallas_speedup"]]
            for name, x in train.items() if isinstance(x, dict) and "xla_s" in x]  # fmt: skip
    if rows:
        title = f"jaxmlp.train, {train['steps']} steps: backend xla vs pallas"
        columns = ["problem", "sizes", "n", "xla s", "pallas s", "pallas speedup"]
        out.append(Table(title, columns, rows))
    errors = [[name, r[name]["error"]] for name in ("mlp", "sweep", "train") if "error" in r[name]]
    return out + ([Table("Failed sections", ["section", "error"], errors)] if errors else [])


def run(cfg: Config, args) -> dict:
    if jax.default_backend() == "cpu":
        print("CPU: the Pallas kernels run in interpret mode; a smoke test, not GPU speed")
    end = time.perf_counter() + cfg.tuning_budget_s
    parts = {"mlp": bench_mlp, "sweep": bench_sweep, "train": bench_train}
    results = harness.sections({k: functools.partial(f, cfg, end) for k, f in parts.items()},
                               catch=True, echo=True)  # fmt: skip
    results["total_s"] = sum(r["section_s"] for r in results.values())
    return json.loads(json.dumps(results, default=str))  # NumPy scalars and configs as JSON


def main(argv=None) -> dict:
    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, out="out/bench_gpu")


if __name__ == "__main__":
    main()
