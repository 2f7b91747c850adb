"""Host-side helpers: the parts of a sweep's state (one per host thread) and host copies.

On a single CPU device the bins are split into one part per core, each part's
program called on its own host thread (XLA:CPU runs one call's small kernels on
one core; calls from two threads run side by side).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import jax
import numpy as np

from jaxmlp._sweep.plan import SweepState


def host_threads(devices: Sequence[jax.Device]) -> int:
    """Host threads to split a sweep over: the usable cores for one CPU device, else 1."""
    if len(devices) != 1 or devices[0].platform != "cpu":
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def index(array: np.ndarray, at) -> np.ndarray:
    """``array[at]`` (the callback of ``jax.make_array_from_callback``)."""
    return array[at]


def split_parts(tree, threads: int) -> list:
    """A state (or array) with leading bin axis B as ``threads`` parts of B / threads bins.

    The key of a SweepState is shared, not split.

    >>> [p.tolist() for p in split_parts(np.arange(4), 2)]
    [[0, 1], [2, 3]]
    """

    def part(a, i):
        size = a.shape[0] // threads
        return a[i * size : (i + 1) * size]

    if threads == 1:
        return [tree]
    if isinstance(tree, SweepState):
        return [
            SweepState(jax.tree.map(functools.partial(part, i=i), tree.bins), tree.key)
            for i in range(threads)
        ]
    return [part(tree, i) for i in range(threads)]


def split_on_host(state: SweepState, threads: int, sharding) -> list[SweepState]:
    """:func:`split_parts` of a single-device state, sliced on the host and placed with
    ``sharding`` (a SweepState of shardings): no compiled program. A jitted split cost a
    compile per sweep plan (0.5 s at XLA:CPU's -O0, 1 s at its defaults) to save ~1 ms."""
    parts = split_parts(jax.device_get(state), threads)
    return jax.device_put(parts, [sharding] * threads)  # one batched transfer


def join_parts(parts: list):
    """Inverse of :func:`split_parts` on host arrays (results or states)."""
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], SweepState):
        bins = jax.tree.map(lambda *xs: np.concatenate(xs), *[p.bins for p in parts])
        return SweepState(bins, parts[0].key)
    return jax.tree.map(lambda *xs: np.concatenate(xs), *parts)


def to_host(x) -> np.ndarray:
    """A (possibly multi-process) array as a full numpy array on this process."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        if x.sharding.is_fully_replicated:
            return np.asarray(x.addressable_data(0))
        from jax.experimental import multihost_utils

        x = multihost_utils.process_allgather(x, tiled=True)
    return np.asarray(x)
