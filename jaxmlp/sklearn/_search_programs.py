"""The search's compiled program: many stochastic fits vmapped, each its own run_epochs.

:func:`run_models` is :func:`jaxmlp.sklearn._fit.run_epochs` for M models at once,
``jax.vmap`` over a per-model fit. What differs between the models of one program:

* the numbers (:class:`jaxmlp.sklearn._fit.Hyper`, one row per model: ``alpha``,
  ``learning_rate_init``, ``power_t``, ``momentum``, ``beta_1``, ``beta_2``,
  ``epsilon``, ``tol``, ``n_iter_no_change``, sgd's schedule), ``max_iter``;
* the initial weights and the shuffle's seed (``random_state``);
* the hidden widths: every model's layers are padded with zero units to the group's
  widest (``widths``: each model's true sizes); the padded units' gradients are masked
  to zero, so their weights stay zero and change nothing (a padded logistic unit
  outputs 0.5, times an outgoing weight that stays 0);
* its training rows: ``rows`` holds each model's rows of the one shared ``X``/``Y`` in
  the order its own fit sees them (its training fold, after the early-stopping
  split), padded to a common length; ``n_rows`` is the true count. Batch ``b`` of an
  epoch holds the model's positions ``b * batch_size ...`` of its own Feistel shuffle
  of ``0..n_rows-1``: the batches of ``fit(X[train], y[train])``, so the results
  equal it to float rounding. A model with fewer batches than the longest skips the
  extra steps;
* the validation rows of early stopping (padded with weight-0 rows);
* the hidden activation, among the program's ``activations`` (static): each model's
  units compute every one of them and keep its own (``jnp.where`` on its index), so a
  grid over activations compiles one program, not one per activation, at the cost of
  the other activations' element-wise work.

``jax.vmap`` of the ``lax.while_loop`` over epochs runs until every model has
stopped; a model that stopped keeps its state (the batched loop selects the old
carry for it), so each has its own ``n_iter_`` and record.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxmlp import activations as activation_registry
from jaxmlp import mlp
from jaxmlp.compile_options import jit as jit_program
from jaxmlp.sklearn._fit import (
    Hyper,
    Record,
    State,
    Static,
    batch_updates,
    epochs_until_stopped,
    validation_score,
)

Array = jax.Array


class Models(NamedTuple):
    """Per-model inputs of :func:`run_models`, a leading axis of M models on each.

    Attributes:
      rows: (M, R) int32, each model's training rows of X in its fit's order, padded.
      weights: (M, R) the rows' sample weights (padding: 0).
      n_rows: (M,) int32, the true number of training rows.
      val_rows: (M, V) int32, the validation rows (early stopping), padded.
      val_weights: (M, V) their weights (padding: 0).
      widths: (M, L + 1) int32, each model's true layer sizes ``(d, h1, ..., k)``.
      keys: (M, record_length, SHUFFLE_ROUNDS) uint32, each model's shuffle round keys
        by epoch (:func:`jaxmlp.batches.host_round_keys` of its seed).
      max_epochs: (M,) int32, ``max_iter`` (0: a padding model that never trains).
      activation: (M,) int32, the model's activation: its index in ``activations``.
    """

    rows: Array
    weights: Array
    n_rows: Array
    val_rows: Array
    val_weights: Array
    widths: Array
    keys: Array
    max_epochs: Array
    activation: Array


def selected_activation(names: tuple[str, ...], index: Array) -> activation_registry.Activation:
    """The activation ``names[index]`` for a traced ``index`` (the one itself if only one).

    Every candidate is computed and the model's own kept by ``jnp.where``: its values
    and derivative are exactly that activation's.
    """
    acts = [activation_registry.get(name) for name in names]
    if len(acts) == 1:
        return acts[0]

    def fn(s):
        out = acts[0].fn(s)
        for i, act in enumerate(acts[1:], start=1):
            out = jnp.where(index == i, act.fn(s), out)
        return out

    def derivative(s, h):
        out = acts[0].derivative(s, h)
        for i, act in enumerate(acts[1:], start=1):
            out = jnp.where(index == i, act.derivative(s, h), out)
        return out

    return activation_registry.Activation("|".join(names), fn, derivative)


def _mask(params: mlp.Params, widths: Array) -> mlp.Params:
    """1 where a weight belongs to the model's true network, 0 on its padded units."""
    masks = []
    for i, layer in enumerate(params):
        out_units, in_units = layer.W.shape
        rows = jnp.arange(out_units) < widths[i + 1]
        cols = jnp.arange(in_units) < widths[i]
        masks.append(mlp.Dense(W=(rows[:, None] & cols[None, :]), b=rows))
    return tuple(masks)


def _epoch(state: State, hyper: Hyper, X, Y, model: Models, mask, keys, activation, *,
           static: Static, half: int, n_batches: int):  # fmt: skip
    """One pass over the model's rows in its shuffled mini-batches; (state, mean loss):
    :func:`jaxmlp.sklearn._fit.batch_updates` over its own rows, its padded units masked."""
    n = model.n_rows
    size = static.batch_size
    update = batch_updates(
        state, hyper, X, Y, model.weights, keys, n, n_batches, static,
        activation=activation, rows=model.rows, mask=mask, half=half,
    )  # fmt: skip

    def step(carry, b):
        params, opt_state, accumulated = carry
        # a model with fewer batches skips the extra steps (one model: a real branch;
        # under vmap, both sides and a select)
        params, opt_state, counted = jax.lax.cond(
            b * size < n,
            update,
            lambda params, opt_state, b: (params, opt_state, jnp.zeros((), X.dtype)),
            params, opt_state, b,
        )  # fmt: skip
        return (params, opt_state, accumulated + counted), None

    carry = (state.params, state.opt_state, jnp.zeros((), X.dtype))
    (params, opt_state, accumulated), _ = jax.lax.scan(step, carry, jnp.arange(n_batches))
    return state._replace(params=params, opt_state=opt_state), accumulated / n


def _run_one(state: State, hyper: Hyper, model: Models, X, Y, *, static: Static, half: int,
             n_batches: int, activations: tuple[str, ...]) -> tuple[State, Record]:  # fmt: skip
    """One model's fit: :func:`jaxmlp.sklearn._fit.run_epochs` over its own rows."""
    activation = selected_activation(activations, model.activation)
    mask = _mask(state.params, model.widths)
    X_val, Y_val = X[model.val_rows], Y[model.val_rows]

    def epoch(state: State, e):
        return _epoch(state, hyper, X, Y, model, mask, model.keys[e], activation, static=static,
                      half=half, n_batches=n_batches)  # fmt: skip

    def score(params):
        return validation_score(
            params, X_val, Y_val, model.val_weights, activation=activation, output=static.output
        )

    return epochs_until_stopped(
        state, hyper, model.max_epochs, model.n_rows, epoch=epoch, score=score, static=static
    )


def _run_local(state: State, hyper: Hyper, models: Models, X, Y, *, static: Static, half: int,
               n_batches: int, activations: tuple[str, ...]) -> tuple[State, Record]:  # fmt: skip
    """The models on one device: one model's plain fit, or ``jax.vmap`` of it."""
    one = functools.partial(
        _run_one, X=X, Y=Y, static=static, half=half, n_batches=n_batches, activations=activations
    )
    if models.n_rows.shape[0] == 1:  # one model: its fit without a batch axis (plain matmuls)
        first = jax.tree.map(lambda a: a[0], (state, hyper, models))
        return jax.tree.map(lambda a: a[None], one(*first))
    return jax.vmap(one)(state, hyper, models)


@jit_program("fit", static_argnames=("static", "half", "n_batches", "activations"))
def run_models(state: State, hyper: Hyper, models: Models, X, Y, *, static: Static, half: int,
               n_batches: int, activations: tuple[str, ...]) -> tuple[State, Record]:  # fmt: skip
    """M stochastic fits in one program (see the module's docstring).

    Args:
      state: :class:`State` with a leading model axis on every leaf (padded widths).
      hyper: :class:`Hyper`, (M,) each.
      models: :class:`Models`.
      X: (n, d) every row any model trains or validates on; Y: (n, k) its targets.
      static: the :class:`Static` settings every model shares (``batch_size``: the
        batch of each step, ``record_length`` >= every ``max_epochs``).
      half: ``jaxmlp.batches.feistel_half`` of every model's ``n_rows`` (one value:
        the models of a program are grouped by it).
      n_batches: steps per epoch, enough for the model with the most rows.
      activations: the jaxmlp names of the models' activations (``static.activation``
        is not used).

    Returns:
      ``(state, record)``, a leading model axis on each leaf.
    """
    return _run_local(
        state, hyper, models, X, Y, static=static, half=half, n_batches=n_batches,
        activations=activations,
    )  # fmt: skip


@functools.lru_cache(maxsize=16)
def sharded_program(devices: tuple, *, static: Static, half: int, n_batches: int,
                    activations: tuple[str, ...]):  # fmt: skip
    """:func:`run_models` with the model axis split over ``devices`` (``shard_map``).

    Each device runs its own models' loop over epochs, with no exchange between
    devices until the results are gathered; ``X``/``Y`` are replicated. Under
    ``jax.distributed``, ``devices`` are every process's (``jax.devices()``) and each
    process passes the same host inputs. M must be a multiple of ``len(devices)``.

    Returns:
      ``(program, split, replicated)``: the jitted ``program(state, hyper, models, X,
      Y)`` and the shardings of its model-axis and replicated inputs.
    """
    mesh = Mesh(np.array(devices), ("models",))
    by_model = PartitionSpec("models")
    local = functools.partial(
        _run_local, static=static, half=half, n_batches=n_batches, activations=activations
    )
    mapped = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(by_model, by_model, by_model, PartitionSpec(), PartitionSpec()),
        out_specs=by_model,
        check_vma=False,  # the models of a device are independent: nothing to check
    )
    split = NamedSharding(mesh, by_model)
    replicated = NamedSharding(mesh, PartitionSpec())
    return jit_program("fit")(mapped), split, replicated
