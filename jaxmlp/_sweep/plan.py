"""The sweep's plan: where every model lives, and everything static about a call.

NumPy and types only (no compiled code): :func:`pack` places the models in bins,
:class:`Plan` keys the compiled programs, :class:`Spec` adds what else shapes a
result (seeds, steps, chunks, curve points, devices) and is the single source of
a checkpoint's fingerprint. The words (model, bin, slot, unit, block, part, chunk)
are defined in :mod:`jaxmlp._sweep`'s docstring.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import numpy as np
import optax

from jaxmlp import activations as _activations
from jaxmlp import guard, validation
from jaxmlp.optimizers import StaticOptimizer

Array = jax.Array

# At most this many points of each loss curve are kept (evenly spaced steps).
DEFAULT_LOSS_POINTS = 1000
# At most this many models share a bin (each slot costs one optimizer pass).
MAX_SLOTS = 4
# Bins per block are chosen so that a block's (bins, C, rows) activations hold
# about this many elements. Measured on a 2-core CPU (320-model grid, 200 rows):
# blocks of 4 bins (40k elements) are ~30% slower per step than 15-44 bins
# (150k-1M, within noise of each other); the whole grid at once (one block for
# all 4 activations' 1.8M elements x several arrays) was 3-4x slower.
BLOCK_ELEMENTS = 400_000


@dataclasses.dataclass(frozen=True)
class Packing:
    """Where every model of one activation lives (the same for every activation).

    Attributes:
      capacity: hidden units per bin, C = max(widths).
      slots: K, models per bin at most.
      n_bins: B, bins (a multiple of ``devices * threads * block``; the last ones may be empty).
      block: bins trained together, per part.
      places: for model ``(width index i, column j)`` (a seed, or a seed and a learning
        rate), ``places[i][j] = (bin, slot, first unit)``; its units are
        ``first .. first + width - 1``.
      threads: parts per device: the bins of a device are split into this many
        equal parts, each trained by its own program call on its own host thread
        (XLA:CPU runs one call's small per-step kernels on one core).
    """

    capacity: int
    slots: int
    n_bins: int
    block: int
    places: tuple[tuple[tuple[int, int, int], ...], ...]
    threads: int = 1

    def member(self, widths: Sequence[int]) -> np.ndarray:
        """(B, K, C) bool: unit c of bin b belongs to the model in slot k.

        >>> pack((2, 1), 1, rows=4).member((2, 1)).astype(int).tolist()
        [[[1, 1]], [[1, 0]]]
        """
        out = np.zeros((self.n_bins, self.slots, self.capacity), bool)
        for w, row in zip(widths, self.places, strict=True):
            for b, k, first in row:
                out[b, k, first : first + w] = True
        return out


def pack(
    widths: Sequence[int],
    per_width: int,
    *,
    rows: int,
    n_devices: int = 1,
    threads: int = 1,
    max_slots: int = MAX_SLOTS,
) -> Packing:
    """Packs ``len(widths) x per_width`` models into bins, first-fit decreasing.

    Args:
      widths: hidden width of each model row.
      per_width: models per width (seeds, or seeds x learning rates).
      rows: examples per step (sets the block size).
      n_devices: the bins are padded to a multiple of ``n_devices * threads * block``.
      threads: parts per device, at most one per bin.
      max_slots: at most this many models per bin.

    >>> p = pack((5, 45, 50), 2, rows=200)
    >>> p.capacity, p.slots, p.n_bins
    (50, 2, 4)
    """
    capacity = max(widths)
    order = sorted(
        ((w, i, j) for i, w in enumerate(widths) for j in range(per_width)), key=lambda t: -t[0]
    )
    free: list[int] = []  # units left per bin
    used: list[int] = []  # slots used per bin
    places: dict[tuple[int, int], tuple[int, int, int]] = {}
    for w, i, j in order:
        for b, room in enumerate(free):
            if room >= w and used[b] < max_slots:
                break
        else:
            b = len(free)
            free.append(capacity)
            used.append(0)
        places[(i, j)] = (b, used[b], capacity - free[b])
        free[b] -= w
        used[b] += 1
    per_device = -(-len(free) // n_devices)
    threads = max(1, min(threads, per_device))
    per_part = -(-per_device // threads)
    fit = max(1, BLOCK_ELEMENTS // (capacity * rows))
    n_blocks = -(-per_part // fit)
    block = -(-per_part // n_blocks)
    return Packing(
        capacity=capacity,
        slots=max(used),
        n_bins=n_devices * threads * n_blocks * block,
        block=block,
        places=tuple(tuple(places[(i, j)] for j in range(per_width)) for i in range(len(widths))),
        threads=threads,
    )


class Index(NamedTuple):
    """Host-side gather indices of one width's models: bins, slots (S,), units (S, w)."""

    bins: np.ndarray
    slots: np.ndarray
    units: np.ndarray


def indices(packing: Packing, widths: Sequence[int]) -> list[Index]:
    """One :class:`Index` per width, in the order of ``widths``.

    >>> indices(pack((2, 1), 1, rows=4), (2, 1))[1].units.tolist()
    [[0]]
    """
    out = []
    for w, row in zip(widths, packing.places, strict=True):
        bins = np.array([b for b, _, _ in row])
        slots = np.array([j for _, j, _ in row])
        units = np.array([first for _, _, first in row])[:, None] + np.arange(w)
        out.append(Index(bins, slots, units))
    return out


def slot_rates(p: Packing, rates: Sequence[float]) -> np.ndarray:
    """(B, K) float32: the learning rate of the model in each slot (empty slots: any).

    A width's models are seed-major: model column ``j`` has rate ``rates[j % L]``.
    """
    out = np.full((p.n_bins, p.slots), rates[0], np.float32)
    for row in p.places:
        for j, (b, k, _) in enumerate(row):
            out[b, k] = rates[j % len(rates)]
    return out


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything static about a sweep's programs: it keys the compiled programs.

    ``optimizer`` compares optimizers by structure (:mod:`jaxmlp.optimizers`),
    so an equal optimizer built again (``optax.adam(0.01)`` twice) reuses the programs.
    """

    widths: tuple[int, ...]  # in the order given
    activations: tuple[_activations.Activation, ...]
    models_per_width: int  # seeds x learning rates (seed-major)
    n_features: int
    n_outputs: int
    optimizer: StaticOptimizer  # the optax transformation applied to every slot, as a key
    scheme: str
    batch_size: int | None
    n_examples: int
    packing: Packing
    backend: str = "xla"  # "xla" or "pallas" (the loss-and-gradients of each step)
    depth: int = 1  # hidden layers, each of the model's width
    # with a learning-rate axis: the rates, and the name of the optimizer's
    # injected hyperparameter that holds each slot's rate
    learning_rates: tuple[float, ...] | None = None
    rate_name: str | None = None

    def without_rate_values(self) -> Plan:
        """This plan with its learning rates replaced by zeros: the key of its programs.

        The rates reach the programs as a value (init's ``rates`` argument), so
        sweeps that differ only in their rates' values share compiled programs.
        """
        if self.learning_rates is None:
            return self
        return dataclasses.replace(self, learning_rates=(0.0,) * len(self.learning_rates))

    @property
    def transformation(self) -> optax.GradientTransformation:
        """The optax transformation applied to every slot."""
        return self.optimizer.optimizer

    def sizes(self, width: int) -> tuple[int, ...]:
        """Layer sizes of a model of this width: ``(d, w, ..., w, k)``."""
        return (self.n_features,) + (width,) * self.depth + (self.n_outputs,)


@dataclasses.dataclass(frozen=True)
class Spec:
    """Everything that shapes a sweep's result: the plan and the rest of the call.

    The checkpoint fingerprint is built from these fields (and a digest of the
    data and the shuffle key): a field added here is fingerprinted with no
    further code (:func:`jaxmlp._sweep.resume.fingerprint`).
    """

    plan: Plan
    seeds: tuple[int, ...]
    steps: int
    chunk_steps: int
    loss_points: int
    n_devices: int

    @property
    def chunk_lengths(self) -> tuple[int, ...]:
        """The distinct chunk lengths (a last, shorter chunk where chunks do not divide)."""
        return tuple(sorted({self.chunk_steps, self.steps % self.chunk_steps} - {0}))


# The training state of the bins of one activation: the divergence guard's state
# (:class:`jaxmlp.guard.GuardState`), every leaf with a leading bin axis. ``params`` and
# ``last_good``: (Dense(W (B, C, d), b (B, C)), [Dense(W (B, C, C), b (B, C)) per further
# hidden layer,] Dense(W (B, k, C), b (B, K, k))); ``opt_state``: every slot's optimizer
# state, leaves (B, K, ...); ``diverged_at``: (B, K) int32, -1 while finite.
BinState = guard.GuardState


class SweepState(NamedTuple):
    """The whole sweep's state between chunks (a pytree of arrays)."""

    bins: tuple[BinState, ...]  # one per activation
    key: Array  # (2,) uint32 raw key data of the shuffle key


def default_chunk(steps: int) -> int:
    """About a tenth of the run, preferring a divisor of ``steps`` (one compiled chunk).

    >>> default_chunk(1000), default_chunk(12), default_chunk(997)
    (100, 2, 100)
    """
    for chunk in range(-(-steps // 10), max(steps // 5, 1) + 1):
        if steps % chunk == 0:
            return chunk
    return -(-steps // 10)


def work_chunk(steps: int, flops_per_step: float, chunk_flops: float) -> int:
    """Steps of about ``chunk_flops`` of work: the longest one compiled call may run, so
    that Ctrl-C (handled between calls) stops a sweep within about a second. A divisor of
    ``steps`` when one lies within a factor 2 below (then every chunk is one program).

    >>> work_chunk(1000, 1e6, 2e9), work_chunk(1000, 1e7, 2e9), work_chunk(997, 1e7, 2e9)
    (1000, 200, 200)
    """
    limit = validation.chunk_length(steps, flops_per_step, chunk_flops)
    if limit == steps:
        return steps
    divisors = {
        d for i in range(1, math.isqrt(steps) + 1) if steps % i == 0 for d in (i, steps // i)
    }
    best = max(d for d in divisors if d <= limit)
    return best if 2 * best >= limit else limit


def loss_steps(steps: int, points: int) -> np.ndarray:
    """The steps kept in the loss curves: all, or ``points`` evenly spaced ones.

    >>> loss_steps(10, 4).tolist()
    [0, 3, 6, 9]
    """
    if steps <= points:
        return np.arange(steps)
    return np.unique(np.round(np.linspace(0, steps - 1, points)).astype(np.int64))
