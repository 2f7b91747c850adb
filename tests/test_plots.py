"""Smoke tests of jaxmlp.plots that check what was drawn, not only that nothing raised."""

from __future__ import annotations

import io
import subprocess
import sys

import matplotlib.colors as mcolors
import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d.art3d import Poly3DCollection

from jaxmlp import plots
from jaxmlp.plots import geometry, style

# Six points of each class around the origin: small, fixed, no JAX needed.
ANGLES = np.linspace(0, 2 * np.pi, 6, endpoint=False)
RING = np.stack([np.cos(ANGLES), np.sin(ANGLES)], axis=1)
X = np.concatenate([3 * RING, RING]).astype(np.float32)
Y = np.array([0] * 6 + [1] * 6)


def inside_radius_2(P):
    return (np.linalg.norm(P, axis=1) < 2).astype(np.float32)


def scatters(ax):
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    return buf.getvalue()


@pytest.mark.slow  # a subprocess
def test_import_jaxmlp_stays_light():
    """Neither matplotlib nor scikit-learn until asked for; pyplot not even then."""
    code = (
        "import sys, jaxmlp; assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
        "assert 'sklearn' not in sys.modules, 'sklearn imported'\n"
        "from jaxmlp import plots; assert 'matplotlib.pyplot' not in sys.modules, 'pyplot'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_data_scatter_draws_each_class_in_its_colour():
    fig = plots.data_scatter(X, Y, title="circles", class_labels=("outer", "inner"))
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    points = scatters(ax)
    assert len(points) == 2
    for label, collection in enumerate(points):
        np.testing.assert_allclose(collection.get_offsets(), X[Y == label])
        np.testing.assert_allclose(
            collection.get_facecolor()[0], mcolors.to_rgba(style.CLASS_COLORS[label])
        )
    assert ax.get_title() == "circles"
    assert ax.get_xlabel() == "$x_1$" and ax.get_ylabel() == "$x_2$"
    assert ax.get_aspect() == 1.0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["outer", "inner"]
    assert png_bytes(fig).startswith(b"\x89PNG")


def test_decision_regions_fills_both_classes_and_draws_the_boundary():
    calls = []

    def proba(P):
        calls.append(P.shape)
        return inside_radius_2(P)

    fig = plots.decision_regions(X, Y, proba, title="regions", resolution=30)
    ax = fig.axes[0]
    assert calls == [(900, 2)]
    filled, boundary = [c for c in ax.collections if not isinstance(c, PathCollection)]
    np.testing.assert_allclose(filled.levels, [-0.01, 0.5, 1.01])
    np.testing.assert_allclose(boundary.levels, [0.5])
    # The 0.5 contour of "inside radius 2" is a circle of radius about 2.
    radii = np.linalg.norm(np.concatenate(boundary.allsegs[0]), axis=1)
    assert np.all(np.abs(radii - 2.0) < 0.3)
    assert sum(len(c.get_offsets()) for c in scatters(ax)) == len(X)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["class 0", "class 1", "decision boundary"]
    assert ax.get_aspect() == 1.0


def test_decision_regions_checks_proba_shape_and_resolution():
    with pytest.raises(ValueError, match=r"proba_fn must map \(100, 2\) points to \(100,\)"):
        plots.decision_regions(X, Y, lambda P: P, resolution=10)
    with pytest.raises(ValueError, match="resolution must be an int >= 2"):
        plots.decision_regions(X, Y, inside_radius_2, resolution=1)


def test_decision_regions_without_a_boundary_skips_the_contour():
    fig = plots.decision_regions(X, Y, lambda P: np.zeros(len(P)), resolution=10)
    non_scatter = [c for c in fig.axes[0].collections if not isinstance(c, PathCollection)]
    assert len(non_scatter) == 1  # the filled region only


def test_linear_boundaries_draw_one_line_per_unit_on_the_line():
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = np.array([-1.0, 0.5, 0.0])
    fig = plots.linear_boundaries(X, Y, W, b, line_labels=["a", "b", "c"], title="units")
    ax = fig.axes[0]
    assert len(ax.lines) == 3
    for line, w, bias in zip(ax.lines, W, b, strict=True):
        xs, ys = line.get_data()
        np.testing.assert_allclose(
            w[0] * np.asarray(xs) + w[1] * np.asarray(ys) + bias, 0, atol=1e-9
        )
    assert [line.get_label() for line in ax.lines] == ["a", "b", "c"]
    assert len({line.get_color() for line in ax.lines}) == 3
    assert len(scatters(ax)) == 2


def test_linear_boundaries_shade_the_intersection_and_can_skip_data():
    W = np.array([[0.0, -1.0], [-1.0, 0.0]])  # x2 <= 1 and x1 <= 1
    b = np.array([1.0, 1.0])
    fig = plots.linear_boundaries(
        X, Y, W, b, shade_intersection=True, show_data=False, linestyle="--", legend=False
    )
    ax = fig.axes[0]
    assert scatters(ax) == []
    (shade,) = ax.collections
    np.testing.assert_allclose(shade.levels, [0.5, 1.5])
    assert all(line.get_linestyle() == "--" for line in ax.lines)
    assert ax.get_legend() is None


def test_linear_boundaries_bad_shapes():
    with pytest.raises(ValueError, match=r"W must be \(m, 2\) and b \(m,\)"):
        plots.linear_boundaries(X, Y, np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="line_labels must have 1 entries"):
        plots.linear_boundaries(X, Y, np.ones((1, 2)), np.ones(1), line_labels=["a", "b"])
    with pytest.raises(ValueError, match=r"y must have shape \(12,\)"):
        plots.data_scatter(X, Y[:3])
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\)"):
        plots.data_scatter(X[:, :1], Y)


def test_plane_in_box_is_the_exact_cut():
    # h1 + h2 + h3 = 1.5 cuts the unit cube in a regular hexagon.
    poly = geometry.plane_in_box(np.ones(3), -1.5, np.zeros(3), np.ones(3))
    assert poly.shape == (6, 3)
    np.testing.assert_allclose(poly.sum(axis=1), 1.5)
    # Vertices are in order around the polygon: all sides have the same length.
    sides = np.linalg.norm(np.roll(poly, -1, axis=0) - poly, axis=1)
    np.testing.assert_allclose(sides, np.sqrt(0.5))
    # A plane that misses the box gives no polygon.
    assert geometry.plane_in_box(np.ones(3), 10.0, np.zeros(3), np.ones(3)).shape == (0, 3)


def test_hidden_projection_draws_points_and_the_plane():
    rng = np.random.default_rng(0)
    H = rng.uniform(size=(12, 3))
    fig = plots.hidden_projection(
        H, Y, np.array([1.0, 1.0, 1.0]), np.array([-1.5]), title="hidden", box=((0,) * 3, (1,) * 3)
    )
    ax = fig.axes[0]
    assert ax.name == "3d"
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    planes = [c for c in ax.collections if isinstance(c, Poly3DCollection)]
    assert len(points) == 2 and len(planes) == 1
    assert sum(len(c._offsets3d[0]) for c in points) == 12
    assert (ax.elev, ax.azim) == (20.0, 230.0)
    assert [ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()] == ["$h_1$", "$h_2$", "$h_3$"]
    assert ax.get_xlim() == (0.0, 1.0)
    assert png_bytes(fig).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match=r"H must have shape \(n, 3\)"):
        plots.hidden_projection(H[:, :2], Y, np.ones(3), 0.0)
    with pytest.raises(ValueError, match=r"w must have shape \(3,\)"):
        plots.hidden_projection(H, Y, np.ones(2), 0.0)
    _, (flat,) = style.new_figure()
    with pytest.raises(TypeError, match="ax must be 3-D axes"):
        plots.hidden_projection(H, Y, np.ones(3), 0.0, ax=flat)


def test_boundary_grid_one_panel_per_model():
    fns = [inside_radius_2] * 7
    titles = [f"{w} units" for w in range(7)]
    fig = plots.boundary_grid(X, Y, fns, titles=titles, ncols=3, resolution=12, suptitle="widths")
    assert len(fig.axes) == 7
    assert [ax.get_title() for ax in fig.axes] == titles
    assert fig.get_suptitle() == "widths"
    for ax in fig.axes:
        assert len(scatters(ax)) == 2
        assert ax.get_aspect() == 1.0
    # y labels only on the first column, x labels only on the last row of each column.
    assert [bool(ax.get_ylabel()) for ax in fig.axes] == [True, False, False] * 2 + [True]
    assert [bool(ax.get_xlabel()) for ax in fig.axes] == [False] * 4 + [True] * 3
    with pytest.raises(ValueError, match="titles must have 7 entries"):
        plots.boundary_grid(X, Y, fns, titles=["x"])
    with pytest.raises(ValueError, match="at least one"):
        plots.boundary_grid(X, Y, [])


def test_loss_curves_overlay_distinguishable_lines():
    a = np.array([1.0, 0.5, 0.25, 0.125])
    fig = plots.loss_curves({"manual": a, "autodiff": a}, title="loss")
    ax = fig.axes[0]
    assert len(ax.lines) == 2
    for line in ax.lines:
        np.testing.assert_allclose(line.get_ydata(), a)
        np.testing.assert_allclose(line.get_xdata(), np.arange(4))
    first, second = ax.lines
    assert first.get_linestyle() != second.get_linestyle()
    assert first.get_linewidth() > second.get_linewidth()
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["manual", "autodiff"]
    with pytest.raises(ValueError, match="must be 1-D"):
        plots.loss_curves({"bad": np.ones((2, 2))})


def test_functions_draw_on_a_given_axes():
    fig, axes = style.new_figure(1, 2, panel_size=2.0)
    out = plots.data_scatter(X, Y, ax=axes[0], legend=False)
    plots.decision_regions(X, Y, inside_radius_2, resolution=10, ax=axes[1], legend=False)
    assert out is fig and len(fig.axes) == 2
    assert len(scatters(axes[0])) == 2 and len(scatters(axes[1])) == 2
