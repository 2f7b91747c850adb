"""Fused Pallas kernels against XLA on a GPU: the kernel tests, then two benchmarks.

    PYTHONPATH=. python experiments/bench_gpu.py --out out/bench_gpu   # < 5 min on an H200
    python experiments/bench_gpu.py --out /tmp/b --quick               # tiny sizes; CPU smoke test

1. ``pytest tests/test_kernels.py`` (compiled kernels on GPU, interpret mode on CPU).
2. (a) tiny-cuda-nn's regime: width 64, three hidden layers, n = 2^20 rows;
   forward, and forward + gradients, Pallas (``fused_forward``,
   ``loss_and_fused_grads``) vs XLA (``vmap(forward)``; the post's gradients
   ``loss_and_manual_grads``; ``jax.value_and_grad``), at exact float32
   (``precision="highest"`` vs XLA at matmul precision "highest") and at
   TF32 (``"default"`` vs XLA's default).
3. (b) 10,000 blog-size models (2-3-1, sigmoid, the post's circles, n = 200)
   x 1000 steps of full-batch gradient descent, one learning rate per model:
   ``fused_train`` vs XLA's vmapped sweep (``jax.vmap`` over models of a
   ``lax.scan`` of the post's gradients and the SGD update, in one ``jit``).

Every section is timed after a compile-and-warm-up call (median of
``repeats``), checks that both sides agree, and records errors instead of
stopping. Writes ``bench_gpu.json`` and ``bench_gpu.md`` to ``--out``.
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
import traceback

import jax
import jax.numpy as jnp
import numpy as np

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
    pytest_timeout_s: int = 150
    run_tests: bool = True


QUICK = {
    "mlp_log2_n": 10,
    "sweep_models": 8,
    "sweep_steps": 20,
    "repeats": 2,
    "sweep_repeats": 1,
}


def _timed(fn, *args, repeats: int) -> dict:
    """Compile-and-warm-up call, then the median and min wall time of ``repeats`` calls."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return {
        "first_call_s": first,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "out": out,
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


def run_tests(cfg: Config) -> dict:
    cmd = [sys.executable, "-m", "pytest", "tests/test_kernels.py", "-q", "-p", "no:cacheprovider"]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [".", os.environ.get("PYTHONPATH")]))
    )
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=cfg.pytest_timeout_s, env=env
        )
    except subprocess.TimeoutExpired as exc:
        return {
            "command": " ".join(cmd),
            "returncode": None,
            "timeout": True,
            "output_tail": str(exc.stdout or "")[-4000:],
        }
    return {
        "command": " ".join(cmd),
        "returncode": proc.returncode,
        "passed": proc.returncode == 0,
        "output_tail": (proc.stdout + proc.stderr)[-4000:],
    }


def bench_mlp(cfg: Config) -> dict:
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
            pallas_forward = jax.jit(
                lambda p, X, precision=precision: kernels.fused_forward(
                    p, X, act, precision=precision
                )
            )
            pallas_grads = jax.jit(
                lambda p, X, y, precision=precision: kernels.loss_and_fused_grads(
                    p, X, y, act, precision=precision
                )
            )
            fwd_x = _timed(xla_forward, params, X, act, repeats=cfg.repeats)
            fwd_p = _timed(pallas_forward, params, X, repeats=cfg.repeats)
            grad_x = _timed(xla_manual, params, X, y, act, repeats=cfg.repeats)
            grad_a = _timed(xla_autodiff, params, X, y, act, repeats=cfg.repeats)
            grad_p = _timed(pallas_grads, params, X, y, repeats=cfg.repeats)
        out[precision] = {
            "forward": {
                "xla_ms": 1e3 * fwd_x["median_s"],
                "pallas_ms": 1e3 * fwd_p["median_s"],
                "speedup": fwd_x["median_s"] / fwd_p["median_s"],
                "max_abs_diff": _max_diff(fwd_p["out"], fwd_x["out"]),
            },
            "forward_and_grads": {
                "xla_manual_ms": 1e3 * grad_x["median_s"],
                "xla_autodiff_ms": 1e3 * grad_a["median_s"],
                "pallas_ms": 1e3 * grad_p["median_s"],
                "speedup_vs_manual": grad_x["median_s"] / grad_p["median_s"],
                "speedup_vs_autodiff": grad_a["median_s"] / grad_p["median_s"],
                "max_abs_diff_loss": _max_diff(grad_p["out"][0], grad_x["out"][0]),
                "max_abs_diff_grads": _max_diff(grad_p["out"][1], grad_x["out"][1]),
            },
            "first_call_s": {
                "xla_forward": fwd_x["first_call_s"],
                "pallas_forward": fwd_p["first_call_s"],
                "xla_grads": grad_x["first_call_s"],
                "pallas_grads": grad_p["first_call_s"],
            },
        }
    return out


def _xla_sweep(activation: str, steps: int):
    """XLA's vmapped sweep: vmap over models of a scan of GD steps, one jit."""

    def run_one(params, X, y, lr):
        def step(p, _):
            value, grads = backprop.loss_and_manual_grads(p, X, y, activation)
            return jax.tree.map(lambda w, g: w - lr * g, p, grads), value

        return jax.lax.scan(step, params, None, length=steps)

    return jax.jit(jax.vmap(run_one, in_axes=(0, None, None, 0)))


def bench_sweep(cfg: Config) -> dict:
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
    }
    for precision in ("highest",):
        with jax.default_matmul_precision(precision):
            xla = _xla_sweep(act, steps)
            pallas = jax.jit(
                lambda p, X, y, lr, precision=precision: kernels.fused_train(
                    p, X, y, activation=act, learning_rate=lr, steps=steps, precision=precision
                )
            )
            res_x = _timed(xla, params, X, y, lrs, repeats=cfg.sweep_repeats)
            res_p = _timed(pallas, params, X, y, lrs, repeats=cfg.sweep_repeats)
        final_x, loss_x = res_x["out"]
        result_p = res_p["out"]
        loss_x = loss_x  # (M, steps)
        out[precision] = {
            "xla_s": res_x["median_s"],
            "pallas_s": res_p["median_s"],
            "speedup": res_x["median_s"] / res_p["median_s"],
            "model_steps_per_s_pallas": M * steps / res_p["median_s"],
            "model_steps_per_s_xla": M * steps / res_x["median_s"],
            "first_call_s": {"xla": res_x["first_call_s"], "pallas": res_p["first_call_s"]},
            "max_abs_diff_loss_curves": _max_diff(result_p.loss, loss_x),
            "max_abs_diff_final_params": _max_diff(result_p.params, final_x),
            "diverged_models_pallas": int(jnp.sum(result_p.diverged_at >= 0)),
            "median_final_loss": float(jnp.median(result_p.loss[:, -1])),
        }
    return out


def _markdown(cfg: Config, results: dict) -> str:
    env = results["environment"]
    lines = [
        "# Fused Pallas kernels vs XLA",
        "",
        f"Device: {env['devices']}; jax {env['jax']}; backend {env['backend']}. "
        f"Command: `{env['command']}`.",
        "",
    ]
    tests = results.get("tests")
    if tests:
        lines += [
            f"Kernel tests (`{tests.get('command')}`): return code {tests.get('returncode')}.",
            "",
        ]
    mlp = results.get("mlp", {})
    if "error" in mlp:
        lines += [f"(a) failed: {mlp['error']}", ""]
    elif mlp:
        lines += [
            f"## (a) width 64, three hidden layers: sizes {tuple(mlp['sizes'])}, "
            f"{mlp['activation']}, n = {mlp['n']}",
            "",
            "| precision | pass | XLA ms | Pallas ms | speedup | max abs diff |",
            "|---|---|---|---|---|---|",
        ]
        for precision in ("highest", "default"):
            r = mlp[precision]
            f, g = r["forward"], r["forward_and_grads"]
            lines.append(
                f"| {precision} | forward | {f['xla_ms']:.3f} | {f['pallas_ms']:.3f} | "
                f"{f['speedup']:.2f}x | {f['max_abs_diff']:.2e} |"
            )
            lines.append(
                f"| {precision} | forward + grads (vs manual) | {g['xla_manual_ms']:.3f} | "
                f"{g['pallas_ms']:.3f} | {g['speedup_vs_manual']:.2f}x | "
                f"{g['max_abs_diff_grads']:.2e} |"
            )
            lines.append(
                f"| {precision} | forward + grads (vs autodiff) | {g['xla_autodiff_ms']:.3f} | "
                f"{g['pallas_ms']:.3f} | {g['speedup_vs_autodiff']:.2f}x | |"
            )
        lines.append("")
    sweep = results.get("sweep", {})
    if "error" in sweep:
        lines += [f"(b) failed: {sweep['error']}", ""]
    elif sweep:
        r = sweep["highest"]
        lines += [
            f"## (b) {sweep['models']} models {tuple(sweep['sizes'])} x {sweep['steps']} steps "
            f"({sweep['activation']}, n = {sweep['n']}, float32 'highest')",
            "",
            "| XLA vmapped sweep s | Pallas fused_train s | speedup | max abs diff (loss curves) |",
            "|---|---|---|---|",
            f"| {r['xla_s']:.3f} | {r['pallas_s']:.3f} | {r['speedup']:.2f}x | "
            f"{r['max_abs_diff_loss_curves']:.2e} |",
            "",
        ]
    lines.append(
        f"Targets on an H200: (a) >= 2x XLA, (b) >= 10x XLA. Config: `{dataclasses.asdict(cfg)}`"
    )
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--no-tests", action="store_true", help="skip the pytest run")
    args = parser.parse_args(argv)
    overrides = dict(QUICK) if args.quick else {}
    if args.no_tests:
        overrides["run_tests"] = False
    cfg = Config(**overrides)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "config": dataclasses.asdict(cfg),
        "environment": {
            "jax": jax.__version__,
            "backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()],
            "python": platform.python_version(),
            "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
        },
    }
    start = time.perf_counter()
    if cfg.run_tests:
        _section(results, "tests", lambda: run_tests(cfg))
    _section(results, "mlp", lambda: bench_mlp(cfg))
    _section(results, "sweep", lambda: bench_sweep(cfg))
    results["total_s"] = time.perf_counter() - start
    (args.out / "bench_gpu.json").write_text(json.dumps(results, indent=1, default=str))
    (args.out / "bench_gpu.md").write_text(_markdown(cfg, results))
    print((args.out / "bench_gpu.md").read_text())
    return results


if __name__ == "__main__":
    main()
