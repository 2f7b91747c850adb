"""Watching a network learn: training animations, per-unit maps and the network graph.

Frames come from parameter snapshots recorded inside one compiled training run
(``jaxmlp.train(..., snapshot_every=k)``), never from re-running training per
frame. An animation is a :class:`~matplotlib.figure.Figure` plus an
``update(i)`` that redraws it as frame ``i``; :func:`save_gif` writes it with
Pillow (a matplotlib dependency). No pyplot state is touched, so everything runs
headless.

The colours are those of :mod:`jaxmlp.plots.style`: classes blue and
vermillion, hidden unit ``i`` in ``UNIT_COLORS[i]`` in every figure (its line in
the input plane, its map, its node in the graph).
"""

from __future__ import annotations

import contextlib
import functools
import pathlib
from collections.abc import Callable, Sequence
from typing import NamedTuple, cast

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyBboxPatch, Patch
from mpl_toolkits.mplot3d import Axes3D
from mpl_toolkits.mplot3d.art3d import Poly3DCollection
from PIL import Image

from jaxmlp import activations as _activations
from jaxmlp import losses, mlp, validation
from jaxmlp.plots import static, style

# Positive weights push towards class 1 (vermillion), negative towards class 0 (blue).
POSITIVE_COLOR, NEGATIVE_COLOR = style.CLASS_COLORS[1], style.CLASS_COLORS[0]
# A unit's activation over the plane: white (low) to a mid grey (high), so the
# class-coloured data and the unit's coloured line stay readable on top.
ACTIVATION_CMAP = LinearSegmentedColormap.from_list("jaxmlp_activation", ["#FFFFFF", "#7A7A7A"])
PLANE_COLOR = style.UNIT_COLORS[0]  # colour of the output unit's plane in static.hidden_projection


class Animation(NamedTuple):
    """A figure and the function that redraws it as a given frame.

    Attributes:
      figure: the Figure every frame is drawn on.
      update: ``update(i)`` redraws the figure as frame ``i`` (0 <= i < n_frames).
      n_frames: number of frames.
      steps: (n_frames,) the training step each frame shows.
    """

    figure: Figure
    update: Callable[[int], None]
    n_frames: int
    steps: np.ndarray


# ----------------------------------------------------------------------------- snapshots


def snapshot_count(snapshots: mlp.Params) -> int:
    """Checks stacked snapshots (a Params pytree with a leading axis); returns their number."""
    if not isinstance(snapshots, (tuple, list)) or not snapshots:
        raise TypeError(
            "snapshots must be stacked params (TrainResult.snapshots, a tuple of Dense "
            f"with a leading snapshot axis), got {type(snapshots).__name__}"
        )
    counts = {int(np.shape(leaf)[0]) for leaf in jax.tree.leaves(snapshots) if np.ndim(leaf)}
    if len(counts) != 1:
        raise ValueError(f"every snapshot leaf must have the same leading axis, got {counts}")
    first = jax.tree.map(lambda a: np.asarray(a)[0], snapshots)
    validation.check_params(first)
    return counts.pop()


def snapshot_at(snapshots: mlp.Params, i: int) -> mlp.Params:
    """The params of snapshot ``i`` from stacked snapshots (``TrainResult.snapshots``).

    >>> import optax, jaxmlp
    >>> X = jnp.array([[0.0, 0.0], [1.0, 1.0]]); y = jnp.array([0, 1])
    >>> p = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> r = jaxmlp.train(p, X, y, optimizer=optax.sgd(1.0), steps=4, snapshot_every=2)
    >>> snapshot_at(r.snapshots, 0)[0].W.shape
    (3, 2)
    """
    m = snapshot_count(snapshots)
    if not -m <= i < m:
        raise ValueError(f"i must be in [-{m}, {m}), got {i}")
    return jax.tree.map(lambda a: np.asarray(a)[i], snapshots)


def frame_indices(n_snapshots: int, n_frames: int, *, power: float = 1.0) -> np.ndarray:
    """``n_frames`` distinct snapshot indices from first to last, denser early if ``power > 1``.

    Training changes fastest at the start, so ``power=2`` spends more frames
    there: index ``round((n - 1) * t**power)`` for ``t`` evenly spaced in [0, 1].

    >>> frame_indices(11, 4).tolist()
    [0, 3, 7, 10]
    """
    if n_snapshots < 1 or n_frames < 1:
        raise ValueError(f"n_snapshots and n_frames must be >= 1, got {n_snapshots}, {n_frames}")
    if power <= 0:
        raise ValueError(f"power must be > 0, got {power}")
    n_frames = min(n_frames, n_snapshots)
    t = np.linspace(0.0, 1.0, n_frames) ** power
    idx = np.unique(np.round((n_snapshots - 1) * t).astype(int))
    # Rounding can merge early indices; top up with the smallest unused ones.
    missing = n_frames - idx.size
    if missing:
        free = np.setdiff1d(np.arange(n_snapshots), idx)[:missing]
        idx = np.sort(np.concatenate([idx, free]))
    return idx


@functools.partial(jax.jit, static_argnames="activation")
def _frame_data(stacked, X, y, grid, activation):
    """Per snapshot: first hidden layer on X, P(class 1) on the grid and X, the loss."""

    def one(params):
        on_x = mlp.forward_with_intermediates(params, X, activation)
        logits_grid = mlp.forward_with_intermediates(params, grid, activation).s[-1]
        return (
            on_x.h[1] if len(params) > 1 else X,
            jax.nn.sigmoid(logits_grid[:, 0]),
            jax.nn.sigmoid(on_x.s[-1][:, 0]),
            losses.mean_cross_entropy(on_x.s[-1], y),
        )

    return jax.vmap(one)(stacked)


def _check_binary_2d(sizes: tuple[int, ...], X, y) -> tuple[np.ndarray, np.ndarray]:
    if sizes[0] != 2 or sizes[-1] != 1:
        raise ValueError(
            f"the input-plane figures need 2 inputs and 1 output unit, got sizes {sizes}"
        )
    return style.check_points(X, y)


# ----------------------------------------------------------------------------- training.gif


def training_animation(
    X,
    y,
    snapshots: mlp.Params,
    snapshot_steps,
    loss,
    *,
    activation: mlp.ActivationLike = "sigmoid",
    frames: Sequence[int] | None = None,
    resolution: int = 90,
    unit_lines: bool = True,
    title: str | None = None,
) -> Animation:
    """Training as it happens: decision regions, the 3-D hidden space and the loss curve.

    Panels, side by side: (1) the input plane coloured by the predicted class,
    with the decision boundary and (``unit_lines``) each hidden unit's line
    ``w_i . x + b_i = 0``; (2) for a 2-3-1 network, the hidden space
    ``h = g(W x + b)`` with the output unit's separating plane; (3) the loss
    per step with a marker at the frame's step. Other sizes (one output, two
    inputs) get panels (1) and (3).

    Args:
      X: (n, 2) training inputs.
      y: (n,) labels in {0, 1}.
      snapshots: params stacked on a leading axis of m snapshots
        (``TrainResult.snapshots``).
      snapshot_steps: (m,) the step of each snapshot (``TrainResult.snapshot_steps``).
      loss: (steps,) loss per step (``TrainResult.loss``).
      activation: hidden-layer activation used in training.
      frames: which snapshots to draw, in order; default all of them.
      resolution: grid points per side of the decision-region panel.
      unit_lines: draw the first hidden layer's lines in the input plane.
      title: a line above the per-frame caption.

    Returns:
      An :class:`Animation` with one frame per drawn snapshot.

    >>> import optax, jaxmlp
    >>> X = jnp.array([[0.0, 0.0], [1.0, 1.0]]); y = jnp.array([0, 1])
    >>> p = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> r = jaxmlp.train(p, X, y, optimizer=optax.sgd(1.0), steps=4, snapshot_every=2)
    >>> anim = training_animation(X, y, r.snapshots, r.snapshot_steps, r.loss, resolution=10)
    >>> anim.n_frames, len(anim.figure.axes)
    (3, 3)
    """
    act = _activations.get(activation)
    m = snapshot_count(snapshots)
    sizes = mlp.sizes_of(snapshot_at(snapshots, 0))
    X, y = _check_binary_2d(sizes, X, y)
    steps_all = np.asarray(snapshot_steps)
    if steps_all.shape != (m,):
        raise ValueError(f"snapshot_steps must have shape ({m},), got {steps_all.shape}")
    loss = np.asarray(loss, np.float64)
    if loss.ndim != 1 or loss.size < 1:
        raise ValueError(f"loss must be a non-empty 1-D array (steps,), got shape {loss.shape}")
    idx = np.arange(m) if frames is None else np.asarray(frames, dtype=int)
    if idx.ndim != 1 or idx.size < 1 or idx.min() < 0 or idx.max() >= m:
        raise ValueError(f"frames must be a non-empty list of indices in [0, {m}), got {frames}")
    if not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")

    limits = style.plane_limits(X)
    xx, yy, grid_points = style.grid(limits, resolution=resolution)
    stacked = jax.tree.map(lambda a: np.asarray(a)[idx], snapshots)  # host copies: no compiles
    H, P_grid, P_x, frame_loss = (
        np.asarray(a, np.float64)
        for a in _frame_data(stacked, jnp.asarray(X), jnp.asarray(y), grid_points, act)
    )
    accuracy = ((P_x >= 0.5) == (y[None, :] == 1)).mean(axis=1)
    steps = steps_all[idx]
    three_d = sizes == (2, 3, 1)
    box = _hidden_box(H, act) if three_d else None
    first = snapshot_at(stacked, 0)

    fig = Figure(figsize=(13.2 if three_d else 9.0, 4.6), dpi=style.DPI)
    width = 1.0 / (3 if three_d else 2)
    ax_plane = fig.add_axes((0.045, 0.16, width - 0.075, 0.66))
    ax_loss = fig.add_axes((1 - width + 0.05, 0.16, width - 0.075, 0.66))
    caption = fig.text(0.5, 0.965, "", ha="center", va="top", fontsize=style.FONT_SIZE + 3)
    if title:
        fig.text(0.5, 0.995, title, ha="center", va="top", fontsize=style.FONT_SIZE + 1)
    show_lines = unit_lines and len(sizes) > 2
    _training_legend(fig, three_d=three_d, unit_lines=show_lines)

    # Everything that does not move is drawn once by the static figure functions;
    # each frame only replaces the regions and lines and moves the points and plane
    # (re-creating axes and text per frame would cost several times more).
    plane_title = "input plane: the network's decision"
    static.decision_regions(
        X,
        y,
        lambda _: P_grid[0],
        resolution=resolution,
        legend=False,
        title=plane_title,
        ax=ax_plane,
    )
    W0 = np.asarray(stacked[0].W, np.float64)  # (frames, units, 2)
    b0 = np.asarray(stacked[0].b, np.float64)
    lines = [
        ax_plane.plot(
            [], [], color=style.UNIT_COLORS[j % len(style.UNIT_COLORS)], linewidth=1.4, zorder=4
        )[0]
        for j in range(W0.shape[1] if show_lines else 0)
    ]
    hidden = None
    if three_d:
        ax_hidden = fig.add_axes((width - 0.01, 0.08, width + 0.02, 0.84), projection="3d")
        static.hidden_projection(
            H[0],
            y,
            first[1].W[0],
            first[1].b[0],
            box=box,
            legend=False,
            title=f"hidden space $h = {_math_name(act)}(Wx + b)$",
            ax=ax_hidden,
        )
        for points in ax_hidden.collections[:2]:  # larger points than the still figure's
            if isinstance(points, PathCollection):
                points.set_sizes([22])
                if hasattr(points, "_sizes3d"):  # 3-D scatters redraw from this copy
                    setattr(points, "_sizes3d", points.get_sizes())  # noqa: B010
        w_out = np.asarray(stacked[1].W[:, 0, :], np.float64)  # (frames, 3)
        b_out = np.asarray(stacked[1].b[:, 0], np.float64)
        hidden = (ax_hidden, w_out, b_out)
    loss_x = np.arange(loss.size)
    progress, marker = _loss_panel(ax_loss, loss, int(steps_all[-1]), frame_loss)
    # decision_regions drew frame 0's regions; from here on, _regions draws them.
    contours = [c for c in ax_plane.collections if isinstance(c, ContourSet)]

    def update(i: int) -> None:
        if not 0 <= i < idx.size:
            raise ValueError(f"frame must be in [0, {idx.size}), got {i}")
        for c in contours:
            c.remove()
        contours[:] = _regions(ax_plane, xx, yy, P_grid[i].reshape(xx.shape))
        for j, line in enumerate(lines):
            line.set_data(*static._line_through_box(W0[i, j], float(b0[i, j]), limits))
        if hidden is not None:
            _move_hidden(hidden[0], H[i], y, hidden[1][i], float(hidden[2][i]), box)
        progress.set_data(loss_x[: steps[i] + 1], loss[: steps[i] + 1])
        marker.set_data([steps[i]], [frame_loss[i]])
        caption.set_text(
            f"step {int(steps[i])}   loss {frame_loss[i]:.3f}   accuracy {accuracy[i]:.0%}"
        )

    update(0)
    return Animation(fig, update, int(idx.size), steps)


def _move_hidden(ax: Axes, H: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, box) -> None:
    """Moves the class scatters and the output plane drawn by :func:`static.hidden_projection`."""
    scatters = [c for c in ax.collections if not isinstance(c, Poly3DCollection)]
    for label, scatter in zip((0, 1), scatters, strict=False):
        mask = y == label
        setattr(scatter, "_offsets3d", (H[mask, 0], H[mask, 1], H[mask, 2]))  # noqa: B010
    planes = [c for c in ax.collections if isinstance(c, Poly3DCollection)]
    lo, hi = np.asarray(box[0], np.float64), np.asarray(box[1], np.float64)
    polygon = static._plane_in_box(w, b, lo, hi) if np.linalg.norm(w) > 0 else np.zeros((0, 3))
    if planes:
        planes[0].set_visible(len(polygon) > 0)
        if len(polygon):
            planes[0].set_verts([polygon])
    elif len(polygon):
        cast(Axes3D, ax).add_collection3d(
            Poly3DCollection(
                [polygon],
                facecolors=PLANE_COLOR,
                alpha=0.25,
                edgecolors=PLANE_COLOR,
                linewidths=1.0,
            )
        )


def _hidden_box(H: np.ndarray, act: _activations.Activation):
    """A fixed cube for the hidden space: the unit cube for sigmoid, else the data's range."""
    if act.name == "sigmoid":
        return (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    lo, hi = H.min(axis=(0, 1)), H.max(axis=(0, 1))
    pad = 0.04 * max(float((hi - lo).max()), 1e-6)
    return tuple(lo - pad), tuple(hi + pad)


def _loss_panel(
    ax: Axes, loss: np.ndarray, last_step: int, frame_loss: np.ndarray
) -> tuple[Line2D, Line2D]:
    """The whole loss curve in grey; returns the (empty) progress line and marker to update."""
    ax.plot(np.arange(loss.size), loss, color="#BBBBBB", linewidth=1.5, zorder=2)
    (progress,) = ax.plot([], [], color=style.CURVE_COLORS[0], linewidth=2.0, zorder=3)
    (marker,) = ax.plot([], [], "o", color=style.CLASS_COLORS[1], markersize=8, zorder=4)
    ax.set_yscale("log")
    ax.set_xlim(-0.02 * max(last_step, 1), 1.02 * max(last_step, 1))
    values = np.concatenate([loss, frame_loss])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size:
        ax.set_ylim(0.7 * values.min(), 1.4 * values.max())
    ax.set_title("training loss", fontsize=style.FONT_SIZE + 1)
    ax.set_xlabel("step", fontsize=style.FONT_SIZE)
    ax.set_ylabel("mean BCE (log scale)", fontsize=style.FONT_SIZE)
    ax.tick_params(labelsize=style.FONT_SIZE - 1)
    ax.grid(True, which="major", color="#E5E5E5", linewidth=0.6)
    return progress, marker


def _regions(ax: Axes, xx: np.ndarray, yy: np.ndarray, proba: np.ndarray) -> list:
    """Filled class regions and the 0.5 boundary, drawn as :func:`static.decision_regions` does."""
    drawn = [
        ax.contourf(xx, yy, proba, levels=[-0.01, 0.5, 1.01], colors=style.REGION_COLORS, zorder=1)
    ]
    if proba.min() < 0.5 <= proba.max():
        drawn.append(
            ax.contour(
                xx, yy, proba, levels=[0.5], colors=style.BOUNDARY_COLOR, linewidths=1.4, zorder=2
            )
        )
    return drawn


def _clear(ax: Axes) -> None:
    """Removes what a frame drew (keeps the axes, ticks and labels: much faster than cla)."""
    for artist in [*ax.collections, *ax.lines, *ax.patches, *ax.texts, *ax.images]:
        artist.remove()


def _math_name(act: _activations.Activation) -> str:
    return {"sigmoid": r"\sigma", "tanh": r"\tanh"}.get(act.name, rf"\mathrm{{{act.name}}}")


def _training_legend(fig: Figure, *, three_d: bool, unit_lines: bool) -> None:
    handles: list[Artist] = [
        Line2D([], [], marker=m, linestyle="", color=c, label=f"class {k}")
        for k, (m, c) in enumerate(zip(style.CLASS_MARKERS, style.CLASS_COLORS, strict=True))
    ]
    handles.append(style.boundary_handle())
    if unit_lines:
        handles.append(
            Line2D([], [], color=style.UNIT_COLORS[1], linewidth=1.3, label="hidden unit's line")
        )
    if three_d:
        handles.append(
            Patch(facecolor=PLANE_COLOR, alpha=0.35, edgecolor=PLANE_COLOR, label="output plane")
        )
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        frameon=False,
        fontsize=style.FONT_SIZE,
    )


# ----------------------------------------------------------------------------- unit maps


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


def _draw_unit_row(
    axes: list[Axes],
    X: np.ndarray,
    y: np.ndarray,
    limits,
    xx: np.ndarray,
    yy: np.ndarray,
    A: np.ndarray,
    P: np.ndarray,
    params: mlp.Params,
    act: _activations.Activation,
    *,
    show_output: bool,
) -> None:
    """Draws (first call) or updates one row: unit maps with their lines, then the output."""
    vmin, vmax = _activation_range(act, A)
    W, b = np.asarray(params[0].W, np.float64), np.asarray(params[0].b, np.float64)
    w_out = np.asarray(params[1].W[0], np.float64) if len(params) == 2 else None
    for j in range(A.shape[1]):
        ax = axes[j]
        image = A[:, j].reshape(xx.shape)
        line = static._line_through_box(W[j], float(b[j]), limits)
        name = f"unit {j + 1}"
        if w_out is not None:
            name += f" ({w_out[j]:+.1f})"
        if ax.images:  # a later frame: update what the first one drew
            ax.images[0].set_data(image)
            ax.images[0].set_clim(vmin, vmax)
            ax.lines[0].set_data(*line)
            ax.title.set_text(name)
            continue
        ax.imshow(
            image,
            extent=(*limits[0], *limits[1]),
            origin="lower",
            cmap=ACTIVATION_CMAP,
            vmin=vmin,
            vmax=vmax,
            interpolation="bilinear",
            zorder=1,
        )
        for points in style.scatter_classes(ax, X, y, size=5):
            points.set_linewidths(0)
        ax.plot(*line, color=style.UNIT_COLORS[j % len(style.UNIT_COLORS)], linewidth=2.2)
        _small_panel(ax, limits, name)
    if show_output:
        ax = axes[-1]
        contours = [c for c in ax.collections if isinstance(c, ContourSet)]
        if contours:
            for c in contours:
                c.remove()
            _regions(ax, xx, yy, P.reshape(xx.shape))
            return
        static.decision_regions(
            X, y, lambda _: P, resolution=xx.shape[0], legend=False, ax=ax, title=None
        )
        for points in ax.collections[-2:]:
            if isinstance(points, PathCollection):
                points.set_sizes([5])
                points.set_linewidth(0)
        _small_panel(ax, limits, "output")


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
        X_np, y_np = _check_binary_2d(s, X, y)
    if not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    limits = style.plane_limits(X_np)
    xx, yy, grid_points = style.grid(limits, resolution=resolution)
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
            _draw_unit_row(axes, X_np, y_np, limits, xx, yy, A, P, p, act, show_output=show_output)
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

    >>> import optax, jaxmlp
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


# ----------------------------------------------------------------------------- network.png


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

    >>> import jaxmlp
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
    tallest = max(sizes)
    gap = min(1.2, 9.0 / tallest)  # vertical distance between nodes
    radius = min(0.3, 0.36 * gap)
    dx = 2.6  # horizontal distance between layers

    def column(count: int) -> np.ndarray:
        return gap * (np.arange(count) - (count - 1) / 2.0)[::-1]

    ys = [column(s) for s in sizes]
    bias_y = [-gap * (s - 1) / 2.0 - max(gap, 0.9) for s in sizes[:-1]]  # below each layer
    top = gap * (tallest - 1) / 2.0 + 0.5
    bottom = min(bias_y) - 0.5
    if ax is None:
        inch = 0.85  # inches per data unit
        fig = Figure(
            figsize=(inch * (dx * (len(sizes) - 1) + 1.6), inch * (top - bottom + 0.8) + 0.9),
            dpi=style.DPI,
            layout="constrained",
        )
        ax = fig.add_subplot()
    else:
        fig = cast(Figure, ax.figure)
    layers = [np.asarray(layer.W, np.float64) for layer in params]
    biases = [np.asarray(layer.b, np.float64) for layer in params]
    scale = max(
        max(float(np.abs(W).max()), float(np.abs(b).max()))
        for W, b in zip(layers, biases, strict=True)
    )
    scale = scale or 1.0
    for layer_i, (W, b) in enumerate(zip(layers, biases, strict=True)):
        x0, x1 = dx * layer_i, dx * (layer_i + 1)
        n_in = W.shape[1]
        # Labels of edges from different sources sit at different distances along
        # the edges, so they do not pile up in one column.
        where = np.linspace(0.22, 0.62, n_in + 1)
        for j in range(W.shape[0]):
            for k in range(n_in):
                _edge(
                    ax,
                    (x0, ys[layer_i][k]),
                    (x1, ys[layer_i + 1][j]),
                    W[j, k],
                    scale,
                    gid="weight",
                    annotate=annotate,
                    t=float(where[k]),
                )
            _edge(
                ax,
                (x0, bias_y[layer_i]),
                (x1, ys[layer_i + 1][j]),
                b[j],
                scale,
                gid="bias",
                annotate=annotate,
                t=float(where[-1]),
            )
    names = list(input_names) if input_names else [f"$x_{{{k + 1}}}$" for k in range(sizes[0])]
    for layer_i, count in enumerate(sizes):
        for j in range(count):
            if layer_i == 0:
                face, label = "#FFFFFF", names[j]
            elif layer_i == len(sizes) - 1:
                face = "#FFFFFF"
                label = "$\\hat y$" if count == 1 else f"$\\hat y_{{{j + 1}}}$"
            elif layer_i == 1:
                face, label = style.UNIT_COLORS[j % len(style.UNIT_COLORS)], f"$h_{{{j + 1}}}$"
            else:
                face, label = "#DDDDDD", f"$h^{{{layer_i}}}_{{{j + 1}}}$"
            ax.add_patch(
                Circle(
                    (dx * layer_i, ys[layer_i][j]),
                    radius,
                    facecolor=face,
                    edgecolor="#333333",
                    linewidth=1.2,
                    zorder=5,
                )
            )
            if count <= 16:
                ax.text(
                    dx * layer_i,
                    ys[layer_i][j],
                    label,
                    ha="center",
                    va="center",
                    fontsize=style.FONT_SIZE + (1 if radius > 0.2 else -2),
                    zorder=6,
                    color="#FFFFFF" if face in ("#000000", style.UNIT_COLORS[4]) else "#000000",
                )
        if layer_i < len(sizes) - 1:
            ax.add_patch(
                FancyBboxPatch(
                    (dx * layer_i - radius * 0.7, bias_y[layer_i] - radius * 0.7),
                    1.4 * radius,
                    1.4 * radius,
                    boxstyle="round,pad=0.02",
                    facecolor="#F2F2F2",
                    edgecolor="#333333",
                    linewidth=1.0,
                    linestyle="--",
                    zorder=5,
                )
            )
            ax.text(
                dx * layer_i,
                bias_y[layer_i],
                "1",
                ha="center",
                va="center",
                fontsize=style.FONT_SIZE,
                zorder=6,
            )
    layer_names = (
        ["input"]
        + [f"hidden {i}" if len(sizes) > 3 else "hidden" for i in range(1, len(sizes) - 1)]
        + ["output"]
    )
    for layer_i, name in enumerate(layer_names):
        ax.text(
            dx * layer_i,
            top,
            f"{name}\n({sizes[layer_i]})",
            ha="center",
            va="bottom",
            fontsize=style.FONT_SIZE,
        )
    ax.set_xlim(-0.8, dx * (len(sizes) - 1) + 0.8)
    ax.set_ylim(bottom, top + 0.8)
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
    return fig


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


# ----------------------------------------------------------------------------- writing


def save_gif(
    animation: Animation,
    path: str | pathlib.Path,
    *,
    fps: float = 8.0,
    dpi: float = 75.0,
    hold_first: int = 0,
    hold_last: int = 0,
) -> pathlib.Path:
    """Writes an :class:`Animation` as a looping GIF (with Pillow, which matplotlib ships with).

    Each frame is rendered once by Agg; pauses on the first and last frame are
    longer frame durations, not repeated frames. (matplotlib's ``PillowWriter``
    does the same with one duration for every frame.)

    Args:
      animation: what to draw.
      path: the .gif file.
      fps: frames per second.
      dpi: resolution of each frame (GIF size grows with its square).
      hold_first, hold_last: show the first / last frame this many frame
        durations longer, so the loop pauses there.

    Returns:
      The path written.
    """
    if fps <= 0 or dpi <= 0 or hold_first < 0 or hold_last < 0:
        raise ValueError(
            f"fps and dpi must be > 0 and holds >= 0, got fps={fps}, dpi={dpi}, "
            f"hold_first={hold_first}, hold_last={hold_last}"
        )
    path = pathlib.Path(path)
    fig = animation.figure
    # A Figure() has a base canvas; a fixed Agg canvas keeps one renderer (and its
    # text caches) for every frame instead of building a new one per frame.
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    frames = []
    with _dpi(fig, dpi):
        for i in range(animation.n_frames):
            animation.update(i)
            canvas.draw()
            frames.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy()))
    step_ms = 1000.0 / fps
    durations = [step_ms] * len(frames)
    durations[0] += hold_first * step_ms
    durations[-1] += hold_last * step_ms
    frames[0].save(
        path,
        save_all=True,
        append_images=frames[1:],
        duration=[round(d) for d in durations],
        loop=0,
    )
    return path


@contextlib.contextmanager
def _dpi(fig: Figure, dpi: float):
    old = fig.get_dpi()
    fig.set_dpi(dpi)
    try:
        yield
    finally:
        fig.set_dpi(old)
