"""Reproduces every figure of the post, with the numbers behind them, in one run.

    python experiments/blog.py --out out/blog          # ~1 minute on a laptop CPU
    python experiments/blog.py --out /tmp/b --quick     # reduced settings, for smoke tests

Writes the post's ten figures (PNGs, one function each in _blog_figures.py), metrics.json (loss
and accuracy of every model; keys name the model and data) and report.md (the post's
argument, figure by figure, with the measured numbers).
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import platform
import time
from typing import NamedTuple

import _blog_figures as figures
import _blog_report
import jax
import jax.numpy as jnp
import numpy as np
import optax
from _common import study_config, write_record

import jaxmlp
from jaxmlp import baselines, datasets


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


def train_mlp(cfg: Config, params, X, y, activation: str, optimizer, *, grad="manual"):
    kw = dict(activation=activation, optimizer=optimizer, steps=cfg.steps, grad=grad)
    return jaxmlp.train(params, X, y, **kw)


def with_units(params, width: int) -> jaxmlp.Params:
    """The 2-h-1 network cut or padded to ``width`` hidden units, on the host.

    Cutting one draw gives every width ``init_mlp``'s U(0, 1) scheme with no compile per
    width; padding adds units of zero weights, the same function (to float rounding), so
    every width's metrics and figure run one compiled program.
    """
    (W1, b1), (W2, b2) = [(np.asarray(layer.W), np.asarray(layer.b)) for layer in params]
    extra = max(0, width - W1.shape[0])
    return (
        jaxmlp.Dense(np.pad(W1[:width], ((0, extra), (0, 0))), np.pad(b1[:width], (0, extra))),
        jaxmlp.Dense(np.pad(W2[:, :width], ((0, 0), (0, extra))), b2),
    )


def triangle(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Three lines at distance ``radius`` from the origin, normals pointing inwards.

    Unit i is positive on the origin's side of its line, so "all three positive"
    is the triangle they enclose: the post's circles3.png, made by hand.
    """
    angles = np.deg2rad([90.0, 210.0, 330.0])
    normals = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return -normals, np.full(3, radius)


Circles = tuple[jax.Array, jax.Array]  # the post's data set: (n, 2) points, (n,) labels


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
    figures.blobs(out, cfg.dpi, Xb, yb, logreg.params[0])
    acc = accuracy(baselines.predict(logreg, Xb), yb)
    name = "logistic regression (MLP with sizes (2, 1))"
    return {"logreg_blobs": model_entry("blobs", name, logreg.loss[-1], acc)}


def circles(cfg: Config, out: pathlib.Path) -> tuple[Circles, baselines.LinearClassifier, dict]:
    """2. Concentric circles: no line can separate them. Returns the data and the line."""
    key = jax.random.key
    X, y = datasets.circles(key(cfg.data_seed), cfg.n, radii=cfg.radii, noise=cfg.noise)
    figures.circles(out, cfg.dpi, X, y, cfg.radii)
    logreg = baselines.logistic_regression(key(cfg.baseline_seed), X, y, **baseline_kw(cfg))
    acc = accuracy(baselines.predict(logreg, X), y)
    entry = model_entry("circles", "logistic regression on raw x", logreg.loss[-1], acc)
    return (X, y), logreg, {"logreg_circles": entry}


def square_features(cfg: Config, out: pathlib.Path, data: Circles) -> dict:
    """3. A hand-made feature map phi(x) = [x1^2, x2^2] makes the circles separable."""
    X, y = data
    square = baselines.feature_map_classifier(
        jax.random.key(cfg.baseline_seed), X, y, feature_map="square", **baseline_kw(cfg)
    )
    layer = square.params[0]
    entry = model_entry(
        "circles", "logistic regression on phi(x) = [x1^2, x2^2]", square.loss[-1],
        accuracy(baselines.predict(square, X), y),
        w=np.asarray(layer.W[0]).tolist(), b=float(layer.b[0]),
    )  # fmt: skip
    figures.square_features(out, cfg.dpi, X, y, layer)
    return {"square_features_linear_circles": entry}


def three_lines(cfg: Config, out: pathlib.Path, data: Circles) -> dict:
    """4. Three linear classifiers that together enclose the inner circle (by hand)."""
    X, y = data
    W3, b3 = triangle(r := cfg.triangle_radius)
    inside = np.all(np.asarray(X) @ W3.T + b3[None, :] >= 0, axis=1).astype(np.int32)
    name = f"class 1 iff inside all three hand-made lines (triangle, inradius {r:g})"
    figures.three_lines(out, cfg.dpi, X, y, W3, b3)
    entry = model_entry("circles", name, None, accuracy(jnp.asarray(inside), y))
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
            "circles", "MLP 2-3-1, sigmoid, manual gradients", final_loss, float(final_acc),
            loss_at_step=loss_at, train_seconds_incl_compile=train_seconds,
            W=np.asarray(params[0].W).tolist(), b=np.asarray(params[0].b).tolist(),
            w_m=np.asarray(params[1].W[0]).tolist(), b_m=float(params[1].b[0]),
        ),
        "mlp_2_3_1_sigmoid_circles_autodiff": model_entry(
            "circles", "MLP 2-3-1, sigmoid, jax.grad gradients",
            *map(float, fit_metrics(res_ad.params, X, y)),
        ),
    }  # fmt: skip
    diff = float(np.max(np.abs(np.asarray(res.loss) - np.asarray(res_ad.loss))))
    H, _ = hidden_and_logits(params, X, activation="sigmoid")
    figures.mlp_231(out, cfg, X, y, res, res_ad, H)
    return Post(init, params, opt), models, {"manual_vs_autodiff_max_abs_loss_diff": diff}


def identity_collapse(cfg: Config, out: pathlib.Path, data: Circles, post: Post,
                      logreg) -> tuple[dict, dict]:  # fmt: skip
    """8. The exercise: identity activations collapse the network to one linear classifier."""
    X, y = data
    p_id = train_mlp(cfg, post.init, X, y, "identity", post.optimizer).params
    (W1, b1), (W2, b2) = [(np.asarray(lay.W), np.asarray(lay.b)) for lay in p_id]
    w_eff, b_eff = W2 @ W1, W2 @ b1 + b2  # (1, 2) and (1,): w_m^T W and w_m^T b + b_m
    _, logits = hidden_and_logits(p_id, X, activation="identity")
    diff = float(np.max(np.abs(np.asarray(logits) - (np.asarray(X) @ w_eff[0] + b_eff[0]))))
    entry = model_entry(
        "circles", "MLP 2-3-1, identity hidden activation",
        *map(float, fit_metrics(p_id, X, y, activation="identity")),
        w_eff=np.asarray(w_eff[0]).tolist(), b_eff=float(b_eff[0]),
    )  # fmt: skip
    figures.identity_collapse(out, cfg, X, y, post.params, p_id, logreg)
    return {"mlp_2_3_1_identity_circles": entry}, {"identity_collapse_max_abs_logit_diff": diff}


def widths(cfg: Config, out: pathlib.Path, data: Circles, post: Post) -> dict:
    """7. More hidden units: the boundary gets rounder (the later version of the post)."""
    X, y = data
    models, trained = {}, {}
    key, sizes = jax.random.key(cfg.init_seed), (2, max(cfg.widths), 1)
    widest = jaxmlp.init_mlp(key, sizes, scheme=cfg.init_scheme)
    for width in cfg.widths:
        r = train_mlp(cfg, with_units(widest, width), X, y, "sigmoid", post.optimizer)
        trained[width] = with_units(r.params, max(cfg.widths))
        models[f"mlp_2_{width}_1_sigmoid_circles"] = model_entry(
            "circles", f"MLP 2-{width}-1, sigmoid",
            *map(float, fit_metrics(trained[width], X, y)), diverged_at=r.diverged_at,
        )  # fmt: skip
    figures.widths(out, cfg, X, y, trained)
    return models


def run(cfg: Config, out: pathlib.Path) -> dict:
    """Trains every model, writes every figure; returns the metrics, section by section."""
    out.mkdir(parents=True, exist_ok=True)
    models = blobs(cfg, out)
    data, logreg, entries = circles(cfg, out)
    models |= entries | square_features(cfg, out, data) | three_lines(cfg, out, data)
    post, entries, checks = mlp_231(cfg, out, data)
    identity, check = identity_collapse(cfg, out, data, post, logreg)
    models |= entries | identity | widths(cfg, out, data, post)
    return {"models": models, "checks": checks | check}


def main(argv: list[str] | None = None) -> dict:
    def flags(parser) -> None:
        parser.add_argument("--steps", type=int, help="training steps of the MLPs")
        parser.add_argument("--widths", type=lambda s: tuple(map(int, s.split(","))),
                            help="hidden widths, e.g. 5,10,50")  # fmt: skip

    args, cfg = study_config(__doc__, argv, out="out/blog", config=Config, quick=QUICK,
                             extra=flags)  # fmt: skip
    start, started = time.perf_counter(), time.time_ns()
    metrics = run(cfg, args.out)
    metrics |= {"seconds": time.perf_counter() - start, "out": str(args.out),
                "platform": f"{platform.machine()} {jax.default_backend().upper()}"}  # fmt: skip
    metrics = write_record(args.out / "metrics.json", cfg, metrics)
    (args.out / "report.md").write_text(_blog_report.report(cfg, metrics))
    mlp = metrics["models"]["mlp_2_3_1_sigmoid_circles"]
    for step, value in mlp["loss_at_step"].items():
        print(f"step {int(step):4d}  loss {value:.4f}")
    print(f"training accuracy {mlp['train_accuracy']:.3f}")
    wrote = [p for p in args.out.glob("*.png") if p.stat().st_mtime_ns >= started]  # this run's
    print(f"wrote {len(wrote)} figures, metrics.json and report.md to {args.out} in "
          f"{metrics['seconds']:.1f} s")  # fmt: skip
    return metrics


if __name__ == "__main__":
    main()
