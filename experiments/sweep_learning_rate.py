"""Learning rate x hidden width x activation on the spirals, one compiled sweep call.

The width x activation sweep (``sweep_width_activation.py``) trains every model with Adam at
one learning rate; this asks how much of what it shows is the rate. Every model of the grid
trains with each rate of ``Config.learning_rates`` through ``jaxmlp.sweep(...,
optimizer=optax.adam, learning_rates=...)``: the rate is per-model optimizer state, so the
whole grid is still one program.

Writes to ``--out``: ``results.csv`` (one row per model), ``results.json`` (config, timing,
mean test accuracy per activation, width and rate), ``spirals_lr_width.png`` (per activation,
mean test accuracy over seeds as a width x rate map) and ``report.md``. Usage::

    python experiments/sweep_learning_rate.py --out out/sweep-lr
    python experiments/sweep_learning_rate.py --out /tmp/lr --quick    # 1 seed, 2 rates, 50 steps
"""

from __future__ import annotations

import dataclasses
import os
import time

import matplotlib
import numpy as np
import optax
from _common import make_data, study_config, sweep_flags, sweep_rows, table, write_results

import jaxmlp

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Config:
    widths: tuple[int, ...] = (5, 10, 20, 50)
    activations: tuple[str, ...] = ("sigmoid", "tanh", "relu", "leaky_relu")
    seeds: tuple[int, ...] = tuple(range(4))
    learning_rates: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
    steps: int = 1000
    n_points: int = 400
    test_fraction: float = 0.5
    data_seed: int = 0
    split_seed: int = 1


def plot_maps(r, path):
    """One panel per activation: mean test accuracy over seeds, widths x learning rates."""
    acc = r.test_accuracy.mean(axis=2)  # (W, A, L)
    fig, axes = plt.subplots(
        1, len(r.activations), figsize=(3.6 * len(r.activations), 3.4), constrained_layout=True
    )
    axes = np.atleast_1d(axes)
    for j, (ax, act) in enumerate(zip(axes, r.activations, strict=True)):
        image = ax.imshow(acc[:, j], vmin=0.5, vmax=1.0, cmap="viridis", origin="lower")
        for i in range(len(r.widths)):
            for m in range(len(r.learning_rates)):
                value = acc[i, j, m]
                ax.text(m, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                        color="black" if value > 0.8 else "white")  # fmt: skip
        ax.set_xticks(range(len(r.learning_rates)), [f"{lr:g}" for lr in r.learning_rates])
        ax.set_yticks(range(len(r.widths)), [str(w) for w in r.widths])
        ax.set(xlabel="Adam learning rate", title=act, ylabel="hidden width" if j == 0 else "")
    fig.colorbar(image, ax=axes, shrink=0.8, label=f"test accuracy (mean of {len(r.seeds)} seeds)")
    fig.suptitle(f"spirals: test accuracy after {r.steps} full-batch Adam steps")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(cfg: Config, r, seconds: float) -> list[str]:
    """report.md's lines: the best rate per activation and width."""
    acc = r.test_accuracy.mean(axis=2)  # (W, A, L)
    n_models = acc.size * len(cfg.seeds)
    lines = [
        "# Learning rate x width x activation sweep (spirals)",
        "",
        f"{n_models} one-hidden-layer MLPs (widths {list(cfg.widths)}, "
        f"{', '.join(cfg.activations)}, {len(cfg.seeds)} seeds, Adam learning rates "
        f"{list(cfg.learning_rates)}), {cfg.steps} full-batch steps on {cfg.n_points} spiral "
        f"points, {int(cfg.test_fraction * 100)}% held out; one `jaxmlp.sweep` call "
        f"({seconds:.0f} s incl. compile).",
        "",
        "Best learning rate per activation and width (mean test accuracy over seeds; at the "
        "width x activation sweep's rate 0.01 in brackets):",
        "",
    ]
    at = cfg.learning_rates.index(0.01) if 0.01 in cfg.learning_rates else None
    rows = []
    for i, w in enumerate(r.widths):
        rows.append([w])
        for j in range(len(r.activations)):
            m = int(np.argmax(acc[i, j]))
            cell = f"{acc[i, j, m]:.3f} at {r.learning_rates[m]:g}"
            rows[-1].append(cell + (f" ({acc[i, j, at]:.3f})" if at is not None else ""))
    lines += table(["width", *cfg.activations], rows)
    lines += [
        "",
        f"- Diverged models: {int((r.diverged_at >= 0).sum())} of {n_models}.",
        "- Figure: `spirals_lr_width.png`.",
        "",
    ]
    return lines


def mean_test_accuracy(r) -> dict:
    """``{activation: {width: {learning rate: mean test accuracy over seeds}}}``."""
    acc = r.test_accuracy.mean(axis=2)
    return {act: {str(w): {f"{lr:g}": round(float(acc[i, j, m]), 4)
                           for m, lr in enumerate(r.learning_rates)}
                  for i, w in enumerate(r.widths)}
            for j, act in enumerate(r.activations)}  # fmt: skip


QUICK = {"steps": 50, "seeds": (0,), "learning_rates": (0.01, 0.1)}


def main(argv=None) -> None:
    args, cfg = study_config(__doc__, argv, out="out/sweep-lr", config=Config, quick=QUICK,
                             extra=sweep_flags)  # fmt: skip
    os.makedirs(args.out, exist_ok=True)
    X, X_test, y, y_test = make_data("spirals", cfg)  # the width sweep's points and split
    t0 = time.perf_counter()
    r = jaxmlp.sweep(
        X, y, widths=cfg.widths, activations=cfg.activations, seeds=cfg.seeds, steps=cfg.steps,
        optimizer=optax.adam, learning_rates=cfg.learning_rates, X_test=X_test, y_test=y_test,
        progress=args.progress,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    plot_maps(r, os.path.join(args.out, "spirals_lr_width.png"))
    results = {"optimizer": "optax.adam", "seconds": seconds,
               "mean_test_accuracy": mean_test_accuracy(r)}  # fmt: skip
    write_results(args.out, cfg, results, report(cfg, r, seconds), sweep_rows(r))


if __name__ == "__main__":
    main()
