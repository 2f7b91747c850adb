"""Still figures of the post: data, decision regions, unit lines, hidden space, losses.

Every function takes arrays (and, for decision regions, a function that maps
points to probabilities), draws on a new :class:`~matplotlib.figure.Figure` or
on the ``ax`` it is given, and returns the Figure. Save with
``fig.savefig(path)``; no pyplot state is touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import cast

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d.art3d import Poly3DCollection
from mpl_toolkits.mplot3d.axes3d import Axes3D

from jaxmlp.plots import style
from jaxmlp.plots.geometry import line_through_box, plane_in_box

ProbaFn = Callable[[np.ndarray], object]  # (m, 2) float32 points -> (m,) P(class 1)


def _axes(ax: Axes | None, **kwargs) -> tuple[Figure, Axes]:
    if ax is None:
        fig, (ax,) = style.new_figure(**kwargs)
        return fig, ax
    return cast(Figure, ax.figure), ax


def data_scatter(
    X,
    y,
    *,
    title: str | None = None,
    xlabel: str = "$x_1$",
    ylabel: str = "$x_2$",
    class_labels: Sequence[str] = style.CLASS_LABELS,
    equal: bool = True,
    legend: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """Scatter of a two-class data set.

    Args:
      X: (n, 2) points.
      y: (n,) labels in {0, 1}.
      title, xlabel, ylabel: text of the panel.
      class_labels: legend names of class 0 and class 1.
      equal: equal aspect (geometry matters: circles look like circles).
      legend: draw the class legend below the panel.
      ax: draw on these axes instead of a new figure.

    Returns:
      The Figure, with one scatter collection per class.

    >>> import numpy as np
    >>> fig = data_scatter(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0, 1]))
    >>> len(fig.axes[0].collections)
    2
    """
    X, y = style.check_points(X, y)
    fig, ax = _axes(ax)
    style.scatter_classes(ax, X, y, class_labels=class_labels)
    style.style_plane(
        ax, title=title, xlabel=xlabel, ylabel=ylabel, limits=style.plane_limits(X), equal=equal
    )
    if legend:
        style.legend_below(ax)
    return fig


def decision_regions(
    X,
    y,
    proba_fn: ProbaFn,
    *,
    title: str | None = None,
    resolution: int = 200,
    class_labels: Sequence[str] = style.CLASS_LABELS,
    legend: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """The plane coloured by predicted class, the 0.5 boundary, and the data on top.

    Args:
      X: (n, 2) points.
      y: (n,) labels in {0, 1}.
      proba_fn: maps (m, 2) float32 points to (m,) probabilities of class 1, e.g.
        ``functools.partial(jaxmlp.predict_proba, params, activation="sigmoid")``.
      title: panel title.
      resolution: grid points per side.
      class_labels: legend names of the classes.
      legend: draw the legend below the panel.
      ax: draw on these axes instead of a new figure.

    Returns:
      The Figure: filled regions, the boundary contour and the data scatter.

    >>> import numpy as np
    >>> X = np.array([[-1.0, 0.0], [1.0, 0.0]]); y = np.array([0, 1])
    >>> fig = decision_regions(X, y, lambda P: (P[:, 0] > 0).astype(float), resolution=20)
    """
    X, y = style.check_points(X, y)
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(
            f"resolution must be an int >= 2 (grid points per side), got {resolution!r}"
        )
    fig, ax = _axes(ax)
    limits = style.plane_limits(X)
    xx, yy, points = style.grid(limits, resolution=resolution)
    proba = np.asarray(proba_fn(points), dtype=np.float64)
    if proba.shape != (points.shape[0],):
        raise ValueError(
            f"proba_fn must map ({points.shape[0]}, 2) points to ({points.shape[0]},) "
            f"probabilities, got shape {proba.shape}"
        )
    proba = proba.reshape(xx.shape)
    style.draw_regions(ax, xx, yy, proba)
    style.scatter_classes(ax, X, y, class_labels=class_labels)
    style.style_plane(ax, title=title, limits=limits)
    if legend:
        style.legend_below(ax, extra=[style.boundary_handle()])
    return fig


def linear_boundaries(
    X,
    y,
    W,
    b,
    *,
    title: str | None = None,
    line_labels: Sequence[str] | None = None,
    xlabel: str = "$x_1$",
    ylabel: str = "$x_2$",
    shade_intersection: bool = False,
    class_labels: Sequence[str] = style.CLASS_LABELS,
    show_data: bool = True,
    colors: Sequence[str] = style.UNIT_COLORS,
    linestyle: str = "-",
    legend: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """Straight lines ``w_i . x + b_i = 0`` of linear units drawn over the data.

    Args:
      X: (n, 2) points (inputs, or features such as ``[x1^2, x2^2]``).
      y: (n,) labels in {0, 1}.
      W: (m, 2) one row per unit (the rows of a layer's ``W``).
      b: (m,) biases.
      title, xlabel, ylabel: text of the panel.
      line_labels: m legend entries; default ``"unit i"``.
      shade_intersection: tint the region where every unit is positive
        (``w_i . x + b_i >= 0`` for all i), e.g. the triangle three lines enclose.
      class_labels: legend names of the classes.
      show_data: scatter the points (off when adding lines to a drawn panel).
      colors: line colours, cycled; default the unit palette.
      linestyle: matplotlib line style of every line.
      legend: draw the legend below the panel.
      ax: draw on these axes instead of a new figure.

    Returns:
      The Figure, with one line per unit.

    >>> import numpy as np
    >>> X = np.array([[-1.0, 0.0], [1.0, 0.0]]); y = np.array([0, 1])
    >>> fig = linear_boundaries(X, y, np.array([[1.0, 0.0]]), np.array([0.0]))
    >>> len(fig.axes[0].lines)
    1
    """
    X, y = style.check_points(X, y)
    W, b = np.asarray(W, np.float64), np.asarray(b, np.float64)
    if W.ndim != 2 or W.shape[1] != 2 or b.shape != (W.shape[0],):
        raise ValueError(f"W must be (m, 2) and b (m,), got W {W.shape} and b {b.shape}")
    if line_labels is not None and len(line_labels) != W.shape[0]:
        raise ValueError(f"line_labels must have {W.shape[0]} entries, got {len(line_labels)}")
    fig, ax = _axes(ax)
    limits = style.plane_limits(X)
    if shade_intersection:
        xx, yy, points = style.grid(limits, resolution=300)
        inside = np.all(points @ W.T + b[None, :] >= 0, axis=1).reshape(xx.shape)
        ax.contourf(
            xx,
            yy,
            inside.astype(float),
            levels=[0.5, 1.5],
            colors=style.REGION_COLORS[1:],
            zorder=1,
        )
    if show_data:
        style.scatter_classes(ax, X, y, class_labels=class_labels)
    for i, (w, bias) in enumerate(zip(W, b, strict=True)):
        label = line_labels[i] if line_labels is not None else f"unit {i + 1}"
        xs, ys = line_through_box(w, float(bias), limits)
        color = colors[i % len(colors)]
        ax.plot(xs, ys, color=color, linestyle=linestyle, linewidth=2.0, label=label, zorder=4)
    style.style_plane(ax, title=title, xlabel=xlabel, ylabel=ylabel, limits=limits)
    if legend:
        style.legend_below(ax)
    return fig


# Long but flat: argument checks, then one 3-D figure (points, the output plane, axes and
# legend) drawn step by step on the same axes and box, no step worth a function of its own.
def hidden_projection(
    H,
    y,
    w,
    b,
    *,
    title: str | None = None,
    elev: float = 20.0,
    azim: float = 230.0,
    box: tuple[Sequence[float], Sequence[float]] | None = None,
    class_labels: Sequence[str] = style.CLASS_LABELS,
    legend: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """The data in a 3-unit hidden space with the output unit's separating plane.

    Args:
      H: (n, 3) hidden activations ``h = g(W x + b)``.
      y: (n,) labels in {0, 1}.
      w: (3,) output unit's weights ``w_m``.
      b: output unit's bias ``b_m`` (scalar or shape (1,)); the plane is
        ``w . h + b = 0``.
      title: panel title.
      elev, azim: the 3-D view (the post: 20 and 230).
      box: ``(lo (3,), hi (3,))`` the cube the plane is drawn in; default the
        data's bounds, padded.
      class_labels: legend names of the classes.
      legend: draw the legend.
      ax: 3-D axes to draw on instead of a new figure.

    Returns:
      The Figure: one scatter per class and the plane as one polygon.

    >>> import numpy as np
    >>> H = np.array([[0.1, 0.2, 0.3], [0.9, 0.8, 0.7]]); y = np.array([0, 1])
    >>> fig = hidden_projection(H, y, np.ones(3), -1.5)
    """
    H, y = style.check_points(H, y, dims=3, name="H")
    w = np.asarray(w, np.float64).reshape(-1)
    b = float(np.asarray(b, np.float64).reshape(-1)[0])
    if w.shape != (3,):
        raise ValueError(f"w must have shape (3,), got {w.shape}")
    if ax is None:
        # No constrained layout: it leaves a wide empty band around 3-D axes.
        fig = Figure(figsize=(5.4, 5.0), dpi=style.DPI)
        ax = fig.add_axes((0.0, 0.06, 0.96, 0.96), projection="3d")
    else:
        fig = cast(Figure, ax.figure)
    if not isinstance(ax, Axes3D):
        raise TypeError(f"ax must be 3-D axes (projection='3d'), got {type(ax).__name__}")
    if box is None:
        pad = 0.04 * max(float(np.ptp(H, axis=0).max()), 1e-6)
        lo, hi = H.min(axis=0) - pad, H.max(axis=0) + pad
    else:
        lo, hi = np.asarray(box[0], np.float64), np.asarray(box[1], np.float64)
    style.scatter_classes(ax, H, y, class_labels=class_labels, size=16)
    polygon = plane_in_box(w, b, lo, hi) if np.linalg.norm(w) > 0 else np.zeros((0, 3))
    if len(polygon):
        ax.add_collection3d(
            Poly3DCollection(
                [polygon],
                facecolors=style.UNIT_COLORS[0],
                alpha=0.25,
                edgecolors=style.UNIT_COLORS[0],
                linewidths=1.0,
                label="output unit's plane",
            )
        )
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_zlim(lo[2], hi[2])
    ax.set_xlabel("$h_1$", fontsize=style.FONT_SIZE)
    ax.set_ylabel("$h_2$", fontsize=style.FONT_SIZE)
    ax.set_zlabel("$h_3$", fontsize=style.FONT_SIZE)
    ax.tick_params(labelsize=style.FONT_SIZE - 2)
    ax.view_init(elev=elev, azim=azim)
    if title:  # 3-D axes leave room above the cube; bring the title down to it
        ax.set_title(title, fontsize=style.FONT_SIZE + 1, y=0.94)
    ax.set_box_aspect(None, zoom=0.95)
    if legend:
        fig.legend(
            *ax.get_legend_handles_labels(),
            loc="outside lower center",
            ncol=3,
            frameon=False,
            fontsize=style.FONT_SIZE - 1,
        )
    return fig


def boundary_grid(
    X,
    y,
    proba_fns: Sequence[ProbaFn],
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 5,
    suptitle: str | None = None,
    resolution: int = 120,
    panel_size: float = 2.6,
) -> Figure:
    """A grid of decision-region panels, one per model, on the same data.

    Args:
      X: (n, 2) points.
      y: (n,) labels.
      proba_fns: one ``(m, 2) -> (m,)`` probability function per panel.
      titles: one title per panel.
      ncols: panels per row.
      suptitle: title of the whole figure.
      resolution: grid points per side in each panel.
      panel_size: inches per panel.

    Returns:
      The Figure with ``len(proba_fns)`` axes.

    >>> import numpy as np
    >>> X = np.array([[-1.0, 0.0], [1.0, 0.0]]); y = np.array([0, 1])
    >>> fig = boundary_grid(X, y, [lambda P: P[:, 0] > 0] * 3, ncols=2, resolution=10)
    >>> len(fig.axes)
    3
    """
    if not proba_fns:
        raise ValueError("proba_fns must hold at least one function")
    if titles is not None and len(titles) != len(proba_fns):
        raise ValueError(f"titles must have {len(proba_fns)} entries, got {len(titles)}")
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive int, got {ncols!r}")
    ncols = min(ncols, len(proba_fns))
    nrows = -(-len(proba_fns) // ncols)
    fig, axes = style.new_figure(nrows, ncols, panel_size=panel_size)
    for ax in axes[len(proba_fns) :]:
        fig.delaxes(ax)
    for i, (ax, fn) in enumerate(zip(axes, proba_fns, strict=False)):
        decision_regions(
            X,
            y,
            fn,
            title=titles[i] if titles else None,
            resolution=resolution,
            legend=False,
            ax=ax,
        )
        if i % ncols:
            ax.set_ylabel("")
        if i < len(proba_fns) - ncols:
            ax.set_xlabel("")
    if suptitle:
        fig.suptitle(suptitle, fontsize=style.FONT_SIZE + 2)
    return fig


def loss_curves(
    curves: Mapping[str, object],
    *,
    title: str | None = None,
    log_scale: bool = True,
    xlabel: str = "step",
    ylabel: str = "training loss (mean BCE)",
    ax: Axes | None = None,
) -> Figure:
    """Loss per step for one or more runs, overlaid.

    Runs are drawn in different colours, line styles and decreasing widths, so
    curves that coincide (e.g. manual and autodiff gradients) stay visible.

    Args:
      curves: ``{label: (steps,) losses}``.
      title: panel title.
      log_scale: logarithmic loss axis.
      xlabel, ylabel: axis labels.
      ax: draw on these axes instead of a new figure.

    Returns:
      The Figure, with one line per curve.

    >>> import numpy as np
    >>> fig = loss_curves({"run": np.array([1.0, 0.5, 0.25])})
    >>> len(fig.axes[0].lines)
    1
    """
    if not curves:
        raise ValueError("curves must hold at least one {label: losses} entry")
    fig, ax = _axes(ax, panel_size=(6.0, 3.8))
    for i, (label, values) in enumerate(curves.items()):
        values = np.asarray(values, np.float64)
        if values.ndim != 1:
            raise ValueError(f"curves[{label!r}] must be 1-D (steps,), got shape {values.shape}")
        ax.plot(
            np.arange(values.shape[0]),
            values,
            color=style.CURVE_COLORS[i % len(style.CURVE_COLORS)],
            linestyle=style.LINE_STYLES[i % len(style.LINE_STYLES)],
            linewidth=max(3.0 - 1.0 * i, 1.0),
            label=label,
        )
    if log_scale:
        ax.set_yscale("log")
    if title:
        ax.set_title(title, fontsize=style.FONT_SIZE + 1)
    ax.set_xlabel(xlabel, fontsize=style.FONT_SIZE)
    ax.set_ylabel(ylabel, fontsize=style.FONT_SIZE)
    ax.grid(True, which="major", color="#E5E5E5", linewidth=0.6)
    ax.legend(frameon=False, fontsize=style.FONT_SIZE - 1)
    return fig
