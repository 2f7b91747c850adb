"""Per-unit maps: each hidden unit's activation over the input plane, still or animated.

As TensorFlow Playground shows them: one small map per unit of the first hidden
layer (white = low, grey = high activation) with the unit's line
``w_i . x + b_i = 0`` in its colour from :mod:`jaxmlp.plots.style`, then the
network's decision regions. :func:`hidden_unit_maps` draws one figure,
:func:`hidden_units_animation` one frame per training snapshot.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple, cast

import jax
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from jaxmlp import activations as _activations
from jaxmlp import mlp, validation
from jaxmlp.plots import geometry, static, style
from jaxmlp.plots.animation import (
    Animation,
    snapshot_at,
    snapshot_count,
)

# A unit's activation over the plane: white (low) to a mid grey (high), so the
# class-coloured data and the unit's coloured line stay readable on top.
ACTIVATION_CMAP = LinearSegmentedColormap.from_list("jaxmlp_activation", ["#FFFFFF", "#7A7A7A"])


def _unit_layout(
    n_units: Sequence[int],
    *,
    show_output: bool,
    panel_size: float,
    labels: Sequence[str] | None,
    title: str | None,
) -> tuple[Figure, list[list[Axes]]]:
    """A figure with one row of small square panels per network (units, then output)."""
    ncols = max(n_units) + int(show_output)
    fig = Figure(
        figsize=(panel_size * ncols + 0.5, (panel_size + 0.3) * len(n_units) + 0.4 * bool(title)),
        dpi=style.DPI,
        layout="constrained",
    )
    rows = fig.subfigures(len(n_units), 1, squeeze=False)[:, 0]
    grid_axes = []
    for r, (sub, units) in enumerate(zip(rows, n_units, strict=True)):
        axes = [sub.add_subplot(1, ncols, j + 1) for j in range(units + int(show_output))]
        if labels:
            sub.supylabel(labels[r], fontsize=style.FONT_SIZE)
        grid_axes.append(axes)
    return fig, grid_axes


class _Row(NamedTuple):
    """What one row of maps shows: a network's units (and output) over a grid of the plane."""

    X: np.ndarray  # (n, 2) data
    y: np.ndarray  # (n,) labels
    limits: tuple  # ((x_lo, x_hi), (y_lo, y_hi))
    xx: np.ndarray  # (r, r) grid coordinates
    yy: np.ndarray


def _draw_unit_row(
    axes: list[Axes],
    row: _Row,
    A: np.ndarray,
    P: np.ndarray,
    params: mlp.Params,
    act: _activations.Activation,
    *,
    show_output: bool,
) -> None:
    """Draws (first call) or updates one row: unit maps with their lines, then the output.

    ``A`` (r*r, units) are the first hidden layer's activations on the grid and
    ``P`` (r*r,) the network's P(class 1) there.
    """
    vmin, vmax = _activation_range(act, A)
    W, b = np.asarray(params[0].W, np.float64), np.asarray(params[0].b, np.float64)
    w_out = np.asarray(params[1].W[0], np.float64) if len(params) == 2 else None
    for j in range(A.shape[1]):
        image = A[:, j].reshape(row.xx.shape)
        line = geometry.line_through_box(W[j], float(b[j]), row.limits)
        name = f"unit {j + 1}" + (f" ({w_out[j]:+.1f})" if w_out is not None else "")
        if axes[j].images:  # a later frame: update what the first one drew
            _update_unit_map(axes[j], image, (vmin, vmax), line, name)
        else:
            _unit_map(axes[j], row, image, (vmin, vmax), line, name, j)
    if show_output:
        _output_map(axes[-1], row, P)


def _unit_map(ax: Axes, row: _Row, image, clim, line, name: str, j: int) -> None:
    """Unit ``j``'s activation (grey), the data, and its line in its colour."""
    ax.imshow(
        image,
        extent=(*row.limits[0], *row.limits[1]),
        origin="lower",
        cmap=ACTIVATION_CMAP,
        vmin=clim[0],
        vmax=clim[1],
        interpolation="bilinear",
        zorder=1,
    )
    for points in style.scatter_classes(ax, row.X, row.y, size=5):
        points.set_linewidths(0)
    ax.plot(*line, color=style.UNIT_COLORS[j % len(style.UNIT_COLORS)], linewidth=2.2)
    _small_panel(ax, row.limits, name)


def _update_unit_map(ax: Axes, image, clim, line, name: str) -> None:
    ax.images[0].set_data(image)
    ax.images[0].set_clim(*clim)
    ax.lines[0].set_data(*line)
    ax.title.set_text(name)


def _output_map(ax: Axes, row: _Row, P: np.ndarray) -> None:
    """Draws (first call) or redraws the network's decision regions."""
    contours = [c for c in ax.collections if isinstance(c, ContourSet)]
    if contours:
        for c in contours:
            c.remove()
        style.draw_regions(ax, row.xx, row.yy, P.reshape(row.xx.shape))
        return
    static.decision_regions(
        row.X, row.y, lambda _: P, resolution=row.xx.shape[0], legend=False, ax=ax, title=None
    )
    for points in ax.collections[-2:]:
        if isinstance(points, PathCollection):
            points.set_sizes([5])
            points.set_linewidth(0)
    _small_panel(ax, row.limits, "output")


def _small_panel(ax: Axes, limits, title: str) -> None:
    ax.set_xlim(*limits[0])
    ax.set_ylim(*limits[1])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.grid(False)
    ax.set_title(title, fontsize=style.FONT_SIZE - 1, pad=3)


def _activation_range(act: _activations.Activation, A: np.ndarray) -> tuple[float, float]:
    if act.name == "sigmoid":
        return 0.0, 1.0
    if act.name == "tanh":
        return -1.0, 1.0
    lo, hi = float(A.min()), float(A.max())
    return lo, hi if hi > lo else lo + 1.0


@functools.partial(jax.jit, static_argnames="activation")
def _unit_data(params, grid, activation):
    inter = mlp.forward_with_intermediates(params, grid, activation)
    return inter.h[1], jax.nn.sigmoid(inter.s[-1][:, 0])


def _is_params(obj) -> bool:
    return isinstance(obj, tuple) and bool(obj) and hasattr(obj[0], "W")


class _UnitMaps(NamedTuple):
    figure: Figure
    draw: Callable[[Sequence[mlp.Params], str | None], None]


def _unit_maps(
    X,
    y,
    sizes: Sequence[tuple[int, ...]],
    *,
    act,
    labels,
    show_output,
    resolution,
    panel_size,
    title,
) -> _UnitMaps:
    """Lays out the unit-map figure once; ``draw(networks, title)`` (re)draws every map."""
    if not sizes:
        raise ValueError("networks must hold at least one network (params)")
    if labels is not None and len(labels) != len(sizes):
        raise ValueError(f"labels must have {len(sizes)} entries, got {len(labels)}")
    for s in sizes:
        if len(s) < 3:
            raise ValueError(f"every network needs a hidden layer, got sizes {s}")
        X_np, y_np = style.check_binary_2d(s, X, y)
    if not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    limits = style.plane_limits(X_np)
    xx, yy, grid_points = style.grid(limits, resolution=resolution)
    row = _Row(X_np, y_np, limits, xx, yy)
    fig, grid_axes = _unit_layout(
        [s[1] for s in sizes],
        show_output=show_output,
        panel_size=panel_size,
        labels=labels,
        title=title,
    )

    def draw(networks: Sequence[mlp.Params], text: str | None) -> None:
        for axes, p in zip(grid_axes, networks, strict=True):
            A, P = (np.asarray(a, np.float64) for a in _unit_data(p, grid_points, act))
            _draw_unit_row(axes, row, A, P, p, act, show_output=show_output)
        if text:
            fig.suptitle(text, fontsize=style.FONT_SIZE + 1)

    return _UnitMaps(fig, draw)


def hidden_unit_maps(
    X,
    y,
    networks: mlp.Params | Sequence[mlp.Params],
    *,
    activation: mlp.ActivationLike = "sigmoid",
    labels: Sequence[str] | None = None,
    show_output: bool = True,
    resolution: int = 60,
    panel_size: float = 1.45,
    title: str | None = None,
) -> Figure:
    """A small map per hidden unit of its activation over the input plane (as TensorFlow
    Playground shows), with the unit's line ``w_i . x + b_i = 0`` drawn on it.

    One row per network: its first hidden layer's units (white = low, grey =
    high activation), then (``show_output``) the network's decision regions.
    With one hidden layer, each map's title gives the unit's outgoing weight
    ``w_m,i``: its sign says which class the unit votes for when it is on.

    Args:
      X: (n, 2) data, drawn small on each map.
      y: (n,) labels in {0, 1}.
      networks: one network (params) or a sequence of networks; 2 inputs, 1 output.
      activation: hidden-layer activation.
      labels: one row label per network, e.g. ``"3 hidden units"``.
      show_output: add the network's decision regions at the end of each row.
      resolution: grid points per side of each map.
      panel_size: inches per map.
      title: figure title.

    Returns:
      The Figure: one axes per unit (with one line: the unit's) plus one per output map.

    >>> import jaxmlp, numpy as np
    >>> p = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> fig = hidden_unit_maps(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0, 1]), p)
    >>> len(fig.axes)
    4
    """
    networks = (
        [cast(mlp.Params, networks)]
        if _is_params(networks)
        else list(cast(Sequence[mlp.Params], networks))
    )
    sizes = [validation.check_params(p) for p in networks]
    maps = _unit_maps(
        X,
        y,
        sizes,
        act=_activations.get(activation),
        labels=labels,
        show_output=show_output,
        resolution=resolution,
        panel_size=panel_size,
        title=title,
    )
    maps.draw(networks, title)
    return maps.figure


def hidden_units_animation(
    X,
    y,
    snapshots: mlp.Params | Sequence[mlp.Params],
    snapshot_steps,
    *,
    activation: mlp.ActivationLike = "sigmoid",
    frames: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    show_output: bool = True,
    resolution: int = 50,
    panel_size: float = 1.45,
    title: str | None = None,
) -> Animation:
    """:func:`hidden_unit_maps` over training: one frame per snapshot, every network at once.

    Args:
      X: (n, 2) data.
      y: (n,) labels in {0, 1}.
      snapshots: stacked snapshots of one network, or a sequence of them (one
        per network), all taken at ``snapshot_steps`` (train every network with
        the same ``steps`` and ``snapshot_every``).
      snapshot_steps: (m,) the step of each snapshot.
      activation, labels, show_output, resolution, panel_size: as in
        :func:`hidden_unit_maps`.
      frames: which snapshots to draw, in order; default all.
      title: figure title; each frame appends its step.

    Returns:
      An :class:`Animation`.

    >>> import jax.numpy as jnp, optax, jaxmlp
    >>> X = jnp.array([[0.0, 0.0], [1.0, 1.0]]); y = jnp.array([0, 1])
    >>> p = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> r = jaxmlp.train(p, X, y, optimizer=optax.sgd(1.0), steps=4, snapshot_every=2)
    >>> hidden_units_animation(X, y, r.snapshots, r.snapshot_steps, resolution=8).n_frames
    3
    """
    stacks: list[mlp.Params] = (
        [cast(mlp.Params, snapshots)]
        if _is_params(snapshots)
        else list(cast(Sequence[mlp.Params], snapshots))
    )
    stacks = [jax.tree.map(np.asarray, s) for s in stacks]  # host copies: no compiles per frame
    counts = [snapshot_count(s) for s in stacks]
    steps_all = np.asarray(snapshot_steps)
    if not counts or steps_all.ndim != 1 or any(c != steps_all.shape[0] for c in counts):
        raise ValueError(
            f"every network needs one snapshot per entry of snapshot_steps "
            f"(shape {steps_all.shape}), got counts {counts}"
        )
    idx = np.arange(counts[0]) if frames is None else np.asarray(frames, dtype=int)
    if idx.ndim != 1 or idx.size < 1 or idx.min() < 0 or idx.max() >= counts[0]:
        raise ValueError(f"frames must be indices in [0, {counts[0]}), got {frames}")
    maps = _unit_maps(
        X,
        y,
        [mlp.sizes_of(snapshot_at(s, 0)) for s in stacks],
        act=_activations.get(activation),
        labels=labels,
        show_output=show_output,
        resolution=resolution,
        panel_size=panel_size,
        title=title,
    )

    def update(i: int) -> None:
        if not 0 <= i < idx.size:
            raise ValueError(f"frame must be in [0, {idx.size}), got {i}")
        step = int(steps_all[idx[i]])
        maps.draw(
            [snapshot_at(s, int(idx[i])) for s in stacks],
            f"{title + '   ' if title else ''}step {step}",
        )

    update(0)
    # Lay the figure out once, then keep the layout: re-solving it every frame
    # costs as much as drawing, and frames would jitter as the titles change.
    FigureCanvasAgg(maps.figure).draw()
    maps.figure.set_layout_engine(None)
    return Animation(maps.figure, update, int(idx.size), steps_all[idx])
