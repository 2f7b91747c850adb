"""Watching a network learn: the training animation, its snapshots and GIF writing.

Frames come from parameter snapshots recorded inside one compiled training run
(``jaxmlp.train(..., snapshot_every=k)``), never from re-running training per
frame. An animation is a :class:`~matplotlib.figure.Figure` plus an
``update(i)`` that redraws it as frame ``i``; :func:`save_gif` writes it with
Pillow (a matplotlib dependency). No pyplot state is touched, so everything runs
headless.

The colours are those of :mod:`jaxmlp.plots.style`: classes blue and
vermillion, hidden unit ``i`` in ``UNIT_COLORS[i]`` in every figure (its line in
the input plane, its map in :mod:`~jaxmlp.plots.unit_maps`, its node in
:mod:`~jaxmlp.plots.network`).
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
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from mpl_toolkits.mplot3d import Axes3D
from mpl_toolkits.mplot3d.art3d import Poly3DCollection
from PIL import Image

from jaxmlp import activations as _activations
from jaxmlp import losses, mlp, validation
from jaxmlp.plots import static, style
from jaxmlp.plots.geometry import hidden_box, line_through_box, plane_in_box

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
    X, y = style.check_binary_2d(sizes, X, y)
    steps_all, loss, idx = _check_frames(m, snapshot_steps, loss, frames, resolution)
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
    panels = [_plane_panel(ax_plane, X, y, P_grid, stacked[0], limits, (xx, yy), show_lines)]
    if three_d:
        ax_hidden = fig.add_axes((width - 0.01, 0.08, width + 0.02, 0.84), projection="3d")
        panels.append(_hidden_panel(ax_hidden, H, y, stacked, act))
    panels.append(_loss_panel(ax_loss, loss, steps, int(steps_all[-1]), frame_loss))

    def update(i: int) -> None:
        if not 0 <= i < idx.size:
            raise ValueError(f"frame must be in [0, {idx.size}), got {i}")
        for panel in panels:
            panel(i)
        caption.set_text(
            f"step {int(steps[i])}   loss {frame_loss[i]:.3f}   accuracy {accuracy[i]:.0%}"
        )

    update(0)
    return Animation(fig, update, int(idx.size), steps)


def _check_frames(m: int, snapshot_steps, loss, frames, resolution):
    """Checks :func:`training_animation`'s inputs; returns ``(steps (m,), loss, frames)``."""
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
    return steps_all, loss, idx


def _plane_panel(
    ax: Axes, X, y, P_grid: np.ndarray, first_layer: mlp.Dense, limits, mesh, show_lines: bool
) -> Callable[[int], None]:
    """Panel 1: decision regions and (``show_lines``) the first hidden layer's lines.

    ``P_grid`` (frames, r*r) is P(class 1) on the grid ``mesh = (xx, yy)``;
    ``first_layer`` holds the first layer's stacked ``W`` (frames, units, 2) and ``b``.
    Returns ``update(i)``, which redraws the panel as frame ``i``.
    """
    xx, yy = mesh
    static.decision_regions(
        X,
        y,
        lambda _: P_grid[0],
        resolution=xx.shape[0],
        legend=False,
        title="input plane: the network's decision",
        ax=ax,
    )
    W0 = np.asarray(first_layer.W, np.float64)  # (frames, units, 2)
    b0 = np.asarray(first_layer.b, np.float64)
    lines = [
        ax.plot(
            [], [], color=style.UNIT_COLORS[j % len(style.UNIT_COLORS)], linewidth=1.4, zorder=4
        )[0]
        for j in range(W0.shape[1] if show_lines else 0)
    ]
    # decision_regions drew frame 0's regions; from here on, style.draw_regions draws them.
    contours = [c for c in ax.collections if isinstance(c, ContourSet)]

    def update(i: int) -> None:
        for c in contours:
            c.remove()
        contours[:] = style.draw_regions(ax, xx, yy, P_grid[i].reshape(xx.shape))
        for j, line in enumerate(lines):
            line.set_data(*line_through_box(W0[i, j], float(b0[i, j]), limits))

    return update


def _hidden_panel(ax: Axes, H: np.ndarray, y, stacked, act) -> Callable[[int], None]:
    """Panel 2 (2-3-1 networks): the points in hidden space and the output unit's plane.

    ``H`` (frames, n, 3) are the hidden activations of X at each frame.
    Returns ``update(i)``, which moves the points and the plane to frame ``i``.
    """
    box = hidden_box(H, act)
    static.hidden_projection(
        H[0],
        y,
        stacked[1].W[0, 0],
        stacked[1].b[0, 0],
        box=box,
        legend=False,
        title=f"hidden space $h = {_math_name(act)}(Wx + b)$",
        ax=ax,
    )
    for points in ax.collections[:2]:  # larger points than the still figure's
        if isinstance(points, PathCollection):
            points.set_sizes([22])
            if hasattr(points, "_sizes3d"):  # 3-D scatters redraw from this copy
                setattr(points, "_sizes3d", points.get_sizes())  # noqa: B010
    w_out = np.asarray(stacked[1].W[:, 0, :], np.float64)  # (frames, 3)
    b_out = np.asarray(stacked[1].b[:, 0], np.float64)

    def update(i: int) -> None:
        _move_hidden(ax, H[i], y, w_out[i], float(b_out[i]), box)

    return update


def _move_hidden(ax: Axes, H: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, box) -> None:
    """Moves the class scatters and the output plane drawn by :func:`static.hidden_projection`."""
    scatters = [c for c in ax.collections if not isinstance(c, Poly3DCollection)]
    for label, scatter in zip((0, 1), scatters, strict=False):
        mask = y == label
        setattr(scatter, "_offsets3d", (H[mask, 0], H[mask, 1], H[mask, 2]))  # noqa: B010
    planes = [c for c in ax.collections if isinstance(c, Poly3DCollection)]
    lo, hi = np.asarray(box[0], np.float64), np.asarray(box[1], np.float64)
    polygon = plane_in_box(w, b, lo, hi) if np.linalg.norm(w) > 0 else np.zeros((0, 3))
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


def _loss_panel(
    ax: Axes, loss: np.ndarray, steps: np.ndarray, last_step: int, frame_loss: np.ndarray
) -> Callable[[int], None]:
    """Panel 3: the whole loss curve in grey, the part up to frame ``i`` in colour.

    ``loss`` (steps,) is the loss per step, ``steps`` (frames,) the step of each
    frame and ``frame_loss`` (frames,) its loss. Returns ``update(i)``.
    """
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
    loss_x = np.arange(loss.size)

    def update(i: int) -> None:
        progress.set_data(loss_x[: steps[i] + 1], loss[: steps[i] + 1])
        marker.set_data([steps[i]], [frame_loss[i]])

    return update


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
