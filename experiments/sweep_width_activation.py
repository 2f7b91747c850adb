"""Hidden width x activation x seed sweep on circles and spirals, one compiled call per data set.

Writes to ``--out``: ``results.csv`` (one row per model), ``results.json``
(config + per-config summaries), figures per data set (accuracy and loss vs width
per activation with the seed spread, a decision-boundary grid width x activation,
loss curves) and ``report.md``. Usage::

    python experiments/sweep_width_activation.py --out out/sweep
    python experiments/sweep_width_activation.py --out /tmp/s --quick    # 2 widths, 50 steps
    python experiments/sweep_width_activation.py --out out/sweep-deep --depth 2
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time

import matplotlib
import numpy as np
import optax
from _common import GRID, make_data, study_config, sweep_flags, sweep_rows, table, write_results

import jaxmlp
from jaxmlp import plots
from jaxmlp.plots import style

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# The house colour-blind-safe palette (Okabe-Ito), as in every other figure of the project.
COLORS = dict(zip(("sigmoid", "tanh", "relu", "leaky_relu"), style.CURVE_COLORS, strict=False))


@dataclasses.dataclass(frozen=True)
class Config:
    widths: tuple[int, ...] = GRID["widths"]
    activations: tuple[str, ...] = GRID["activations"]
    seeds: tuple[int, ...] = GRID["seeds"]
    steps: int = 1000
    depth: int = 1  # hidden layers per model
    learning_rate: float = 0.01
    n_points: int = 400
    test_fraction: float = 0.5
    datasets: tuple[str, ...] = ("circles", "spirals")
    data_seed: int = 0
    split_seed: int = 1


def spread_plot(ax, x, values, act, label=True):
    """Seed mean as a line, min..max over seeds as a band; values (W, S)."""
    ax.plot(x, values.mean(-1), "o-", color=COLORS.get(act), label=act if label else None, ms=3)
    ax.fill_between(x, values.min(-1), values.max(-1), color=COLORS.get(act), alpha=0.2)


def plot_vs_width(r, name, path):
    fig, axes = plt.subplots(1, 4, figsize=(17, 4), constrained_layout=True)
    panels = [("train accuracy", r.train_accuracy), ("test accuracy", r.test_accuracy),
              ("final train loss", r.final_loss), ("test loss", r.test_loss)]  # fmt: skip
    for ax, (title, values) in zip(axes, panels, strict=True):
        for j, act in enumerate(r.activations):
            spread_plot(ax, r.widths, values[:, j], act)
        ax.set(title=f"{name}: {title}", xlabel="hidden width")
        ax.grid(alpha=0.3)
        if "loss" in title:
            ax.set_yscale("log")
    axes[0].legend(title="activation (mean, band = min..max over seeds)", fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def boundary_grid(r, X, y, name, path, seed):
    """One decision-region panel per width (columns) and activation (rows), for ``seed``."""
    fns = [functools.partial(jaxmlp.predict_proba, r.params(w, act, seed), activation=act)
           for act in r.activations for w in r.widths]  # fmt: skip
    layers = "" if r.depth == 1 else f", {r.depth} hidden layers"
    fig = plots.boundary_grid(
        X, y, fns, titles=[f"{act}, width {w}" for act in r.activations for w in r.widths],
        ncols=len(r.widths), resolution=120, panel_size=1.8,
        suptitle=f"{name}: decision boundaries (seed {seed}{layers})",
    )  # fmt: skip
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_curves(r, name, path):
    A = len(r.activations)
    fig, axes = plt.subplots(1, A, figsize=(4.2 * A, 3.6), sharey=True, constrained_layout=True)
    cmap = plt.get_cmap("viridis")
    for j, (ax, act) in enumerate(zip(axes, r.activations, strict=True)):
        for i, w in enumerate(r.widths):
            color = cmap(i / max(len(r.widths) - 1, 1))
            ax.plot(r.loss_steps, np.nanmean(r.loss[i, j], axis=0), color=color, label=f"w={w}")
        ax.set(yscale="log", title=f"{name}: {act}", xlabel="step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("training loss (mean over seeds)")
    axes[-1].legend(fontsize=7, ncol=2)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary_of(r) -> dict:
    """Per activation: mean test and train accuracy over seeds, by width."""
    return {
        act: {f"mean_{part}_accuracy_by_width": dict(zip(map(str, r.widths),
              getattr(r, f"{part}_accuracy")[:, j].mean(-1).round(4).tolist(), strict=True))
              for part in ("test", "train")}
        for j, act in enumerate(r.activations)
    }  # fmt: skip


QUICK = {"widths": (5, 10), "steps": 50, "seeds": (0, 1)}


def main(argv=None) -> None:
    def flags(parser) -> None:
        sweep_flags(parser)
        parser.add_argument("--depth", type=int, help=f"hidden layers (default {Config.depth})")

    args, cfg = study_config(__doc__, argv, out="out/sweep", config=Config, quick=QUICK,
                             extra=flags)  # fmt: skip
    os.makedirs(args.out, exist_ok=True)
    optimizer = optax.adam(cfg.learning_rate)
    rows, sweeps, timings = [], {}, {}
    for name in cfg.datasets:
        X, X_test, y, y_test = make_data(name, cfg)
        t0 = time.perf_counter()
        r = jaxmlp.sweep(
            X, y, widths=cfg.widths, activations=cfg.activations, seeds=cfg.seeds,
            steps=cfg.steps, optimizer=optimizer, X_test=X_test, y_test=y_test,
            progress=args.progress, depth=cfg.depth,
        )  # fmt: skip
        timings[name] = time.perf_counter() - t0
        rows += sweep_rows(r, dataset=name)
        sweeps[name] = r
        plot_vs_width(r, name, os.path.join(args.out, f"{name}_vs_width.png"))
        boundary_grid(r, np.asarray(X), np.asarray(y), name,
                      os.path.join(args.out, f"{name}_boundaries.png"), cfg.seeds[0])  # fmt: skip
        plot_curves(r, name, os.path.join(args.out, f"{name}_loss_curves.png"))
    results = {"optimizer": f"optax.adam({cfg.learning_rate})", "seconds_per_sweep_call": timings,
               "summary": {name: summary_of(r) for name, r in sweeps.items()}}  # fmt: skip
    write_results(args.out, cfg, results, report(cfg, sweeps, timings), rows)


def report(cfg, sweeps, timings) -> list[str]:
    """report.md's lines: per data set, mean test accuracy by width and activation."""
    n_models = len(cfg.widths) * len(cfg.activations) * len(cfg.seeds)
    layers = "one-hidden-layer" if cfg.depth == 1 else f"{cfg.depth}-hidden-layer"
    lines = [
        "# Width x activation sweep",
        "",
        f"{n_models} {layers} MLPs per data set (widths {cfg.widths[0]}..{cfg.widths[-1]}, "
        f"{', '.join(cfg.activations)}, {len(cfg.seeds)} seeds), {cfg.steps} full-batch "
        f"optax.adam({cfg.learning_rate}) steps, {cfg.n_points} points, "
        f"{int(cfg.test_fraction * 100)}% held out. One `jaxmlp.sweep` call per data set "
        f"({', '.join(f'{k}: {v:.0f} s incl. compile' for k, v in timings.items())}).",
        "",
    ]
    for name, r in sweeps.items():
        lines += [f"## {name}", "", "Mean test accuracy over seeds (min..max):", ""]
        cells = [[f"{a.mean():.3f} ({a.min():.2f}..{a.max():.2f})" for a in row]
                 for row in r.test_accuracy]  # fmt: skip
        lines += table(
            ["width", *r.activations], [[w, *c] for w, c in zip(r.widths, cells, strict=True)]
        )
        best = np.unravel_index(np.argmax(r.test_accuracy.mean(-1)), r.test_accuracy.shape[:2])
        gap = (r.train_accuracy - r.test_accuracy).mean(axis=(1, 2))
        lines += [
            "",
            f"- Best mean test accuracy: {r.test_accuracy.mean(-1).max():.3f} "
            f"(width {r.widths[best[0]]}, {r.activations[best[1]]}).",
            f"- Train - test accuracy gap (mean over activations and seeds) from {gap[0]:.3f} at "
            f"width {r.widths[0]} to {gap[-1]:.3f} at width {r.widths[-1]}.",
            f"- Diverged models: {int((r.diverged_at >= 0).sum())}.",
            "",
            f"Figures: `{name}_vs_width.png`, `{name}_boundaries.png`, `{name}_loss_curves.png`.",
            "",
        ]
    return lines


if __name__ == "__main__":
    main()
