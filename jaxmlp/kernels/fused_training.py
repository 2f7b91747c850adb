"""Many small models trained by gradient descent, the whole loop inside one Pallas kernel.

Each program instance owns one model: it loads the (shared) data and its
parameters once, then runs every step of full-batch gradient descent
``theta <- theta - alpha grad L`` with the post's explicit gradients
(:func:`jaxmlp.kernels._layout.block_loss_and_grads`) without leaving the
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
from jaxmlp.kernels import _layout
from jaxmlp.kernels.fused_mlp import (
    PRECISIONS,
    _check_pow2,
    _check_precision,
    _check_warps,
    _compiler_params,
    resolve_interpret,
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


def _count_nonfinite(values) -> Array:
    total = jnp.zeros((), jnp.float32)
    for v in values:
        bad = jnp.where(jnp.isfinite(v), jnp.zeros_like(v), jnp.ones_like(v))
        total = total + (bad if v.ndim == 0 else jnp.sum(bad))
    return total


def _train_kernel(
    x_ref,
    y_ref,
    lr_ref,
    *refs,
    n_layers,
    act,
    k,
    n,
    bn,
    row_blocks,
    steps,
    chunk,
    n_chunks,
    precision,
    widths,
):
    L = n_layers
    w_in, b_in = refs[:L], refs[L : 2 * L]
    w_out, b_out = refs[2 * L : 3 * L], refs[3 * L : 4 * L]
    loss_ref, div_ref = refs[4 * L], refs[4 * L + 1]
    lr = jnp.max(lr_ref[...])
    inv_n = 1.0 / n
    if row_blocks == 1:  # the whole data set stays in registers for every step
        x_all, y_all = x_ref[...], y_ref[...]
        valid_all = lax.broadcasted_iota(jnp.int32, (bn,), 0) < n

    def loss_and_grads(Ws, bs):
        if row_blocks == 1:
            return _layout.block_loss_and_grads(
                x_all, y_all, valid_all, Ws, bs, act, k, precision, widths
            )

        def body(r, acc):
            start = _layout.aligned(r, bn)
            rows = start + lax.broadcasted_iota(jnp.int32, (bn,), 0)
            part = _layout.block_loss_and_grads(
                x_ref[pl.ds(start, bn), :],
                y_ref[pl.ds(start, bn)],
                rows < n,
                Ws,
                bs,
                act,
                k,
                precision,
                widths,
            )
            return jax.tree.map(jnp.add, acc, part)

        zeros = (
            jnp.zeros((), jnp.float32),
            tuple(jnp.zeros_like(W) for W in Ws),
            tuple(jnp.zeros_like(b) for b in bs),
        )
        return lax.fori_loop(0, row_blocks, body, zeros)

    def step(t, carry):
        Ws, bs, last_Ws, last_bs, div, hist, offset = carry
        loss_sum, dws, dbs = loss_and_grads(Ws, bs)
        value = loss_sum * inv_n
        gws = tuple(g * inv_n for g in dws)
        gbs = tuple(g * inv_n for g in dbs)
        finite = _count_nonfinite((value,) + gws + gbs) == 0.0
        live = (div < 0) & (t < steps)
        ok = finite & live
        Ws_new = tuple(jnp.where(ok, W - lr * g, W) for W, g in zip(Ws, gws, strict=True))
        bs_new = tuple(jnp.where(ok, b - lr * g, b) for b, g in zip(bs, gbs, strict=True))
        last_Ws = tuple(jnp.where(ok, W, old) for W, old in zip(Ws, last_Ws, strict=True))
        last_bs = tuple(jnp.where(ok, b, old) for b, old in zip(bs, last_bs, strict=True))
        div = jnp.where(live & ~finite, t, div)
        lane = lax.broadcasted_iota(jnp.int32, (chunk,), 0)
        hist = jnp.where(lane == t - offset, value, hist)
        return Ws_new, bs_new, last_Ws, last_bs, div, hist, offset

    def run_chunk(c, carry):
        Ws, bs, last_Ws, last_bs, div = carry
        offset = c * chunk
        inner = (Ws, bs, last_Ws, last_bs, div, jnp.zeros((chunk,), jnp.float32), offset)
        Ws, bs, last_Ws, last_bs, div, hist, _ = lax.fori_loop(offset, offset + chunk, step, inner)
        loss_ref[pl.ds(_layout.aligned(c, chunk), chunk)] = hist
        return Ws, bs, last_Ws, last_bs, div

    Ws = tuple(r[...] for r in w_in)
    bs = tuple(r[...] for r in b_in)
    init = (Ws, bs, Ws, bs, jnp.array(-1, jnp.int32))
    if n_chunks == 1:
        Ws, bs, last_Ws, last_bs, div = run_chunk(0, init)
    else:
        Ws, bs, last_Ws, last_bs, div = lax.fori_loop(0, n_chunks, run_chunk, init)
    # The parameters after the last update were never evaluated: keep them if finite.
    final_ok = (div < 0) & (_count_nonfinite(Ws + bs) == 0.0)
    for ref, W, old in zip(w_out, Ws, last_Ws, strict=True):
        ref[...] = jnp.where(final_ok, W, old)
    for ref, b, old in zip(b_out, bs, last_bs, strict=True):
        ref[...] = jnp.where(final_ok, b, old)
    div = jnp.where((div < 0) & ~final_ok, steps, div)
    div_ref[...] = jnp.broadcast_to(div, div_ref.shape)


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
    k = params[-1].W.shape[1]
    M = params[0].W.shape[0]
    L = len(params)
    weights, biases = jax.vmap(_layout.pad_params)(params)
    dp = _layout.padded_dim(d)
    bn = min(row_block, max(_layout.MIN_DIM, _layout.next_pow2(n)))
    row_blocks = pl.cdiv(n, bn)
    chunk = min(loss_chunk, _layout.next_pow2(steps))
    n_chunks = pl.cdiv(steps, chunk)
    Xp = _layout.pad_to(X.astype(jnp.float32), (row_blocks * bn, dp))
    yp = _layout.pad_to(y.astype(jnp.float32), (row_blocks * bn,))
    lr = jnp.broadcast_to(jnp.asarray(learning_rate, jnp.float32).reshape(-1, 1), (M, _LANES))
    kernel = functools.partial(
        _train_kernel,
        n_layers=L,
        act=act,
        k=k,
        n=n,
        bn=bn,
        row_blocks=row_blocks,
        steps=steps,
        chunk=chunk,
        n_chunks=n_chunks,
        precision=PRECISIONS[precision],
        widths=tuple(layer.W.shape[1] for layer in params[:-1]),
    )
    loss_shape = jax.ShapeDtypeStruct((M, n_chunks * chunk), jnp.float32)
    div_shape = jax.ShapeDtypeStruct((M, _LANES), jnp.int32)
    outs = pl.pallas_call(
        kernel,
        grid=(M,),
        in_specs=[_layout.whole_spec(Xp), _layout.whole_spec(yp), _layout.stacked_spec(lr)]
        + [_layout.stacked_spec(w) for w in weights]
        + [_layout.stacked_spec(b) for b in biases],
        out_specs=[_layout.stacked_spec(w) for w in weights]
        + [_layout.stacked_spec(b) for b in biases]
        + [_layout.stacked_spec(loss_shape), _layout.stacked_spec(div_shape)],
        out_shape=[jax.ShapeDtypeStruct(w.shape, jnp.float32) for w in weights]
        + [jax.ShapeDtypeStruct(b.shape, jnp.float32) for b in biases]
        + [loss_shape, div_shape],
        compiler_params=_compiler_params(num_warps),
        interpret=interpret,
        name="jaxmlp_fused_train",
    )(Xp, yp, lr, *weights, *biases)
    new_w, new_b, loss, div = outs[:L], outs[L : 2 * L], outs[2 * L], outs[2 * L + 1]
    trained = tuple(
        mlp.Dense(
            W=W[:, : layer.W.shape[1], : layer.W.shape[2]].astype(layer.W.dtype),
            b=b[:, : layer.b.shape[1]].astype(layer.b.dtype),
        )
        for layer, W, b in zip(params, new_w, new_b, strict=True)
    )
    return trained, loss[:, :steps], div[:, 0]


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
        precision=_check_precision(precision),
        interpret=resolve_interpret(interpret),
        num_warps=_check_warps(num_warps),
        row_block=_check_pow2(row_block, "row_block", _layout.MIN_DIM),
        loss_chunk=_check_pow2(loss_chunk, "loss_chunk", 1),
    )
    return FusedTrainResult(params=params, loss=loss, diverged_at=div)
