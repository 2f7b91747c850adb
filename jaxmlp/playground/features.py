"""The playground's input features: what the network sees of a point ``(x1, x2)``.

TensorFlow Playground's seven, and the post's step: logistic regression on ``[x1, x2]``
cannot separate the circles, on ``[x1^2, x2^2]`` it can. :func:`input_features` is the
one place they are computed (the page's training, pictures and Python snippet use it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

FEATURES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1^2": lambda x1, x2: x1 * x1,
    "x2^2": lambda x1, x2: x2 * x2,
    "x1*x2": lambda x1, x2: x1 * x2,
    "sin x1": lambda x1, x2: jnp.sin(x1),
    "sin x2": lambda x1, x2: jnp.sin(x2),
}
NAMES = tuple(FEATURES)
PLANE = ("x1", "x2")  # the plain inputs: each unit's boundary is a line in the plane


def check_features(names: Sequence[str]) -> tuple[str, ...]:
    """The names in :data:`NAMES`' order; ValueError naming ``features`` if any is unknown,
    repeated, or none is given.

    >>> check_features(["x2^2", "x1^2"])
    ('x1^2', 'x2^2')
    """
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"features must be a list of names from {list(NAMES)}, got {names!r}")
    unknown = [n for n in names if n not in FEATURES]
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(
            f"features must be distinct names from {list(NAMES)} (at least one), got {list(names)}"
        )
    return tuple(n for n in NAMES if n in names)


def input_features(X: jax.Array, names: Sequence[str]) -> jax.Array:
    """The network's inputs: each named feature of each point, in the order of ``names``.

    Args:
      X: (n, 2) points ``(x1, x2)``.
      names: feature names from :data:`NAMES`, e.g. ``("x1^2", "x2^2")``.

    Returns:
      (n, len(names)) array of X's dtype.

    >>> input_features(jnp.array([[2.0, 3.0]]), ("x1^2", "x2^2", "x1*x2")).tolist()
    [[4.0, 9.0, 6.0]]
    """
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2), got {X.shape}")
    check_features(names)
    x1, x2 = X[:, 0], X[:, 1]
    return jnp.stack([FEATURES[name](x1, x2) for name in names], axis=1)
