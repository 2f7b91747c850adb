"""experiments/blog.py's figures: one function per PNG of the post, drawn by jaxmlp.plots."""

from __future__ import annotations

import functools
import pathlib

import jaxmlp
from jaxmlp import baselines, plots
from jaxmlp.plots import style


def mlp_proba(params, activation: str):
    return functools.partial(jaxmlp.predict_proba, params, activation=activation)


def save(fig, out: pathlib.Path, name: str, dpi: int, *, tight: bool = False) -> str:
    """Writes a PNG; ``tight`` trims the margin a 3-D panel leaves (costs a second draw)."""
    trim = dict(bbox_inches="tight", pad_inches=0.08) if tight else {}
    fig.savefig(out / name, dpi=dpi, **trim)
    return name


def blobs(out: pathlib.Path, dpi: int, X, y, layer) -> None:
    fig = plots.linear_boundaries(
        X, y, layer.W, layer.b,
        line_labels=["logistic regression: $w^Tx + b = 0$"],
        title="Blobs: one line separates the classes",
    )  # fmt: skip
    save(fig, out, "blobs.png", dpi)


def circles(out: pathlib.Path, dpi: int, X, y, radii) -> None:
    fig = plots.data_scatter(
        X, y,
        title="Concentric circles: no line separates them",
        class_labels=(f"class 0 (radius {radii[0]:g})", f"class 1 (radius {radii[1]:g})"),
    )  # fmt: skip
    save(fig, out, "circles.png", dpi)


def square_features(out: pathlib.Path, dpi: int, X, y, layer) -> None:
    fig = plots.linear_boundaries(
        baselines.square_features(X), y, layer.W, layer.b,
        line_labels=[r"$w^T\phi(x) + b = 0$"], xlabel="$x_1^2$", ylabel="$x_2^2$",
        title="The circles in $\\phi(x) = [x_1^2, x_2^2]$ space:\na line separates them",
    )  # fmt: skip
    save(fig, out, "circles_transformed_clf.png", dpi)


def three_lines(out: pathlib.Path, dpi: int, X, y, W, b) -> None:
    fig = plots.linear_boundaries(
        X, y, W, b, shade_intersection=True,
        line_labels=[f"classifier {i + 1}" for i in range(3)],
        title="Three linear classifiers that together\nenclose the inner circle",
    )  # fmt: skip
    save(fig, out, "circles3.png", dpi)


def mlp_231(out: pathlib.Path, cfg, X, y, res, res_ad, H) -> None:
    """The loss curves, the decision boundary, the hidden space ``H`` and the units' lines."""
    params = res.params
    fig = plots.loss_curves(
        {"manual gradients (the post's formulas)": res.loss, "autodiff (jax.grad)": res_ad.loss},
        title=f"2-3-1 MLP on circles: loss per step (sgd, learning rate {cfg.learning_rate:g})",
    )
    save(fig, out, "loss_curve.png", cfg.dpi)
    fig = plots.decision_regions(
        X, y, mlp_proba(params, "sigmoid"), resolution=cfg.resolution,
        title="Decision boundary of the 2-3-1 MLP",
    )  # fmt: skip
    save(fig, out, "decision_boundary.png", cfg.dpi)
    fig = plots.hidden_projection(
        H, y, params[1].W[0], params[1].b[0], box=((0, 0, 0), (1, 1, 1)),
        title=r"Hidden space $h = \sigma(Wx + b)$: now a plane separates the classes",
    )  # fmt: skip
    save(fig, out, "projection.png", cfg.dpi, tight=True)
    fig = plots.linear_boundaries(
        X, y, params[0].W, params[0].b,
        line_labels=[f"$w_{i + 1}^Tx + b_{i + 1} = 0$" for i in range(3)],
        title="The three linear classifiers learned\nby the hidden layer",
    )  # fmt: skip
    save(fig, out, "hidden_classifiers.png", cfg.dpi)


def identity_collapse(out: pathlib.Path, cfg, X, y, params, p_id, logreg) -> None:
    """Sigmoid against identity hidden units, with logistic regression's line beside."""
    fig, axes = style.new_figure(1, 2, panel_size=4.4)
    for ax, p, act, title in (
        (axes[0], params, "sigmoid", "sigmoid hidden units"),
        (axes[1], p_id, "identity", "identity hidden units: a single line"),
    ):
        plots.decision_regions(
            X, y, mlp_proba(p, act), resolution=cfg.resolution, ax=ax, title=title, legend=False
        )
    plots.linear_boundaries(
        X, y, logreg.params[0].W, logreg.params[0].b, show_data=False, ax=axes[1],
        line_labels=["logistic regression"], colors=style.UNIT_COLORS[2:], linestyle="--",
        legend=False,
    )  # fmt: skip
    for ax in axes:
        style.legend_below(ax, ncol=2, extra=[style.boundary_handle("network's boundary")])
    fig.suptitle("The same 2-3-1 network, trained the same way", fontsize=style.FONT_SIZE + 2)
    save(fig, out, "identity_collapse.png", cfg.dpi)


def widths(out: pathlib.Path, cfg, X, y, trained: dict) -> None:
    """One decision-region panel per hidden width; ``trained`` maps width -> params."""
    fig = plots.boundary_grid(
        X, y, [mlp_proba(p, "sigmoid") for p in trained.values()],
        titles=[f"{width} hidden units" for width in trained], ncols=5,
        resolution=max(cfg.resolution // 2, 40),
        suptitle="Decision boundary of a 2-h-1 sigmoid MLP as the hidden width h grows",
    )  # fmt: skip
    save(fig, out, "decision_boundaries_progress.png", cfg.dpi)
