"""Tests of the training animation, the per-unit maps, the network graph and the GIF writer."""

from __future__ import annotations

import chex
import jax
import numpy as np
import optax
import pytest
from matplotlib.colors import to_hex
from matplotlib.contour import ContourSet
from PIL import Image

import jaxmlp
from jaxmlp.plots import animation, network, style, unit_maps

SGD = optax.sgd(2.0)
STEPS, EVERY = 12, 4  # snapshots at steps 0, 4, 8, 12


@pytest.fixture(scope="module")
def data():
    return jaxmlp.datasets.circles(jax.random.key(0), 40)


@pytest.fixture(scope="module")
def run3(data):
    X, y = data
    params = jaxmlp.init_mlp(jax.random.key(1), (2, 3, 1), scheme="uniform01")
    return params, jaxmlp.train(params, X, y, optimizer=SGD, steps=STEPS, snapshot_every=EVERY)


@pytest.fixture(scope="module")
def run4(data):
    X, y = data
    params = jaxmlp.init_mlp(jax.random.key(2), (2, 4, 1))
    return jaxmlp.train(params, X, y, optimizer=SGD, steps=STEPS, snapshot_every=EVERY)


# ----------------------------------------------------------------------------- snapshots


@pytest.mark.slow
def test_snapshots_as_used_for_frames_equal_shorter_runs(data, run3):
    X, y = data
    params, result = run3
    assert animation.snapshot_count(result.snapshots) == 4
    np.testing.assert_array_equal(result.snapshot_steps, [0, 4, 8, 12])
    chex.assert_trees_all_close(animation.snapshot_at(result.snapshots, 0), params)
    alone = jaxmlp.train(params, X, y, optimizer=SGD, steps=8).params
    chex.assert_trees_all_close(animation.snapshot_at(result.snapshots, 2), alone, rtol=1e-5)
    chex.assert_trees_all_close(animation.snapshot_at(result.snapshots, -1), result.params)


def test_snapshot_checks(run3):
    _, result = run3
    with pytest.raises(ValueError, match="i must be in"):
        animation.snapshot_at(result.snapshots, 4)
    with pytest.raises(TypeError, match="snapshots must be stacked params"):
        animation.snapshot_count(None)
    ragged = (result.snapshots[0]._replace(b=result.snapshots[0].b[:2]), result.snapshots[1])
    with pytest.raises(ValueError, match="same leading axis"):
        animation.snapshot_count(ragged)


def test_frame_indices_are_distinct_ordered_and_denser_early():
    np.testing.assert_array_equal(animation.frame_indices(11, 4), [0, 3, 7, 10])
    early = animation.frame_indices(201, 40, power=2.0)
    assert early.size == 40 and early[0] == 0 and early[-1] == 200
    assert np.all(np.diff(early) > 0)
    assert np.sum(early < 50) > np.sum(animation.frame_indices(201, 40) < 50)
    np.testing.assert_array_equal(animation.frame_indices(3, 10), [0, 1, 2])
    with pytest.raises(ValueError, match="power"):
        animation.frame_indices(5, 2, power=0.0)


# ----------------------------------------------------------------------------- training.gif


def test_training_animation_panels_and_frames(data, run3):
    X, y = data
    _, r = run3
    anim = animation.training_animation(
        X, y, r.snapshots, r.snapshot_steps, r.loss, frames=[0, 2, 3], resolution=12
    )
    assert anim.n_frames == 3
    np.testing.assert_array_equal(anim.steps, [0, 8, 12])
    plane, loss_ax, hidden = anim.figure.axes  # 2-D panels first, then the 3-D one
    assert hidden.name == "3d" and plane.name == "rectilinear"
    for i, step in enumerate(anim.steps):
        anim.update(i)
        params = animation.snapshot_at(r.snapshots, [0, 2, 3][i])
        # Loss panel: grey full curve, black progress up to the step, marker at the step.
        full, progress, marker = loss_ax.lines
        assert full.get_xdata().size == STEPS
        assert progress.get_xdata().size == min(step + 1, STEPS)
        expected = float(jaxmlp.loss(params, X, y))
        np.testing.assert_allclose(marker.get_ydata(), [expected], rtol=1e-5)
        # Input plane: one line per hidden unit, on that unit's line w . x + b = 0.
        assert len(plane.lines) == 3
        W, b = np.asarray(params[0].W), np.asarray(params[0].b)
        for j, line in enumerate(plane.lines):
            pts = np.stack([line.get_xdata(), line.get_ydata()], axis=1)
            np.testing.assert_allclose(pts @ W[j] + b[j], 0.0, atol=1e-4)
        assert 1 <= sum(isinstance(c, ContourSet) for c in plane.collections) <= 2
        # Hidden space: both classes (as many points as data) and the caption's step.
        points = [c for c in hidden.collections if hasattr(c, "_offsets3d")]
        assert sum(len(c._offsets3d[0]) for c in points) == X.shape[0]
        assert f"step {step}" in anim.figure.texts[0].get_text()
    with pytest.raises(ValueError, match="frame must be in"):
        anim.update(3)


def test_training_animation_hidden_points_are_the_hidden_activations(data, run3):
    X, y = data
    _, r = run3
    anim = animation.training_animation(X, y, r.snapshots, r.snapshot_steps, r.loss, resolution=8)
    anim.update(3)
    hidden = anim.figure.axes[2]
    params = r.params
    H = np.asarray(jaxmlp.mlp.forward_with_intermediates(params, X).h[1])
    cls1 = [c for c in hidden.collections if hasattr(c, "_offsets3d")][1]
    np.testing.assert_allclose(
        np.stack(cls1._offsets3d, axis=1), H[np.asarray(y) == 1], rtol=1e-5, atol=1e-6
    )


@pytest.mark.slow
def test_training_animation_without_three_units_has_two_panels(data, run4):
    X, y = data
    anim = animation.training_animation(
        X, y, run4.snapshots, run4.snapshot_steps, run4.loss, resolution=8
    )
    assert anim.n_frames == 4 and len(anim.figure.axes) == 2
    assert len(anim.figure.axes[0].lines) == 4


def test_training_animation_bad_input(data, run3):
    X, y = data
    _, r = run3
    with pytest.raises(ValueError, match="snapshot_steps must have shape"):
        animation.training_animation(X, y, r.snapshots, r.snapshot_steps[:2], r.loss)
    with pytest.raises(ValueError, match="frames must be"):
        animation.training_animation(X, y, r.snapshots, r.snapshot_steps, r.loss, frames=[4])
    with pytest.raises(ValueError, match="loss must be"):
        animation.training_animation(X, y, r.snapshots, r.snapshot_steps, r.loss[None])
    with pytest.raises(ValueError, match="2 inputs and 1 output"):
        p = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 2))
        stacked = jax.tree.map(lambda a: a[None], p)
        animation.training_animation(X, y, stacked, np.array([0]), r.loss)


# ----------------------------------------------------------------------------- unit maps


def test_hidden_unit_maps_one_map_and_line_per_unit(data, run3, run4):
    X, y = data
    nets = [run3[1].params, run4.params]
    fig = unit_maps.hidden_unit_maps(X, y, nets, labels=["3", "4"], resolution=16)
    assert len(fig.axes) == (3 + 1) + (4 + 1)
    unit_axes = fig.axes[:3] + fig.axes[4:8]
    grid = np.stack(
        np.meshgrid(*[np.linspace(*lim, 16) for lim in style.plane_limits(np.asarray(X))]),
        axis=-1,
    ).reshape(-1, 2)
    for ax, (net, j) in zip(
        unit_axes, [(0, j) for j in range(3)] + [(1, j) for j in range(4)], strict=False
    ):
        assert len(ax.lines) == 1 and len(ax.images) == 1
        W, b = np.asarray(nets[net][0].W), np.asarray(nets[net][0].b)
        expected = 1 / (1 + np.exp(-(grid @ W[j] + b[j])))
        np.testing.assert_allclose(ax.images[0].get_array().ravel(), expected, atol=1e-5)
        line = ax.lines[0]
        pts = np.stack([line.get_xdata(), line.get_ydata()], axis=1)
        np.testing.assert_allclose(pts @ W[j] + b[j], 0.0, atol=1e-4)
        assert to_hex(line.get_color()) == to_hex(style.UNIT_COLORS[j])
    for out in (fig.axes[3], fig.axes[8]):  # the output maps: regions, no unit line
        assert not out.lines and any(isinstance(c, ContourSet) for c in out.collections)
    w_out = float(nets[0][1].W[0, 0])
    assert fig.axes[0].get_title() == f"unit 1 ({w_out:+.1f})"


def test_hidden_unit_maps_checks(data, run3):
    X, y = data
    with pytest.raises(ValueError, match="labels must have 1"):
        unit_maps.hidden_unit_maps(X, y, run3[1].params, labels=["a", "b"])
    with pytest.raises(ValueError, match="hidden layer"):
        unit_maps.hidden_unit_maps(X, y, jaxmlp.init_mlp(jax.random.key(0), (2, 1)))


def test_hidden_units_animation_updates_every_map(data, run3, run4):
    X, y = data
    stacks = [run3[1].snapshots, run4.snapshots]
    anim = unit_maps.hidden_units_animation(
        X, y, stacks, run4.snapshot_steps, frames=[0, 3], resolution=10
    )
    assert anim.n_frames == 2 and len(anim.figure.axes) == 9
    before = anim.figure.axes[0].images[0].get_array().copy()
    anim.update(1)
    after = anim.figure.axes[0].images[0].get_array()
    W, b = np.asarray(run3[1].params[0].W), np.asarray(run3[1].params[0].b)
    limits = style.plane_limits(np.asarray(X))
    corner = np.array([limits[0][0], limits[1][0]])  # grid point 0
    np.testing.assert_allclose(after.ravel()[0], 1 / (1 + np.exp(-(corner @ W[0] + b[0]))), 1e-5)
    assert not np.allclose(before, after)
    assert all(len(ax.lines) == 1 for ax in anim.figure.axes[:3])
    assert "step 12" in anim.figure._suptitle.get_text()
    with pytest.raises(ValueError, match="one snapshot per entry"):
        unit_maps.hidden_units_animation(X, y, stacks, run4.snapshot_steps[:3])


# ----------------------------------------------------------------------------- network.png


def numpy_params(sizes, seed=0):
    """Params as NumPy arrays (no jax compiles); weights of both signs and many sizes."""
    rng = np.random.default_rng(seed)
    return tuple(
        jaxmlp.Dense(rng.normal(size=(n_out, n_in)) * 2.0, rng.normal(size=n_out))
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    )


@pytest.mark.parametrize("sizes", [(2, 3, 1), (2, 4, 3, 2)])
def test_network_graph_edges(sizes):
    params = numpy_params(sizes)
    fig = network.network_graph(params, title="t")
    ax = fig.axes[0]
    edges = [line for line in ax.lines if line.get_gid() in ("weight", "bias")]
    weights = [line for line in edges if line.get_gid() == "weight"]
    biases = [line for line in edges if line.get_gid() == "bias"]
    assert len(weights) == sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    assert len(biases) == sum(sizes[1:])
    # Drawing order: per layer, per unit j: its weights W[j, :], then its bias b[j].
    expected = np.concatenate(
        [np.concatenate([np.append(L.W[j], L.b[j]) for j in range(L.W.shape[0])]) for L in params]
    )
    colours = [to_hex(line.get_color()) for line in edges]
    want = [to_hex(network.POSITIVE_COLOR if v >= 0 else network.NEGATIVE_COLOR) for v in expected]
    assert colours == want
    widths = np.array([line.get_linewidth() for line in edges])
    assert np.all(np.diff(widths[np.argsort(np.abs(expected))]) >= -1e-9)  # wider for larger |w|
    assert widths.max() > 3 * widths.min()
    assert all(line.get_linestyle() == "--" for line in biases)
    assert all(line.get_linestyle() == "-" for line in weights)
    circles = [p for p in ax.patches if type(p).__name__ == "Circle"]
    assert len(circles) == sum(sizes)
    # Each edge starts and ends on a node (or the bias node below the previous layer).
    centres = {tuple(np.round(c.center, 6)) for c in circles}
    assert all(tuple(np.round(line.get_xydata()[1], 6)) in centres for line in edges)


def test_network_graph_legend_says_the_one_sign_convention():
    """Vermillion positive, blue negative: the legend's and the edges' colours are
    ``style.SIGN_COLORS``, which the playground's network panel uses too."""
    from jaxmlp.playground import Playground
    from jaxmlp.plots import style

    negative, positive = style.SIGN_COLORS
    assert (positive, negative) == ("#D55E00", "#0072B2")
    legend = network.network_graph(numpy_params((2, 3, 1))).axes[0].get_legend()
    colours = {t.get_text(): to_hex(h.get_color()) for t, h in
               zip(legend.get_texts(), legend.legend_handles, strict=True)}  # fmt: skip
    assert colours["positive weight"] == to_hex(positive)
    assert colours["negative weight"] == to_hex(negative)
    assert Playground.choices()["palette"]["sign"] == [negative, positive]


def test_network_graph_annotates_small_networks_only():
    small = network.network_graph(numpy_params((2, 3, 1)))
    texts = [t.get_text() for t in small.axes[0].texts]
    numbers = [t for t in texts if t.lstrip("-").replace(".", "").isdigit() and t != "1"]
    assert len(numbers) == 9 + 4  # every weight and bias
    big = network.network_graph(numpy_params((2, 20, 1)))
    assert not [t for t in big.axes[0].texts if "." in t.get_text()]
    with pytest.raises(ValueError, match="input_names"):
        network.network_graph(numpy_params((2, 3, 1)), input_names=["a"])


# ----------------------------------------------------------------------------- GIF writing


def test_save_gif_writes_one_gif_frame_per_animation_frame(data, run3, tmp_path):
    X, y = data
    _, r = run3
    anim = animation.training_animation(X, y, r.snapshots, r.snapshot_steps, r.loss, resolution=8)
    path = animation.save_gif(anim, tmp_path / "t.gif", fps=5, dpi=30, hold_first=2, hold_last=3)
    with Image.open(path) as im:
        # The held repeats are merged by Pillow into longer frames.
        assert im.n_frames == anim.n_frames
        assert im.size == (
            round(anim.figure.get_figwidth() * 30),
            round(anim.figure.get_figheight() * 30),
        )
        durations = []
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
    assert durations[0] == 3 * 200 and durations[-1] == 4 * 200 and durations[1] == 200
    with pytest.raises(ValueError, match="fps"):
        animation.save_gif(anim, tmp_path / "x.gif", fps=0)


# ----------------------------------------------------------------------------- experiment


@pytest.fixture(scope="module")
def animate_script(load_experiment):
    return load_experiment("animate")


@pytest.mark.slow  # the whole script, > 10 s
def test_animate_script_quick_run(animate_script, tmp_path):
    (tmp_path / "report.md").write_text("# report\n\ntext\n")
    results = animate_script.main(["--out", str(tmp_path), "--quick"])
    for name in ("training.gif", "hidden_units.gif", "hidden_units.png", "network.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
    with Image.open(tmp_path / "training.gif") as im:
        assert im.n_frames == len(results["training_gif_steps"]) == 4
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("# report\n\ntext\n") and "![training](training.gif)" in report
    assert "![hidden units](hidden_units.png)" in report


def test_report_section_is_replaced_not_duplicated(animate_script, tmp_path):
    path = tmp_path / "report.md"
    assert not animate_script.update_report(path, "x")
    path.write_text("# r\n")
    marker = animate_script.REPORT_MARKER
    assert animate_script.update_report(path, f"{marker}\nfirst\n")
    assert animate_script.update_report(path, f"{marker}\nsecond\n")
    text = path.read_text()
    assert text.count(marker) == 1 and "second" in text and "first" not in text
