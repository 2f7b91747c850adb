"""One update of every model of a block: the optimizer per slot, guarded or not.

The divergence guard and the final-params rule are :mod:`jaxmlp.guard`'s, the
ones of :func:`jaxmlp.train`, with the bin layout's ``select``: each unit (and
each slot's output bias) follows its own slot's flag (:func:`select_units`), and the
optimizer state, laid out per slot, follows it leaf by leaf (:func:`select_slots`).
The mini-batch of a step is :func:`jaxmlp.batches.batch_at` on the examples-as-columns
``XT`` (axis 1).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxmlp import guard, mlp
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


def select_slots(ok: Array, new, old):
    """``where(ok, new, old)`` over a pytree whose leaves start with ok's axes (B, K)."""
    return jax.tree.map(
        lambda a, b: jnp.where(ok.reshape(ok.shape + (1,) * (a.ndim - ok.ndim)), a, b), new, old
    )


def select_units(member: Array):
    """The guard's ``select(ok, new, old)`` of params in bin layout: :func:`pick_units`."""
    return functools.partial(pick_units, member)


def guarded_step(plan: Plan, act, loss_and_grads, g: BinState, member, XTb, yb, step):
    """One update with :func:`jaxmlp.train`'s divergence guard (:func:`jaxmlp.guard.update`)
    per model (slot); returns (state, loss (B, K))."""
    value, grads = loss_and_grads(g.params, member, XTb, yb, act)
    new, opt_state, slot_grads = updates(plan, g.params, g.opt_state, grads, member)
    new_params = jax.tree.map(jnp.add, g.params, new)
    ok = jnp.isfinite(value) & finite_per_slot(slot_grads)  # (B, K)
    g = guard.update(
        g, new_params, opt_state, ok, step, select=select_units(member), select_state=select_slots
    )
    return g, value


def final(g: BinState, member: Array, steps: int) -> tuple[mlp.Params, Array]:
    """:func:`jaxmlp.guard.final` per slot: the final params and ``diverged_at`` (B, K)."""
    finite = finite_per_slot(slot_views(g.params, member))
    return guard.final(g, finite, steps, select=select_units(member))
