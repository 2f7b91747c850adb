"""Reproduces every figure of the post, with the numbers behind them, in one run on the CPU.

    python experiments/blog.py --out out/blog          # ~1 minute on a laptop CPU
    python experiments/blog.py --out /tmp/b --quick     # reduced settings, for smoke tests

Writes blobs.png, circles.png, circles_transformed_clf.png, circles3.png,
decision_boundary.png, projection.png, hidden_classifiers.png,
decision_boundaries_progress.png, identity_collapse.png, loss_curve.png,
metrics.json (loss and accuracy of every model; keys name the model and data)
and report.md (the post's argument, figure by figure, with the measured numbers).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import pathlib
import platform
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxmlp
from jaxmlp import baselines, compilation_cache, datasets, plots
from jaxmlp.plots import style

# The loss the post's notebook printed for its 2-3-1 network (a quotation of the
# post, shown next to our measurement; nothing is computed from it).
NOTEBOOK_LOSS = {0: 0.918, 100: 0.426, 300: 0.0495, 1000: 0.0086}


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of the run; written to metrics.json."""

    data_seed: int = 0  # circles
    blobs_seed: int = 2
    init_seed: int = 1
    baseline_seed: int = 3
    n: int = 200
    radii: tuple[float, float] = (3.0, 1.0)
    noise: float = 0.05
    init_scheme: str = "uniform01"  # the notebook's: every parameter from U(0, 1)
    learning_rate: float = 2.0  # on the mean loss = the notebook's 0.01 on the summed loss
    steps: int = 1000
    baseline_learning_rate: float = 1.0
    baseline_steps: int = 1000
    widths: tuple[int, ...] = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
    triangle_radius: float = 1.4  # the hand-made three lines of circles3.png
    resolution: int = 250  # grid points per side of decision-region plots
    dpi: int = 100


QUICK = {"steps": 200, "baseline_steps": 200, "widths": (5, 10), "resolution": 60}


def accuracy(pred, y) -> float:
    return float(np.mean(np.asarray(pred) == np.asarray(y)))


# Each helper is one compiled program per network shape (rather than a few eager ops each).
@functools.partial(jax.jit, static_argnames="activation")
def fit_metrics(params, X, y, *, activation="sigmoid"):
    """Mean loss and training accuracy of a network on (X, y)."""
    predicted = jaxmlp.predict(params, X, activation)
    return jaxmlp.loss(params, X, y, activation), jnp.mean(predicted == y)


@functools.partial(jax.jit, static_argnames="activation")
def hidden_and_logits(params, X, *, activation):
    """The first hidden layer's activations (n, h) and the logits (n,)."""
    inter = jaxmlp.forward_with_intermediates(params, X, activation)
    return inter.h[1], inter.s[-1][:, 0]


def model_entry(data: str, model: str, loss, acc: float, **extra) -> dict:
    """One metrics.json record: the data set, the model in words, final loss, accuracy.

    ``loss`` is None for a rule made by hand (nothing was trained).
    """
    final = None if loss is None else float(loss)
    return {"data": data, "model": model, "final_loss": final, "train_accuracy": acc, **extra}


def mlp_proba(params, activation: str):
    return functools.partial(jaxmlp.predict_proba, params, activation=activation)


def train_mlp(cfg: Config, params, X, y, activation: str, optimizer, *, grad="manual"):
    return jaxmlp.train(
        params, X, y, activation=activation, optimizer=optimizer, steps=cfg.steps, grad=grad
    )


def first_units(params, width: int) -> jaxmlp.Params:
    """The 2-width-1 network made of the first ``width`` hidden units of a wider one.

    Slicing one draw (on the host: no compilation per width) gives every width
    the same U(0, 1) initialisation scheme as ``init_mlp`` would.
    """
    (W1, b1), (W2, b2) = [(np.asarray(layer.W), np.asarray(layer.b)) for layer in params]
    return (jaxmlp.Dense(W1[:width], b1[:width]), jaxmlp.Dense(W2[:, :width], b2))


def triangle(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Three lines at distance ``radius`` from the origin, normals pointing inwards.

    Unit i is positive on the origin's side of its line, so "all three positive"
    is the triangle they enclose: the post's circles3.png, made by hand.
    """
    angles = np.deg2rad([90.0, 210.0, 330.0])
    normals = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return -normals, np.full(3, radius)


def save(fig, out: pathlib.Path, name: str, dpi: int, *, tight: bool = False) -> str:
    """Writes a PNG; ``tight`` trims the margin a 3-D panel leaves (costs a second draw)."""
    if tight:
        fig.savefig(out / name, dpi=dpi, bbox_inches="tight", pad_inches=0.08)
    else:
        fig.savefig(out / name, dpi=dpi)
    return name


class Circles(NamedTuple):
    """The post's data set: (n, 2) points on two circles and their (n,) labels."""

    X: jax.Array
    y: jax.Array


class Post(NamedTuple):
    """What the later sections reuse of section 5's 2-3-1 network."""

    init: jaxmlp.Params  # its U(0, 1) initialisation
    params: jaxmlp.Params  # trained, manual gradients
    optimizer: optax.GradientTransformation


def baseline_kw(cfg: Config) -> dict:
    return {"learning_rate": cfg.baseline_learning_rate, "steps": cfg.baseline_steps}


def blobs(cfg: Config, out: pathlib.Path) -> dict:
    """1. A linear classifier is enough when the data is (nearly) linearly separable."""
    key = jax.random.key
    Xb, yb = datasets.blobs(key(cfg.blobs_seed), cfg.n)
    logreg = baselines.logistic_regression(key(cfg.baseline_seed), Xb, yb, **baseline_kw(cfg))
    layer = logreg.params[0]
    fig = plots.linear_boundaries(
        Xb,
        yb,
        layer.W,
        layer.b,
        line_labels=["logistic regression: $w^Tx + b = 0$"],
        title="Blobs: one line separates the classes",
    )
    save(fig, out, "blobs.png", cfg.dpi)
    entry = model_entry(
        "blobs",
        "logistic regression (MLP with sizes (2, 1))",
        logreg.loss[-1],
        accuracy(baselines.predict(logreg, Xb), yb),
    )
    return {"logreg_blobs": entry}


def circles(cfg: Config, out: pathlib.Path) -> tuple[Circles, baselines.LinearClassifier, dict]:
    """2. Concentric circles: no line can separate them. Returns the data and the line."""
    key = jax.random.key
    X, y = datasets.circles(key(cfg.data_seed), cfg.n, radii=cfg.radii, noise=cfg.noise)
    fig = plots.data_scatter(
        X,
        y,
        title="Concentric circles: no line separates them",
        class_labels=(
            f"class 0 (radius {cfg.radii[0]:g})",
            f"class 1 (radius {cfg.radii[1]:g})",
        ),
    )
    save(fig, out, "circles.png", cfg.dpi)
    logreg = baselines.logistic_regression(key(cfg.baseline_seed), X, y, **baseline_kw(cfg))
    entry = model_entry(
        "circles",
        "logistic regression on raw x",
        logreg.loss[-1],
        accuracy(baselines.predict(logreg, X), y),
    )
    return Circles(X, y), logreg, {"logreg_circles": entry}


def square_features(cfg: Config, out: pathlib.Path, data: Circles) -> dict:
    """3. A hand-made feature map phi(x) = [x1^2, x2^2] makes the circles separable."""
    X, y = data
    square = baselines.feature_map_classifier(
        jax.random.key(cfg.baseline_seed), X, y, feature_map="square", **baseline_kw(cfg)
    )
    entry = model_entry(
        "circles",
        "logistic regression on phi(x) = [x1^2, x2^2]",
        square.loss[-1],
        accuracy(baselines.predict(square, X), y),
        w=np.asarray(square.params[0].W[0]).tolist(),
        b=float(square.params[0].b[0]),
    )
    fig = plots.linear_boundaries(
        baselines.square_features(X),
        y,
        square.params[0].W,
        square.params[0].b,
        line_labels=[r"$w^T\phi(x) + b = 0$"],
        xlabel="$x_1^2$",
        ylabel="$x_2^2$",
        title="The circles in $\\phi(x) = [x_1^2, x_2^2]$ space:\na line separates them",
    )
    save(fig, out, "circles_transformed_clf.png", cfg.dpi)
    return {"square_features_linear_circles": entry}


def three_lines(cfg: Config, out: pathlib.Path, data: Circles) -> dict:
    """4. Three linear classifiers that together enclose the inner circle (by hand)."""
    X, y = data
    W3, b3 = triangle(cfg.triangle_radius)
    inside = np.all(np.asarray(X) @ W3.T + b3[None, :] >= 0, axis=1).astype(np.int32)
    entry = model_entry(
        "circles",
        f"class 1 iff inside all three hand-made lines (triangle, inradius "
        f"{cfg.triangle_radius:g})",
        None,
        accuracy(jnp.asarray(inside), y),
    )
    fig = plots.linear_boundaries(
        X,
        y,
        W3,
        b3,
        shade_intersection=True,
        line_labels=[f"classifier {i + 1}" for i in range(3)],
        title="Three linear classifiers that together\nenclose the inner circle",
    )
    save(fig, out, "circles3.png", cfg.dpi)
    return {"three_lines_by_hand_circles": entry}


def mlp_231(cfg: Config, out: pathlib.Path, data: Circles) -> tuple[Post, dict, dict]:
    """5-6. The post's MLP: 2-3-1 sigmoid, U(0, 1) init, full-batch gradient descent.

    Returns the network (for sections 7-8), its metrics and the manual-vs-autodiff check.
    """
    X, y = data
    opt = optax.sgd(cfg.learning_rate)
    t0 = time.perf_counter()
    init = jaxmlp.init_mlp(jax.random.key(cfg.init_seed), (2, 3, 1), scheme=cfg.init_scheme)
    res = train_mlp(cfg, init, X, y, "sigmoid", opt)
    res.loss.block_until_ready()
    train_seconds = time.perf_counter() - t0
    res_ad = train_mlp(cfg, init, X, y, "sigmoid", opt, grad="autodiff")
    params = res.params
    final_loss, final_acc = fit_metrics(params, X, y)
    loss_at = {str(s): float(res.loss[s]) for s in (0, 100, 300) if s < cfg.steps}
    loss_at[str(cfg.steps)] = float(final_loss)  # after the last update
    models = {
        "mlp_2_3_1_sigmoid_circles": model_entry(
            "circles",
            "MLP 2-3-1, sigmoid, manual gradients",
            final_loss,
            float(final_acc),
            loss_at_step=loss_at,
            train_seconds_incl_compile=train_seconds,
            W=np.asarray(params[0].W).tolist(),
            b=np.asarray(params[0].b).tolist(),
            w_m=np.asarray(params[1].W[0]).tolist(),
            b_m=float(params[1].b[0]),
        ),
        "mlp_2_3_1_sigmoid_circles_autodiff": model_entry(
            "circles",
            "MLP 2-3-1, sigmoid, jax.grad gradients",
            *map(float, fit_metrics(res_ad.params, X, y)),
        ),
    }
    diff = float(np.max(np.abs(np.asarray(res.loss) - np.asarray(res_ad.loss))))
    mlp_231_figures(cfg, out, data, res, res_ad)
    return Post(init, params, opt), models, {"manual_vs_autodiff_max_abs_loss_diff": diff}


def mlp_231_figures(cfg: Config, out: pathlib.Path, data: Circles, res, res_ad) -> None:
    """The loss curves, the decision boundary, the hidden space and the hidden units' lines."""
    X, y = data
    params = res.params
    fig = plots.loss_curves(
        {"manual gradients (the post's formulas)": res.loss, "autodiff (jax.grad)": res_ad.loss},
        title=f"2-3-1 MLP on circles: loss per step (sgd, learning rate {cfg.learning_rate:g})",
    )
    save(fig, out, "loss_curve.png", cfg.dpi)
    fig = plots.decision_regions(
        X,
        y,
        mlp_proba(params, "sigmoid"),
        resolution=cfg.resolution,
        title="Decision boundary of the 2-3-1 MLP",
    )
    save(fig, out, "decision_boundary.png", cfg.dpi)
    H, _ = hidden_and_logits(params, X, activation="sigmoid")
    fig = plots.hidden_projection(
        H,
        y,
        params[1].W[0],
        params[1].b[0],
        box=((0, 0, 0), (1, 1, 1)),
        title=r"Hidden space $h = \sigma(Wx + b)$: now a plane separates the classes",
    )
    save(fig, out, "projection.png", cfg.dpi, tight=True)
    fig = plots.linear_boundaries(
        X,
        y,
        params[0].W,
        params[0].b,
        line_labels=[f"$w_{i + 1}^Tx + b_{i + 1} = 0$" for i in range(3)],
        title="The three linear classifiers learned\nby the hidden layer",
    )
    save(fig, out, "hidden_classifiers.png", cfg.dpi)


def identity_collapse(
    cfg: Config, out: pathlib.Path, data: Circles, post: Post, logreg
) -> tuple[dict, dict]:
    """8. The exercise: identity activations collapse the network to one linear classifier."""
    X, y = data
    p_id = train_mlp(cfg, post.init, X, y, "identity", post.optimizer).params
    (W1, b1), (W2, b2) = [(np.asarray(lay.W), np.asarray(lay.b)) for lay in p_id]
    w_eff, b_eff = W2 @ W1, W2 @ b1 + b2  # (1, 2) and (1,): w_m^T W and w_m^T b + b_m
    _, logits = hidden_and_logits(p_id, X, activation="identity")
    diff = float(np.max(np.abs(np.asarray(logits) - (np.asarray(X) @ w_eff[0] + b_eff[0]))))
    entry = model_entry(
        "circles",
        "MLP 2-3-1, identity hidden activation",
        *map(float, fit_metrics(p_id, X, y, activation="identity")),
        w_eff=np.asarray(w_eff[0]).tolist(),
        b_eff=float(b_eff[0]),
    )
    identity_figure(cfg, out, data, post.params, p_id, logreg)
    return {"mlp_2_3_1_identity_circles": entry}, {"identity_collapse_max_abs_logit_diff": diff}


def identity_figure(cfg: Config, out: pathlib.Path, data: Circles, params, p_id, logreg) -> None:
    """Sigmoid against identity hidden units, with logistic regression's line beside."""
    X, y = data
    fig, axes = style.new_figure(1, 2, panel_size=4.4)
    for ax, p, act, title in (
        (axes[0], params, "sigmoid", "sigmoid hidden units"),
        (axes[1], p_id, "identity", "identity hidden units: a single line"),
    ):
        plots.decision_regions(
            X, y, mlp_proba(p, act), resolution=cfg.resolution, ax=ax, title=title, legend=False
        )
    plots.linear_boundaries(
        X,
        y,
        logreg.params[0].W,
        logreg.params[0].b,
        show_data=False,
        ax=axes[1],
        line_labels=["logistic regression"],
        colors=style.UNIT_COLORS[2:],
        linestyle="--",
        legend=False,
    )
    for ax in axes:
        style.legend_below(ax, ncol=2, extra=[style.boundary_handle("network's boundary")])
    fig.suptitle("The same 2-3-1 network, trained the same way", fontsize=style.FONT_SIZE + 2)
    save(fig, out, "identity_collapse.png", cfg.dpi)


def widths(cfg: Config, out: pathlib.Path, data: Circles, post: Post) -> dict:
    """7. More hidden units: the boundary gets rounder (the later version of the post)."""
    X, y = data
    models, fns, titles = {}, [], []
    widest = jaxmlp.init_mlp(
        jax.random.key(cfg.init_seed), (2, max(cfg.widths), 1), scheme=cfg.init_scheme
    )
    for width in cfg.widths:
        r = train_mlp(cfg, first_units(widest, width), X, y, "sigmoid", post.optimizer)
        models[f"mlp_2_{width}_1_sigmoid_circles"] = model_entry(
            "circles",
            f"MLP 2-{width}-1, sigmoid",
            *map(float, fit_metrics(r.params, X, y)),
            diverged_at=r.diverged_at,
        )
        fns.append(mlp_proba(r.params, "sigmoid"))
        titles.append(f"{width} hidden units")
    fig = plots.boundary_grid(
        X,
        y,
        fns,
        titles=titles,
        ncols=5,
        resolution=max(cfg.resolution // 2, 40),
        suptitle="Decision boundary of a 2-h-1 sigmoid MLP as the hidden width h grows",
    )
    save(fig, out, "decision_boundaries_progress.png", cfg.dpi)
    return models


def run(cfg: Config, out: pathlib.Path) -> dict:
    """Trains every model, writes every figure; returns the metrics, section by section."""
    out.mkdir(parents=True, exist_ok=True)
    models = blobs(cfg, out)
    data, logreg, entries = circles(cfg, out)
    models |= entries
    models |= square_features(cfg, out, data)
    models |= three_lines(cfg, out, data)
    post, entries, checks = mlp_231(cfg, out, data)
    models |= entries
    entries, check = identity_collapse(cfg, out, data, post, logreg)
    models |= entries
    checks |= check
    models |= widths(cfg, out, data, post)
    return {"models": models, "checks": checks}


def fmt(x: float) -> str:
    return f"{x:.4g}"


def report(cfg: Config, metrics: dict) -> str:
    """The post's argument, figure by figure, with the numbers of this run."""
    m, c = metrics["models"], metrics["checks"]
    sections = [
        report_header(cfg, metrics),
        report_blobs(cfg, m),
        report_circles(m),
        report_square_features(m),
        report_three_lines(cfg, m),
        report_mlp_231(cfg, m, c),
        report_hidden_space(m),
        report_widths(cfg, m),
        report_identity_collapse(m, c),
    ]
    return "\n".join(sections)


def report_header(cfg: Config, metrics: dict) -> str:
    return f"""# Introduction to Multilayer Perceptron, reproduced with jaxmlp

Every number below was measured by `python experiments/blog.py --out {metrics["out"]}`
({metrics["seconds"]:.0f} s on {metrics["platform"]}, jax {jax.__version__}); all of them are in
`metrics.json`. Data: {cfg.n} points per data set, circles of radii {cfg.radii[0]:g} and
{cfg.radii[1]:g} with noise std {cfg.noise:g} (`jaxmlp.datasets.circles(key({cfg.data_seed}))`).
"""


def report_blobs(cfg: Config, m: dict) -> str:
    lb = m["logreg_blobs"]
    return f"""## 1. A linear classifier, when a line is enough

![blobs](blobs.png)

Logistic regression (jaxmlp's MLP with sizes (2, 1), trained by the same `train`, sgd
{cfg.baseline_learning_rate:g}, {cfg.baseline_steps} steps) separates two Gaussian blobs:
training accuracy **{lb["train_accuracy"]:.3f}**, loss {fmt(lb["final_loss"])}.
"""


def report_circles(m: dict) -> str:
    return f"""## 2. Data that no line separates

![circles](circles.png)

The same logistic regression on the concentric circles reaches only
**{m["logreg_circles"]["train_accuracy"]:.3f}** accuracy (loss
{fmt(m["logreg_circles"]["final_loss"])}, about log 2 = 0.693: it learned almost nothing).
"""


def report_square_features(m: dict) -> str:
    sq = m["square_features_linear_circles"]
    ws, bs = sq["w"], sq["b"]
    ratio = -bs / float(np.mean(ws))
    sq_shape = f"nearly a circle of radius {np.sqrt(ratio):.2f}" if ratio > 0 else "no circle"
    return f"""## 3. A hand-made transformation phi(x) = [x1^2, x2^2]

![circles transformed](circles_transformed_clf.png)

In the squared coordinates each circle of radius r falls on the segment x1^2 + x2^2 = r^2, and
one line separates the two segments: accuracy **{sq["train_accuracy"]:.3f}**, loss
{fmt(sq["final_loss"])}. The learned line is {ws[0]:.3f} x1^2 {ws[1]:+.3f} x2^2 {bs:+.3f} = 0,
in the original plane {sq_shape}, between the two classes. But we
had to know that the data were circles.
"""


def report_three_lines(cfg: Config, m: dict) -> str:
    return f"""## 4. Three linear classifiers that cooperate

![three classifiers](circles3.png)

Three lines drawn by hand (at distance {cfg.triangle_radius:g} from the centre) enclose the inner
circle: "class 1 iff inside all three" classifies
**{m["three_lines_by_hand_circles"]["train_accuracy"]:.3f}** of the points correctly. An MLP learns
such lines together: a hidden layer of three units, and an output unit that combines them.
"""


def report_mlp_231(cfg: Config, m: dict, c: dict) -> str:
    mlp = m["mlp_2_3_1_sigmoid_circles"]
    loss_rows = "\n".join(
        f"| {s} | {fmt(v)} | {NOTEBOOK_LOSS[int(s)] if int(s) in NOTEBOOK_LOSS else '-'} |"
        for s, v in mlp["loss_at_step"].items()
    )
    final = mlp["loss_at_step"][str(cfg.steps)]
    if cfg.steps in NOTEBOOK_LOSS:
        versus = (
            f"The random numbers differ from the notebook's, so the early losses differ; after "
            f"{cfg.steps} steps this run's loss is {fmt(final)} against the notebook's "
            f"{NOTEBOOK_LOSS[cfg.steps]:g}."
        )
    else:
        versus = f"(Reduced run: {cfg.steps} steps; the post trains for 1000.)"
    return f"""## 5. Learning: the post's 2-3-1 network

MLP(x) = sigma(w_m^T sigma(W x + b) + b_m), every parameter initialised from U(0, 1)
(`init_mlp(key({cfg.init_seed}), (2, 3, 1), scheme="{cfg.init_scheme}")`), full-batch gradient
descent with learning rate {cfg.learning_rate:g} on the mean loss (the notebook's 0.01 on the summed
loss), {cfg.steps} steps, gradients from the post's hand-derived formulas (`grad="manual"`).

| step | loss (this run) | loss (the post's notebook) |
|---:|---:|---:|
{loss_rows}

Training accuracy: **{mlp["train_accuracy"]:.3f}**. {versus} Training took
{mlp["train_seconds_incl_compile"]:.2f} s including compilation.

![loss curve](loss_curve.png)

The hand-derived gradients and `jax.grad` give the same run: the largest difference between the
two loss curves over {cfg.steps} steps is {c["manual_vs_autodiff_max_abs_loss_diff"]:.2g}
(autodiff run: final loss {fmt(m["mlp_2_3_1_sigmoid_circles_autodiff"]["final_loss"])}, accuracy
{m["mlp_2_3_1_sigmoid_circles_autodiff"]["train_accuracy"]:.3f}).
"""


def report_hidden_space(m: dict) -> str:
    mlp = m["mlp_2_3_1_sigmoid_circles"]
    W = np.asarray(mlp["W"])
    b = np.asarray(mlp["b"])
    dist = np.abs(b) / np.linalg.norm(W, axis=1)  # distance of each unit's line from (0, 0)
    units = "\n".join(
        f"| {i + 1} | ({W[i, 0]:.2f}, {W[i, 1]:.2f}) | {b[i]:.2f} | {dist[i]:.2f} |"
        for i in range(W.shape[0])
    )
    return f"""## 6. Result: the learned transformation makes the data linearly separable

![projection](projection.png)

Each point mapped to h = sigma(W x + b) in the unit cube (view elevation 20, azimuth 230, as in
the post). The output unit is a linear classifier in this space: its plane
w_m . h + b_m = 0, drawn in green, is the separating plane; it classifies
{mlp["train_accuracy"]:.1%} of the points correctly.

![hidden classifiers](hidden_classifiers.png)

The three learned hidden units, w_i . x + b_i = 0, in the input plane. Their lines lie
{dist.min():.2f} to {dist.max():.2f} from the centre, a triangle around the inner circle, as
in the hand-made picture of section 4:

| unit | w_i | b_i | distance of the line from the centre |
|---:|---|---:|---:|
{units}

![decision boundary](decision_boundary.png)

In the input plane, the network's decision boundary (probability 0.5) is the triangle-ish shape
that three lines allow.
"""


def report_widths(cfg: Config, m: dict) -> str:
    width_rows = "\n".join(
        f"| {w} | {fmt(m[f'mlp_2_{w}_1_sigmoid_circles']['final_loss'])} | "
        f"{m[f'mlp_2_{w}_1_sigmoid_circles']['train_accuracy']:.3f} |"
        for w in cfg.widths
    )
    return f"""## 7. More hidden units, rounder boundaries

![progress](decision_boundaries_progress.png)

The same training (learning rate, steps, U(0, 1) initialisation) with wider hidden layers; the
width-h network starts from the first h hidden units of one U(0, 1) draw of the widest network:

| hidden units | final loss | training accuracy |
|---:|---:|---:|
{width_rows}
"""


def report_identity_collapse(m: dict, c: dict) -> str:
    idn, lc = m["mlp_2_3_1_identity_circles"], m["logreg_circles"]
    return f"""## 8. The exercise: why the activation matters

![identity collapse](identity_collapse.png)

The same 2-3-1 network with identity hidden activations, trained the same way, reaches accuracy
**{idn["train_accuracy"]:.3f}** and loss {fmt(idn["final_loss"])}, no better than logistic
regression on the raw inputs ({lc["train_accuracy"]:.3f}, {fmt(lc["final_loss"])}).
Without sigma, w_m^T (W x + b) + b_m = (w_m^T W) x + (w_m^T b + b_m): one linear classifier with
w = ({idn["w_eff"][0]:.3f}, {idn["w_eff"][1]:.3f}) and b = {idn["b_eff"]:.3f}. Its logits equal the
network's to {c["identity_collapse_max_abs_logit_diff"]:.2g} on every training point.
"""


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("out/blog"))
    parser.add_argument("--quick", action="store_true", help="reduced settings (smoke tests)")
    parser.add_argument("--steps", type=int, help="training steps of the MLPs")
    parser.add_argument("--widths", type=str, help="hidden widths, e.g. 5,10,50")
    args = parser.parse_args(argv)
    compilation_cache.enable()  # JAXMLP_NO_CACHE=1 turns it off
    overrides: dict = dict(QUICK) if args.quick else {}
    if args.steps is not None:
        overrides["steps"] = args.steps
    if args.widths:
        overrides["widths"] = tuple(int(w) for w in args.widths.split(","))
    cfg = Config(**overrides)
    start = time.perf_counter()
    metrics = run(cfg, args.out)
    metrics["seconds"] = time.perf_counter() - start
    metrics["out"] = str(args.out)
    metrics["platform"] = f"{platform.machine()} {jax.default_backend().upper()}"
    metrics = {"config": dataclasses.asdict(cfg), **metrics}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False))
    (args.out / "report.md").write_text(report(cfg, metrics))
    mlp = metrics["models"]["mlp_2_3_1_sigmoid_circles"]
    for step, value in mlp["loss_at_step"].items():
        print(f"step {int(step):4d}  loss {value:.4f}")
    print(f"training accuracy {mlp['train_accuracy']:.3f}")
    print(
        f"wrote {len(list(args.out.glob('*.png')))} figures, metrics.json and report.md "
        f"to {args.out} in {metrics['seconds']:.1f} s"
    )
    return metrics


if __name__ == "__main__":
    main()
