"""Toy two-class data sets in the plane, deterministic from a PRNG key.

Every generator takes the key first, returns ``X (n, 2) float32`` and
``y (n,) int32`` with ``n // 2`` examples of label 0 and the rest label 1,
shuffled, and rejects bad arguments with a ``ValueError`` before drawing. The
numbers are drawn in float32, so a session with ``jax_enable_x64`` gets the same data.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import compile_options, validation

__all__ = [
    "RunKeys",
    "blobs",
    "circles",
    "moons",
    "run_keys",
    "spirals",
    "train_test_split",
    "xor",
]

Array = jax.Array
F32 = jnp.float32  # every data set is drawn in float32, so jax_enable_x64 gives the same data


def circles(
    key: Array,
    n: int = 200,
    *,
    radii: tuple[float, float] = (3.0, 1.0),
    noise: float = 0.05,
    center: tuple[float, float] = (0.0, 0.0),
) -> tuple[Array, Array]:
    """Two concentric circles, the post's data set.

    ``n // 2`` points on the outer circle (label 0) and ``n - n // 2`` on the
    inner one (label 1), at uniform angles, plus Gaussian noise of std ``noise``
    on each coordinate, shuffled.

    Returns:
      X (n, 2) float32 and y (n,) int32.

    >>> X, y = circles(jax.random.key(0))
    >>> X.shape, y.shape
    ((200, 2), (200,))
    """
    validation.check_key(key)
    _check_n(n)
    _check_noise(noise)
    radii_ = _points(radii, (2,), "radii", "two radii (outer, inner)")
    if not (radii_ > 0).all():
        raise ValueError(
            f"radii must be two positive numbers (outer, inner), got {radii_.tolist()}"
        )
    center_ = _points(center, (2,), "center", "one (x1, x2) point")
    # Op by op, not jitted: the exact numbers of the first release (fusion changes the last bit).
    angle_key, noise_key, perm_key = jax.random.split(key, 3)
    n_outer = n // 2
    y = jnp.concatenate([jnp.zeros(n_outer, jnp.int32), jnp.ones(n - n_outer, jnp.int32)])
    radii_, center_ = radii_.astype(np.float32), center_.astype(np.float32)
    radius = jnp.where(y == 0, radii_[0], radii_[1])
    angle = jax.random.uniform(angle_key, (n,), F32, minval=0.0, maxval=2 * jnp.pi)
    X = radius[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    noise_ = np.float32(noise) * jax.random.normal(noise_key, (n, 2), F32)
    X = X + jnp.asarray(center_)[None, :] + noise_
    perm = jax.random.permutation(perm_key, n)
    return X[perm].astype(jnp.float32), y[perm]


def blobs(
    key: Array,
    n: int = 200,
    *,
    centers: tuple[tuple[float, float], tuple[float, float]] = ((-2.0, -2.0), (2.0, 2.0)),
    std: float = 1.0,
) -> tuple[Array, Array]:
    """Two Gaussian blobs: nearly linearly separable for the default centres and spread.

    ``n // 2`` points around ``centers[0]`` (label 0) and ``n - n // 2`` around
    ``centers[1]`` (label 1), isotropic Gaussian of std ``std``, shuffled.

    Returns:
      X (n, 2) float32 and y (n,) int32.

    >>> X, y = blobs(jax.random.key(0), 10)
    >>> X.shape, int(y.sum())
    ((10, 2), 5)
    """
    validation.check_key(key)
    _check_n(n)
    _check_noise(std, "std")
    points = _points(centers, (2, 2), "centers", "two (x1, x2) points")
    return _blobs(key, int(n), _floats(points), _floats(std))


@compile_options.jit("datasets", static_argnums=1)
def _blobs(key, n, centers, std):
    c = centers
    noise_key, perm_key = jax.random.split(key)
    y = _labels(n)
    X = c[y] + std * jax.random.normal(noise_key, (n, 2), F32)
    return _shuffle(perm_key, X, y)


def moons(key: Array, n: int = 200, *, noise: float = 0.1) -> tuple[Array, Array]:
    """Two interleaving half circles (as scikit-learn's ``make_moons``).

    Label 0: ``(cos t, sin t)``; label 1: ``(1 - cos t, 0.5 - sin t)``, with
    ``t ~ U(0, pi)``, plus Gaussian noise of std ``noise``, shuffled.

    Returns:
      X (n, 2) float32 and y (n,) int32.

    >>> X, y = moons(jax.random.key(0))
    >>> X.shape, y.dtype
    ((200, 2), dtype('int32'))
    """
    validation.check_key(key)
    _check_n(n)
    _check_noise(noise)
    return _moons(key, int(n), _floats(noise))


@compile_options.jit("datasets", static_argnums=1)
def _moons(key, n, noise):
    angle_key, noise_key, perm_key = jax.random.split(key, 3)
    y = _labels(n)
    t = jax.random.uniform(angle_key, (n,), F32, minval=0.0, maxval=jnp.pi)
    upper = jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
    lower = jnp.stack([1.0 - jnp.cos(t), 0.5 - jnp.sin(t)], axis=1)
    X = jnp.where((y == 0)[:, None], upper, lower)
    X = X + noise * jax.random.normal(noise_key, (n, 2), F32)
    return _shuffle(perm_key, X, y)


def xor(key: Array, n: int = 200, *, noise: float = 0.2) -> tuple[Array, Array]:
    """The XOR problem: four Gaussian clusters at ``(+-1, +-1)``.

    Label 1 where the signs of the cluster centre's coordinates differ
    (``(1, -1)`` and ``(-1, 1)``), label 0 on the diagonal ``(1, 1)``, ``(-1, -1)``.
    Classes are balanced (``n // 2`` of label 0); noise std ``noise``; shuffled.

    Returns:
      X (n, 2) float32 and y (n,) int32.

    >>> X, y = xor(jax.random.key(0), 8)
    >>> X.shape, int(y.sum())
    ((8, 2), 4)
    """
    validation.check_key(key)
    _check_n(n)
    _check_noise(noise)
    return _xor(key, int(n), _floats(noise))


@compile_options.jit("datasets", static_argnums=1)
def _xor(key, n, noise):
    corner_key, noise_key, perm_key = jax.random.split(key, 3)
    y = _labels(n)
    # Within each class, which of its two corners: first coordinate's sign s1;
    # the second coordinate's sign is s1 for label 0 and -s1 for label 1.
    s1 = jnp.where(jax.random.bernoulli(corner_key, F32(0.5), (n,)), 1.0, -1.0)
    s2 = jnp.where(y == 0, s1, -s1)
    X = jnp.stack([s1, s2], axis=1) + noise * jax.random.normal(noise_key, (n, 2), F32)
    return _shuffle(perm_key, X, y)


def spirals(
    key: Array, n: int = 200, *, turns: float = 1.5, noise: float = 0.05
) -> tuple[Array, Array]:
    """Two interleaved Archimedean spirals, one per class.

    A point at fraction ``t ~ U(0, 1)`` along its arm sits at radius
    ``0.1 + 0.9 t`` and angle ``2 pi turns t`` (plus ``pi`` for label 1), plus
    Gaussian noise of std ``noise``; shuffled.

    Returns:
      X (n, 2) float32 and y (n,) int32, inside roughly [-1, 1]^2.

    >>> X, y = spirals(jax.random.key(0))
    >>> X.shape
    (200, 2)
    """
    validation.check_key(key)
    _check_n(n)
    _check_noise(noise)
    validation.check_number(turns, "turns")
    if not 0 < turns <= MAX_TURNS:
        raise ValueError(f"turns must be > 0 and at most MAX_TURNS = {MAX_TURNS:g}, got {turns!r}")
    return _spirals(key, int(n), _floats(turns), _floats(noise))


@compile_options.jit("spirals", static_argnums=1)
def _spirals(key, n, turns, noise):
    t_key, noise_key, perm_key = jax.random.split(key, 3)
    y = _labels(n)
    t = jax.random.uniform(t_key, (n,), F32)
    radius = 0.1 + 0.9 * t
    angle = 2 * jnp.pi * turns * t + jnp.pi * y.astype(F32)
    X = radius[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    X = X + noise * jax.random.normal(noise_key, (n, 2), F32)
    return _shuffle(perm_key, X, y)


class RunKeys(NamedTuple):
    """The seeds of a run's PRNG keys: use ``jax.random.key(keys.<field>)``."""

    data: int  # the data set's draw
    init: int  # init_mlp
    split: int  # train_test_split
    shuffle: int  # the mini-batch order (train's or sweep's key=)


MAX_RUN_SEED = 2**31 - 3
"""The largest seed of :func:`run_keys`: every key's seed stays a 32-bit int."""


def run_keys(seed: int) -> RunKeys:
    """The seeds of every key of a run from one seed: the home of their offsets.

    ``jaxmlp train --seed s``, the playground and the Python snippet it prints all
    draw the data and the initial params with ``s``, split with ``s + 1`` and
    shuffle mini-batches with ``s + 2`` (``jaxmlp sweep --data-seed`` likewise, but
    its params come from ``--seeds``), so each reproduces the others.

    Args:
      seed: an int in ``0..MAX_RUN_SEED``.

    Returns:
      :class:`RunKeys` of ints.

    >>> run_keys(7)
    RunKeys(data=7, init=7, split=8, shuffle=9)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed <= MAX_RUN_SEED:
        raise ValueError(f"seed must be in 0..{MAX_RUN_SEED}, got {seed}")
    seed = int(seed)
    return RunKeys(data=seed, init=seed, split=seed + 1, shuffle=seed + 2)


def train_test_split(
    key: Array, X: Array, y: Array, *, test_fraction: float = 0.25
) -> tuple[Array, Array, Array, Array]:
    """Splits examples at random into a training and a held-out test set.

    Args:
      key: PRNG key for the permutation.
      X: (n, d) inputs.
      y: (n,) labels.
      test_fraction: share of examples in the test set, in (0, 1); the test set
        gets ``round(n * test_fraction)`` examples, at least one, and the
        training set at least one.

    Returns:
      ``(X_train (n - m, d), X_test (m, d), y_train (n - m,), y_test (m,))``.

    >>> X, y = circles(jax.random.key(0), 100)
    >>> X_tr, X_te, y_tr, y_te = train_test_split(jax.random.key(1), X, y)
    >>> X_tr.shape, X_te.shape
    ((75, 2), (25, 2))
    """
    if not hasattr(X, "shape") or len(X.shape) != 2:
        raise ValueError(f"X must be 2-D with shape (n, d), got shape {getattr(X, 'shape', X)}")
    n = X.shape[0]
    if not hasattr(y, "shape") or tuple(y.shape) != (n,):
        raise ValueError(f"y must have shape ({n},) to match X, got {getattr(y, 'shape', y)}")
    if n < 2:
        raise ValueError(f"X must have at least 2 rows to split, got {n}")
    validation.check_key(key)
    validation.check_number(test_fraction, "test_fraction")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    n_test = min(max(round(n * test_fraction), 1), n - 1)
    return _split(key, jnp.asarray(X), jnp.asarray(y), n_test)


@compile_options.jit("datasets", static_argnums=3)
def _split(key, X, y, n_test):
    perm = jax.random.permutation(key, X.shape[0])
    test, train = perm[:n_test], perm[n_test:]
    return X[train], X[test], y[train], y[test]


# Points of a data set are float32: geometry beyond this would overflow it (or lose all
# precision); the limit is far beyond any sensible toy data set.
MAX_COORDINATE = 1e18
# More turns than this are not a spiral at float32 resolution (and 1e300 overflows it).
MAX_TURNS = 1e6


def _check_n(n) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    # X, y and the draws behind them: about 64 bytes an example, refused up front
    validation.check_memory(64 * int(n), f"n = {n} examples")


def _check_noise(noise, name: str = "noise") -> None:
    validation.check_number(noise, name)
    if not noise >= 0 or not noise <= MAX_COORDINATE:
        raise ValueError(
            f"{name} must be a finite number >= 0 (<= {MAX_COORDINATE:g}), got {noise}"
        )


def _points(values, shape: tuple[int, ...], name: str, what: str) -> np.ndarray:
    """``values`` as a float64 array of ``shape``, finite and within +-MAX_COORDINATE."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {what} (numbers), got {values!r}") from None
    if array.shape != shape:
        raise ValueError(f"{name} must be {what}, shape {shape}; got shape {array.shape}")
    if not (np.abs(array) <= MAX_COORDINATE).all():  # also False for NaN
        raise ValueError(
            f"{name} must be finite, within +-{MAX_COORDINATE:g}; got {array.tolist()}"
        )
    return array


def _floats(values) -> Array:
    """Options as a float32 array: traced, so changing them does not recompile (only
    ``n`` is static)."""
    return jnp.asarray(np.asarray(values, dtype=np.float64), dtype=F32)


def _labels(n: int) -> Array:
    """``n // 2`` zeros then ``n - n // 2`` ones, int32."""
    n0 = n // 2
    return jnp.concatenate([jnp.zeros(n0, jnp.int32), jnp.ones(n - n0, jnp.int32)])


def _shuffle(key: Array, X: Array, y: Array) -> tuple[Array, Array]:
    perm = jax.random.permutation(key, X.shape[0])
    return X[perm].astype(jnp.float32), y[perm]
