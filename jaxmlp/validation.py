"""Checks of user input at the API boundary, before anything is compiled.

Every failure is a ``ValueError`` or ``TypeError`` that names the argument,
what was expected and what was given. Value checks (finite, label range) are
skipped for tracers, so the public functions still work under ``jit``/``vmap``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import numpy as np


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """Returns ``sizes`` as a tuple of ints; at least two, all positive."""
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(
            f"sizes must be a sequence of ints such as (2, 3, 1), got {type(sizes).__name__}"
        ) from None
    if len(sizes) < 2:
        raise ValueError(
            f"sizes must have at least two entries (inputs, outputs), got {len(sizes)}: {sizes}"
        )
    for i, s in enumerate(sizes):
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"sizes[{i}] must be an int, got {type(s).__name__} ({s!r})")
        if s <= 0:
            raise ValueError(f"sizes must all be positive, got sizes[{i}] = {s} in {sizes}")
    return tuple(int(s) for s in sizes)


def check_params(params) -> tuple[int, ...]:
    """Checks that ``params`` is a chain of Dense layers; returns its sizes."""
    if not isinstance(params, (tuple, list)) or not params:
        raise TypeError(
            f"params must be a non-empty tuple of Dense layers (see init_mlp), "
            f"got {type(params).__name__}"
        )
    sizes: list[int] = []
    for i, layer in enumerate(params):
        if not (isinstance(layer, tuple) and hasattr(layer, "W") and hasattr(layer, "b")):
            raise TypeError(f"params[{i}] must be a Dense(W, b), got {type(layer).__name__}")
        W, b = layer.W, layer.b
        if np.ndim(W) != 2 or np.ndim(b) != 1 or np.shape(b)[0] != np.shape(W)[0]:
            raise ValueError(
                f"params[{i}] must have W of shape (out, in) and b of shape (out,), "
                f"got W {np.shape(W)} and b {np.shape(b)}"
            )
        if sizes and np.shape(W)[1] != sizes[-1]:
            raise ValueError(
                f"params[{i}].W must have {sizes[-1]} input columns (the previous layer's "
                f"width), got W of shape {np.shape(W)}"
            )
        if not sizes:
            sizes.append(int(np.shape(W)[1]))
        sizes.append(int(np.shape(W)[0]))
    return tuple(sizes)


def check_inputs(X, n_features: int, *, name: str = "X", batched: bool = True) -> None:
    """Checks a feature array: 2-D (n, d) when ``batched`` else 1-D (d,), finite floats."""
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        raise TypeError(f"{name} must be an array, got {type(X).__name__}")
    expected_ndim = 2 if batched else 1
    expected = "(n, d)" if batched else "(d,)"
    if X.ndim != expected_ndim:
        raise ValueError(
            f"{name} must be {expected_ndim}-D with shape {expected}, got shape {tuple(X.shape)}"
        )
    if not np.issubdtype(X.dtype, np.floating):
        raise TypeError(f"{name} must have a floating dtype, got {X.dtype}")
    if X.shape[-1] != n_features:
        raise ValueError(
            f"{name} must have {n_features} features (the first layer's input size), "
            f"got {X.shape[-1]} in shape {tuple(X.shape)}"
        )
    if batched and X.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row, got shape {tuple(X.shape)}")
    if _is_concrete(X) and not bool(np.isfinite(np.asarray(X)).all()):
        raise ValueError(f"{name} must be finite, got NaN or inf values")


def check_labels(y, n: int, n_outputs: int, *, name: str = "y") -> None:
    """Checks labels: shape (n,), values in {0, 1} (one output) or 0..k-1 (k outputs)."""
    if not hasattr(y, "shape") or not hasattr(y, "dtype"):
        raise TypeError(f"{name} must be an array, got {type(y).__name__}")
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match X, got {tuple(y.shape)}")
    if not (
        np.issubdtype(y.dtype, np.integer)
        or np.issubdtype(y.dtype, np.floating)
        or y.dtype == np.bool_
    ):
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if not _is_concrete(y):
        return
    values = np.asarray(y)
    n_classes = 2 if n_outputs == 1 else n_outputs
    valid = (
        np.isfinite(values) & (values == np.round(values)) & (values >= 0) & (values < n_classes)
    )
    if not valid.all():
        bad = values[~valid][0].item()
        allowed = "{0, 1} (one output)" if n_outputs == 1 else f"0..{n_outputs - 1}"
        raise ValueError(f"{name} must hold labels in {allowed}, got {bad!r}")


def check_data(params, X, y) -> tuple[int, ...]:
    """Checks params, X (n, d) and y (n,) together; returns the network's sizes."""
    sizes = check_params(params)
    check_inputs(X, sizes[0])
    check_labels(y, X.shape[0], sizes[-1])
    return sizes


def positive_int(value, name: str) -> int:
    """Returns ``value`` as an int; a TypeError if it is not an int, a ValueError if <= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__} ({value!r})")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


def check_batching(batch_size, key, n: int):
    """Checks mini-batch options for ``n`` examples; returns ``(batch_size, key)``.

    ``batch_size`` None means full batch (then a missing key becomes an unused dummy);
    otherwise it must be an int in 1..n and ``key`` must be given.
    """
    if batch_size is not None:
        batch_size = positive_int(batch_size, "batch_size")
        if batch_size > n:
            raise ValueError(
                f"batch_size must be <= the number of examples ({n}), got {batch_size}"
            )
        if key is None:
            raise ValueError("key must be given when batch_size is set (it drives the shuffle)")
    if key is None:
        key = _unused_key()
    return batch_size, key


@functools.cache
def _unused_key():
    """The key full-batch training carries and never reads, built once (~0.1 ms a call)."""
    key = jax.random.key(0)
    if _is_concrete(key):
        return key
    with jax.ensure_compile_time_eval():  # first asked under a trace: cache a concrete key
        return jax.random.key(0)  # (this way compiles its own program: ~70 ms, once)
