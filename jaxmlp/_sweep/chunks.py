"""The traced bodies of the sweep's programs: a chunk of steps, and the final scores.

Each activation's bins run in blocks (``lax.map`` over blocks of a ``lax.scan``
over steps), so a block's activations stay in the CPU cache across steps. A chunk
runs in its fast form (no guard; a running finiteness check) or its guarded form
(:func:`jaxmlp._sweep.steps.guarded_step`, redone from the chunk's start). A step's
examples are :func:`jaxmlp.batches.batch_at`'s, as :func:`jaxmlp.train` draws them.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxmlp import batches
from jaxmlp._sweep import bins as _bins
from jaxmlp._sweep import steps as _steps
from jaxmlp._sweep.plan import Plan, SweepState

Array = jax.Array


def blocks(tree, block: int):
    """Leaves (B, ...) -> (B // block, block, ...)."""
    return jax.tree.map(lambda a: a.reshape((a.shape[0] // block, block) + a.shape[1:]), tree)


def unblocks(tree):
    """Inverse of :func:`blocks`: leaves (B // block, block, ...) -> (B, ...)."""
    return jax.tree.map(lambda a: a.reshape((a.shape[0] * a.shape[1],) + a.shape[2:]), tree)


def _loss_and_grads(plan: Plan):
    if plan.backend == "pallas":
        return _bins.fused_block_loss_and_grads
    return _bins.block_loss_and_grads


def run_chunk(plan: Plan, state: SweepState, member, X, y, start, *, length: int, guarded: bool):
    """``length`` updates from step ``start`` of the local bins.

    Returns the state, the losses ``(length, B, K)`` per activation and (fast
    path) whether every loss and gradient stayed finite.
    """
    XT = X.astype(jnp.float32).T
    steps = start + jnp.arange(length, dtype=jnp.int32)
    loss_and_grads = _loss_and_grads(plan)
    key = jax.random.wrap_key_data(state.key)
    batch = functools.partial(
        batches.batch_at, key=key, X=XT, y=y, batch_size=plan.batch_size, axis=1
    )  # batch(step): the examples of update ``step``
    out_bins, out_values, finite = [], [], jnp.array(True)
    for act, g_bins in zip(plan.activations, state.bins, strict=True):

        def run_block(args, act=act):
            g, m = args
            if guarded:
                isolated = functools.partial(loss_and_grads, isolated=True)

                def body(g, step):
                    XTb, yb = batch(step)
                    return _steps.guarded_step(plan, act, isolated, g, m, XTb, yb, step)

                g, values = jax.lax.scan(body, g, steps)
                return g, values, jnp.array(True)

            def fast_body(carry, step):
                XTb, yb = batch(step)
                return _steps.fast_step(plan, act, loss_and_grads, carry, m, XTb, yb)

            check = jax.eval_shape(lambda: loss_and_grads(g.params, m, XT, y, act))
            check = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), check)
            (g, check), values = jax.lax.scan(fast_body, (g, check), steps)
            finite = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(check)]
            return g, values, functools.reduce(jnp.logical_and, finite)

        block = plan.packing.block
        g, values, ok = jax.lax.map(run_block, (blocks(g_bins, block), blocks(member, block)))
        out_bins.append(unblocks(g))
        out_values.append(jnp.moveaxis(values, 0, 1).reshape((length, -1) + values.shape[3:]))
        finite = finite & jnp.all(ok)
    return SweepState(tuple(out_bins), state.key), tuple(out_values), finite


def global_finite(result):
    """Makes the per-device finiteness flag of :func:`run_chunk` global (all devices agree)."""
    state, values, finite = result
    return state, values, jax.lax.pmin(finite.astype(jnp.int32), "bins").astype(bool)


def _scores(plan: Plan, act, params, member, X, y):
    """Mean loss and accuracy (B, K) of every slot's final params on (X, y)."""
    XT = X.astype(jnp.float32).T

    def one_block(args):
        p, m = args
        _, _, _, z = _bins.logits(p, m, XT, act, isolated=True)
        value, _ = _bins.output_terms(z, y)
        if z.shape[2] == 1:
            labels = (z[:, :, 0, :] >= 0).astype(jnp.int32)  # sigmoid(z) >= 0.5
        else:
            labels = jnp.argmax(z, axis=2).astype(jnp.int32)
        hits = (labels == y.astype(jnp.int32)[None, None, :]).astype(jnp.float32)
        return value, jnp.mean(hits, axis=-1)

    block = plan.packing.block
    value, acc = jax.lax.map(one_block, (blocks(params, block), blocks(member, block)))
    return unblocks(value), unblocks(acc)


def finish(plan: Plan, state: SweepState, member, X, y, X_test, y_test, *, steps: int):
    """Per activation: final params, diverged_at, train loss and accuracy, (test ones)."""
    out = []
    for act, g in zip(plan.activations, state.bins, strict=True):
        params, diverged_at = _steps.final(g, member, steps)
        train = _scores(plan, act, params, member, X, y)
        test = _scores(plan, act, params, member, X_test, y_test) if X_test is not None else None
        out.append((params, diverged_at, *train, test))
    return tuple(out)
