"""The estimator's host side: NumPy preparation before a compiled program runs.

Dtypes, params from scikit-learn's ``coefs_``/``intercepts_``, padding with weight-0
rows to a bucketed size (so nearby data sizes share one program), and the solver's
fresh optax state built on the host. Nothing here is traced; the programs are in
:mod:`jaxmlp.sklearn._fit`.
"""

from __future__ import annotations

import functools
from typing import cast

import jax
import numpy as np
import optax

from jaxmlp import mlp
from jaxmlp.sklearn._fit import Hyper, Record, Static, optimizer

Array = jax.Array


def compute_dtype(dtype) -> np.dtype:
    """float64 only when X is float64 and ``jax_enable_x64`` is on; float32 otherwise."""
    return np.dtype(jax.dtypes.canonicalize_dtype(dtype))


def to_params(coefs, intercepts, dtype) -> mlp.Params:
    """jaxmlp layers ``Dense(W (out, in), b (out,))`` from ``coefs_[i]`` (in, out).

    NumPy leaves: a jitted program takes them as they are, where an eager
    ``jnp.asarray`` would compile a small program per shape.
    """
    return tuple(
        mlp.Dense(
            W=cast(jax.Array, np.asarray(c, dtype).T), b=cast(jax.Array, np.asarray(b, dtype))
        )
        for c, b in zip(coefs, intercepts, strict=True)
    )


def pad_weighted(size: int, X, Y, weights):
    """``X (n, d)``, ``Y (n, k)``, ``weights (n,)`` padded to ``size`` rows of weight 0.

    The padding repeats the first row; with weight 0 it changes no weighted loss or
    gradient, so data sizes that share a ``size`` share one compiled program.

    >>> X, Y, w = pad_weighted(3, np.ones((2, 1)), np.ones((2, 1)), np.array([0.5, 2.0]))
    >>> X.shape, w.tolist()
    ((3, 1), [0.5, 2.0, 0.0])
    """
    n = X.shape[0]
    X, Y, weights = (np.concatenate([a, a[:1].repeat(size - n, 0)]) for a in (X, Y, weights))
    weights[n:] = 0
    return X, Y, weights


def fine_bucket(n: int) -> int:
    """n rounded up to one of 8 sizes per power of two (<= 12.5% more; :func:`bucket` to 16).

    For data that the program reads in full at every step (L-BFGS's objective, the
    validation split), where a power of two could double the work.

    >>> fine_bucket(5), fine_bucket(100), fine_bucket(120), fine_bucket(1797)
    (8, 104, 120, 1920)
    """
    if n <= 16:
        return bucket(n)
    step = 1 << ((int(n) - 1).bit_length() - 4)
    return -(-int(n) // step) * step


def bucket(n: int) -> int:
    """The power of two >= max(n, 8): sizes padded to it share one compiled program.

    >>> bucket(1), bucket(8), bucket(100), bucket(200)
    (8, 8, 128, 256)
    """
    return 1 << max(3, (int(n) - 1).bit_length())


def init_opt_state(static: Static, params) -> optax.OptState:
    """The solver's fresh optax state for ``params``, NumPy leaves built on the host.

    Every fresh state of these solvers is zeros (adam's count and moments, the
    momentum trace), so only its structure is traced (``jax.eval_shape``, once per
    structure): no device op, no compile.
    """
    layers = tuple((layer.W.shape, layer.b.shape) for layer in params)
    shapes = _opt_state_shapes(static, layers, np.dtype(params[0].W.dtype))
    return jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)


@functools.lru_cache(maxsize=64)
def _opt_state_shapes(static: Static, layers, dtype):
    """The fresh optax state's ShapeDtypeStructs for layers ``((W shape, b shape), ...)``."""
    params = tuple(
        mlp.Dense(
            W=cast(Array, jax.ShapeDtypeStruct(w, dtype)),
            b=cast(Array, jax.ShapeDtypeStruct(b, dtype)),
        )  # structures for eval_shape
        for w, b in layers
    )
    hyper = Hyper(*(np.zeros((), dtype) for _ in Hyper._fields))  # values shape nothing
    return jax.eval_shape(optimizer(static, hyper, cast(Array, np.zeros((), dtype))).init, params)


def concat_records(records: list[Record]) -> Record:
    """The records of consecutive ``run_epochs`` calls (host arrays) as one.

    >>> r = Record(*(np.arange(4.0),) * 3, np.zeros(4, np.int32), np.int32(2))
    >>> joined = concat_records([r, r]); joined.loss.tolist(), int(joined.epochs)
    ([0.0, 1.0, 0.0, 1.0], 4)
    """
    counts = [int(r.epochs) for r in records]

    def joined(field: str):
        parts = [np.asarray(getattr(r, field))[:k] for r, k in zip(records, counts, strict=True)]
        return cast(jax.Array, np.concatenate(parts))

    return Record(
        loss=joined("loss"),
        score=joined("score"),
        learning_rate=joined("learning_rate"),
        event=joined("event"),
        epochs=cast(jax.Array, np.int32(sum(counts))),
    )
