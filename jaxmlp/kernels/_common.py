"""Padding, block sizes and shared in-kernel math for the fused Pallas kernels.

The Triton backend of Pallas wants every array inside a kernel to have a
power-of-two size, and ``tl.dot`` wants matrix dimensions >= 16. The wrappers
therefore pad the input size ``d``, every width and the output size ``k`` to
the next power of two with zeros, and the rows to a whole number of blocks
(of >= 16 rows). Products whose dimensions are all >= 16 use ``tl.dot``
(tensor cores with ``precision="default"``); smaller ones, such as the post's
2-3-1 network, are a broadcast multiply and a sum on CUDA cores, which avoids
the 16x16 padding that would multiply the work of a blog-size model by ~100.

Zero padding is exact: a padded hidden unit has ``s = 0`` and some
``h = g(0)``, but the next layer's weights for it are zero, so it adds nothing
to the logits and gets a zero backward delta; padded classes are masked out of
the loss, padded rows out of the loss and the gradient sums. Only the
gradient of those zero weights, ``Delta^T g(0)``, is not zero: one-shot
gradients slice it away, and the training kernel masks ``h`` of padded units to
zero (``widths``) so its updates never move a padded weight.

The block functions below operate on values (already loaded from refs) so the
same code serves the loss-and-gradients kernel and the training kernel.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl

from jaxmlp import activations as _activations
from jaxmlp import mlp

Array = jax.Array

MIN_DIM = 16  # smallest matrix-product dimension of Triton's tl.dot
_NEG = -1e30  # logit of a padded class: exp(_NEG - max) == 0


def padded_dim(size: int) -> int:
    """The next power of two >= ``size``: Triton's arrays have power-of-two sizes."""
    return next_pow2(size)


def next_pow2(size: int) -> int:
    """Smallest power of two >= ``size`` (and >= 1)."""
    return 1 << max(0, int(size) - 1).bit_length()


def pad_to(x: Array, shape: tuple[int, ...]) -> Array:
    """Zero-pads ``x`` at the end of every axis up to ``shape``; a no-op when equal."""
    if tuple(x.shape) == tuple(shape):
        return x
    return jnp.pad(x, [(0, t - s) for s, t in zip(x.shape, shape, strict=True)])


def pad_params(params: mlp.Params) -> tuple[tuple[Array, ...], tuple[Array, ...]]:
    """Pads each ``W`` (out, in) and ``b`` (out,) to padded sizes; float32."""
    weights, biases = [], []
    for layer in params:
        out_p, in_p = (padded_dim(s) for s in layer.W.shape)
        weights.append(pad_to(layer.W.astype(jnp.float32), (out_p, in_p)))
        biases.append(pad_to(layer.b.astype(jnp.float32), (out_p,)))
    return tuple(weights), tuple(biases)


def whole_spec(a) -> pl.BlockSpec:
    """The whole array ``a`` as the block of every program (weights, shared data)."""
    return pl.BlockSpec(a.shape, lambda *_: (0,) * a.ndim)


def stacked_spec(a) -> pl.BlockSpec:
    """Block ``i`` of the leading axis of ``a``, squeezed away, for program ``i``."""
    return pl.BlockSpec((None, *a.shape[1:]), lambda i: (i,) + (0,) * (a.ndim - 1))


def aligned(index, size: int):
    """``index * size`` with an alignment hint for Triton when ``index`` is traced."""
    if isinstance(index, int):
        return index * size
    return pl.multiple_of(index * size, size)


def _use_dot(*dims: int) -> bool:
    return min(dims) >= MIN_DIM


def dot_nt(a: Array, b: Array, precision) -> Array:
    """``a @ b.T`` for a (m, c), b (n, c), float32 accumulation."""
    if _use_dot(a.shape[0], b.shape[0], a.shape[1]):
        return lax.dot_general(
            a,
            b,
            (((1,), (1,)), ((), ())),
            precision=precision,
            preferred_element_type=jnp.float32,
        )
    return jnp.sum(a[:, None, :] * b[None, :, :], axis=2)


def dot_nn(a: Array, b: Array, precision) -> Array:
    """``a @ b`` for a (m, c), b (c, n), float32 accumulation."""
    if _use_dot(a.shape[0], b.shape[1], a.shape[1]):
        return lax.dot_general(
            a,
            b,
            (((1,), (0,)), ((), ())),
            precision=precision,
            preferred_element_type=jnp.float32,
        )
    return jnp.sum(a[:, :, None] * b[None, :, :], axis=1)


def dot_tn(a: Array, b: Array, precision) -> Array:
    """``a.T @ b`` for a (c, m), b (c, n), float32 accumulation."""
    if _use_dot(a.shape[1], b.shape[1], a.shape[0]):
        return lax.dot_general(
            a,
            b,
            (((0,), (0,)), ((), ())),
            precision=precision,
            preferred_element_type=jnp.float32,
        )
    return jnp.sum(a[:, :, None] * b[:, None, :], axis=0)


def forward_block(x, weights, biases, act: _activations.Activation, precision, widths=None):
    """Forward pass of one row block; returns the lists ``s_1..s_L`` and ``h_0..h_{L-1}``.

    With ``widths`` (the real hidden widths), the padded hidden units output 0
    instead of ``g(0)``, so every gradient entry of a padded weight is exactly
    zero and repeated updates (the training kernel) keep the padding at zero.
    """
    h, ss, hs = x, [], [x]
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        s = dot_nt(h, W, precision) + b[None, :]
        ss.append(s)
        if i < len(weights) - 1:
            h = act.fn(s)
            if widths is not None and widths[i] < h.shape[1]:
                col = lax.broadcasted_iota(jnp.int32, h.shape, 1)
                h = jnp.where(col < widths[i], h, 0.0)
            hs.append(h)
    return ss, hs


def head_block(z: Array, y: Array, valid: Array, k: int) -> tuple[Array, Array]:
    """Per-row loss and output delta (P1) of a block of padded logits.

    Args:
      z: (bn, kp) padded logits; only the first ``k`` columns are real.
      y: (bn,) float32 labels.
      valid: (bn,) bool, False on padding rows.
      k: the real number of outputs.

    Returns:
      ``(row_loss (bn,), delta (bn, kp))``, both zero on padding rows and columns.
    """
    col = lax.broadcasted_iota(jnp.int32, z.shape, 1)
    if k == 1:
        z0 = jnp.sum(jnp.where(col == 0, z, 0.0), axis=1)
        row_loss = jnp.maximum(z0, 0.0) - y * z0 + jnp.log1p(jnp.exp(-jnp.abs(z0)))
        delta = jnp.where(col == 0, (jax.nn.sigmoid(z0) - y)[:, None], 0.0)
    else:
        zm = jnp.where(col < k, z, _NEG)
        m = jnp.max(zm, axis=1)
        e = jnp.exp(zm - m[:, None])
        total = jnp.sum(e, axis=1)
        one_hot = col.astype(jnp.float32) == y[:, None]
        picked = jnp.sum(jnp.where(one_hot, z, 0.0), axis=1)
        row_loss = m + jnp.log(total) - picked
        delta = e / total[:, None] - jnp.where(one_hot, 1.0, 0.0)
    row_loss = jnp.where(valid, row_loss, 0.0)
    delta = jnp.where(valid[:, None], delta, 0.0)
    return row_loss, delta


def backward_block(ss, hs, delta, weights, act: _activations.Activation, precision):
    """The post's backward pass (P2-P4) on one block; sums over rows, not means.

    Returns:
      ``(dWs, dbs)`` tuples in layer order: ``Delta_l^T H_{l-1}`` and row sums of ``Delta_l``.
    """
    dws, dbs = [], []
    for l in reversed(range(len(weights))):
        dws.append(dot_tn(delta, hs[l], precision))  # (P2/P4)
        dbs.append(jnp.sum(delta, axis=0))
        if l > 0:
            delta = dot_nn(delta, weights[l], precision) * act.derivative(ss[l - 1], hs[l])  # (P3)
    return tuple(reversed(dws)), tuple(reversed(dbs))


def rows_loss_and_grads(x, y, valid, weights, biases, act, k: int, precision, widths=None):
    """Forward, loss, output delta and backward of one row block.

    Returns:
      ``(loss_sum (), dWs, dbs)``: sums over the valid rows of the block; with
      ``widths`` (see :func:`forward_block`) zero on every padded entry.
    """
    ss, hs = forward_block(x, weights, biases, act, precision, widths)
    row_loss, delta = head_block(ss[-1], y, valid, k)
    dws, dbs = backward_block(ss, hs, delta, weights, act, precision)
    return jnp.sum(row_loss), dws, dbs
