"""The shared look of jaxmlp's figures: palette, markers, sizes and small helpers.

One colour-blind-safe palette (Okabe & Ito) everywhere: class 0 (the outer
circle) is blue, class 1 (the inner circle) vermillion, as in the post's
"everything in the middle is classified as red". Classes also differ by marker
shape, so the figures read in greyscale. Figures are plain
:class:`matplotlib.figure.Figure` objects, never pyplot state, so they are safe
headless and in threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

CLASS_COLORS = ("#0072B2", "#D55E00")  # Okabe-Ito blue (label 0), vermillion (label 1)
CLASS_MARKERS = ("o", "^")
CLASS_LABELS = ("class 0", "class 1")
# The sign of a weight or bias, everywhere (figures and the playground): negative blue,
# positive vermillion, the class each pushes towards (a positive weight raises z).
SIGN_COLORS = (CLASS_COLORS[0], CLASS_COLORS[1])
REGION_COLORS = ("#D3E5F2", "#F7D9C7")  # light tints of the class colours, for filled regions
BOUNDARY_COLOR = "#1A1A1A"  # decision boundary (probability 0.5)
# Hidden units / separate linear classifiers: the rest of Okabe-Ito, distinct from the classes.
UNIT_COLORS = ("#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
LINE_STYLES = ("-", "--", ":", "-.")
CURVE_COLORS = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2")
PANEL_SIZE = 4.2  # inches per panel side
DPI = 100
MARKER_SIZE = 22
FONT_SIZE = 10


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    panel_size: float | tuple[float, float] = PANEL_SIZE,
    projection: str | None = None,
) -> tuple[Figure, list[Axes]]:
    """A constrained-layout Figure with ``nrows * ncols`` axes (row-major list)."""
    width, height = panel_size if isinstance(panel_size, tuple) else (panel_size, panel_size)
    fig = Figure(figsize=(width * ncols, height * nrows), dpi=DPI, layout="constrained")
    axes = [
        fig.add_subplot(nrows, ncols, i + 1, projection=projection) for i in range(nrows * ncols)
    ]
    return fig, axes


def as_numpy(a) -> np.ndarray:
    """A host NumPy copy of an array (jax or numpy)."""
    return np.asarray(a)


def check_points(X, y, *, dims: int = 2, name: str = "X") -> tuple[np.ndarray, np.ndarray]:
    """Checks ``X (n, dims)`` and ``y (n,)`` for plotting; returns NumPy copies."""
    X, y = as_numpy(X), as_numpy(y)
    if X.ndim != 2 or X.shape[1] != dims:
        raise ValueError(f"{name} must have shape (n, {dims}), got {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match {name}, got {y.shape}")
    return X, y


def scatter_classes(
    ax: Axes,
    X: np.ndarray,
    y: np.ndarray,
    *,
    class_labels: Sequence[str] = CLASS_LABELS,
    size: float = MARKER_SIZE,
) -> list:
    """Scatters each class in its colour and marker; works for 2-D and 3-D axes.

    Returns the list of collections, one per class present.
    """
    collections = []
    extra: dict[str, Any] = {"depthshade": False} if X.shape[1] == 3 else {}
    for label in (0, 1):
        mask = y == label
        if not mask.any():
            continue
        coords = [X[mask, j] for j in range(X.shape[1])]
        kwargs: dict[str, Any] = {
            "s": size,
            "c": CLASS_COLORS[label],
            "marker": CLASS_MARKERS[label],
            "edgecolors": "white",
            "linewidths": 0.4,
            "label": class_labels[label],
            "zorder": 3,
            **extra,
        }
        collections.append(ax.scatter(*coords, **kwargs))
    return collections


def plane_limits(X: np.ndarray, *, margin: float = 0.12) -> tuple[tuple[float, float], ...]:
    """Square-ish axis limits around 2-D points, padded by ``margin`` of the span."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = margin * max(float((hi - lo).max()), 1e-6)
    return (float(lo[0] - pad), float(hi[0] + pad)), (float(lo[1] - pad), float(hi[1] + pad))


def grid(
    limits: tuple[tuple[float, float], ...], *, resolution: int = 200
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ``resolution x resolution`` grid: ``xx, yy`` (r, r) and points (r*r, 2) float32."""
    (x0, x1), (y0, y1) = limits
    xx, yy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    points = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)
    return xx, yy, points


def style_plane(
    ax: Axes,
    *,
    title: str | None,
    xlabel: str = "$x_1$",
    ylabel: str = "$x_2$",
    limits: tuple[tuple[float, float], ...] | None = None,
    equal: bool = True,
) -> None:
    """Title, axis labels, limits and (by default) equal aspect for a 2-D panel."""
    if title:
        ax.set_title(title, fontsize=FONT_SIZE + 1)
    ax.set_xlabel(xlabel, fontsize=FONT_SIZE)
    ax.set_ylabel(ylabel, fontsize=FONT_SIZE)
    if limits is not None:
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
    if equal:
        ax.set_aspect("equal", adjustable="box")
    ax.tick_params(labelsize=FONT_SIZE - 1)
    ax.grid(True, color="#E5E5E5", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)


def boundary_handle(label: str = "decision boundary") -> Line2D:
    """A legend entry (not drawn on any axes) for the probability-0.5 boundary."""
    return Line2D([], [], color=BOUNDARY_COLOR, linewidth=1.4, label=label)


def legend_below(ax: Axes, *, ncol: int | None = None, extra: Sequence[Artist] = ()) -> None:
    """A compact legend under the panel, out of the data's way.

    Args:
      ax: the panel; its labelled artists are listed.
      ncol: legend columns; default 3, or 2 when a label is long.
      extra: more legend handles (e.g. :func:`boundary_handle`), not drawn on ``ax``.
    """
    handles, labels = ax.get_legend_handles_labels()
    handles = list(handles) + list(extra)
    labels = list(labels) + [h.get_label() for h in extra]
    if ncol is None:
        ncol = 2 if max((len(label) for label in labels), default=0) > 16 else 3
    ax.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=ncol,
        frameon=False,
        fontsize=FONT_SIZE - 1,
        handletextpad=0.4,
        columnspacing=1.2,
    )


def check_binary_2d(sizes: tuple[int, ...], X, y) -> tuple[np.ndarray, np.ndarray]:
    """``check_points`` for the input-plane figures: 2 inputs and 1 output unit in ``sizes``."""
    if sizes[0] != 2 or sizes[-1] != 1:
        raise ValueError(
            f"the input-plane figures need 2 inputs and 1 output unit, got sizes {sizes}"
        )
    return check_points(X, y)


def draw_regions(ax: Axes, xx: np.ndarray, yy: np.ndarray, proba: np.ndarray) -> list:
    """Draws the filled class regions and the 0.5 boundary of a (ny, nx) probability grid.

    The regions of :func:`jaxmlp.plots.static.decision_regions` and of the animations'
    frames. No input checks (the callers checked the data).

    Returns:
      The drawn contour sets, to remove when the next frame is drawn.
    """
    drawn = [ax.contourf(xx, yy, proba, levels=[-0.01, 0.5, 1.01], colors=REGION_COLORS, zorder=1)]
    if proba.min() < 0.5 <= proba.max():
        drawn.append(
            ax.contour(xx, yy, proba, levels=[0.5], colors=BOUNDARY_COLOR, linewidths=1.4, zorder=2)
        )
    return drawn
