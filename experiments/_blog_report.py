"""experiments/blog.py's report.md: the post's argument, figure by figure, with this run's numbers.

Only text: every number comes from the run's metrics (``metrics.json``) and its config.
"""

from __future__ import annotations

import jax
import numpy as np

# The loss the post's notebook printed for its 2-3-1 network (a quotation of the
# post, shown next to our measurement; nothing is computed from it).
NOTEBOOK_LOSS = {0: 0.918, 100: 0.426, 300: 0.0495, 1000: 0.0086}


def fmt(x: float) -> str:
    return f"{x:.4g}"


def report(cfg, metrics: dict) -> str:
    """The post's argument, figure by figure, with the numbers of this run."""
    m, c = metrics["models"], metrics["checks"]
    return "\n".join([report_header(cfg, metrics), report_blobs(cfg, m), report_circles(m),
                      report_square_features(m), report_three_lines(cfg, m),
                      report_mlp_231(cfg, m, c), report_hidden_space(m), report_widths(cfg, m),
                      report_identity_collapse(m, c)])  # fmt: skip


def report_header(cfg, metrics: dict) -> str:
    return f"""# Introduction to Multilayer Perceptron, reproduced with jaxmlp

Every number below was measured by `python experiments/blog.py --out {metrics["out"]}`
({metrics["seconds"]:.0f} s on {metrics["platform"]}, jax {jax.__version__}); all of them are in
`metrics.json`. Data: {cfg.n} points per data set, circles of radii {cfg.radii[0]:g} and
{cfg.radii[1]:g} with noise std {cfg.noise:g} (`jaxmlp.datasets.circles(key({cfg.data_seed}))`).
"""


def report_blobs(cfg, m: dict) -> str:
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


def report_three_lines(cfg, m: dict) -> str:
    return f"""## 4. Three linear classifiers that cooperate

![three classifiers](circles3.png)

Three lines drawn by hand (at distance {cfg.triangle_radius:g} from the centre) enclose the inner
circle: "class 1 iff inside all three" classifies
**{m["three_lines_by_hand_circles"]["train_accuracy"]:.3f}** of the points correctly. An MLP learns
such lines together: a hidden layer of three units, and an output unit that combines them.
"""


def report_mlp_231(cfg, m: dict, c: dict) -> str:
    mlp = m["mlp_2_3_1_sigmoid_circles"]
    loss_rows = "\n".join(f"| {s} | {fmt(v)} | {NOTEBOOK_LOSS.get(int(s), '-')} |"
                          for s, v in mlp["loss_at_step"].items())  # fmt: skip
    final = mlp["loss_at_step"][str(cfg.steps)]
    versus = (f"The random numbers differ from the notebook's, so the early losses differ; after "
              f"{cfg.steps} steps this run's loss is {fmt(final)} against the notebook's "
              f"{NOTEBOOK_LOSS[cfg.steps]:g}." if cfg.steps in NOTEBOOK_LOSS
              else f"(Reduced run: {cfg.steps} steps; the post trains for 1000.)")  # fmt: skip
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
    W, b = np.asarray(mlp["W"]), np.asarray(mlp["b"])
    dist = np.abs(b) / np.linalg.norm(W, axis=1)  # distance of each unit's line from (0, 0)
    units = "\n".join(f"| {i + 1} | ({W[i, 0]:.2f}, {W[i, 1]:.2f}) | {b[i]:.2f} | {dist[i]:.2f} |"
                       for i in range(W.shape[0]))  # fmt: skip
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


def report_widths(cfg, m: dict) -> str:
    nets = {w: m[f"mlp_2_{w}_1_sigmoid_circles"] for w in cfg.widths}
    width_rows = "\n".join(f"| {w} | {fmt(x['final_loss'])} | {x['train_accuracy']:.3f} |"
                           for w, x in nets.items())  # fmt: skip
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
