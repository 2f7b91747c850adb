"""Mini-batches at a step: a keyed Feistel shuffle per epoch, evaluated only where needed.

Update ``step`` of a run with ``n`` examples and batches of ``B`` (``n // B`` batches
an epoch, the incomplete last batch dropped) takes positions ``b * B .. b * B + B - 1``
of epoch ``e``'s shuffled order, where ``e, b = divmod(step, n // B)``. The order of
epoch ``e`` is :func:`shuffled_positions` under ``fold_in(key, e)``: a bijection of
``0..n-1`` that is evaluated only at the batch's positions (O(B) per step, no sort).

The step is absolute, so a run continued from step ``s`` (``train(..., first_step=s)``)
draws exactly the batches that one longer run draws from step ``s`` on. Any layout
of the examples works: :func:`batch_at` takes them from ``axis`` of ``X`` (0 for rows,
1 for the examples-as-columns layouts of the stacked form and the sweep's bins).

>>> import jax, jax.numpy as jnp
>>> X, y = jnp.arange(12.0).reshape(6, 2), jnp.arange(6)
>>> Xb, yb = batch_at(jnp.int32(0), jax.random.key(0), X, y, batch_size=2)
>>> Xb.shape, yb.shape
((2, 2), (2,))
"""

from __future__ import annotations

import functools
from typing import cast

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "batch_at",
    "batch_indices",
    "epoch_order",
    "feistel_half",
    "feistel_positions",
    "host_round_keys",
    "round_keys",
    "shuffled_positions",
]

Array = jax.Array

SHUFFLE_ROUNDS = 4  # Feistel rounds of the per-epoch shuffle (4: Luby-Rackoff)


def _mix32(x: Array) -> Array:
    """A 32-bit integer hash (lowbias32): the Feistel round function."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def feistel_half(n: int) -> int:
    """The bits of one half of the Feistel block for n examples (the block is 4**half >= n).

    >>> feistel_half(5), feistel_half(16), feistel_half(17)
    (2, 2, 3)
    """
    return max(1, (max(int(n), 2) - 1).bit_length() + 1) // 2


def round_keys(key: Array, epoch: Array) -> Array:
    """(SHUFFLE_ROUNDS,) uint32: an epoch's Feistel round keys, from ``fold_in(key, epoch)``."""
    return jax.random.bits(jax.random.fold_in(key, epoch), (SHUFFLE_ROUNDS,), jnp.uint32)


_THREEFRY_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _threefry2x32(key: tuple[np.ndarray, np.ndarray], x1: np.ndarray, x2: np.ndarray):
    """JAX's Threefry-2x32 hash (20 rounds) in NumPy: uint32 arrays that broadcast."""
    k1, k2 = key
    ks = (k1, k2, k1 ^ k2 ^ np.uint32(0x1BD11BDA))
    x1, x2 = x1 + ks[0], x2 + ks[1]
    for i in range(5):
        for r in _THREEFRY_ROTATIONS[i % 2]:
            x1 = x1 + x2
            x2 = x1 ^ ((x2 << np.uint32(r)) | (x2 >> np.uint32(32 - r)))
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x1, x2


def host_round_keys(seed: int, epochs: np.ndarray) -> np.ndarray:
    """(len(epochs), SHUFFLE_ROUNDS) uint32: :func:`round_keys` of ``jax.random.key(seed)``
    for each epoch, as a host array.

    Under JAX's default PRNG (``threefry2x32``) they are computed in NumPy, with no compiled
    program: the same numbers as the compiled draw, under either setting of
    ``jax_threefry_partitionable``. So a compiled fit takes its epochs' round keys as an
    input instead of carrying JAX's Threefry hash (about a fifth of the estimator's fit
    program to lower and compile). Under another ``jax_default_prng_impl`` JAX draws them.

    Args:
      seed: an int in ``[0, 2**31)`` (the estimators draw ``randint(2**31 - 1)``).
      epochs: (E,) integers in ``[0, 2**32)``.

    >>> import jax, numpy as np
    >>> host = host_round_keys(7, np.arange(3))
    >>> bool((host[2] == np.asarray(round_keys(jax.random.key(7), 2))).all())
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    if not 0 <= seed < 2**31:
        raise ValueError(f"seed must be in [0, 2**31), got {seed}")
    u32 = lambda a: np.asarray(a, np.uint32)  # noqa: E731
    epochs = u32(epochs).reshape(-1, 1)
    if jax.config.values.get("jax_default_prng_impl", "threefry2x32") != "threefry2x32":
        drawn = _drawn_round_keys()(jax.random.key(int(seed)), epochs[:, 0].astype(np.int32))
        return np.asarray(drawn)
    key = (u32([[0]]), u32([[int(seed)]]))  # jax.random.key(seed): (seed >> 32, seed & 0xFFFFFFFF)
    epoch_key = _threefry2x32(key, u32(np.zeros_like(epochs)), epochs)  # fold_in(key, epoch)
    count = np.arange(SHUFFLE_ROUNDS, dtype=np.uint32)
    if jax.threefry_partitionable.value:  # counts as (hi, lo) 32-bit pairs; hi ^ lo
        bits_hi, bits_lo = _threefry2x32(epoch_key, u32(np.zeros_like(count)), count)
        return bits_hi ^ bits_lo
    half = SHUFFLE_ROUNDS // 2  # the counts split in two halves, the outputs concatenated
    first, second = _threefry2x32(epoch_key, count[:half], count[half:])
    return np.concatenate([first, second], axis=1)


@functools.cache
def _drawn_round_keys():
    """The compiled draw of a non-default PRNG, made on first need: one epoch at a time
    (``lax.map``, not ``vmap``: "rbg" draws other bits under vmap)."""
    return jax.jit(lambda key, epochs: jax.lax.map(lambda e: round_keys(key, e), epochs))


def feistel_positions(
    keys: Array, positions: Array, n: int | Array, *, half: int | None = None
) -> Array:
    """Where ``positions`` of an epoch's shuffled order point: a keyed permutation of 0..n-1.

    A 4-round Feistel network with round keys ``keys`` on the next power of four >= n,
    cycle-walked into [0, n): a bijection of 0..n-1 per epoch, evaluated only at the
    positions of one mini-batch. It costs O(batch) per step where a sorted permutation
    costs O(n log n) per epoch (seconds for n = 1e6 on a CPU).

    Args:
      keys: (SHUFFLE_ROUNDS,) uint32, the epoch's :func:`round_keys` (or
        :func:`host_round_keys`' row).
      positions: (B,) int32 positions in 0..n-1 of the epoch's order.
      n: number of examples: an int, or an int32 scalar of the program (the same
        permutation for the same value).
      half: ``feistel_half(n)``, static: given, a traced ``n`` uses this block size (the
        search's programs vmap fits over training sets of different sizes with one
        ``half``); not given, a traced ``n``'s block size is computed in the program.

    Returns:
      (B,) int32 example indices, distinct for distinct positions.
    """
    block: int | Array  # bits of one half of the Feistel block
    mask: int | Array
    if half is not None or isinstance(n, int):
        block = feistel_half(cast(int, n)) if half is None else half
        mask = jnp.uint32((1 << block) - 1)
    else:  # a traced n (data padded to a bucket): the same numbers, computed in the program
        bits = 32 - jax.lax.clz(jnp.maximum(jnp.asarray(n, jnp.uint32), 2) - 1)
        block = jnp.maximum(1, (bits + 1) // 2).astype(jnp.uint32)
        mask = (jnp.uint32(1) << block) - 1

    def feistel(x):
        left, right = x >> block, x & mask
        for r in range(SHUFFLE_ROUNDS):
            left, right = right, left ^ (_mix32(right ^ keys[r]) & mask)
        return (left << block) | right

    x = feistel(positions.astype(jnp.uint32))
    x = jax.lax.while_loop(lambda x: jnp.any(x >= n), lambda x: jnp.where(x >= n, feistel(x), x), x)
    return x.astype(jnp.int32)


def shuffled_positions(
    key: Array, epoch: Array, positions: Array, n: int | Array, *, half: int | None = None
) -> Array:
    """:func:`feistel_positions` under epoch ``epoch``'s :func:`round_keys` of ``key``.

    Args:
      key: PRNG key of the run.
      epoch: int32 scalar; each epoch gets an independent permutation.
      positions, n, half: as :func:`feistel_positions`.

    >>> import jax, jax.numpy as jnp
    >>> order = shuffled_positions(jax.random.key(0), jnp.int32(0), jnp.arange(5), 5)
    >>> sorted(order.tolist())
    [0, 1, 2, 3, 4]
    """
    return feistel_positions(round_keys(key, epoch), positions, n, half=half)


def epoch_order(
    keys: Array, n: int | Array, batch_size: int, n_batches: int, *,
    shuffle: bool, steps: int | Array | None = None, half: int | None = None,
) -> tuple[Array, Array]:  # fmt: skip
    """No input checks. An epoch's example indices in batch order, and which are real.

    Batch ``b`` is positions ``b * batch_size ...`` of the epoch's order: the
    :func:`feistel_positions` of round keys ``keys`` ((SHUFFLE_ROUNDS,) uint32), or ``0..n-1``
    unshuffled. Positions from ``n`` on (the last batch's short end and
    padding batches) read example 0 and are marked invalid. The order is computed a batch
    at a time (``steps`` batches, all ``n_batches`` if None): small operations, which
    XLA:CPU never splits over threads, so a program can gather the epoch's rows once.

    Returns:
      ``(order, valid)``: (n_batches * batch_size,) int32 and bool.

    >>> import jax, jax.numpy as jnp
    >>> keys = round_keys(jax.random.key(0), 0)
    >>> order, valid = epoch_order(keys, 5, 2, 3, shuffle=True)
    >>> sorted(order[valid].tolist()), valid.tolist()
    ([0, 1, 2, 3, 4], [True, True, True, True, True, False])
    """
    size = batch_size

    def batch(b, order):
        positions = b * size + jnp.arange(size, dtype=jnp.int32)
        positions = jnp.where(positions < n, positions, 0)
        if shuffle:
            positions = feistel_positions(keys, positions, n, half=half)
        return jax.lax.dynamic_update_slice_in_dim(order, positions, b * size, 0)

    empty = jnp.zeros(n_batches * size, jnp.int32)
    order = jax.lax.fori_loop(0, n_batches if steps is None else steps, batch, empty)
    return order, jnp.arange(n_batches * size) < n


def batch_indices(step: Array, key: Array, n: int, batch_size: int) -> Array:
    """(batch_size,) int32: the examples of update ``step`` (absolute, from 0), see above.

    >>> import jax, jax.numpy as jnp
    >>> key = jax.random.key(1)
    >>> epoch = [batch_indices(jnp.int32(s), key, 6, 2).tolist() for s in range(3)]
    >>> sorted(i for batch in epoch for i in batch)  # one epoch: every example once
    [0, 1, 2, 3, 4, 5]
    """
    n_batches = n // batch_size
    epoch, batch = step // n_batches, step % n_batches
    positions = batch * batch_size + jnp.arange(batch_size, dtype=jnp.int32)
    return shuffled_positions(key, epoch, positions, n)


def batch_at(
    step: Array, key: Array | None, X: Array, y: Array, *, batch_size: int | None, axis: int = 0
) -> tuple[Array, Array]:
    """The examples of update ``step``: all of them, or its shuffled mini-batch.

    Args:
      step: int32 scalar, the absolute update index (0 for a run's first update).
      key: PRNG key of the shuffle (unused when ``batch_size`` is None).
      X: inputs with the ``n`` examples on ``axis`` (``(n, d)`` or ``(d, n)``).
      y: (n,) labels.
      batch_size: None for full batch, else the mini-batch size (<= n).
      axis: the examples' axis of ``X``.

    Returns:
      ``(Xb, yb)``: ``X`` and ``y`` themselves, or ``batch_size`` examples of each.

    >>> import jax.numpy as jnp
    >>> X, y = jnp.ones((3, 4)), jnp.arange(4)
    >>> batch_at(jnp.int32(5), None, X, y, batch_size=None, axis=1)[0].shape
    (3, 4)
    """
    if batch_size is None:
        return X, y
    assert key is not None  # mini-batches need a key (checked at the entry points)
    idx = batch_indices(step, key, X.shape[axis], batch_size)
    return jnp.take(X, idx, axis=axis), y[idx]
