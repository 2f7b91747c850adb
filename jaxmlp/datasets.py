"""Toy data sets, deterministic from a PRNG key."""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


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
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if len(radii) != 2 or min(radii) <= 0:
        raise ValueError(f"radii must be two positive numbers (outer, inner), got {radii}")
    angle_key, noise_key, perm_key = jax.random.split(key, 3)
    n_outer = n // 2
    y = jnp.concatenate([jnp.zeros(n_outer, jnp.int32), jnp.ones(n - n_outer, jnp.int32)])
    radius = jnp.where(y == 0, radii[0], radii[1])
    angle = jax.random.uniform(angle_key, (n,), minval=0.0, maxval=2 * jnp.pi)
    X = radius[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    X = X + jnp.asarray(center) + noise * jax.random.normal(noise_key, (n, 2))
    perm = jax.random.permutation(perm_key, n)
    return X[perm].astype(jnp.float32), y[perm]
