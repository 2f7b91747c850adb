"""The post's forward and backward pass in bin layout, and each slot's view of a bin.

A block of bins is stored like networks of width C with examples as columns
(see :mod:`jaxmlp._sweep` for the words): ``W1 (B, C, d)``, ``b1 (B, C)``, further
hidden ``W (B, C, C)``, ``W_L (B, k, C)`` and one output bias per slot ``b_L (B, K, k)``;
``member (B, K, C)`` says which units belong to which slot. The loss and ``Delta_L``
come from :mod:`jaxmlp.losses` and :func:`jaxmlp.backprop.output_delta` with the
classes on axis 2; the (P1)-(P4) tags are those of :mod:`jaxmlp.backprop`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxmlp import backprop, losses, mlp

Array = jax.Array

# Inputs with at most this many features take the first layer as broadcast
# multiply-adds (fused with the activation) instead of a batched matmul.
SMALL_INPUT = 8
# With at most this many (slot, output) pairs per bin, each unit's own slot's
# Delta is picked by broadcast selects (fused into their consumer) instead of an einsum
# (the guarded steps always select: an einsum would let a bin-mate's NaN in).
SMALL_BACK = 8


def first_layer(W: Array, b: Array, XT: Array) -> Array:
    """``s = W x + b`` per bin: W (B, C, d), b (B, C), XT (d, n) -> (B, C, n)."""
    d = XT.shape[0]
    if d <= SMALL_INPUT:
        s = b[..., None] + W[..., 0:1] * XT[0][None, None, :]
        for j in range(1, d):
            s = s + W[..., j : j + 1] * XT[j][None, None, :]
        return s
    return jnp.einsum("bcd,dn->bcn", W, XT) + b[..., None]


def output_terms(z: Array, y: Array) -> tuple[Array, Array]:
    """Per-slot mean loss (B, K) and ``Delta_L = Y_hat - Y`` (B, K, k, n) from logits.

    ``z`` (B, K, k, n), ``y`` (n,): the loss of :mod:`jaxmlp.losses` and (P1) of
    :func:`jaxmlp.backprop.output_delta`, classes on axis 2.
    """
    if z.shape[2] == 1:
        terms = losses.binary_cross_entropy(z[:, :, 0, :], y)
    else:
        terms = losses.softmax_cross_entropy(z, y, axis=2)
    return jnp.mean(terms, axis=-1), backprop.output_delta(z, y, axis=2)


def logits(
    params: mlp.Params, member: Array, XT: Array, act, *, isolated: bool = False
) -> tuple[list[Array], list[Array], Array, Array]:
    """Forward pass of a block: ``ss, hs`` (per hidden layer, (B, C, n)), per-slot W_L
    (B, K, k, C) and the logits (B, K, k, n).

    A hidden layer after the first is ``W (B, C, C)`` applied to the bin's
    units; its bins hold one model each (see :func:`jaxmlp.sweep`'s ``depth``), so
    only padding units (zero weights, finite values) share it. The output
    layer sums every unit of a bin against its slot's masked W_L, so a foreign
    unit contributes ``0 * h``: exact while ``h`` is finite, but NaN where a
    bin-mate's ``h`` overflowed. ``isolated`` selects each slot's own terms
    instead (``where``: nothing foreign reaches a slot's logits), the form of
    the guarded steps and the final scores, where a model may diverge.
    """
    *hidden, out = params
    s = first_layer(hidden[0].W, hidden[0].b, XT)
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


def block_loss_and_grads(
    params, member, XT, y, act, *, isolated: bool = False
) -> tuple[Array, mlp.Params]:
    """Mean loss (B, K) per slot and the post's gradients of a block, in bin layout.

    ``Delta_L = Y_hat - Y`` (P1), each unit taking its own slot's row (zero for
    padding); ``dW_L = Delta_L H^T / n`` (P2) as one batched matmul of every slot's
    Delta against the bin's units, each unit keeping its own slot's row;
    ``Delta_l = (W_{l+1}^T Delta_{l+1}) * g'(S_l)`` (P3); ``dW_l = Delta_l H_{l-1}^T / n``
    and for the first layer ``[dW_1, db_1] = Delta_1 [X; 1]^T / n`` (P4), as
    matmuls. ``isolated``: see :func:`logits`.
    """
    n = XT.shape[1]
    ss, hs, W_out, z = logits(params, member, XT, act, isolated=isolated)
    value, delta = output_terms(z, y)  # (P1), (B, K, k, n)
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


def fused_block_loss_and_grads(
    params, member, XT, y, act, *, isolated: bool = False
) -> tuple[Array, mlp.Params]:
    """:func:`block_loss_and_grads` by the fused Pallas kernel (``backend="pallas"``).

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
    *g_hidden, g_out = slot_views(grads, member)  # padding masked out; one slot
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


def slot_views(tree: mlp.Params, member: Array) -> mlp.Params:
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


def combine(views: mlp.Params, member: Array) -> mlp.Params:
    """Inverse of :func:`slot_views`: each unit from its own slot."""
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


def pick_units(member: Array, ok: Array, new: mlp.Params, old: mlp.Params) -> mlp.Params:
    """``new`` where a unit's (or, for the output bias, a slot's) model is ok, else ``old``.

    ``ok`` (B, K): per slot; a unit follows the slot it belongs to (padding keeps ``old``).
    This is the bin layout's ``select(ok, new, old)`` of the divergence guard.
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


def finite_per_slot(tree) -> Array:
    """(B, K) bool: every leaf of each slot's view finite."""
    checks = [
        jnp.all(jnp.isfinite(leaf.reshape(leaf.shape[:2] + (-1,))), axis=2)
        for leaf in jax.tree.leaves(tree)
    ]
    return functools.reduce(jnp.logical_and, checks)
