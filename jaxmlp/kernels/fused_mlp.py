"""Fused MLP kernels: every layer of a block of rows in one Pallas kernel.

:func:`fused_forward` computes the logits of a block of rows with all layers'
activations kept on chip. :func:`fused_loss_and_grads` does the forward pass,
the loss, the output delta (P1) and the post's backward pass (P2-P4, see
:mod:`jaxmlp.backprop`) for a block of rows in one kernel; each program
instance loops over a few row blocks, accumulating its partial ``dW``, ``db``
and loss sums, and a sum over programs finishes the reduction.
:func:`fused_loss` is the mean loss whose ``jax.grad`` runs that kernel
(``jax.custom_vjp``).

On GPU the kernels compile with Pallas' Triton backend; on CPU they run in
Pallas interpret mode (correct, slow: for tests only). ``interpret=None``
picks interpret mode exactly when the default backend is the CPU.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl

from jaxmlp import activations as _activations
from jaxmlp import losses, mlp, validation
from jaxmlp.kernels import _common
from jaxmlp.kernels._config import (
    NUM_WARPS,
    PRECISIONS,
    check_pow2,
    check_precision,
    check_warps,
    resolve_interpret,
    triton_params,
)

Array = jax.Array

FORWARD_BLOCK_ROWS = 128
GRAD_BLOCK_ROWS = 128
TARGET_PROGRAMS = 512  # programs of the gradient kernel for large n (a few per SM)
MAX_BLOCKS_PER_PROGRAM = 32
_LANES = 16  # width of the per-program loss output row


def _block_rows(n: int, cap: int) -> int:
    return min(cap, max(_common.MIN_DIM, _common.next_pow2(n)))


# ----------------------------------------------------------------------------- forward


def _forward_kernel(x_ref, w_refs, b_refs, out_ref, *, act, precision):
    weights = [r[...] for r in w_refs]
    biases = [r[...] for r in b_refs]
    ss, _ = _common.forward_block(x_ref[...], weights, biases, act, precision)
    out_ref[...] = ss[-1].astype(out_ref.dtype)


@functools.partial(
    jax.jit, static_argnames=("act", "precision", "interpret", "block_rows", "num_warps")
)
def _fused_forward(params, X, *, act, precision, interpret, block_rows=None, num_warps=NUM_WARPS):
    n, d = X.shape
    k = params[-1].W.shape[0]
    weights, biases = _common.pad_params(params)
    bn = block_rows or _block_rows(n, FORWARD_BLOCK_ROWS)
    n_blocks = pl.cdiv(n, bn)
    dp, kp = _common.padded_dim(d), _common.padded_dim(k)
    Xp = _common.pad_to(X.astype(jnp.float32), (n_blocks * bn, dp))
    kernel = functools.partial(_forward_kernel, act=act, precision=PRECISIONS[precision])
    logits = pl.pallas_call(
        kernel,
        grid=(n_blocks,),
        in_specs=(
            pl.BlockSpec((bn, dp), lambda i: (i, 0)),
            tuple(_common.whole_spec(w) for w in weights),
            tuple(_common.whole_spec(b) for b in biases),
        ),
        out_specs=pl.BlockSpec((bn, kp), lambda i: (i, 0)),
        out_shape=jax.ShapeDtypeStruct((n_blocks * bn, kp), jnp.float32),
        compiler_params=triton_params(num_warps),
        interpret=interpret,
        name="jaxmlp_fused_forward",
    )(Xp, weights, biases)
    return logits[:n, :k].astype(X.dtype)


def fused_forward(
    params: mlp.Params,
    X: Array,
    activation: mlp.ActivationLike = "sigmoid",
    *,
    precision: str = "highest",
    interpret: bool | None = None,
    block_rows: int | None = None,
    num_warps: int = NUM_WARPS,
) -> Array:
    """Logits of a batch, all layers fused in one kernel per block of rows.

    Equal (within float32 rounding) to ``jax.vmap(jaxmlp.forward, in_axes=(None, 0))``.

    Args:
      params: tuple of Dense layers.
      X: (n, d) inputs.
      activation: hidden-layer activation, a name or an Activation.
      precision: ``"highest"`` (exact float32 products) or ``"default"``
        (TF32 tensor cores on GPU).
      interpret: run in Pallas interpret mode; None: only on CPU.
      block_rows: rows per program (a power of two >= 16); None: up to 128.
      num_warps: GPU warps per program (Triton).

    Returns:
      (n, k) logits.

    >>> params = mlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> fused_forward(params, jnp.ones((5, 2))).shape
    (5, 1)
    """
    act = _activations.get(activation)
    sizes = validation.check_params(params)
    validation.check_inputs(X, sizes[0])
    return _fused_forward(
        params,
        X,
        act=act,
        precision=check_precision(precision),
        interpret=resolve_interpret(interpret),
        block_rows=check_pow2(block_rows, "block_rows", _common.MIN_DIM),
        num_warps=check_warps(num_warps),
    )


# ----------------------------------------------------------------------------- gradients


def _grads_kernel(
    x_ref, y_ref, w_refs, b_refs, loss_ref, dw_refs, db_refs, *, act, k, n, bn, blocks, precision
):
    weights = [r[...] for r in w_refs]
    biases = [r[...] for r in b_refs]
    first_row = pl.program_id(0) * (bn * blocks)

    def body(r, carry):
        loss_acc, dw_acc, db_acc = carry
        start = _common.aligned(r, bn)
        x = x_ref[pl.ds(start, bn), :]
        y = y_ref[pl.ds(start, bn)]
        rows = first_row + start + lax.broadcasted_iota(jnp.int32, (bn,), 0)
        loss_sum, dws, dbs = _common.rows_loss_and_grads(
            x, y, rows < n, weights, biases, act, k, precision
        )
        return (
            loss_acc + loss_sum,
            tuple(a + g for a, g in zip(dw_acc, dws, strict=True)),
            tuple(a + g for a, g in zip(db_acc, dbs, strict=True)),
        )

    init = (
        jnp.zeros((), jnp.float32),
        tuple(jnp.zeros(w.shape, jnp.float32) for w in weights),
        tuple(jnp.zeros(b.shape, jnp.float32) for b in biases),
    )
    if blocks == 1:
        loss_sum, dws, dbs = body(0, init)
    else:
        loss_sum, dws, dbs = lax.fori_loop(0, blocks, body, init)
    loss_ref[...] = jnp.broadcast_to(loss_sum, loss_ref.shape)
    for ref, value in zip(dw_refs, dws, strict=True):
        ref[...] = value
    for ref, value in zip(db_refs, dbs, strict=True):
        ref[...] = value


def _grid_layout(n: int, block_rows: int | None, blocks_per_program: int | None):
    """``(rows per block, blocks per program, programs)`` for n rows."""
    bn = block_rows or _block_rows(n, GRAD_BLOCK_ROWS)
    n_blocks = pl.cdiv(n, bn)
    blocks = blocks_per_program or min(
        MAX_BLOCKS_PER_PROGRAM, _common.next_pow2(pl.cdiv(n_blocks, TARGET_PROGRAMS))
    )
    return bn, blocks, pl.cdiv(n_blocks, blocks)


def _loss_and_grads_impl(
    params,
    X,
    y,
    act,
    precision,
    interpret,
    block_rows=None,
    blocks_per_program=None,
    num_warps=NUM_WARPS,
):
    n, d = X.shape
    k = params[-1].W.shape[0]
    weights, biases = _common.pad_params(params)
    bn, blocks, programs = _grid_layout(n, block_rows, blocks_per_program)
    rows = bn * blocks
    dp = _common.padded_dim(d)
    Xp = _common.pad_to(X.astype(jnp.float32), (programs * rows, dp))
    yp = _common.pad_to(y.astype(jnp.float32), (programs * rows,))
    out_shape = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct((programs, *a.shape), jnp.float32),
        (jax.ShapeDtypeStruct((_LANES,), jnp.float32), weights, biases),  # loss row, partial sums
    )
    kernel = functools.partial(
        _grads_kernel,
        act=act,
        k=k,
        n=n,
        bn=bn,
        blocks=blocks,
        precision=PRECISIONS[precision],
    )
    loss_parts, dw_parts, db_parts = pl.pallas_call(
        kernel,
        grid=(programs,),
        in_specs=(
            pl.BlockSpec((rows, dp), lambda i: (i, 0)),
            pl.BlockSpec((rows,), lambda i: (i,)),
            tuple(_common.whole_spec(w) for w in weights),
            tuple(_common.whole_spec(b) for b in biases),
        ),
        out_specs=jax.tree.map(_common.stacked_spec, out_shape),
        out_shape=out_shape,
        compiler_params=triton_params(num_warps),
        interpret=interpret,
        name="jaxmlp_fused_loss_and_grads",
    )(Xp, yp, weights, biases)
    value = jnp.sum(loss_parts[:, 0]) / n
    grads = tuple(
        mlp.Dense(
            W=(jnp.sum(dw, axis=0) / n)[:out, :fan_in].astype(layer.W.dtype),
            b=(jnp.sum(db, axis=0) / n)[:out].astype(layer.b.dtype),
        )
        for layer, dw, db in zip(params, dw_parts, db_parts, strict=True)
        for out, fan_in in [layer.W.shape]
    )
    return value.astype(X.dtype), grads


_loss_and_grads_jit = jax.jit(
    _loss_and_grads_impl,
    static_argnames=(
        "act",
        "precision",
        "interpret",
        "block_rows",
        "blocks_per_program",
        "num_warps",
    ),
)


def loss_and_fused_grads(
    params: mlp.Params,
    X: Array,
    y: Array,
    activation: mlp.ActivationLike,
    *,
    precision: str = "highest",
    interpret: bool | None = None,
    block_rows: int | None = None,
    blocks_per_program: int | None = None,
    num_warps: int = NUM_WARPS,
) -> tuple[Array, mlp.Params]:
    """No input checks: :func:`fused_loss_and_grads` for traced loops (``train``, ``sweep``).

    Same signature as :func:`jaxmlp.backprop.loss_and_manual_grads`; traceable
    (``jax.jit`` with ``activation`` static, ``jax.vmap`` over stacked params).
    """
    act = _activations.get(activation)
    return _loss_and_grads_impl(
        params,
        X,
        y,
        act,
        precision,
        resolve_interpret(interpret),
        block_rows,
        blocks_per_program,
        num_warps,
    )


def fused_loss_and_grads(
    params: mlp.Params,
    X: Array,
    y: Array,
    activation: mlp.ActivationLike = "sigmoid",
    *,
    precision: str = "highest",
    interpret: bool | None = None,
    block_rows: int | None = None,
    blocks_per_program: int | None = None,
    num_warps: int = NUM_WARPS,
) -> tuple[Array, mlp.Params]:
    """Mean loss and the post's gradients, forward and backward fused per block of rows.

    Equal (within float32 rounding) to ``(jaxmlp.loss, jaxmlp.manual_grads)``.

    Args:
      params: tuple of Dense layers.
      X: (n, d) inputs.
      y: (n,) labels: {0, 1} for one output, 0..k-1 for k outputs.
      activation: hidden-layer activation.
      precision: ``"highest"`` (exact float32 products) or ``"default"`` (TF32 on GPU).
      interpret: run in Pallas interpret mode; None: only on CPU.
      block_rows: rows per block (a power of two >= 16); None: up to 128.
      blocks_per_program: row blocks each program instance loops over (a power
        of two); None: enough to keep about 512 programs.
      num_warps: GPU warps per program (Triton).

    Returns:
      ``(loss, grads)``: scalar mean cross-entropy and a pytree like ``params``.

    >>> params = mlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> value, grads = fused_loss_and_grads(params, jnp.ones((4, 2)), jnp.array([0, 1, 1, 0]))
    >>> grads[0].W.shape
    (3, 2)
    """
    act = _activations.get(activation)
    validation.check_data(params, X, y)
    return _loss_and_grads_jit(
        params,
        X,
        y,
        act=act,
        precision=check_precision(precision),
        interpret=resolve_interpret(interpret),
        block_rows=check_pow2(block_rows, "block_rows", _common.MIN_DIM),
        blocks_per_program=check_pow2(blocks_per_program, "blocks_per_program", 1),
        num_warps=check_warps(num_warps),
    )


# ----------------------------------------------------------------------------- custom_vjp


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _fused_loss(params, X, y, act, precision, interpret):
    return _loss_and_grads_impl(params, X, y, act, precision, interpret)[0]


def _fused_loss_fwd(params, X, y, act, precision, interpret):
    value, grads = _loss_and_grads_impl(params, X, y, act, precision, interpret)
    return value, (grads, params, X, y)


def _fused_loss_bwd(act, precision, interpret, residuals, g):
    grads, params, X, y = residuals
    del precision, interpret

    # The kernel does not compute dL/dX; the XLA pass does, and is dead code
    # (removed under jit) whenever only the parameter gradient is used.
    def loss_of_x(X_):
        return losses.mean_cross_entropy(mlp.forward_with_intermediates(params, X_, act).s[-1], y)

    (dX,) = jax.vjp(loss_of_x, X)[1](g)
    return jax.tree.map(lambda t: (g * t).astype(t.dtype), grads), dX, None


_fused_loss.defvjp(_fused_loss_fwd, _fused_loss_bwd)


def fused_loss(
    params: mlp.Params,
    X: Array,
    y: Array,
    activation: mlp.ActivationLike = "sigmoid",
    *,
    precision: str = "highest",
    interpret: bool | None = None,
) -> Array:
    """Mean loss computed by the fused kernel; ``jax.grad`` of it runs the same kernel.

    The forward pass of ``jax.grad``/``jax.value_and_grad`` already computes the
    gradients (``jax.custom_vjp``), so differentiating costs one kernel launch.

    Args:
      params: tuple of Dense layers.
      X: (n, d) inputs.
      y: (n,) labels.
      activation: hidden-layer activation.
      precision: ``"highest"`` or ``"default"``.
      interpret: run in Pallas interpret mode; None: only on CPU.

    Returns:
      Scalar mean cross-entropy.

    >>> params = mlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> grads = jax.grad(fused_loss)(params, jnp.ones((4, 2)), jnp.array([0, 1, 1, 0]))
    >>> grads[1].b.shape
    (1,)
    """
    act = _activations.get(activation)
    validation.check_data(params, X, y)
    return _fused_loss(params, X, y, act, check_precision(precision), resolve_interpret(interpret))
