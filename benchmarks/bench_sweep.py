"""Sweep speed: jaxmlp.sweep vs a straightforward vmap vs scikit-learn, on the same grid.

The grid: hidden widths 5..50 step 5 x sigmoid/tanh/relu/leaky_relu x 8 seeds = 320
one-hidden-layer MLPs, each trained for 1000 full-batch Adam steps on 200 circle points.
``jaxmlp.sweep`` as a user calls it, against a straightforward vmap (one ``jit`` per
activation over its 80 models, widths padded to 50 with masked hidden units, gradients by
``jax.value_and_grad``, the same optax optimizer in a ``lax.scan``), timed in alternating
rounds (each method's steady time is its best round; every round also gives its own ratio),
and scikit-learn's ``MLPClassifier`` one model at a time (``sklearn_models`` of them timed,
the grid's time extrapolated; leaky_relu runs as relu there). On a CPU, jaxmlp.sweep splits
the bins over the cores; the vmap's batched kernels use XLA's intra-op threads.

    python benchmarks/bench_sweep.py --out out/bench
"""

from __future__ import annotations

import dataclasses
import importlib.util
import statistics
import time

import _baselines as base
import _harness as harness
import jax
import jax.numpy as jnp
import numpy as np
import optax
from _harness import Table, interleaved

import jaxmlp


@dataclasses.dataclass(frozen=True)
class Config:
    # experiments/sweep_width_activation.py's grid: 10 widths x 4 activations x 8 seeds
    widths: tuple[int, ...] = tuple(range(5, 51, 5))
    activations: tuple[str, ...] = ("sigmoid", "tanh", "relu", "leaky_relu")
    seeds: tuple[int, ...] = tuple(range(8))
    steps: int = 1000
    n_points: int = 200
    learning_rate: float = 0.01
    repeats: int = 7
    sklearn_models: int = 16
    data_seed: int = 0


QUICK = {"widths": (5, 10), "seeds": (0, 1), "steps": 50, "repeats": 2, "sklearn_models": 2}


def sweep_call(cfg: Config, X, y, optimizer):
    """The grid through the public ``jaxmlp.sweep``, as a user calls it."""
    kw = dict(widths=cfg.widths, activations=cfg.activations, seeds=cfg.seeds, steps=cfg.steps)
    return lambda: jaxmlp.sweep(X, y, optimizer=optimizer, **kw)


def _padded_vmap_program(act, optimizer, steps):
    """The straightforward version: vmap over padded, masked models; autodiff; one jit."""

    def loss(params, mask, X, y):
        (W1, b1), (W2, b2) = params
        h = act(X @ W1.T + b1[None, :]) * mask[None, :]
        z = (h @ W2.T + b2[None, :])[:, 0]
        return jnp.mean(jnp.maximum(z, 0) - y * z + jnp.log1p(jnp.exp(-jnp.abs(z))))

    def train_one(params, mask, X, y):
        def step(carry, _):
            params, opt_state = carry
            value, grads = jax.value_and_grad(loss)(params, mask, X, y)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), value

        (params, _), values = jax.lax.scan(step, (params, optimizer.init(params)), None, steps)
        return params, values

    return jax.jit(jax.vmap(train_one, in_axes=(0, 0, None, None)))


def vmap_call(cfg: Config, X, y, optimizer):
    """The straightforward baseline: one padded, masked vmap program per activation."""
    wmax, d, params, masks = max(cfg.widths), X.shape[1], [], []
    for w in cfg.widths:
        for s in cfg.seeds:
            (l1, l2) = jaxmlp.init_mlp(jax.random.key(s), (d, w, 1))
            W1 = jnp.zeros((wmax, d)).at[:w].set(l1.W)
            b1 = jnp.zeros((wmax,)).at[:w].set(l1.b)
            W2 = jnp.zeros((1, wmax)).at[:, :w].set(l2.W)
            params.append(((W1, b1), (W2, l2.b)))
            masks.append(jnp.arange(wmax) < w)
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *params)
    mask, yf = jnp.stack(masks).astype(jnp.float32), y.astype(jnp.float32)
    programs = [_padded_vmap_program(jaxmlp.activations.get(a), optimizer, cfg.steps)
                for a in cfg.activations]  # fmt: skip
    return lambda: [p(stacked, mask, X, yf)[1] for p in programs]


def bench_sklearn(cfg: Config, X, y) -> dict | None:
    """scikit-learn one model at a time: ``sklearn_models`` of the grid's, the rest extrapolated."""
    if not importlib.util.find_spec("sklearn"):
        return None
    names = {"sigmoid": "logistic", "tanh": "tanh", "relu": "relu", "leaky_relu": "relu"}
    grid = [(w, a, s) for w in cfg.widths for a in cfg.activations for s in cfg.seeds]
    rng = np.random.default_rng(0)
    subset = [grid[i] for i in rng.choice(len(grid), size=cfg.sklearn_models, replace=False)]
    Xn, yn = np.asarray(X, np.float64), np.asarray(y)
    t0 = time.perf_counter()
    for w, a, s in subset:
        base.sklearn_fit(Xn, yn, hidden=w, learning_rate=cfg.learning_rate, steps=cfg.steps,
                         seed=s, activation=names[a], solver="adam")  # fmt: skip
    elapsed = time.perf_counter() - t0
    return {"timed_models": len(subset), "timed_s": elapsed,
            "per_model_s": elapsed / len(subset),
            "grid_s_extrapolated": elapsed / len(subset) * len(grid)}  # fmt: skip


def time_both(cfg: Config, X, y, optimizer) -> dict:
    """The sweep and the vmap in alternating rounds; their times and per-round ratios."""
    calls = {"sweep": sweep_call(cfg, X, y, optimizer), "vmap": vmap_call(cfg, X, y, optimizer)}
    blocking = {"sweep": lambda: jax.block_until_ready(calls["sweep"]().final_loss),
                "vmap": lambda: jax.block_until_ready(calls["vmap"]())}  # fmt: skip
    timed = interleaved(blocking, cfg.repeats)  # alternating rounds, as in bench.py
    for row in timed.values():
        row["steady_s"] = min(row["times_s"])  # the best round
    sweep, vmap = timed["sweep"], timed["vmap"]
    timed["round_ratios"] = [v / s for s, v in zip(sweep["times_s"], vmap["times_s"], strict=True)]
    # the baseline trains the same models: its curves against the sweep's, on every step
    r, vmap_curves = calls["sweep"](), np.stack([np.asarray(c) for c in calls["vmap"]()])
    curves = np.moveaxis(r.loss, 1, 0).reshape(len(cfg.activations), -1, len(r.loss_steps))
    timed["max_diff"] = float(np.nanmax(np.abs(curves - vmap_curves[..., r.loss_steps])))
    return timed


def tables(r: dict) -> list[Table]:
    """sweep.md: the three ways side by side."""
    n, sweep, vmap, sk, ratios = (r[k] for k in ("models", "sweep", "vmap", "sklearn",
                                                 "speedup_vs_vmap_per_round"))  # fmt: skip
    rows = [
        [name, t["steady_s"], n / t["steady_s"], t["first_call_s"] - t["steady_s"]]
        for name, t in (("jaxmlp.sweep", sweep), ("vmap, padded to 50 + masked, autodiff", vmap))
    ]
    if sk is None:
        rows.append(["scikit-learn MLPClassifier", "(skipped: not installed)", None, None])
    else:
        t = sk["grid_s_extrapolated"]
        rows.append(["scikit-learn MLPClassifier, one at a time", t, n / t, None])
    cfg = r["config"]
    note = (f"jaxmlp.sweep is {r['speedup_vs_vmap']:.2f}x the straightforward vmap, best against "
            f"best (steady = best of {cfg['repeats']} rounds alternating the two); median of the "
            f"rounds' own ratios {r['speedup_vs_vmap_median_round']:.2f}x (range "
            f"{min(ratios):.2f}-{max(ratios):.2f}x). Max |loss difference| between the two on "
            f"every step: {r['max_abs_loss_diff_sweep_vs_vmap']:.2e}.")  # fmt: skip
    if sk is not None:
        note += (f" scikit-learn: {sk['timed_models']} models timed ({sk['timed_s']:.1f} s), the "
                 "grid's time extrapolated; leaky_relu runs as relu there.")  # fmt: skip
    title = (f"{n} MLPs, {cfg['steps']} full-batch steps, {cfg['n_points']} circle points, "
             f"optax.adam({cfg['learning_rate']})")  # fmt: skip
    columns = ["method", "steady time (s)", "models/s", "compile (s, first call - steady)"]
    return [Table(title, columns, rows, note)]


def run(cfg: Config, args) -> dict:
    X, y = jaxmlp.datasets.circles(jax.random.key(cfg.data_seed), cfg.n_points)
    optimizer = optax.adam(cfg.learning_rate)
    n_models = len(cfg.widths) * len(cfg.activations) * len(cfg.seeds)
    timed = time_both(cfg, X, y, optimizer)
    sweep, vmap, round_ratios = timed["sweep"], timed["vmap"], timed["round_ratios"]
    return {"optimizer": f"optax.adam({cfg.learning_rate})", "models": n_models,
            "sweep": sweep, "vmap": vmap, "sklearn": bench_sklearn(cfg, X, y),
            "sweep_models_per_s": n_models / sweep["steady_s"],
            "vmap_models_per_s": n_models / vmap["steady_s"],
            "speedup_vs_vmap": vmap["steady_s"] / sweep["steady_s"],
            "speedup_vs_vmap_per_round": round_ratios,
            "speedup_vs_vmap_median_round": statistics.median(round_ratios),
            "max_abs_loss_diff_sweep_vs_vmap": timed["max_diff"]}  # fmt: skip


def main(argv=None) -> dict:
    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, name="sweep")


if __name__ == "__main__":
    main()
