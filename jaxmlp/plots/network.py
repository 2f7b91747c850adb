"""The post's computational graph (network.png) for any sizes: a node per unit, an edge per weight.

Edges are coloured by the sign of their weight in the class colours of
:mod:`jaxmlp.plots.style`; hidden unit ``i`` of the first layer takes
``UNIT_COLORS[i]``, as in the other figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, cast

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyBboxPatch

from jaxmlp import mlp, validation
from jaxmlp.plots import style

# Positive weights push towards class 1 (vermillion), negative towards class 0 (blue).
NEGATIVE_COLOR, POSITIVE_COLOR = style.SIGN_COLORS
LAYER_DX = 2.6  # horizontal distance between layers (data units)
INCH = 0.85  # inches per data unit of a new figure


class _GraphLayout(NamedTuple):
    """Where the nodes of a graph sit, in data units."""

    sizes: tuple[int, ...]
    ys: list[np.ndarray]  # per layer, the height of each node (top to bottom)
    bias_y: list[float]  # per layer but the last, the height of its bias node
    radius: float  # of a unit's circle
    top: float  # above the tallest column
    bottom: float  # below the lowest bias node

    def x(self, layer: int) -> float:
        return LAYER_DX * layer


def _graph_layout(sizes: tuple[int, ...]) -> _GraphLayout:
    """Columns of nodes centred on 0, each layer's bias node below it."""
    tallest = max(sizes)
    gap = min(1.2, 9.0 / tallest)  # vertical distance between nodes
    ys = [gap * (np.arange(s) - (s - 1) / 2.0)[::-1] for s in sizes]
    bias_y = [-gap * (s - 1) / 2.0 - max(gap, 0.9) for s in sizes[:-1]]  # below each layer
    return _GraphLayout(
        sizes=sizes,
        ys=ys,
        bias_y=bias_y,
        radius=min(0.3, 0.36 * gap),
        top=gap * (tallest - 1) / 2.0 + 0.5,
        bottom=min(bias_y) - 0.5,
    )


def _new_axes(lay: _GraphLayout) -> Axes:
    fig = Figure(
        figsize=(
            INCH * (LAYER_DX * (len(lay.sizes) - 1) + 1.6),
            INCH * (lay.top - lay.bottom + 0.8) + 0.9,
        ),
        dpi=style.DPI,
        layout="constrained",
    )
    return fig.add_subplot()


def _draw_edges(ax: Axes, lay: _GraphLayout, params: mlp.Params, *, annotate: bool) -> None:
    """One line per weight (gid "weight") and per bias (gid "bias"), width ~ |w|."""
    layers = [np.asarray(layer.W, np.float64) for layer in params]
    biases = [np.asarray(layer.b, np.float64) for layer in params]
    scale = max(
        max(float(np.abs(W).max()), float(np.abs(b).max()))
        for W, b in zip(layers, biases, strict=True)
    )
    scale = scale or 1.0
    for layer_i, (W, b) in enumerate(zip(layers, biases, strict=True)):
        x0, x1 = lay.x(layer_i), lay.x(layer_i + 1)
        n_in = W.shape[1]
        # Labels of edges from different sources sit at different distances along
        # the edges, so they do not pile up in one column.
        where = np.linspace(0.22, 0.62, n_in + 1)
        for j in range(W.shape[0]):
            end = (x1, lay.ys[layer_i + 1][j])
            for k in range(n_in):
                start = (x0, lay.ys[layer_i][k])
                _edge(ax, start, end, W[j, k], scale, gid="weight", annotate=annotate, t=where[k])
            start = (x0, lay.bias_y[layer_i])
            _edge(ax, start, end, b[j], scale, gid="bias", annotate=annotate, t=where[-1])


def _node_style(sizes: tuple[int, ...], layer_i: int, j: int, names: list[str]) -> tuple[str, str]:
    """``(face colour, label)`` of unit ``j`` of layer ``layer_i``."""
    if layer_i == 0:
        return "#FFFFFF", names[j]
    if layer_i == len(sizes) - 1:
        return "#FFFFFF", "$\\hat y$" if sizes[-1] == 1 else f"$\\hat y_{{{j + 1}}}$"
    if layer_i == 1:
        return style.UNIT_COLORS[j % len(style.UNIT_COLORS)], f"$h_{{{j + 1}}}$"
    return "#DDDDDD", f"$h^{{{layer_i}}}_{{{j + 1}}}$"


def _draw_units(ax: Axes, lay: _GraphLayout, names: list[str]) -> None:
    """A circle per unit, labelled when its column has at most 16 units."""
    for layer_i, count in enumerate(lay.sizes):
        for j in range(count):
            face, label = _node_style(lay.sizes, layer_i, j, names)
            center = (lay.x(layer_i), lay.ys[layer_i][j])
            ax.add_patch(
                Circle(
                    center,
                    lay.radius,
                    facecolor=face,
                    edgecolor="#333333",
                    linewidth=1.2,
                    zorder=5,
                )
            )
            if count <= 16:
                ax.text(
                    *center,
                    label,
                    ha="center",
                    va="center",
                    fontsize=style.FONT_SIZE + (1 if lay.radius > 0.2 else -2),
                    zorder=6,
                    color="#FFFFFF" if face in ("#000000", style.UNIT_COLORS[4]) else "#000000",
                )


def _draw_biases(ax: Axes, lay: _GraphLayout) -> None:
    """A dashed square node "1" below every layer but the last."""
    r = lay.radius
    for layer_i, y in enumerate(lay.bias_y):
        x = lay.x(layer_i)
        ax.add_patch(
            FancyBboxPatch(
                (x - r * 0.7, y - r * 0.7),
                1.4 * r,
                1.4 * r,
                boxstyle="round,pad=0.02",
                facecolor="#F2F2F2",
                edgecolor="#333333",
                linewidth=1.0,
                linestyle="--",
                zorder=5,
            )
        )
        ax.text(x, y, "1", ha="center", va="center", fontsize=style.FONT_SIZE, zorder=6)


def _frame(ax: Axes, lay: _GraphLayout, title: str | None) -> None:
    """Layer names on top, limits, the legend of edge styles and the title."""
    sizes = lay.sizes
    layer_names = (
        ["input"]
        + [f"hidden {i}" if len(sizes) > 3 else "hidden" for i in range(1, len(sizes) - 1)]
        + ["output"]
    )
    for layer_i, name in enumerate(layer_names):
        ax.text(
            lay.x(layer_i),
            lay.top,
            f"{name}\n({sizes[layer_i]})",
            ha="center",
            va="bottom",
            fontsize=style.FONT_SIZE,
        )
    ax.set_xlim(-0.8, lay.x(len(sizes) - 1) + 0.8)
    ax.set_ylim(lay.bottom, lay.top + 0.8)
    ax.set_aspect("equal", adjustable="box")
    ax.axis("off")
    ax.legend(
        handles=[
            Line2D([], [], color=POSITIVE_COLOR, linewidth=2.5, label="positive weight"),
            Line2D([], [], color=NEGATIVE_COLOR, linewidth=2.5, label="negative weight"),
            Line2D([], [], color="#555555", linewidth=1.5, linestyle="--", label="bias (from 1)"),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=3,
        frameon=False,
        fontsize=style.FONT_SIZE - 1,
    )
    if title:
        ax.set_title(title, fontsize=style.FONT_SIZE + 1)


def network_graph(
    params: mlp.Params,
    *,
    title: str | None = None,
    annotate: bool | None = None,
    input_names: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The post's computational graph for any sizes: a node per unit, an edge per weight.

    Edges are coloured by the weight's sign (vermillion positive, blue
    negative) and their width grows with ``|w|``; each layer's bias is a square
    node "1" with dashed edges. Hidden units of the first layer take the unit
    colours used in the other figures.

    Args:
      params: tuple of Dense layers (trained or not).
      title: figure title.
      annotate: write each weight's value on its edge; default when the network
        has at most 30 edges.
      input_names: labels of the input nodes; default ``x_1 .. x_d``.
      ax: draw on these axes instead of a new figure.

    Returns:
      The Figure. Weight edges are lines with gid ``"weight"``, bias edges
      lines with gid ``"bias"``: ``sum(out * in)`` and ``sum(out)`` of them.

    >>> import jax, jaxmlp
    >>> fig = network_graph(jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1)))
    >>> sum(line.get_gid() == "weight" for line in fig.axes[0].lines)
    9
    """
    sizes = validation.check_params(params)
    if input_names is not None and len(input_names) != sizes[0]:
        raise ValueError(f"input_names must have {sizes[0]} entries, got {len(input_names)}")
    n_edges = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    if annotate is None:
        annotate = n_edges <= 30
    lay = _graph_layout(sizes)
    ax = _new_axes(lay) if ax is None else ax
    names = list(input_names) if input_names else [f"$x_{{{k + 1}}}$" for k in range(sizes[0])]
    _draw_edges(ax, lay, params, annotate=annotate)
    _draw_units(ax, lay, names)
    _draw_biases(ax, lay)
    _frame(ax, lay, title)
    return cast(Figure, ax.figure)


def _edge(ax, start, end, w: float, scale: float, *, gid: str, annotate: bool, t: float):
    color = POSITIVE_COLOR if w >= 0 else NEGATIVE_COLOR
    (x0, y0), (x1, y1) = start, end
    ax.plot(
        [x0, x1],
        [y0, y1],
        color=color,
        linewidth=0.4 + 4.6 * abs(w) / scale,
        linestyle="--" if gid == "bias" else "-",
        alpha=0.85,
        solid_capstyle="butt",
        gid=gid,
        zorder=2,
    )
    if annotate:
        ax.text(
            x0 + t * (x1 - x0),
            y0 + t * (y1 - y0),
            f"{w:.1f}",
            ha="center",
            va="center",
            fontsize=style.FONT_SIZE - 2,
            color=color,
            bbox={
                "boxstyle": "round,pad=0.12",
                "facecolor": "white",
                "edgecolor": "none",
                "alpha": 0.85,
            },
            zorder=4,
        )
