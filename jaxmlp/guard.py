"""The divergence guard: stop a model's updates at its first non-finite loss or gradient.

The rule, shared by :func:`jaxmlp.train` and the sweep's bin layout:

1. an update is applied only while it is ``ok`` (the loss and gradients of the
   parameters before it are finite) and the model has not diverged; the first update
   that is not ok records its step in ``diverged_at`` and every later one is skipped;
2. ``last_good`` holds the parameters before the last applied update: the last ones
   whose loss was evaluated and found finite;
3. at the end (:func:`final`), the parameters after the very last update, never
   evaluated, are kept if they are finite; else the result is ``last_good`` and
   ``diverged_at`` is the number of steps.

Like an optax transformation, :class:`GuardState` is a ``NamedTuple`` (a pytree)
and :func:`update` is pure. Every choice between a new and an old value goes through
``select(ok, new, old)``: :func:`select_tree` (``jnp.where`` on every leaf, ``ok`` a
scalar) for one network; a layout that trains many models in one array (the sweep's
bins: ``ok`` of shape ``(B, K)``, one flag per model) passes its own ``select``, which
picks each model's units, and ``select_state`` for the optimizer state if that is laid
out another way (per model rather than per unit).

>>> import jax.numpy as jnp
>>> state = init(jnp.ones(2), ())
>>> state = update(state, jnp.full(2, jnp.nan), (), jnp.array(False), jnp.int32(3))
>>> int(state.diverged_at), state.params.tolist()
(3, [1.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "GuardState",
    "all_finite",
    "final",
    "init",
    "select_tree",
    "snapshot",
    "update",
]

Array = jax.Array
Select = Callable[[Array, Any, Any], Any]  # (ok, new, old) -> new where ok, else old


class GuardState(NamedTuple):
    """The state of a guarded run.

    Attributes:
      params: the current parameters (frozen from the first non-finite step on).
      opt_state: the optimizer state that goes with ``params``.
      last_good: the parameters before the last applied update.
      diverged_at: int32, the first step that was not ok, or -1 (shape () for one
        model, one entry per model in a layout of many).
    """

    params: Any
    opt_state: Any
    last_good: Any
    diverged_at: Array


def select_tree(ok: Array, new: Any, old: Any) -> Any:
    """``new`` where ``ok``, else ``old``, leaf by leaf (``ok`` broadcasts to each leaf).

    >>> import jax.numpy as jnp
    >>> select_tree(jnp.array(False), (jnp.ones(2),), (jnp.zeros(2),))[0].tolist()
    [0.0, 0.0]
    """
    return jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)


def all_finite(tree: Any) -> Array:
    """True when every element of every leaf is finite (a bool scalar).

    >>> import jax.numpy as jnp
    >>> bool(all_finite((jnp.ones(2), jnp.array([1.0, jnp.inf]))))
    False
    """
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


def init(params: Any, opt_state: Any, *, shape: tuple[int, ...] = ()) -> GuardState:
    """A guard that has seen no divergence; ``shape`` is that of ``diverged_at``.

    >>> import jax.numpy as jnp
    >>> int(init(jnp.zeros(3), ()).diverged_at)
    -1
    """
    return GuardState(params, opt_state, params, jnp.full(shape, -1, jnp.int32))


def update(
    state: GuardState,
    new_params: Any,
    new_opt_state: Any,
    ok: Array,
    step: Array,
    *,
    select: Select = select_tree,
    select_state: Select | None = None,
) -> GuardState:
    """Applies an update where it is ok and the model has not diverged (rules 1 and 2).

    Args:
      state: the guard before the update.
      new_params: the parameters after the update.
      new_opt_state: the optimizer state after the update.
      ok: bool, shaped like ``state.diverged_at``: the loss and gradients that
        produced the update were finite.
      step: int32 scalar recorded in ``diverged_at`` by the first update not ok.
      select: ``(ok, new, old) -> params`` (default :func:`select_tree`).
      select_state: the same for the optimizer state (default: ``select``).

    Returns:
      The guard after the update.

    >>> import jax.numpy as jnp
    >>> state = update(init(jnp.zeros(1), ()), jnp.ones(1), (), jnp.array(True), 0)
    >>> state.params.tolist(), state.last_good.tolist(), int(state.diverged_at)
    ([1.0], [0.0], -1)
    """
    ok = ok & (state.diverged_at < 0)
    select_state = select_state or select
    return GuardState(
        params=select(ok, new_params, state.params),
        opt_state=select_state(ok, new_opt_state, state.opt_state),
        last_good=select(ok, state.params, state.last_good),
        diverged_at=jnp.where(ok | (state.diverged_at >= 0), state.diverged_at, step),
    )


def snapshot(state: GuardState, *, select: Select = select_tree) -> Any:
    """The parameters to show mid-run: ``last_good`` once diverged, else ``params``.

    >>> import jax.numpy as jnp
    >>> state = GuardState(jnp.ones(1), (), jnp.zeros(1), jnp.int32(4))
    >>> snapshot(state).tolist()
    [0.0]
    """
    return select(state.diverged_at >= 0, state.last_good, state.params)


def final(
    state: GuardState, params_finite: Array, steps: int | Array, *, select: Select = select_tree
) -> tuple[Any, Array]:
    """The run's result (rule 3): ``(params, diverged_at)``.

    Args:
      state: the guard after the last update.
      params_finite: bool, shaped like ``state.diverged_at``: ``state.params`` are finite.
      steps: the number of updates; ``diverged_at`` of a model whose last update
        made its parameters non-finite.
      select: as in :func:`update`.

    Returns:
      The final parameters and ``diverged_at`` (-1 where the run stayed finite).

    >>> import jax.numpy as jnp
    >>> state = GuardState(jnp.array([jnp.inf]), (), jnp.ones(1), jnp.int32(-1))
    >>> params, at = final(state, all_finite(state.params), 10)
    >>> params.tolist(), int(at)
    ([1.0], 10)
    """
    final_ok = (state.diverged_at < 0) & params_finite
    params = select(final_ok, state.params, state.last_good)
    diverged = (state.diverged_at < 0) & ~final_ok
    return params, jnp.where(diverged, jnp.int32(steps), state.diverged_at)
