"""The playground's data: a generated set or an uploaded CSV, split as ``jaxmlp train`` does.

The classification sets are :mod:`jaxmlp.datasets`'; the regression sets (TensorFlow
Playground's "plane" and "multi gaussian") are defined here, :func:`plane` and
:func:`gaussians`.
"""

from __future__ import annotations

import functools
import io
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import compile_options, datasets, validation
from jaxmlp.playground.features import input_features
from jaxmlp.playground.settings import (
    MAX_NOISE,
    MAX_POINTS,
    REGRESSION_SETS,
    Settings,
    default_noise,
)

F32 = jnp.float32
RADIUS = 3.0  # the regression sets' points: uniform in [-RADIUS, RADIUS]^2, as wide as circles
# multi gaussian's bumps: centre (x1, x2) and sign, TensorFlow Playground's at half its scale
BUMPS = ((-2.0, 1.25, 1.0), (0.0, 1.25, -1.0), (2.0, 1.25, 1.0),
         (-2.0, -1.25, -1.0), (0.0, -1.25, 1.0), (2.0, -1.25, -1.0))  # fmt: skip


def plane(key: jax.Array, n: int = 200, *, noise: float = 0.05) -> tuple[jax.Array, jax.Array]:
    """A tilted plane: the target ``(x1 + x2) / 5`` plus Gaussian noise of std ``noise``.

    TensorFlow Playground's "plane" regression set at half its scale: points uniform in
    ``[-3, 3]^2``, targets in about ``[-1.2, 1.2]``.

    Returns:
      X (n, 2) float32 and y (n,) float32.

    >>> X, y = plane(jax.random.key(0), 4, noise=0.0)
    >>> bool(jnp.allclose(y, (X[:, 0] + X[:, 1]) / 5))
    True
    """
    return _regression(key, *_checked(key, n, noise), surface="plane")


def gaussians(key: jax.Array, n: int = 200, *, noise: float = 0.05) -> tuple[jax.Array, jax.Array]:
    """Six Gaussian-like bumps of sign +-1: TensorFlow Playground's "multi gaussian".

    At half its scale: points uniform in ``[-3, 3]^2``; the target is the bump of the
    largest size at the point, ``sign * max(0, 1 - distance to its centre)`` (centres
    and signs: :data:`BUMPS`), plus Gaussian noise of std ``noise``.

    Returns:
      X (n, 2) float32 and y (n,) float32 in about [-1, 1].

    >>> X, y = gaussians(jax.random.key(0), 3, noise=0.0)
    >>> X.shape, y.dtype.name
    ((3, 2), 'float32')
    """
    return _regression(key, *_checked(key, n, noise), surface="gaussians")


def _checked(key, n, noise) -> tuple[int, jax.Array]:
    """``(n, noise as a float32 array)``: n an int in [2, MAX_POINTS], noise a number in
    [0, MAX_NOISE] (a value, so a new noise compiles nothing); else an error naming it."""
    validation.check_key(key)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= MAX_POINTS:
        raise ValueError(f"n must be an int in [2, {MAX_POINTS}], got {n!r}")
    validation.check_number(noise, "noise")
    if not 0 <= noise <= MAX_NOISE:
        raise ValueError(f"noise must be in [0, {MAX_NOISE:g}], got {noise!r}")
    return int(n), jnp.asarray(noise, F32)


def _surface(X: jax.Array, surface: str) -> jax.Array:
    """The noiseless target (n,) of the points X (n, 2)."""
    if surface == "plane":
        return (X[:, 0] + X[:, 1]) / 5
    centres = jnp.array([b[:2] for b in BUMPS], F32)  # (6, 2)
    signs = jnp.array([b[2] for b in BUMPS], F32)
    distance = jnp.linalg.norm(X[:, None, :] - centres[None], axis=-1)  # (n, 6)
    bumps = signs[None, :] * jnp.clip(1.0 - distance, 0.0, 1.0)
    pick = jnp.argmax(jnp.abs(bumps), axis=1)  # the largest, its sign kept
    return jnp.take_along_axis(bumps, pick[:, None], axis=1)[:, 0]


@compile_options.jit("datasets", static_argnums=1, static_argnames="surface")
def _regression(key, n, noise, *, surface):
    point_key, noise_key = jax.random.split(key)
    X = jax.random.uniform(point_key, (n, 2), F32, -RADIUS, RADIUS)
    y = _surface(X, surface) + noise * jax.random.normal(noise_key, (n,), F32)
    return X, y.astype(F32)


REGRESSION_GENERATORS = dict(zip(REGRESSION_SETS, (plane, gaussians), strict=True))
"""The regression sets by name (:data:`jaxmlp.playground.settings.REGRESSION_SETS`)."""


class Problem(NamedTuple):
    """A split data set: X_* (n_*, 2) float32; y_* (n_*,) int32 in {0, 1} (classification)
    or float32 targets (regression)."""

    X_train: jax.Array
    X_test: jax.Array
    y_train: jax.Array
    y_test: jax.Array


def parse_csv(text: str, *, regression: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``x1, x2, label`` (an optional header line) -> X (n, 2) float32, y (n,) int32.

    The label column may hold any two distinct numbers; the smaller is class 0. With
    ``regression``, the third column is the target: y (n,) float32.

    Raises:
      ValueError: naming the CSV and what is wrong with it.

    >>> X, y = parse_csv("x1,x2,label\\n0,0,-1\\n1,1,1\\n0,1,1\\n1,0,-1\\n")
    >>> X.shape, y.tolist()
    ((4, 2), [0, 1, 1, 0])
    """
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if lines:
        try:
            [float(v) for v in lines[0].split(",")]
        except ValueError:
            lines = lines[1:]  # a header
    try:
        table = np.loadtxt(io.StringIO("\n".join(lines)), delimiter=",", ndmin=2)
    except ValueError as e:
        raise ValueError(f"csv: every row must be three numbers x1, x2, label ({e})") from None
    if table.shape[1:] != (3,):
        raise ValueError(f"csv: rows must have three columns x1, x2, label; got {table.shape[1]}")
    if not 4 <= table.shape[0] <= MAX_POINTS:
        raise ValueError(f"csv: need 4 to {MAX_POINTS} rows, got {table.shape[0]}")
    if not np.all(np.isfinite(table)):
        raise ValueError("csv: every value must be a finite number")
    if np.max(np.abs(table[:, :2])) > np.finfo(np.float32).max:
        raise ValueError("csv: x1 and x2 must fit float32 (at most about 3.4e38 in size)")
    if regression:
        if np.max(np.abs(table[:, 2])) > np.finfo(np.float32).max:
            raise ValueError("csv: the targets must fit float32 (at most about 3.4e38 in size)")
        return table[:, :2].astype(np.float32), table[:, 2].astype(np.float32)
    labels = np.unique(table[:, 2])
    if labels.size != 2:
        raise ValueError(f"csv: the label column must hold two classes, got {labels.size}")
    return table[:, :2].astype(np.float32), (table[:, 2] == labels[1]).astype(np.int32)


@functools.lru_cache(maxsize=8)
def _problem(key: tuple) -> Problem:
    dataset, n, noise, test_fraction, seed, csv_text, mode = key
    keys = datasets.run_keys(seed)
    X: jax.Array | np.ndarray
    y: jax.Array | np.ndarray
    if dataset == "csv":
        X, y = parse_csv(csv_text, regression=mode == "regression")
    else:
        generator = REGRESSION_GENERATORS.get(dataset) or getattr(datasets, dataset)
        spread = "std" if dataset == "blobs" else "noise"
        options = {} if noise == default_noise(dataset) else {spread: noise}
        X, y = generator(jax.random.key(keys.data), n, **options)
    X_train, X_test, y_train, y_test = datasets.train_test_split(
        jax.random.key(keys.split), jnp.asarray(X), jnp.asarray(y), test_fraction=test_fraction
    )
    return Problem(X_train, X_test, y_train, y_test)


def make_problem(settings: Settings) -> Problem:
    """The data of ``settings``, drawn and split with ``datasets.run_keys`` as ``jaxmlp train``.

    Cached by the data fields, so a change of network or optimizer keeps the points.

    >>> p = make_problem(Settings(n=40))
    >>> p.X_train.shape, p.X_test.shape
    ((30, 2), (10, 2))
    """
    return _problem(settings.data_key())


@functools.lru_cache(maxsize=8)
def _inputs(key: tuple, features: tuple[str, ...]) -> Problem:
    p = _problem(key)
    return p._replace(
        X_train=input_features(p.X_train, features), X_test=input_features(p.X_test, features)
    )


def make_inputs(settings: Settings) -> Problem:
    """The data of ``settings`` as the network sees it: :func:`make_problem` with X_*
    (n_*, len(features)) the input features of its points (``features.input_features``).

    >>> make_inputs(Settings(n=40, features=("x1^2", "x2^2", "x1*x2"))).X_train.shape
    (30, 3)
    """
    return _inputs(settings.data_key(), settings.features)
