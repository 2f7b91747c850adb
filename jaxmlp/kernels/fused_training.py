"""Many small models trained by gradient descent, the whole loop inside one Pallas kernel.

Each program instance owns one model: it loads the (shared) data and its
parameters once, then runs every step of full-batch gradient descent
``theta <- theta - alpha grad L`` with the post's explicit gradients
(:func:`jaxmlp.kernels._common.rows_loss_and_grads`) without leaving the
chip, and writes back the final parameters, the loss of every step and the
step where it diverged. This is the regime of a sweep over widths x
activations x seeds x learning rates of blog-size networks, where XLA spends
its time launching a handful of tiny kernels per step.

The divergence guard matches :func:`jaxmlp.train`: a step whose loss or
gradient is not finite is not applied, later steps are not applied either,
and the returned parameters are the last ones with a finite loss.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.experimental import pallas as pl

from jaxmlp import activations as _activations
from jaxmlp import mlp, validation
from jaxmlp.kernels import _common
from jaxmlp.kernels._config import (
    PRECISIONS,
    check_pow2,
    check_precision,
    check_warps,
    resolve_interpret,
    triton_params,
)

Array = jax.Array

MAX_ROW_BLOCK = 256  # rows of data held at once per step; more rows loop
LOSS_CHUNK = 128  # per-step losses kept in registers before a store
_LANES = 16


class FusedTrainResult(NamedTuple):
    """What :func:`fused_train` returns, for M models.

    Attributes:
      params: final parameters, the same stacked pytree as the input (leading axis M).
      loss: (M, steps) loss of each model's parameters before each update.
      diverged_at: (M,) int32, the first step whose loss or gradient was not
        finite, or -1 for a model that stayed finite.
    """

    params: mlp.Params
    loss: Array
    diverged_at: Array


class _Net(NamedTuple):
    """Padded weights ``W_l`` (out_p, in_p) and biases ``b_l`` (out_p,) of one model.

    Outside the kernel the leaves are arrays stacked on a leading model axis;
    inside they are refs (the kernel's inputs and outputs) or loaded values.
    """

    Ws: tuple
    bs: tuple


class _Geometry(NamedTuple):
    """Static sizes of one training kernel (hashable: a ``functools.partial`` argument)."""

    n: int  # real rows of data
    k: int  # real outputs
    bn: int  # rows per block (a power of two >= 16)
    row_blocks: int  # blocks per pass over the data
    steps: int  # real steps; the loops run n_chunks * chunk >= steps
    chunk: int  # per-step losses kept on chip before a store
    n_chunks: int
    widths: tuple[int, ...]  # real hidden widths (padded units output 0)


class _Guard(NamedTuple):
    """The divergence guard's state, as in :func:`jaxmlp.train`."""

    net: _Net  # the parameters being trained
    last_good: _Net  # the last parameters whose loss and gradient were finite
    diverged_at: Array  # int32 (): the first non-finite step, -1 while finite


def _count_nonfinite(values) -> Array:
    total = jnp.zeros((), jnp.float32)
    for v in values:
        bad = jnp.where(jnp.isfinite(v), jnp.zeros_like(v), jnp.ones_like(v))
        total = total + (bad if v.ndim == 0 else jnp.sum(bad))
    return total


def _summed_loss_and_grads(x_ref, y_ref, geo: _Geometry, act, precision):
    """``net -> (loss_sum, dWs, dbs)`` over all rows, summed (not averaged) over rows.

    With a single row block, the data are loaded once here and stay in
    registers for every step; otherwise each step loops over the row blocks.
    """
    if geo.row_blocks == 1:
        x_all, y_all = x_ref[...], y_ref[...]
        valid_all = lax.broadcasted_iota(jnp.int32, (geo.bn,), 0) < geo.n

        def whole(net: _Net):
            return _common.rows_loss_and_grads(
                x_all, y_all, valid_all, net.Ws, net.bs, act, geo.k, precision, geo.widths
            )

        return whole

    def blocked(net: _Net):
        def body(r, acc):
            start = _common.aligned(r, geo.bn)
            rows = start + lax.broadcasted_iota(jnp.int32, (geo.bn,), 0)
            x, y = x_ref[pl.ds(start, geo.bn), :], y_ref[pl.ds(start, geo.bn)]
            part = _common.rows_loss_and_grads(
                x, y, rows < geo.n, net.Ws, net.bs, act, geo.k, precision, geo.widths
            )
            return jax.tree.map(jnp.add, acc, part)

        zeros = (jnp.zeros((), jnp.float32), *jax.tree.map(jnp.zeros_like, (net.Ws, net.bs)))
        return lax.fori_loop(0, geo.row_blocks, body, zeros)

    return blocked


def _guarded_sgd(state: _Guard, value, grads: _Net, lr, t, steps: int) -> _Guard:
    """One step ``theta <- theta - lr * grad``, applied only while everything is finite."""
    finite = _count_nonfinite((value,) + grads.Ws + grads.bs) == 0.0
    live = (state.diverged_at < 0) & (t < steps)
    ok = finite & live
    net = jax.tree.map(lambda p, g: jnp.where(ok, p - lr * g, p), state.net, grads)
    last_good = jax.tree.map(lambda p, old: jnp.where(ok, p, old), state.net, state.last_good)
    return _Guard(net, last_good, jnp.where(live & ~finite, t, state.diverged_at))


def _final(state: _Guard, steps: int) -> tuple[_Net, Array]:
    """The parameters to return and ``diverged_at``, as ``jaxmlp.train`` picks them.

    The parameters after the last update were never evaluated: they are kept
    if finite, else the last good ones are returned and ``diverged_at = steps``.
    """
    final_ok = (state.diverged_at < 0) & (_count_nonfinite(state.net.Ws + state.net.bs) == 0.0)
    net = jax.tree.map(lambda p, old: jnp.where(final_ok, p, old), state.net, state.last_good)
    return net, jnp.where((state.diverged_at < 0) & ~final_ok, steps, state.diverged_at)


def _train_kernel(
    x_ref, y_ref, lr_ref, net_in: _Net, net_out: _Net, loss_ref, div_ref, *, geo, act, precision
):
    """Trains one model (program): every step, its loss history and divergence guard."""
    lr = jnp.max(lr_ref[...])
    inv_n = 1.0 / geo.n
    loss_and_grads = _summed_loss_and_grads(x_ref, y_ref, geo, act, precision)

    def step(t, carry):
        state, hist, offset = carry
        loss_sum, dws, dbs = loss_and_grads(state.net)
        value = loss_sum * inv_n
        grads = _Net(tuple(g * inv_n for g in dws), tuple(g * inv_n for g in dbs))
        state = _guarded_sgd(state, value, grads, lr, t, geo.steps)
        lane = lax.broadcasted_iota(jnp.int32, (geo.chunk,), 0)
        return state, jnp.where(lane == t - offset, value, hist), offset

    def run_chunk(c, state):
        offset = c * geo.chunk
        inner = (state, jnp.zeros((geo.chunk,), jnp.float32), offset)
        state, hist, _ = lax.fori_loop(offset, offset + geo.chunk, step, inner)
        loss_ref[pl.ds(_common.aligned(c, geo.chunk), geo.chunk)] = hist
        return state

    net = jax.tree.map(lambda ref: ref[...], net_in)
    state = _Guard(net, net, jnp.array(-1, jnp.int32))
    if geo.n_chunks == 1:
        state = run_chunk(0, state)
    else:
        state = lax.fori_loop(0, geo.n_chunks, run_chunk, state)
    net, div = _final(state, geo.steps)
    for ref, value in zip(jax.tree.leaves(net_out), jax.tree.leaves(net), strict=True):
        ref[...] = value
    div_ref[...] = jnp.broadcast_to(div, div_ref.shape)


def _geometry(params, n: int, steps: int, row_block: int, loss_chunk: int) -> _Geometry:
    bn = min(row_block, max(_common.MIN_DIM, _common.next_pow2(n)))
    chunk = min(loss_chunk, _common.next_pow2(steps))
    return _Geometry(
        n=n,
        k=params[-1].W.shape[1],
        bn=bn,
        row_blocks=pl.cdiv(n, bn),
        steps=steps,
        chunk=chunk,
        n_chunks=pl.cdiv(steps, chunk),
        widths=tuple(layer.W.shape[1] for layer in params[:-1]),
    )


def _unpad(params, net: _Net) -> mlp.Params:
    """Slices padded stacked parameters back to the shapes (and dtypes) of ``params``."""
    return tuple(
        mlp.Dense(
            W=W[:, : layer.W.shape[1], : layer.W.shape[2]].astype(layer.W.dtype),
            b=b[:, : layer.b.shape[1]].astype(layer.b.dtype),
        )
        for layer, W, b in zip(params, net.Ws, net.bs, strict=True)
    )


@functools.partial(
    jax.jit,
    static_argnames=(
        "act",
        "steps",
        "precision",
        "interpret",
        "num_warps",
        "row_block",
        "loss_chunk",
    ),
)
def _fused_train(
    params,
    X,
    y,
    learning_rate,
    *,
    act,
    steps,
    precision,
    interpret,
    num_warps,
    row_block,
    loss_chunk,
):
    n, d = X.shape
    M = params[0].W.shape[0]
    geo = _geometry(params, n, steps, row_block, loss_chunk)
    net = _Net(*jax.vmap(_common.pad_params)(params))
    rows = geo.row_blocks * geo.bn
    Xp = _common.pad_to(X.astype(jnp.float32), (rows, _common.padded_dim(d)))
    yp = _common.pad_to(y.astype(jnp.float32), (rows,))
    lr = jnp.broadcast_to(jnp.asarray(learning_rate, jnp.float32).reshape(-1, 1), (M, _LANES))
    out_shape = (
        jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, jnp.float32), net),
        jax.ShapeDtypeStruct((M, geo.n_chunks * geo.chunk), jnp.float32),  # losses
        jax.ShapeDtypeStruct((M, _LANES), jnp.int32),  # diverged_at
    )
    new_net, loss, div = pl.pallas_call(
        functools.partial(_train_kernel, geo=geo, act=act, precision=PRECISIONS[precision]),
        grid=(M,),
        in_specs=(
            _common.whole_spec(Xp),
            _common.whole_spec(yp),
            _common.stacked_spec(lr),
            jax.tree.map(_common.stacked_spec, net),
        ),
        out_specs=jax.tree.map(_common.stacked_spec, out_shape),
        out_shape=out_shape,
        compiler_params=triton_params(num_warps),
        interpret=interpret,
        name="jaxmlp_fused_train",
    )(Xp, yp, lr, net)
    return _unpad(params, new_net), loss[:, :steps], div[:, 0]


def check_stacked_params(params) -> tuple[int, tuple[int, ...]]:
    """Checks a stack of M networks (leading axis on every leaf); returns ``(M, sizes)``."""
    if not isinstance(params, (tuple, list)) or not params:
        raise TypeError(
            f"params must be a non-empty tuple of Dense layers stacked on a leading model "
            f"axis, got {type(params).__name__}"
        )
    leaves = jax.tree.leaves(params)
    counts = {np.shape(a)[0] if np.ndim(a) >= 1 else None for a in leaves}
    if len(counts) != 1 or None in counts:
        raise ValueError(
            "params must have the same leading model axis on every W and b, got shapes "
            f"{[tuple(np.shape(a)) for a in leaves]}"
        )
    one = jax.tree.map(lambda a: np.zeros(np.shape(a)[1:], np.float32), tuple(params))
    return int(np.shape(leaves[0])[0]), validation.check_params(one)


def fused_train(
    params: mlp.Params,
    X: Array,
    y: Array,
    *,
    activation: mlp.ActivationLike = "sigmoid",
    learning_rate: float | Array,
    steps: int,
    precision: str = "highest",
    interpret: bool | None = None,
    num_warps: int = 4,
    row_block: int = MAX_ROW_BLOCK,
    loss_chunk: int = LOSS_CHUNK,
) -> FusedTrainResult:
    """Full-batch gradient descent of M same-shape networks on shared data, one kernel.

    Equal (within float32 rounding) to running ``jaxmlp.train(..., optimizer=optax.sgd(lr))``
    on each model.

    Args:
      params: M networks stacked on a leading axis: ``Dense(W (M, out, in), b (M, out))``
        per layer (e.g. ``jax.vmap(init_mlp, in_axes=(0, None))(keys, sizes)``).
      X: (n, d) inputs, shared by all models.
      y: (n,) labels: {0, 1} for one output, 0..k-1 for k outputs.
      activation: hidden-layer activation (the same for all M models).
      learning_rate: a float, or (M,) one per model.
      steps: number of updates.
      precision: ``"highest"`` (exact float32 products) or ``"default"`` (TF32 on GPU).
      interpret: run in Pallas interpret mode; None: only on CPU.
      num_warps: GPU warps per model (Triton).
      row_block: most rows of data held at once (a power of two >= 16); more rows
        are processed in a loop of blocks inside each step.
      loss_chunk: per-step losses kept on chip before each store (a power of two).

    Returns:
      A :class:`FusedTrainResult` with stacked params, (M, steps) losses and (M,) ``diverged_at``.

    >>> import jaxmlp
    >>> keys = jax.random.split(jax.random.key(0), 3)
    >>> params = jax.vmap(jaxmlp.init_mlp, in_axes=(0, None))(keys, (2, 3, 1))
    >>> X = jnp.array([[0.0, 0.0], [1.0, 1.0]]); y = jnp.array([0, 1])
    >>> fused_train(params, X, y, learning_rate=1.0, steps=5).loss.shape
    (3, 5)
    """
    act = _activations.get(activation)
    M, sizes = check_stacked_params(params)
    validation.check_inputs(X, sizes[0])
    validation.check_labels(y, X.shape[0], sizes[-1])
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    lr_shape = np.shape(learning_rate)
    if lr_shape not in ((), (M,)):
        raise ValueError(
            f"learning_rate must be a scalar or have shape ({M},) (one per model), got {lr_shape}"
        )
    params, loss, div = _fused_train(
        tuple(params),
        X,
        y,
        learning_rate,
        act=act,
        steps=int(steps),
        precision=check_precision(precision),
        interpret=resolve_interpret(interpret),
        num_warps=check_warps(num_warps),
        row_block=check_pow2(row_block, "row_block", _common.MIN_DIM),
        loss_chunk=check_pow2(loss_chunk, "loss_chunk", 1),
    )
    return FusedTrainResult(params=params, loss=loss, diverged_at=div)
