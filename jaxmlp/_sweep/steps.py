"""One update of every model of a block: the optimizer per slot, the guard, the batch.

The sweep's twins of :mod:`jaxmlp.training`, in bin layout: the divergence guard
(:func:`guarded_step`, :func:`final`: ``training._update`` and the tail of
``training._train_guarded``, with :func:`jaxmlp._sweep.bins.pick_units` as the
``select(ok, new, old)``) and the mini-batch of a step (:func:`batch`:
``training._batch``, the same :func:`jaxmlp.training.shuffled_positions`). They are
kept here, in one place, so that they can move to shared guard/batch modules.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxmlp import mlp, training
from jaxmlp._sweep.bins import combine, finite_per_slot, pick_units, slot_views
from jaxmlp._sweep.plan import BinState, Plan

Array = jax.Array


def updates(plan: Plan, params, opt_state, grads, member):
    """Per-slot optimizer updates, recombined: (updates, new opt states, slot grads)."""
    slot_grads = slot_views(grads, member)
    update = jax.vmap(jax.vmap(plan.transformation.update))
    views, opt_state = update(slot_grads, opt_state, slot_views(params, member))
    return combine(views, member), opt_state, slot_grads


def fast_step(plan: Plan, act, loss_and_grads, state, member, XTb, yb):
    """One update of every model of a block, no guard; returns ((state, check), loss (B, K)).

    ``check`` is the running elementwise sum of every loss and gradient (no
    reductions in the loop): NaN/inf in any of them leaves a non-finite entry.
    """
    g, check = state
    value, grads = loss_and_grads(g.params, member, XTb, yb, act)
    new, opt_state, _ = updates(plan, g.params, g.opt_state, grads, member)
    params = jax.tree.map(jnp.add, g.params, new)
    check = jax.tree.map(jnp.add, check, (value, grads))
    return (BinState(params, opt_state, g.params, g.diverged_at), check), value


def _select(ok: Array, new, old):
    """``where(ok, new, old)`` over a pytree whose leaves start with ok's axes."""
    return jax.tree.map(
        lambda a, b: jnp.where(ok.reshape(ok.shape + (1,) * (a.ndim - ok.ndim)), a, b), new, old
    )


def guarded_step(plan: Plan, act, loss_and_grads, g: BinState, member, XTb, yb, step):
    """One update with :func:`jaxmlp.train`'s divergence guard, per model (slot).

    Twin of ``jaxmlp.training._update`` (one network, a tree ``where``).
    """
    value, grads = loss_and_grads(g.params, member, XTb, yb, act)
    new, opt_state, slot_grads = updates(plan, g.params, g.opt_state, grads, member)
    new_params = jax.tree.map(jnp.add, g.params, new)
    ok = jnp.isfinite(value) & finite_per_slot(slot_grads) & (g.diverged_at < 0)  # (B, K)
    g = BinState(
        params=pick_units(member, ok, new_params, g.params),
        opt_state=_select(ok, opt_state, g.opt_state),
        last_good=pick_units(member, ok, g.params, g.last_good),
        diverged_at=jnp.where(ok | (g.diverged_at >= 0), g.diverged_at, step),
    )
    return g, value


def final(g: BinState, member: Array, steps: int) -> tuple[mlp.Params, Array]:
    """:func:`jaxmlp.train`'s choice of final params per unit, and ``diverged_at`` (B, K).

    Twin of the tail of ``jaxmlp.training._train_guarded``: the params after the very
    last update were never evaluated; they are kept if finite, else the last good ones.
    """
    finite = finite_per_slot(slot_views(g.params, member))
    final_ok = (g.diverged_at < 0) & finite  # (B, K)
    params = pick_units(member, final_ok, g.params, g.last_good)
    diverged = (g.diverged_at < 0) & ~final_ok
    return params, jnp.where(diverged, jnp.int32(steps), g.diverged_at)


def batch(plan: Plan, step: Array, key_data: Array, XT: Array, y: Array):
    """The examples of one update, as :func:`jaxmlp.train` draws them (same key, same order).

    Twin of ``jaxmlp.training._batch`` with examples on axis 1 of ``XT`` (d, n).
    """
    if plan.batch_size is None:
        return XT, y
    n_batches = plan.n_examples // plan.batch_size
    epoch, b = step // n_batches, step % n_batches
    positions = b * plan.batch_size + jnp.arange(plan.batch_size, dtype=jnp.int32)
    key = jax.random.wrap_key_data(key_data)
    idx = training.shuffled_positions(key, epoch, positions, plan.n_examples)
    return jnp.take(XT, idx, axis=1), y[idx]
