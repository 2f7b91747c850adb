"""Many MLPs (hidden width x activation x seed) trained in one compiled program.

Layout: models packed into bins. Every model of the grid has one hidden layer
of width ``w`` (or ``depth`` of them); the models of one activation are packed,
first-fit decreasing, into *bins* of ``capacity = max(widths)`` hidden units, at most ``MAX_SLOTS``
models (*slots*) per bin, so widths 5..50 fill bins of 50 units as 50, 45 + 5,
40 + 10, ... with little padding. A bin is stored like one network of width
``capacity``: ``W1 (C, d)``, ``b1 (C,)``, ``W2 (k, C)``, plus one output bias per
slot ``b2 (K, k)``; a boolean ``member (K, C)`` says which units belong to which
slot. Slot ``j``'s logits sum only its own units, so the models never mix, and
every step of every model is the same few dense array operations, whatever the
widths: one layout instead of one program per width. Deeper models (``depth``)
add hidden layers ``W (C, C)`` per bin and take one model per bin.

Speed: the bins of one activation are trained in *blocks* of a few bins, each
block running all the steps of a chunk before the next block starts
(``lax.map`` over blocks of a ``lax.scan`` over steps). A block's activations
(``(bins, C, n)``) stay in the CPU cache across steps; the whole grid's would
not (measured in a prototype: 2.3x slower per step at 320 models). Each step is the post's
hand-derived backward pass (:mod:`jaxmlp.backprop`) in this layout, examples
as columns.

Exactness: the optimizer sees each slot as a network of width ``C`` whose
foreign and padding units are zero (``jax.vmap`` over bins and slots), so
any optax transformation, even one that couples leaves like global-norm
clipping, sees exactly one model's parameters and gradients. Config
``(w, a, s)`` gives the result of ``train(init_mlp(jax.random.key(s), (d, w, k),
scheme), X, y, activation=a, ...)`` to float rounding, including
:func:`jaxmlp.train`'s divergence guard per model: a chunk first runs without
the guard (its state tracks whether any loss or gradient was non-finite); only
if one was is the chunk redone, from its start, by a guarded program compiled
on that first need. A learning-rate axis (``learning_rates``) is optimizer
state: the optimizer factory is wrapped in ``optax.inject_hyperparams`` and
each slot's rate set at init, so models of different rates share bins.

Devices: the bin axis is sharded over all devices (``shard_map`` on a one-axis
``Mesh``; bins padded to a multiple of the device count with empty bins); the
program has no cross-device communication. Under ``jax.distributed`` the same
call runs on the global mesh and gathers the results on every process. On a
single CPU device the bins are split into one part per core instead, each part's
program called on its own host thread (XLA:CPU runs one call's small kernels on
one core; calls from two threads run side by side).

Long sweeps: the steps run in chunks of ``chunk_steps``; after each chunk a tqdm
bar advances and, with ``checkpoint=path``, the whole sweep state is written
atomically (:mod:`jaxmlp.checkpoint`; ``.npz`` without pickle). A call with the
same arguments and an existing checkpoint resumes from it and ends with the same
results as an uninterrupted run.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxmlp import activations as _activations
from jaxmlp import checkpoint as _checkpoint
from jaxmlp import mlp, training, validation
from jaxmlp.kernels.backends import resolve_backend

Array = jax.Array

# Inputs with at most this many features take the first layer as broadcast
# multiply-adds (fused with the activation) instead of a batched matmul.
SMALL_INPUT = 8
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
# With at most this many (slot, output) pairs per bin, each unit's own slot's
# Delta is picked by broadcast selects (fused into their consumer) instead of an einsum
# (the guarded steps always select: an einsum would let a bin-mate's NaN in).
SMALL_BACK = 8


# --------------------------------------------------------------------------------------
# Packing: which bin, slot and units each (width, seed) model occupies.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Packing:
    """Where every model of one activation lives (the same for every activation).

    Attributes:
      capacity: hidden units per bin, C = max(widths).
      slots: K, models per bin at most.
      n_bins: B, bins (a multiple of ``devices * block``; the last ones may be empty).
      block: bins trained together, per device.
      threads: the bins of a device are split into this many equal parts, each
        trained by its own program call on its own host thread (XLA:CPU runs one
        call's small per-step kernels on one core).
      places: for model ``(width index i, column j)`` (a seed, or a seed and a learning
        rate), ``places[i][j] = (bin, slot, first unit)``; its units are
        ``first .. first + width - 1``.
    """

    capacity: int
    slots: int
    n_bins: int
    block: int
    places: tuple[tuple[tuple[int, int, int], ...], ...]
    threads: int = 1

    def member(self, widths: Sequence[int]) -> np.ndarray:
        """(B, K, C) bool: unit c of bin b belongs to the model in slot k."""
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


# --------------------------------------------------------------------------------------
# One block of bins: forward, the post's gradients, the optimizer per slot.
# --------------------------------------------------------------------------------------


def _first_layer(W: Array, b: Array, XT: Array) -> Array:
    """``s = W x + b`` per bin: W (B, C, d), b (B, C), XT (d, n) -> (B, C, n)."""
    d = XT.shape[0]
    if d <= SMALL_INPUT:
        s = b[..., None] + W[..., 0:1] * XT[0][None, None, :]
        for j in range(1, d):
            s = s + W[..., j : j + 1] * XT[j][None, None, :]
        return s
    return jnp.einsum("bcd,dn->bcn", W, XT) + b[..., None]


def _output_terms(z: Array, y: Array) -> tuple[Array, Array]:
    """Per-slot mean loss (B, K) and ``Delta_L = Y_hat - Y`` (B, K, k, n) from logits."""
    if z.shape[2] == 1:
        z1 = z[:, :, 0, :]
        yf = y.astype(z.dtype)[None, None, :]
        terms = jnp.maximum(z1, 0) - yf * z1 + jnp.log1p(jnp.exp(-jnp.abs(z1)))
        delta = (jax.nn.sigmoid(z1) - yf)[:, :, None, :]
    else:
        one_hot = jax.nn.one_hot(y, z.shape[2], dtype=z.dtype).T[None, None]
        terms = jax.nn.logsumexp(z, axis=2) - jnp.sum(z * one_hot, axis=2)
        delta = jax.nn.softmax(z, axis=2) - one_hot
    return jnp.mean(terms, axis=-1), delta


def _logits(
    params: mlp.Params, member: Array, XT: Array, act, *, isolated: bool = False
) -> tuple[list[Array], list[Array], Array, Array]:
    """Forward pass of a block: ``ss, hs`` (per hidden layer, (B, C, n)), per-slot W_L
    (B, K, k, C) and the logits (B, K, k, n).

    A hidden layer after the first is ``W (B, C, C)`` applied to the bin's
    units; its bins hold one model each (see :func:`sweep`'s ``depth``), so
    only padding units (zero weights, finite values) share it. The output
    layer sums every unit of a bin against its slot's masked W_L, so a foreign
    unit contributes ``0 * h``: exact while ``h`` is finite, but NaN where a
    bin-mate's ``h`` overflowed. ``isolated`` selects each slot's own terms
    instead (``where``: nothing foreign reaches a slot's logits), the form of
    the guarded steps and the final scores, where a model may diverge.
    """
    *hidden, out = params
    s = _first_layer(hidden[0].W, hidden[0].b, XT)
    ss, hs = [s], [act(s)]
    for layer in hidden[1:]:
        s = jnp.einsum("bdc,bcn->bdn", layer.W, hs[-1]) + layer.b[..., None]
        ss.append(s)
        hs.append(act(s))
    h = hs[-1]
    W_out = jnp.where(member[:, :, None, :], out.W[:, None], 0)
    if isolated:
        terms = out.W[:, None, :, :, None] * h[:, None, None, :, :]  # (B, 1, k, C, n)
        z = jnp.sum(jnp.where(member[:, :, None, :, None], terms, 0), axis=3)
    else:
        z = jnp.einsum("bkoc,bcn->bkon", W_out, h)
    return ss, hs, W_out, z + out.b[..., None]


def _block_loss_and_grads(
    params, member, XT, y, act, *, isolated: bool = False
) -> tuple[Array, mlp.Params]:
    """Mean loss (B, K) per slot and the post's gradients of a block, in bin layout.

    ``Delta_L = Y_hat - Y`` (P1), each unit taking its own slot's row (zero for
    padding); ``dW_L = Delta_L H^T / n`` (P2) as one batched matmul of every slot's
    Delta against the bin's units, each unit keeping its own slot's row;
    ``Delta_l = (W_{l+1}^T Delta_{l+1}) * g'(S_l)`` (P3); ``dW_l = Delta_l H_{l-1}^T / n``
    and for the first layer ``[dW_1, db_1] = Delta_1 [X; 1]^T / n`` (P4), as
    matmuls. ``isolated``: see :func:`_logits`.
    """
    n = XT.shape[1]
    ss, hs, W_out, z = _logits(params, member, XT, act, isolated=isolated)
    value, delta = _output_terms(z, y)  # (P1), (B, K, k, n)
    K, k = W_out.shape[1], W_out.shape[2]
    out = params[-1]
    # (P2) every slot's Delta_L against every unit of its bin (one batched matmul that
    # reads H once), then each unit keeps its own slot's row
    corr = jnp.einsum("bkon,bcn->bkoc", delta, hs[-1])
    dW_out = jnp.sum(jnp.where(member[:, :, None, :], corr, 0), axis=1) / n
    db_out = jnp.where(jnp.any(member, axis=-1)[..., None], jnp.mean(delta, axis=-1), 0)
    grads = [mlp.Dense(dW_out, db_out)]
    if isolated or K * k <= SMALL_BACK:  # broadcast selects, fused into their consumer
        back = sum(
            jnp.where(member[:, j, :, None], out.W[:, o, :, None] * delta[:, j, o, None, :], 0)
            for j in range(K)
            for o in range(k)
        )  # W_L^T Delta_L, each unit from its own slot
    else:  # many (slot, output) pairs: one matmul against the per-slot masked W_L
        back = jnp.einsum("bkoc,bkon->bcn", W_out, delta)
    delta_l = back * act.derivative(ss[-1], hs[-1])  # (P3)
    for l in range(len(params) - 2, 0, -1):  # hidden layers after the first, last to second
        dW = jnp.einsum("bdn,bcn->bdc", delta_l, hs[l - 1]) / n  # (P4)
        grads.append(mlp.Dense(dW, jnp.mean(delta_l, axis=-1)))
        back = jnp.einsum("bdc,bdn->bcn", params[l].W, delta_l)  # W_l^T Delta_l
        delta_l = back * act.derivative(ss[l - 1], hs[l - 1])  # (P3)
    XT1 = jnp.concatenate([XT, jnp.ones((1, n), XT.dtype)])
    g1 = jnp.einsum("bcn,jn->bcj", delta_l, XT1) / n  # (P4)
    d = XT.shape[0]
    grads.append(mlp.Dense(g1[..., :d], g1[..., d]))
    return value, tuple(reversed(grads))


def _fused_block_loss_and_grads(
    params, member, XT, y, act, *, isolated: bool = False
) -> tuple[Array, mlp.Params]:
    """:func:`_block_loss_and_grads` by the fused Pallas kernel (``backend="pallas"``).

    Needs one model per bin (the packing of that backend): a bin is then a
    plain network of width C whose padding units' gradients are masked out
    (with no bin-mates, every form is ``isolated``).
    """
    del isolated
    from jaxmlp import kernels

    *hidden, out = params
    model = (*hidden, mlp.Dense(out.W, out.b[:, 0]))
    value, grads = jax.vmap(kernels.loss_and_fused_grads, in_axes=(0, None, None, None))(
        model, XT.T, y, act
    )
    *g_hidden, g_out = _slot_views(grads, member)  # padding masked out; one slot
    layers = [mlp.Dense(g.W[:, 0], g.b[:, 0]) for g in g_hidden]
    return value[:, None], (*layers, mlp.Dense(g_out.W[:, 0], g_out.b[:, None]))


def _masks(member: Array, n_layers: int) -> list[Array]:
    """Per layer, which entries of W belong to slot k: (B, K, rows, cols) boolean masks.

    Hidden layer rows are the slot's units (the first layer takes every input,
    later ones only the slot's units as columns too); the output layer's columns.
    """
    m = member  # (B, K, C)
    masks = [m[..., None]]  # first layer: (B, K, C, 1), every input
    masks += [m[..., :, None] & m[..., None, :] for _ in range(n_layers - 2)]
    return masks + [m[:, :, None, :]]  # output: (B, K, 1, C)


def _slot_views(tree: mlp.Params, member: Array) -> mlp.Params:
    """Every slot of every bin as one network of width C (foreign and padding units zero).

    Leaves get a slot axis after the bin axis: hidden ``Dense(W (B, K, C, in),
    b (B, K, C))``, output ``Dense(W (B, K, k, C), b (B, K, k))``.
    """
    *hidden, out = tree
    masks = _masks(member, len(tree))
    views = [
        mlp.Dense(jnp.where(mask, layer.W[:, None], 0), jnp.where(member, layer.b[:, None], 0))
        for layer, mask in zip(hidden, masks[:-1], strict=True)
    ]
    return (*views, mlp.Dense(jnp.where(masks[-1], out.W[:, None], 0), out.b))


def _combine(views: mlp.Params, member: Array) -> mlp.Params:
    """Inverse of :func:`_slot_views`: each unit from its own slot."""
    *hidden, out = views
    masks = _masks(member, len(views))
    layers = [
        mlp.Dense(
            jnp.sum(jnp.where(mask, layer.W, 0), axis=1),
            jnp.sum(jnp.where(member, layer.b, 0), axis=1),
        )
        for layer, mask in zip(hidden, masks[:-1], strict=True)
    ]
    return (*layers, mlp.Dense(jnp.sum(jnp.where(masks[-1], out.W, 0), axis=1), out.b))


def _pick_units(member: Array, ok: Array, new: mlp.Params, old: mlp.Params) -> mlp.Params:
    """``new`` where a unit's (or, for the output bias, a slot's) model is ok, else ``old``.

    ``ok`` (B, K): per slot; a unit follows the slot it belongs to (padding keeps ``old``).
    """
    unit_ok = jnp.any(member & ok[:, :, None], axis=1)  # (B, C)
    *hidden_new, out_new = new
    *hidden_old, out_old = old
    layers = [
        mlp.Dense(jnp.where(unit_ok[..., None], a.W, b.W), jnp.where(unit_ok, a.b, b.b))
        for a, b in zip(hidden_new, hidden_old, strict=True)
    ]
    out = mlp.Dense(
        jnp.where(unit_ok[:, None, :], out_new.W, out_old.W),
        jnp.where(ok[..., None], out_new.b, out_old.b),
    )
    return (*layers, out)


def _finite_per_slot(tree) -> Array:
    """(B, K) bool: every leaf of each slot's view finite."""
    checks = [
        jnp.all(jnp.isfinite(leaf.reshape(leaf.shape[:2] + (-1,))), axis=2)
        for leaf in jax.tree.leaves(tree)
    ]
    return functools.reduce(jnp.logical_and, checks)


def _select(ok: Array, new, old):
    """``where(ok, new, old)`` over a pytree whose leaves start with ok's axes."""
    return jax.tree.map(
        lambda a, b: jnp.where(ok.reshape(ok.shape + (1,) * (a.ndim - ok.ndim)), a, b), new, old
    )


class BinState(NamedTuple):
    """Training state of the bins of one activation; every leaf has a leading bin axis."""

    # (Dense(W (B, C, d), b (B, C)), [Dense(W (B, C, C), b (B, C)) per further hidden layer,]
    #  Dense(W (B, k, C), b (B, K, k)))
    params: mlp.Params
    opt_state: Any  # the optimizer state of every slot, leaves (B, K, ...)
    last_good: mlp.Params  # params before the last update whose loss and grads were finite
    diverged_at: Array  # (B, K) int32, -1 while finite


def _updates(plan, params, opt_state, grads, member):
    """Per-slot optimizer updates, recombined: (updates, new opt states, slot grads)."""
    slot_grads = _slot_views(grads, member)
    update = jax.vmap(jax.vmap(plan.optimizer.update))
    views, opt_state = update(slot_grads, opt_state, _slot_views(params, member))
    return _combine(views, member), opt_state, slot_grads


def _fast_step(plan, act, loss_and_grads, state, member, XTb, yb):
    """One update of every model of a block, no guard; returns ((state, check), loss (B, K)).

    ``check`` is the running elementwise sum of every loss and gradient (no
    reductions in the loop): NaN/inf in any of them leaves a non-finite entry.
    """
    g, check = state
    value, grads = loss_and_grads(g.params, member, XTb, yb, act)
    updates, opt_state, _ = _updates(plan, g.params, g.opt_state, grads, member)
    params = jax.tree.map(jnp.add, g.params, updates)
    check = jax.tree.map(jnp.add, check, (value, grads))
    return (BinState(params, opt_state, g.params, g.diverged_at), check), value


def _guarded_step(plan, act, loss_and_grads, g: BinState, member, XTb, yb, step):
    """One update with :func:`jaxmlp.train`'s divergence guard, per model (slot)."""
    value, grads = loss_and_grads(g.params, member, XTb, yb, act)
    updates, opt_state, slot_grads = _updates(plan, g.params, g.opt_state, grads, member)
    new_params = jax.tree.map(jnp.add, g.params, updates)
    ok = jnp.isfinite(value) & _finite_per_slot(slot_grads) & (g.diverged_at < 0)  # (B, K)
    g = BinState(
        params=_pick_units(member, ok, new_params, g.params),
        opt_state=_select(ok, opt_state, g.opt_state),
        last_good=_pick_units(member, ok, g.params, g.last_good),
        diverged_at=jnp.where(ok | (g.diverged_at >= 0), g.diverged_at, step),
    )
    return g, value


# --------------------------------------------------------------------------------------
# Plan and the compiled programs.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Everything static about a sweep: it keys the compiled programs."""

    widths: tuple[int, ...]  # in the order given
    activations: tuple[_activations.Activation, ...]
    models_per_width: int  # seeds x learning rates (seed-major)
    n_features: int
    n_outputs: int
    optimizer: optax.GradientTransformation
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

    def sizes(self, width: int) -> tuple[int, ...]:
        """Layer sizes of a model of this width: ``(d, w, ..., w, k)``."""
        return (self.n_features,) + (width,) * self.depth + (self.n_outputs,)


class SweepState(NamedTuple):
    """The whole sweep's state between chunks (a pytree of arrays)."""

    bins: tuple[BinState, ...]  # one per activation
    key: Array  # (2,) uint32 raw key data of the shuffle key


def _prefix_draws() -> bool:
    """Are random draws prefixes of longer ones (``bits(k, (n,)) == bits(k, (m,))[:n]``)?

    True for the default threefry PRNG with ``jax_threefry_partitionable`` (the
    default since jax 0.5): every element's bits depend only on its flat index.
    """
    impl = jax.random.key_impl(jax.random.key(0))
    partitionable = getattr(jax.config, "jax_threefry_partitionable", False)
    return bool(partitionable) and "threefry" in str(impl)


def _init_models(seed: Array, plan: _Plan) -> list[mlp.Params]:
    """``init_mlp(key(seed), plan.sizes(w), scheme)`` for every width of the plan.

    Under :func:`_prefix_draws`, a layer's weights of every width are prefixes
    of one draw sized for the widest (the width only scales them), so the whole
    grid costs a few random draws per layer instead of ~five per width and
    layer, each of which costs ~0.4 s of XLA:CPU compile time.
    ``tests/test_sweep.py`` checks the result is ``init_mlp``'s, bit for bit.
    """
    scheme = plan.scheme
    if not _prefix_draws():
        return [mlp.init_mlp(jax.random.key(seed), plan.sizes(w), scheme) for w in plan.widths]
    f32 = jnp.float32
    # (fan_in, fan_out) of every layer of every width: (W, L) pairs
    fans = [list(zip(plan.sizes(w)[:-1], plan.sizes(w)[1:], strict=True)) for w in plan.widths]
    big = max(i * o for layers in fans for i, o in layers)
    n_layers = len(fans[0])
    layer_keys = jax.random.split(jax.random.key(seed), n_layers)  # as init_mlp
    w_keys, b_keys = jnp.moveaxis(jax.vmap(jax.random.split)(layer_keys), 1, 0)  # as _init_dense
    if scheme == "glorot_uniform":
        limits = jnp.asarray([[6.0 / (i + o) for i, o in layers] for layers in fans], f32)
        limits = jnp.sqrt(limits)  # (W, L), as _init_dense's jnp.sqrt(6.0 / (fan_in + fan_out))
        draw = lambda key, lim: jax.random.uniform(key, (big,), f32, -lim, lim)  # noqa: E731
        flat = jax.vmap(jax.vmap(draw), in_axes=(None, 0))(w_keys, limits)  # (W, L, big)
    elif scheme == "he_normal":
        scales = jnp.asarray([[2.0 / i for i, _ in layers] for layers in fans], f32)
        normal = jax.vmap(lambda key: jax.random.normal(key, (big,)))(w_keys)  # (L, big)
        flat = normal[None] * jnp.sqrt(scales)[..., None]
    else:  # uniform01
        flat = jnp.broadcast_to(
            jax.vmap(lambda key: jax.random.uniform(key, (big,)))(w_keys),
            (len(fans), n_layers, big),
        )
        widest = max(max(plan.widths), plan.n_outputs)
        biases = jax.vmap(lambda key: jax.random.uniform(key, (widest,)))(b_keys)  # (L, widest)
    out: list[mlp.Params] = []
    for i, layers in enumerate(fans):
        model = []
        for l, (fan_in, fan_out) in enumerate(layers):
            W = flat[i, l, : fan_out * fan_in].reshape(fan_out, fan_in)
            b = biases[l, :fan_out] if scheme == "uniform01" else jnp.zeros((fan_out,), f32)
            model.append(mlp.Dense(W, b))
        out.append(tuple(model))
    return out


def _init_state(plan: _Plan, seeds: Array, key_data: Array) -> SweepState:
    """Initial state: model (w, s) starts from ``init_mlp(key(seed), plan.sizes(w), scheme)``."""
    p = plan.packing
    B, C, K, d, k = p.n_bins, p.capacity, p.slots, plan.n_features, plan.n_outputs
    shapes = [((B, C, d), (B, C))] + [((B, C, C), (B, C))] * (plan.depth - 1)
    layers = [[jnp.zeros(w_shape), jnp.zeros(b_shape)] for w_shape, b_shape in shapes]
    W_out, b_out = jnp.zeros((B, k, C)), jnp.zeros((B, K, k))
    models = jax.vmap(lambda s: _init_models(s, plan))(seeds)  # per width, leaves (S, ...)
    for ix, (*hidden, o) in zip(_indices(p, plan.widths), models, strict=True):
        bins, units = ix.bins[:, None], ix.units  # (S, 1), (S, w)
        for l, layer in enumerate(hidden):
            at: tuple[np.ndarray, ...] = (bins, units)  # W (B, C, d): the model's rows
            if l > 0:  # W (B, C, C): the model's rows and columns
                at = (bins[..., None], units[:, :, None], units[:, None, :])
            layers[l][0] = layers[l][0].at[at].set(layer.W)
            layers[l][1] = layers[l][1].at[bins, units].set(layer.b)
        W_out = W_out.at[bins[..., None], np.arange(k)[None, :, None], units[:, None, :]].set(o.W)
        b_out = b_out.at[ix.bins, ix.slots].set(o.b)
    params = (*(mlp.Dense(W, b) for W, b in layers), mlp.Dense(W_out, b_out))
    member = jnp.asarray(p.member(plan.widths))
    opt_state = jax.vmap(jax.vmap(plan.optimizer.init))(_slot_views(params, member))
    if plan.learning_rates is not None:  # each slot's own rate
        rates = jnp.asarray(_slot_rates(p, plan.learning_rates))
        hyper = opt_state.hyperparams
        opt_state = opt_state._replace(hyperparams={**hyper, plan.rate_name: rates})
    diverged = jnp.full((B, K), -1, jnp.int32)
    state = BinState(params, opt_state, params, diverged)
    return SweepState(tuple(state for _ in plan.activations), key_data)


def _slot_rates(p: Packing, rates: Sequence[float]) -> np.ndarray:
    """(B, K) float32: the learning rate of the model in each slot (empty slots: any).

    A width's models are seed-major: model column ``j`` has rate ``rates[j % L]``.
    """
    out = np.full((p.n_bins, p.slots), rates[0], np.float32)
    for row in p.places:
        for j, (b, k, _) in enumerate(row):
            out[b, k] = rates[j % len(rates)]
    return out


@functools.lru_cache(maxsize=32)
def _rate_injected(factory: Callable) -> tuple[optax.GradientTransformation, str]:
    """``factory`` with its first argument (the learning rate) as per-model state.

    Cached, so the same factory gives the same transformation (and reuses the
    compiled programs). The rate placeholder is replaced per slot at init.
    """
    try:
        name = next(iter(inspect.signature(factory).parameters))
    except (StopIteration, TypeError, ValueError):
        raise TypeError(
            "optimizer must take the learning rate as its first argument "
            "(like optax.adam) when learning_rates is given"
        ) from None
    return optax.inject_hyperparams(factory)(1.0), name


def _batch(plan: _Plan, step: Array, key_data: Array, XT: Array, y: Array):
    """The examples of one update, as :func:`jaxmlp.train` draws them (same key, same order)."""
    if plan.batch_size is None:
        return XT, y
    n_batches = plan.n_examples // plan.batch_size
    epoch, batch = step // n_batches, step % n_batches
    positions = batch * plan.batch_size + jnp.arange(plan.batch_size, dtype=jnp.int32)
    key = jax.random.wrap_key_data(key_data)
    idx = training.shuffled_positions(key, epoch, positions, plan.n_examples)
    return jnp.take(XT, idx, axis=1), y[idx]


def _blocks(tree, block: int):
    """Leaves (B, ...) -> (B // block, block, ...)."""
    return jax.tree.map(lambda a: a.reshape((a.shape[0] // block, block) + a.shape[1:]), tree)


def _unblocks(tree):
    return jax.tree.map(lambda a: a.reshape((a.shape[0] * a.shape[1],) + a.shape[2:]), tree)


def _run_chunk(plan: _Plan, state: SweepState, member, X, y, start, *, length: int, guarded: bool):
    """``length`` updates from step ``start`` of the local bins.

    Returns the state, the losses ``(length, B, K)`` per activation and (fast
    path) whether every loss and gradient stayed finite.
    """
    XT = X.astype(jnp.float32).T
    steps = start + jnp.arange(length, dtype=jnp.int32)
    loss_and_grads = (
        _fused_block_loss_and_grads if plan.backend == "pallas" else _block_loss_and_grads
    )
    out_bins, out_values, finite = [], [], jnp.array(True)
    for act, bins in zip(plan.activations, state.bins, strict=True):

        def run_block(args, act=act):
            g, m = args
            if guarded:
                isolated = functools.partial(loss_and_grads, isolated=True)

                def body(g, step):
                    XTb, yb = _batch(plan, step, state.key, XT, y)
                    return _guarded_step(plan, act, isolated, g, m, XTb, yb, step)

                g, values = jax.lax.scan(body, g, steps)
                return g, values, jnp.array(True)

            def fast_body(carry, step):
                XTb, yb = _batch(plan, step, state.key, XT, y)
                return _fast_step(plan, act, loss_and_grads, carry, m, XTb, yb)

            check = jax.eval_shape(lambda: loss_and_grads(g.params, m, XT, y, act))
            check = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), check)
            (g, check), values = jax.lax.scan(fast_body, (g, check), steps)
            finite = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(check)]
            return g, values, functools.reduce(jnp.logical_and, finite)

        block = plan.packing.block
        g, values, ok = jax.lax.map(run_block, (_blocks(bins, block), _blocks(member, block)))
        out_bins.append(_unblocks(g))
        out_values.append(jnp.moveaxis(values, 0, 1).reshape((length, -1) + values.shape[3:]))
        finite = finite & jnp.all(ok)
    return SweepState(tuple(out_bins), state.key), tuple(out_values), finite


def _final(g: BinState, member: Array, steps: int) -> tuple[mlp.Params, Array]:
    """:func:`jaxmlp.train`'s choice of final params per unit, and ``diverged_at`` (B, K)."""
    finite = _finite_per_slot(_slot_views(g.params, member))
    final_ok = (g.diverged_at < 0) & finite  # (B, K)
    params = _pick_units(member, final_ok, g.params, g.last_good)
    diverged = (g.diverged_at < 0) & ~final_ok
    return params, jnp.where(diverged, jnp.int32(steps), g.diverged_at)


def _finish(plan: _Plan, state: SweepState, member, X, y, X_test, y_test, *, steps: int):
    """Final params, diverged_at, train (and test) loss and accuracy per activation."""
    block = plan.packing.block
    out = []
    for act, g in zip(plan.activations, state.bins, strict=True):
        params, diverged_at = _final(g, member, steps)

        def scores(X, y, act=act, params=params):
            XT = X.astype(jnp.float32).T

            def one_block(args):
                p, m = args
                _, _, _, z = _logits(p, m, XT, act, isolated=True)
                value, _ = _output_terms(z, y)
                if z.shape[2] == 1:
                    labels = (z[:, :, 0, :] >= 0).astype(jnp.int32)  # sigmoid(z) >= 0.5
                else:
                    labels = jnp.argmax(z, axis=2).astype(jnp.int32)
                hits = (labels == y.astype(jnp.int32)[None, None, :]).astype(jnp.float32)
                return value, jnp.mean(hits, axis=-1)

            value, acc = jax.lax.map(one_block, (_blocks(params, block), _blocks(member, block)))
            return _unblocks(value), _unblocks(acc)

        test = scores(X_test, y_test) if X_test is not None else None
        out.append((params, diverged_at, *scores(X, y), test))
    return tuple(out)


class _Programs(NamedTuple):
    """The compiled programs of a plan and the shardings their inputs must have."""

    init: Callable  # (seeds, key_data) -> SweepState
    split: Callable  # SweepState -> its parts, one per host thread (a list)
    chunk: Callable  # (length, guarded) -> program (state, member, X, y, start)
    finish: Callable  # (state, member, X, y[, X_test, y_test]) -> per-activation results
    state_shapes: Any  # SweepState of ShapeDtypeStruct (all parts)
    state_sharding: Any
    replicated: NamedSharding
    members: list  # (B / threads, K, C) bool, one per part


@functools.lru_cache(maxsize=16)
def _programs(
    plan: _Plan,
    devices: tuple,
    steps: int,
    chunk_lengths: tuple[int, ...],
    n_test: int | None,
) -> _Programs:
    """The programs of a sweep, compiled concurrently (cached: repeated calls reuse them).

    Tracing is serial Python; XLA compiles the init, every chunk length and the
    finish program on parallel threads (it releases the GIL), so the first call
    waits for the slowest of them rather than their sum. The guarded chunk is
    compiled only when a chunk needs it (a divergence).
    """
    mesh = Mesh(np.array(devices), ("bins",))
    rep = NamedSharding(mesh, PartitionSpec())
    split = NamedSharding(mesh, PartitionSpec("bins"))
    seeds = jax.ShapeDtypeStruct((plan.models_per_width,), jnp.int32)  # one per model column
    key_data = jax.ShapeDtypeStruct((2,), jnp.uint32)
    shapes = jax.eval_shape(functools.partial(_init_state, plan), seeds, key_data)
    threads = plan.packing.threads
    part_shapes = jax.eval_shape(lambda state: _split_parts(state, threads)[0], shapes)
    state_sharding = SweepState(jax.tree.map(lambda _: split, shapes.bins), rep)  # type: ignore[arg-type]
    P, S = PartitionSpec, PartitionSpec("bins")
    state_spec = SweepState(jax.tree.map(lambda _: S, shapes.bins), P())  # type: ignore[arg-type]
    members = [
        jax.make_array_from_callback(m.shape, split, functools.partial(_index, m))
        for m in _split_parts(plan.packing.member(plan.widths), threads)
    ]

    def data(n: int):
        return (
            jax.ShapeDtypeStruct((n, plan.n_features), jnp.float32, sharding=rep),
            jax.ShapeDtypeStruct((n,), jnp.int32, sharding=rep),
        )

    state_arg = jax.tree.map(
        lambda a, sh: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sh),
        part_shapes,
        state_sharding,
    )
    member_arg = jax.ShapeDtypeStruct(members[0].shape, members[0].dtype, sharding=split)
    train_data = data(plan.n_examples)
    start = jax.ShapeDtypeStruct((), jnp.int32, sharding=rep)

    def chunk_program(length: int, guarded: bool):
        body = functools.partial(_run_chunk, plan, length=length, guarded=guarded)
        mapped = jax.shard_map(
            lambda state, member, X, y, start: _local_finite(body(state, member, X, y, start)),
            mesh=mesh,
            in_specs=(state_spec, S, P(), P(), P()),
            out_specs=(state_spec, tuple(P(None, "bins") for _ in plan.activations), P()),
            check_vma=False,
        )
        fn = jax.jit(mapped, in_shardings=(state_sharding, split, rep, rep, rep))
        return fn.lower(state_arg, member_arg, *train_data, start)

    test_out = (S, S) if n_test is not None else None
    finish_out = tuple(
        (jax.tree.map(lambda _: S, shapes.bins[0].params), S, S, S, test_out)
        for _ in plan.activations
    )

    def finish_fn(state, member, X, y, *test):
        X_test, y_test = test if test else (None, None)
        return _finish(plan, state, member, X, y, X_test, y_test, steps=steps)

    test_data = data(n_test) if n_test is not None else ()
    finish = jax.jit(
        jax.shard_map(
            finish_fn,
            mesh=mesh,
            in_specs=(state_spec, S) + (P(),) * (2 + len(test_data)),
            out_specs=finish_out,
            check_vma=False,
        ),
    )
    init = jax.jit(
        functools.partial(_init_state, plan), in_shardings=(rep, rep), out_shardings=state_sharding
    )
    whole_state = jax.tree.map(
        lambda a, sh: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sh), shapes, state_sharding
    )
    # the parts in one call (eagerly, one slice per leaf and part: ~30 ms a sweep)
    splitter = jax.jit(functools.partial(_split_parts, threads=threads))
    lowered = [
        init.lower(seeds, key_data),
        finish.lower(state_arg, member_arg, *train_data, *test_data),
        *(splitter.lower(whole_state) for _ in range(threads > 1)),
        *(chunk_program(length, False) for length in chunk_lengths),
    ]
    with concurrent.futures.ThreadPoolExecutor(len(lowered)) as pool:
        compiled = list(pool.map(lambda program: program.compile(), lowered))
    init_program, finish_program = compiled[:2]
    split_program = compiled[2] if threads > 1 else (lambda state: [state])
    fast = dict(zip(chunk_lengths, compiled[-len(chunk_lengths) :], strict=True))

    @functools.cache
    def chunk(length: int, guarded: bool):
        if not guarded and length in fast:
            return fast[length]
        return chunk_program(length, guarded).compile()

    return _Programs(
        init_program, split_program, chunk, finish_program, shapes, state_sharding, rep, members
    )


def _host_threads(devices: Sequence[jax.Device]) -> int:
    """Host threads to split a sweep over: the usable cores for one CPU device, else 1."""
    if len(devices) != 1 or devices[0].platform != "cpu":
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _index(array: np.ndarray, index) -> np.ndarray:
    return array[index]


def _split_parts(tree, threads: int) -> list:
    """A state (or array) with leading bin axis B as ``threads`` parts of B / threads bins.

    The key of a SweepState is shared, not split.
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


def _join_parts(parts: list):
    """Inverse of :func:`_split_parts` on host arrays (results or states)."""
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], SweepState):
        bins = jax.tree.map(lambda *xs: np.concatenate(xs), *[p.bins for p in parts])
        return SweepState(bins, parts[0].key)
    return jax.tree.map(lambda *xs: np.concatenate(xs), *parts)


def _local_finite(result):
    """Makes the per-device finiteness flag global (all devices must agree)."""
    state, values, finite = result
    return state, values, jax.lax.pmin(finite.astype(jnp.int32), "bins").astype(bool)


# --------------------------------------------------------------------------------------
# The public API.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """What :func:`sweep` returns; arrays are indexed ``[width, activation, seed]``.

    With ``learning_rates``, every array has a learning-rate axis after the seed
    axis: ``[width, activation, seed, learning rate]`` (below, ``S`` stands for
    ``S, L`` then).

    Attributes:
      widths, activations, seeds: the grid axes, in the order given.
      learning_rates: the learning-rate axis, or None (one optimizer for all).
      final_loss: (W, A, S) mean training loss of the final params.
      train_accuracy: (W, A, S) training accuracy of the final params.
      test_loss, test_accuracy: (W, A, S) on the held-out set, or None without one.
      loss: (W, A, S, T) training loss curves: ``loss[..., t]`` is the loss before
        update ``loss_steps[t]`` (as :func:`jaxmlp.train`'s ``loss``).
      loss_steps: (T,) the steps kept in ``loss``: all of them, or evenly spaced
        ones (first and last included) when there are more than ``loss_points``.
      diverged_at: (W, A, S) int, the step at which a loss or gradient turned
        non-finite (training of that model stopped there), else -1.
      steps: number of updates of every model.
      depth: hidden layers of every model.
      group_params: per width (in the order of ``widths``), the trained params of
        every (activation, seed): ``(Dense(W (A, S, w, d), b), Dense(W (A, S, k, w), b))``
        (with ``depth`` > 1, hidden layers ``Dense(W (A, S, w, w), b)`` in between).
    """

    widths: tuple[int, ...]
    activations: tuple[str, ...]
    seeds: tuple[int, ...]
    final_loss: np.ndarray
    train_accuracy: np.ndarray
    test_loss: np.ndarray | None
    test_accuracy: np.ndarray | None
    loss: np.ndarray
    loss_steps: np.ndarray
    diverged_at: np.ndarray
    steps: int
    depth: int = 1
    group_params: tuple = dataclasses.field(repr=False, default=())
    learning_rates: tuple[float, ...] | None = None

    def params(
        self, width: int, activation: str, seed: int, learning_rate: float | None = None
    ) -> mlp.Params:
        """The trained params of one config, unpadded.

        ``(Dense(W (w, d), b), ..., Dense(W (k, w), b))``: ``depth`` hidden layers, then
        the output layer. ``learning_rate`` picks the model of a sweep with a
        learning-rate axis (required there, not allowed otherwise).

        >>> import optax
        >>> X, y = jax.numpy.ones((4, 2)), jax.numpy.array([0, 1, 0, 1])
        >>> r = sweep(X, y, widths=(3,), activations=("tanh",), seeds=(0,), steps=2,
        ...           optimizer=optax.sgd(0.1))
        >>> [layer.W.shape for layer in r.params(3, "tanh", 0)]
        [(3, 2), (1, 3)]
        """
        name = _activations.get(activation).name if not isinstance(activation, str) else activation
        for value, axis, label in (
            (width, self.widths, "width"),
            (name, self.activations, "activation"),
            (seed, self.seeds, "seed"),
        ):
            if value not in axis:
                raise ValueError(f"{label} must be one of {axis}, got {value!r}")
        at: tuple[int, ...] = (self.activations.index(name), self.seeds.index(seed))
        if self.learning_rates is None:
            if learning_rate is not None:
                raise ValueError("learning_rate is only for a sweep with learning_rates")
        elif learning_rate not in self.learning_rates:
            raise ValueError(
                f"learning_rate must be one of {self.learning_rates}, got {learning_rate!r}"
            )
        else:
            at += (self.learning_rates.index(learning_rate),)
        group = self.group_params[self.widths.index(width)]
        return jax.tree.map(lambda p: jnp.asarray(p[at]), group)


def _check_axis(values, name: str, kind) -> tuple:
    try:
        values = tuple(values)
    except TypeError:
        raise TypeError(f"{name} must be a sequence, got {type(values).__name__}") from None
    if not values:
        raise ValueError(f"{name} must not be empty")
    for v in values:
        if kind is int and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
            raise TypeError(f"{name} must hold ints, got {type(v).__name__} ({v!r})")
        if kind is float:
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise TypeError(f"{name} must hold numbers, got {type(v).__name__} ({v!r})")
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be positive and finite, got {v!r}")
    if kind is float:
        values = tuple(float(v) for v in values)
    keys = [v.name if isinstance(v, _activations.Activation) else v for v in values]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{name} must not repeat values, got {keys}")
    return values


def _default_chunk(steps: int) -> int:
    """About a tenth of the run, preferring a divisor of ``steps`` (one compiled chunk)."""
    for chunk in range(-(-steps // 10), max(steps // 5, 1) + 1):
        if steps % chunk == 0:
            return chunk
    return -(-steps // 10)


def _loss_steps(steps: int, points: int) -> np.ndarray:
    if steps <= points:
        return np.arange(steps)
    return np.unique(np.round(np.linspace(0, steps - 1, points)).astype(np.int64))


def _to_host(x) -> np.ndarray:
    """A (possibly multi-process) array as a full numpy array on this process."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        if x.sharding.is_fully_replicated:
            return np.asarray(x.addressable_data(0))
        from jax.experimental import multihost_utils

        x = multihost_utils.process_allgather(x, tiled=True)
    return np.asarray(x)


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


class _Index(NamedTuple):
    """Host-side gather indices of width i's models: bins, slots (S,), units (S, w)."""

    bins: np.ndarray
    slots: np.ndarray
    units: np.ndarray


def _indices(packing: Packing, widths: Sequence[int]) -> list[_Index]:
    out = []
    for w, row in zip(widths, packing.places, strict=True):
        bins = np.array([b for b, _, _ in row])
        slots = np.array([j for _, j, _ in row])
        units = np.array([first for _, _, first in row])[:, None] + np.arange(w)
        out.append(_Index(bins, slots, units))
    return out


def _model_params(params, ix: _Index) -> mlp.Params:
    """The (S, ...) params of one width's models from bin params on the host."""
    *hidden, o = params
    k = o.W.shape[1]
    bins, units = ix.bins[:, None], ix.units  # (S, 1), (S, w)
    layers = [mlp.Dense(hidden[0].W[bins, units], hidden[0].b[bins, units])]
    layers += [
        mlp.Dense(h.W[bins[..., None], units[:, :, None], units[:, None, :]], h.b[bins, units])
        for h in hidden[1:]
    ]
    out = mlp.Dense(
        o.W[bins[..., None], np.arange(k)[None, :, None], units[:, None, :]],
        o.b[ix.bins, ix.slots],
    )
    return (*layers, out)


def sweep(
    X: Array,
    y: Array,
    *,
    widths: Sequence[int],
    activations: Sequence[str | _activations.Activation],
    seeds: Sequence[int],
    steps: int,
    optimizer: optax.GradientTransformation,
    X_test: Array | None = None,
    y_test: Array | None = None,
    batch_size: int | None = None,
    scheme: str = "glorot_uniform",
    key: Array | None = None,
    n_outputs: int | None = None,
    chunk_steps: int | None = None,
    progress: bool = False,
    checkpoint: str | os.PathLike | None = None,
    loss_points: int = DEFAULT_LOSS_POINTS,
    on_chunk: Callable[[int], None] | None = None,
    devices: Sequence[jax.Device] | None = None,
    backend: str = "auto",
    depth: int = 1,
    learning_rates: Sequence[float] | None = None,
) -> SweepResult:
    """Trains every (hidden width, activation, seed) MLP in one compiled program.

    Config ``(w, a, s)`` gets the result of ``jaxmlp.train(jaxmlp.init_mlp(
    jax.random.key(s), (d, w, k), scheme), X, y, activation=a, optimizer=optimizer,
    steps=steps, batch_size=batch_size, key=key)`` up to float rounding (the
    post's manual gradients, the same divergence guard); with ``depth`` hidden
    layers the sizes are ``(d, w, ..., w, k)``. The models are packed into bins
    (see the module docstring) sharded over ``devices``. Calling again with the
    same shapes, grid and optimizer object reuses the compiled program.

    Args:
      X: (n, d) training inputs.
      y: (n,) labels: {0, 1} (one output) or 0..k-1.
      widths: hidden widths, distinct positive ints.
      activations: hidden activations (names or Activation objects), distinct names.
      seeds: distinct ints; model ``s`` starts from ``init_mlp(jax.random.key(s), ...)``.
      steps: updates per model.
      optimizer: any optax transformation, applied to each model separately; with
        ``learning_rates``, a factory taking the learning rate first (``optax.adam``,
        ``lambda lr: optax.sgd(lr, momentum=0.9)``).
      X_test, y_test: optional (m, d) and (m,) held-out data.
      batch_size: None (full batch) or the mini-batch size, shuffled as ``train``
        does with ``key`` (the same batches for every model).
      scheme: initialisation scheme of :func:`jaxmlp.init_mlp`.
      key: PRNG key of the mini-batch shuffle; required with ``batch_size``.
      n_outputs: output units k; default 1 for labels in {0, 1}, else max(y) + 1.
      chunk_steps: updates per compiled chunk (progress and checkpoints happen
        between chunks); default all of them, or about a tenth with
        ``progress`` or ``checkpoint``.
      progress: show a tqdm progress bar over the steps.
      checkpoint: path of an ``.npz`` checkpoint written after every chunk; if it
        exists (from a call with the same arguments) the sweep resumes from it.
      loss_points: at most this many points kept of each loss curve.
      on_chunk: called with the number of steps done after each chunk (and its
        checkpoint).
      devices: devices to shard over; default ``jax.devices()`` (all processes').
      backend: ``"xla"``, ``"pallas"`` (each step's loss and gradients by the fused
        kernels of :mod:`jaxmlp.kernels`, one model per bin; Pallas interpret mode
        on CPU, slow) or ``"auto"``: pallas on GPU, xla elsewhere.
      depth: hidden layers per model, each ``w`` wide. With more than one, a bin
        holds one model (a hidden-to-hidden layer is then a dense ``(C, C)``
        matrix whose padding stays zero; packing several models would make it
        block-diagonal), so deep sweeps of mixed widths cost more per model.
      learning_rates: optional learning-rate axis: model ``(w, a, s, r)`` trains
        with ``optimizer(r)`` (the rate is injected into each model's optimizer
        state, ``optax.inject_hyperparams``), and results get an axis for it.

    Returns:
      A :class:`SweepResult`.

    >>> import optax
    >>> X, y = (jnp.array([[0.0, 0.0], [3.0, 0.0]]), jnp.array([1, 0]))
    >>> r = sweep(X, y, widths=(2, 4), activations=("tanh", "relu"), seeds=(0, 1), steps=10,
    ...           optimizer=optax.sgd(0.5))
    >>> r.final_loss.shape, r.loss.shape
    ((2, 2, 2), (2, 2, 2, 10))
    """
    # ---- validation (before anything compiles) ----
    widths = tuple(int(w) for w in _check_axis(widths, "widths", int))
    for w in widths:
        validation.positive_int(w, "widths entries")
    acts = tuple(_activations.get(a) for a in _check_axis(activations, "activations", None))
    if len({a.name for a in acts}) != len(acts):
        raise ValueError(f"activations must have distinct names, got {[a.name for a in acts]}")
    seeds = tuple(int(s) for s in _check_axis(seeds, "seeds", int))
    steps = validation.positive_int(steps, "steps")
    backend = resolve_backend(backend)
    depth = validation.positive_int(depth, "depth")
    rates: tuple[float, ...] | None = None
    rate_name = None
    if learning_rates is not None:
        rates = tuple(_check_axis(learning_rates, "learning_rates", float))
        if isinstance(optimizer, optax.GradientTransformation) or not callable(optimizer):
            raise TypeError(
                "with learning_rates, optimizer must be a factory taking the learning rate "
                f"(like optax.adam), got {type(optimizer).__name__}"
            )
        optimizer, rate_name = _rate_injected(optimizer)
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"optimizer must be an optax.GradientTransformation, got {type(optimizer).__name__}"
            + (" (a factory like optax.adam needs learning_rates)" if callable(optimizer) else "")
        )
    if scheme not in mlp.INIT_SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(mlp.INIT_SCHEMES)}; got {scheme!r}")
    if not hasattr(X, "shape") or len(X.shape) != 2:
        raise ValueError(f"X must be 2-D with shape (n, d), got shape {getattr(X, 'shape', X)}")
    d = int(X.shape[1])
    validation.check_inputs(X, d)
    if n_outputs is None:
        y_max = int(np.max(np.asarray(y))) if np.size(np.asarray(y)) else 0
        n_outputs = 1 if y_max <= 1 else y_max + 1
    n_outputs = validation.positive_int(n_outputs, "n_outputs")
    validation.check_labels(y, X.shape[0], n_outputs)
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test must be given together")
    if X_test is not None:
        validation.check_inputs(X_test, d, name="X_test")
        validation.check_labels(y_test, X_test.shape[0], n_outputs, name="y_test")
    batch_size, key = validation.check_batching(batch_size, key, X.shape[0])
    if chunk_steps is None:
        chunk_steps = _default_chunk(steps) if (progress or checkpoint) else steps
    chunk_steps = min(validation.positive_int(chunk_steps, "chunk_steps"), steps)
    loss_points = validation.positive_int(loss_points, "loss_points")
    devices = tuple(jax.devices() if devices is None else devices)

    # ---- plan and compiled programs ----
    n_rates = 1 if rates is None else len(rates)
    packing = pack(
        widths,
        len(seeds) * n_rates,
        rows=batch_size or int(X.shape[0]),
        n_devices=len(devices),
        threads=_host_threads(devices),
        max_slots=1 if backend == "pallas" or depth > 1 else MAX_SLOTS,
    )
    plan = _Plan(
        widths=widths,
        activations=acts,
        models_per_width=len(seeds) * n_rates,
        n_features=d,
        n_outputs=n_outputs,
        optimizer=optimizer,
        scheme=scheme,
        batch_size=batch_size,
        n_examples=int(X.shape[0]),
        packing=packing,
        backend=backend,
        depth=depth,
        learning_rates=rates,
        rate_name=rate_name,
    )
    has_test = X_test is not None
    lengths = tuple(sorted({chunk_steps, steps % chunk_steps} - {0}))
    n_test = int(X_test.shape[0]) if X_test is not None else None
    programs = _programs(plan, devices, steps, lengths, n_test)

    def put(a, dtype):
        return jax.device_put(np.asarray(a, dtype), programs.replicated)

    X, y = put(X, np.float32), put(y, np.int32)
    test_data: tuple = ()
    if has_test:
        test_data = (put(X_test, np.float32), put(y_test, np.int32))
    key_data = put(jax.random.key_data(key), np.uint32)
    kept = _loss_steps(steps, loss_points)
    index = _indices(packing, widths)
    A, S = len(acts), len(seeds) * n_rates  # models per (width, activation)
    curves = np.full((len(widths), A, S, len(kept)), np.nan, np.float32)

    # ---- state: fresh, or resumed from a checkpoint ----
    path = None if checkpoint is None else os.fspath(checkpoint)
    fingerprint = {
        "layout": "bins-1",
        "data": _digest(X, y, *test_data),
        "widths": list(widths),
        "activations": [a.name for a in acts],
        "seeds": list(seeds),
        "steps": steps,
        "chunk_steps": chunk_steps,
        "scheme": scheme,
        "batch_size": batch_size,
        "key": _digest(key_data),
        "n_outputs": n_outputs,
        "loss_points": loss_points,
        "backend": backend,
        "depth": depth,
        "learning_rates": None if rates is None else list(rates),
        "parts": [len(devices), packing.threads],
    }
    done = 0
    state = None
    seeds_array = put(np.repeat(seeds, n_rates), np.int32)  # one per model column
    if path is not None and os.path.exists(path):
        leaves, meta = _checkpoint.load(path)
        if meta.get("fingerprint") != fingerprint:
            raise ValueError(
                f"checkpoint {path!r} was written by a sweep with other arguments; "
                "pass another path or delete it"
            )
        shapes = programs.state_shapes
        treedef = jax.tree.structure(shapes)
        expected = [(tuple(s.shape), s.dtype) for s in jax.tree.leaves(shapes)]
        got = [(tuple(leaf.shape), leaf.dtype) for leaf in leaves[:-1]]
        if got != expected:
            raise ValueError(
                f"checkpoint {path!r} does not match this sweep's state (another optimizer?)"
            )
        state = jax.device_put(jax.tree.unflatten(treedef, leaves[:-1]), programs.state_sharding)
        curves = np.array(leaves[-1])
        done = int(meta["step"])
    if state is None:
        state = programs.init(seeds_array, key_data)
    threads = packing.threads
    parts = programs.split(state)

    # ---- the chunks: each part's program called on its own thread ----
    from tqdm.auto import tqdm

    pool = concurrent.futures.ThreadPoolExecutor(threads) if threads > 1 else None

    def each(fn) -> list:
        """``[fn(0), ..., fn(threads - 1)]``, run concurrently; each call waits for its result."""
        call = lambda i: jax.block_until_ready(fn(i))  # noqa: E731
        return [call(0)] if pool is None else list(pool.map(call, range(threads)))

    def run(length: int, guarded: bool, i: int, *, start):
        program = programs.chunk(length, guarded)
        return program(parts[i], programs.members[i], X, y, start)

    def has_diverged(part: SweepState) -> bool:
        """Any model stopped? Then its part takes the guarded program (which keeps it stopped)."""
        return any(bool(np.any(_to_host(b.diverged_at) >= 0)) for b in part.bins)

    guarded = [has_diverged(part) for part in parts]
    try:
        with tqdm(
            total=steps, initial=done, disable=not progress, unit="step", desc="sweep"
        ) as bar:
            while done < steps:
                length = min(chunk_steps, steps - done)
                start = put(done, np.int32)
                outs = each(lambda i: run(length, guarded[i], i, start=start))  # noqa: B023
                for i, (_, _, finite) in enumerate(outs):
                    if not guarded[i] and not bool(_to_host(finite)):  # non-finite: redo
                        outs[i] = run(length, True, i, start=start)
                        guarded[i] = has_diverged(outs[i][0])
                parts = [new for new, _, _ in outs]
                rows = (kept >= done) & (kept < done + length)
                if rows.any():
                    for a in range(A):
                        v = np.concatenate([_to_host(values[a]) for _, values, _ in outs], axis=1)
                        v = v[kept[rows] - done]  # (T, B, K)
                        for i, ix in enumerate(index):
                            curves[i, a][:, rows] = v[:, ix.bins, ix.slots].T
                done += length
                if path is not None:
                    host_state = _join_parts([jax.tree.map(_to_host, part) for part in parts])
                    if jax.process_index() == 0:
                        meta = {"fingerprint": fingerprint, "step": done}
                        _checkpoint.save(path, (host_state, curves), meta)
                bar.update(length)
                if on_chunk is not None:
                    on_chunk(done)

        # ---- results, indexed [width, activation, seed] ----
        finished = each(lambda i: programs.finish(parts[i], programs.members[i], X, y, *test_data))
    finally:
        if pool is not None:
            pool.shutdown()
    out = _join_parts([jax.tree.map(_to_host, o) for o in finished])

    def split_rates(a: np.ndarray, axis: int) -> np.ndarray:
        """The model-column axis (S * L, seed-major) as (S, L) with a learning-rate axis."""
        if rates is None:
            return a
        return a.reshape(a.shape[:axis] + (len(seeds), n_rates) + a.shape[axis + 1 :])

    def grid(field) -> np.ndarray:
        """(W, A, S[, L]) from a per-activation (B, K) result."""
        g = np.stack([np.stack([field(o)[ix.bins, ix.slots] for o in out]) for ix in index])
        return split_rates(g, 2)

    group_params = tuple(
        jax.tree.map(
            lambda *xs: split_rates(np.stack(xs), 1), *[_model_params(o[0], ix) for o in out]
        )
        for ix in index
    )
    return SweepResult(
        widths=widths,
        activations=tuple(a.name for a in acts),
        seeds=seeds,
        final_loss=grid(lambda o: o[2]),
        train_accuracy=grid(lambda o: o[3]),
        test_loss=grid(lambda o: o[4][0]) if has_test else None,
        test_accuracy=grid(lambda o: o[4][1]) if has_test else None,
        loss=split_rates(curves, 2),
        loss_steps=kept,
        diverged_at=grid(lambda o: o[1]),
        steps=steps,
        depth=depth,
        group_params=group_params,
        learning_rates=rates,
    )
