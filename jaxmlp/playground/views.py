"""What the page draws of one set of parameters, computed by jaxmlp (JSON-ready).

Decision regions on a grid, each first-layer unit's activation map with its line
``w_i . x + b_i = 0``, the last hidden layer's space with the output unit's line or
plane (2 or 3 units), the weights for the network graph, and the post's gradients
(``jaxmlp.manual_grads``) next to ``jax.grad``'s. The geometry (lines and planes cut
by a box) is that of :mod:`jaxmlp.plots`.
"""

from __future__ import annotations

import base64
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import jaxmlp
from jaxmlp import _steps, mlp
from jaxmlp import activations as _activations
from jaxmlp.playground.data import Problem
from jaxmlp.playground.features import PLANE, input_features
from jaxmlp.plots.geometry import hidden_box, line_through_box, plane_in_box
from jaxmlp.plots.style import grid, plane_limits

RESOLUTION = 48  # grid points per side of the region and unit maps
MAX_UNIT_MAPS = 16
MAX_GRAPH_WEIGHTS = 5000  # more weights than this: no network graph (too many edges)


class Canvas(NamedTuple):
    """The plane the page draws: limits ((x0, x1), (y0, y1)), axes (r,), and the network's
    inputs at the grid's points (r*r, k): their k input features (``features``)."""

    limits: tuple[tuple[float, float], tuple[float, float]]
    xs: np.ndarray
    ys: np.ndarray
    points: jax.Array
    features: tuple[str, ...] = PLANE


def make_canvas(
    problem: Problem, resolution: int = RESOLUTION, features: tuple[str, ...] = PLANE
) -> Canvas:
    """A grid around every point of the problem (training and test, in the plane).

    >>> from jaxmlp.playground.data import make_problem
    >>> from jaxmlp.playground.settings import Settings
    >>> make_canvas(make_problem(Settings()), 10).points.shape
    (100, 2)
    """
    X = np.concatenate([np.asarray(problem.X_train), np.asarray(problem.X_test)])
    limits = plane_limits(X)
    xx, yy, points = grid(limits, resolution=resolution)
    inputs = input_features(jnp.asarray(points), features)
    return Canvas(limits, xx[0], yy[:, 0], inputs, tuple(features))  # type: ignore[arg-type]


def rounded(a, digits: int = 4) -> list:
    """``a`` (any shape) as nested lists of floats rounded to ``digits`` (for JSON).

    >>> rounded([0.123456, 2.0])
    [0.1235, 2.0]
    """
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def labels(y, digits: int = 4) -> list:
    """Class labels as ints, regression targets (floats) rounded to ``digits`` (for JSON).

    >>> labels(np.array([0, 1])), labels(np.array([0.123456], np.float32))
    ([0, 1], [0.1235])
    """
    y = np.asarray(y)
    return rounded(y, digits) if np.issubdtype(y.dtype, np.floating) else y.tolist()


def encode_map(z) -> dict:
    """A map (r, r) as ``{"lo", "hi", "shape", "bytes"}``: base64 of uint8 levels 0..255
    spanning [lo, hi] (a 48 x 48 map is 3 kB instead of 15 kB of JSON numbers).

    >>> encode_map(np.array([[0.0, 0.5], [1.0, 1.0]]))["bytes"]
    'AID//w=='
    """
    z = np.asarray(z, dtype=np.float64)
    lo, hi = float(z.min()), float(z.max())
    levels = np.zeros(z.shape) if hi == lo else (z - lo) / (hi - lo) * 255
    data = np.round(levels).astype(np.uint8).tobytes()
    return {"lo": lo, "hi": hi, "shape": list(z.shape), "bytes": base64.b64encode(data).decode()}


@functools.partial(jax.jit, static_argnames=("activation", "output"))
def _maps(params, points, X_train, y_train, X_test, y_test, *, activation, output=None):
    """Class-1 probability (r*r,) (regression: the output), first-layer units (w1, r*r),
    last hidden layer (n, m), training and test accuracy (regression: NaN)."""
    on_grid = mlp.forward_with_intermediates(params, points, activation)
    units = on_grid.h[1].T if len(params) > 1 else jnp.zeros((0, points.shape[0]))
    train = mlp.forward_with_intermediates(params, X_train, activation)
    if output is not None:  # regression: the network's output itself, no accuracy
        value = mlp.output_units(on_grid.s[-1], output)[:, 0]
        return value, units, train.h[-1], jnp.nan, jnp.nan
    proba = jax.nn.sigmoid(on_grid.s[-1][:, 0])
    test_logits = mlp.forward_with_intermediates(params, X_test, activation).s[-1][:, 0]
    accuracy = lambda z, y: jnp.mean((z > 0) == (y == 1))  # noqa: E731
    return (
        proba,
        units,
        train.h[-1],
        accuracy(train.s[-1][:, 0], y_train),
        accuracy(test_logits, y_test),
    )


def _hidden_space(H: np.ndarray, y: np.ndarray, output: mlp.Dense, act) -> dict | None:
    """The last hidden layer's points and the output unit's line (2-D) or plane (3-D)."""
    m = H.shape[1]
    if m not in (2, 3):
        return None
    lo, hi = (np.asarray(v, dtype=np.float64) for v in hidden_box(H[None], act))
    w, b = np.asarray(output.W[0], np.float64), float(output.b[0])
    space: dict[str, Any] = {"dims": m, "points": rounded(H), "labels": labels(y, 3)}
    space["box"] = [rounded(lo), rounded(hi)]
    if not np.any(w):
        space["boundary"] = []
    elif m == 2:
        xs, ys = line_through_box(w, b, ((lo[0], hi[0]), (lo[1], hi[1])))
        space["boundary"] = [rounded(xs), rounded(ys)]
    else:
        space["boundary"] = rounded(plane_in_box(w, b, lo, hi).T)  # [xs, ys, zs]
    return space


def collapse(params: mlp.Params) -> mlp.Dense:
    """The one linear map a network of identity units is: ``W = W_L ... W_1`` (1, d) and
    ``b`` (1,), so that ``forward(params, X) == X @ W.T + b``: logistic regression.

    >>> p = (mlp.Dense(jnp.array([[2.0], [1.0]]), jnp.array([1.0, 0.0])),
    ...      mlp.Dense(jnp.array([[1.0, -1.0]]), jnp.array([0.5])))
    >>> c = collapse(p); c.W.tolist(), c.b.tolist()
    ([[1.0]], [1.5])
    """
    W, b = params[0].W, params[0].b
    for layer in params[1:]:
        W, b = layer.W @ W, layer.W @ b + layer.b
    return mlp.Dense(W, b)


def picture(
    params: mlp.Params,
    problem: Problem,
    canvas: Canvas,
    activation: str,
    output: str | None = None,
) -> dict:
    """Everything the page draws of ``params``: regions, unit maps, hidden space, graph.

    Args:
      params: one network, sizes (2, ..., 1).
      problem: its data as the network's inputs (:func:`.data.make_inputs`).
      canvas: the grid of the plane, with its inputs of the same features.
      activation: hidden activation name.
      output: None (a classifier) or ``"identity"`` (regression: ``regions`` is the
        network's output, and the accuracies are None).

    Returns:
      A JSON-ready dict: ``regions`` (r, r) class-1 probability (or output); ``units``: per
      first-layer unit (at most 16) its activation map ``z`` (r, r), both as
      :func:`encode_map`; ``line`` end points
      ``[[x0, x1], [y0, y1]]`` (or []) and ``w``, ``b``; ``hidden`` (or None);
      ``network`` sizes, weights and biases; ``train_accuracy``, ``test_accuracy``;
      for identity units, ``collapsed``: the one linear map ``w``, ``b`` (:func:`collapse`).

    >>> from jaxmlp.playground.data import make_problem
    >>> from jaxmlp.playground.settings import Settings
    >>> problem = make_problem(Settings())
    >>> p = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> len(picture(p, problem, make_canvas(problem, 8), "sigmoid")["units"])
    3
    """
    act = _activations.get(activation)
    r = canvas.xs.size
    proba, units, hidden, train_acc, test_acc = jax.device_get(
        _maps(
            params,
            canvas.points,
            problem.X_train,
            problem.y_train,
            problem.X_test,
            problem.y_test,
            activation=act,
            output=output,
        )
    )
    out: dict[str, Any] = {
        "regions": encode_map(proba.reshape(r, r)),
        "train_accuracy": None if output else float(train_acc),
        "test_accuracy": None if output else float(test_acc),
        "units": [],
        "hidden": None,
    }
    if len(params) > 1:
        W, b = np.asarray(params[0].W, np.float64), np.asarray(params[0].b, np.float64)
        for i in range(min(W.shape[0], MAX_UNIT_MAPS)):
            # a unit's boundary is a line in the plane only when its inputs are x1, x2
            plane = canvas.features == PLANE and np.any(W[i])
            line = line_through_box(W[i], b[i], canvas.limits) if plane else None
            out["units"].append(
                {
                    "z": encode_map(units[i].reshape(r, r)),
                    "line": [] if line is None else [rounded(line[0]), rounded(line[1])],
                    "w": rounded(W[i]),
                    "b": round(float(b[i]), 4),
                }
            )
        y = np.asarray(problem.y_train)
        out["hidden"] = _hidden_space(np.asarray(hidden, np.float64), y, params[-1], act)
    if activation == "identity" and len(params) > 1:
        one = jax.device_get(collapse(params))
        out["collapsed"] = {"w": rounded(one.W[0]), "b": round(float(one.b[0]), 4)}
    n_weights = sum(int(layer.W.size) for layer in params)
    out["network"] = {
        "sizes": list(mlp.sizes_of(params)),
        "weights": [rounded(layer.W, 3) for layer in params]
        if n_weights <= MAX_GRAPH_WEIGHTS
        else None,
        "biases": [rounded(layer.b, 3) for layer in params]
        if n_weights <= MAX_GRAPH_WEIGHTS
        else None,
    }
    return out


_autodiff = jax.jit(_steps.autodiff_loss_and_grads, static_argnames=("activation", "output"))


def gradients(
    params: mlp.Params, X: jax.Array, y: jax.Array, activation: str, output: str | None = None
) -> dict:
    """The post's gradients (P1-P4, ``jaxmlp.manual_grads``) beside ``jax.grad``'s.

    Both of the mean loss on ``X`` (n, 2), ``y`` (n,) (``output``: as ``jaxmlp.train``'s,
    None for a classifier, ``"identity"`` for regression). Layers from the output back:
    the output layer's bias gradient is P1 (``mean(y_hat - y)``) and its weights'
    P2; each hidden layer's bias gradient is P3 (the mean of its ``delta``) and its
    weights' P4.

    Returns:
      ``{"loss", "layers": [{"layer", "role", "manual": {"W", "b"}, "autodiff": {...},
      "max_abs_diff"}, ...]}``, JSON-ready.

    >>> p = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> g = gradients(p, jnp.ones((4, 2)), jnp.array([0, 1, 1, 0]), "sigmoid")
    >>> [layer["role"] for layer in g["layers"]], g["layers"][0]["max_abs_diff"] < 1e-6
    (['output', 'hidden'], True)
    """
    act = _activations.get(activation)
    manual = jaxmlp.manual_grads(params, X, y, act, output=output)
    value, auto = _autodiff(params, X, y, activation=act, output=output)
    layers = []
    for l in reversed(range(len(params))):
        m, a = jax.device_get((manual[l], auto[l]))
        diff = max(float(np.max(np.abs(m.W - a.W))), float(np.max(np.abs(m.b - a.b))))
        layers.append(
            {
                "layer": l + 1,
                "role": "output" if l == len(params) - 1 else "hidden",
                "manual": {"W": rounded(m.W, 10), "b": rounded(m.b, 10)},
                "autodiff": {"W": rounded(a.W, 10), "b": rounded(a.b, 10)},
                "max_abs_diff": diff,
            }
        )
    return {"loss": float(value), "layers": layers}
