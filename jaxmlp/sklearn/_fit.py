"""The compiled programs behind the estimators: the whole stochastic fit, L-BFGS's objective.

One :func:`run_epochs` call runs every epoch of a ``fit`` (or the one epoch of a
``partial_fit``) as a single XLA program: a ``lax.while_loop`` over epochs, each a
loop over mini-batches of a Feistel shuffle (:func:`jaxmlp.batches.feistel_positions`,
its round keys computed on the host, the epoch's rows gathered once), with
scikit-learn's stopping rules (``tol``, ``n_iter_no_change``, early stopping on a
validation split, the ``"adaptive"`` learning rate) evaluated inside the loop. Gradients come from
:func:`jaxmlp.backprop.weighted_loss_and_manual_grads` (the post's formulas), the
updates from optax.

What is static (a new value compiles a new program) is only what changes the
program's structure: the :class:`Static` settings and the array shapes. Every
number a user tunes (``alpha``, ``learning_rate_init``, ``momentum``, ``beta_1``,
``beta_2``, ``epsilon``, ``power_t``, ``tol``, ``n_iter_no_change``, and sgd's
``learning_rate`` schedule) is a traced :class:`Hyper` value, so clones in a grid
search over them reuse one program; so is ``max_iter`` (the per-epoch record is
``bucket(max_iter)`` long, ``partial_fit``'s too: it runs in ``fit``'s program).
Data that fits in one batch is padded with weight-0 rows to a ``bucket`` size, the
early-stopping validation split and L-BFGS's data to a ``fine_bucket`` size, so nearby
data sizes share one program (the host side, :mod:`jaxmlp.sklearn._data`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxmlp import backprop, compile_options, mlp
from jaxmlp.batches import epoch_order

Array = jax.Array
ArrayLike = jax.typing.ArrayLike

MIN_ADAPTIVE_LEARNING_RATE = 1e-6  # scikit-learn's: "adaptive" stops below this rate
SCHEDULES = ("constant", "invscaling", "adaptive")  # Hyper.schedule is an index of this


class Static(NamedTuple):
    """Settings that shape the compiled program (hashable: a static argument of jit)."""

    activation: str  # a jaxmlp activation name
    output: str  # "logistic", "softmax", "identity" or "exp"
    solver: str  # "sgd" or "adam"
    nesterov: bool
    early_stopping: bool
    shuffle: bool  # mini-batches only (one batch is never shuffled)
    batch_size: int
    record_length: int  # >= the call's epoch limit: bucket(max_iter) (partial_fit's too)


class Hyper(NamedTuple):
    """The numeric hyperparameters, traced scalars (a grid over them compiles once).

    Host scalars (NumPy) when passed in; arrays inside the compiled program.
    """

    alpha: ArrayLike
    learning_rate_init: ArrayLike
    power_t: ArrayLike
    momentum: ArrayLike
    beta_1: ArrayLike
    beta_2: ArrayLike
    epsilon: ArrayLike
    tol: ArrayLike
    n_iter_no_change: ArrayLike
    loss_scale: ArrayLike  # reported data loss = loss * loss_scale (1 / n_outputs for "identity")
    schedule: ArrayLike  # sgd's learning_rate: its index in SCHEDULES


class State(NamedTuple):
    """What a fit carries from one call to the next (warm_start, partial_fit).

    Attributes:
      params: tuple of Dense, W (out, in), b (out,).
      opt_state: optax state of the solver.
      learning_rate: scalar, the current rate of ``sgd`` (schedules change it).
      no_improvement: int32 scalar, scikit-learn's ``_no_improvement_count``.
      best_loss: scalar, lowest training loss so far (inf at first).
      best_score: scalar, best validation score so far (-inf at first).
      best_params: the params of the best validation score.
      samples_seen: float scalar, scikit-learn's ``t_``.
    """

    params: mlp.Params
    opt_state: optax.OptState
    learning_rate: Array
    no_improvement: Array
    best_loss: Array
    best_score: Array
    best_params: mlp.Params
    samples_seen: Array


class Record(NamedTuple):
    """Per-epoch history of one :func:`run_epochs` call, (record_length,) each.

    ``event`` is 0 (nothing), 1 (``"adaptive"`` divided the rate by 5) or 2 (stopped).
    """

    loss: Array
    score: Array
    learning_rate: Array
    event: Array
    epochs: Array  # scalar: epochs run


def optimizer(static: Static, hyper: Hyper, learning_rate: Array) -> optax.GradientTransformation:
    """scikit-learn's update rules as optax transformations of traced hyperparameters.

    ``sgd``: ``v = momentum v - lr g``, update ``v`` (or ``momentum v - lr g`` with
    Nesterov), exactly scikit-learn's: the rate is applied before the momentum trace,
    so a rate that changes between epochs scales only the new gradients, as there.
    ``adam``: ``optax.adam`` (``epsilon`` added to ``sqrt(v_hat)``; scikit-learn adds
    it to ``sqrt(v)``, a difference of order ``epsilon``).
    """
    if static.solver == "adam":
        return optax.adam(
            hyper.learning_rate_init, b1=hyper.beta_1, b2=hyper.beta_2, eps=hyper.epsilon
        )
    return optax.chain(
        optax.scale(-learning_rate),
        optax.trace(decay=hyper.momentum, nesterov=static.nesterov),
    )


def regularized_loss_and_grads(params, X, Y, sample_weight, alpha, *, activation, output):
    """scikit-learn's objective on a batch: weighted mean loss plus its L2 term.

    ``L = sum_i w_i l_i / sum_i w_i + 0.5 alpha sum ||W||^2 / sum_i w_i``: the
    penalty is divided by the batch's total weight (its size without weights), as
    scikit-learn does. Gradients by the post's formulas, plus ``alpha W / sum w``.

    Args:
      params: tuple of Dense.
      X: (n, d) inputs; Y: (n, k) targets; sample_weight: (n,) (0 for padding rows).
      alpha: scalar L2 strength.

    Returns:
      ``(data_loss, penalty, grads)``.
    """
    total = jnp.sum(sample_weight)
    data_loss, grads = backprop.weighted_loss_and_manual_grads(
        params, X, Y, sample_weight / total, activation, output
    )
    penalty = 0.5 * alpha * sum(jnp.sum(layer.W**2) for layer in params) / total
    grads = tuple(
        mlp.Dense(W=g.W + alpha * layer.W / total, b=g.b)
        for g, layer in zip(grads, params, strict=True)
    )
    return data_loss, penalty, grads


def predict_units(params, X, *, activation, output):
    """(n, k) output units ``Y_hat`` (probabilities, or the regression values)."""
    logits = mlp.forward_with_intermediates(params, X, activation).s[-1]
    return mlp.output_units(logits, output)


def validation_score(params, X, Y, sample_weight, *, activation, output):
    """scikit-learn's ``score`` on the validation split, computed in the program.

    Accuracy for classifiers (a row counts when every label of it is right, as
    ``accuracy_score`` on indicator rows); ``r2_score`` averaged over outputs for
    regressors, NaN when a prediction is not finite.
    """
    pred = predict_units(params, X, activation=activation, output=output)
    w = sample_weight / jnp.sum(sample_weight)
    if output == "softmax":
        right = jnp.argmax(pred, axis=-1) == jnp.argmax(Y, axis=-1)
        return jnp.sum(w * right)
    if output == "logistic":
        right = jnp.all((pred > 0.5) == (Y > 0.5), axis=-1)
        return jnp.sum(w * right)
    Y = Y.astype(pred.dtype)
    mean = jnp.sum(w[:, None] * Y, axis=0)
    residual = jnp.sum(w[:, None] * (Y - pred) ** 2, axis=0)
    total = jnp.sum(w[:, None] * (Y - mean[None, :]) ** 2, axis=0)
    # r2_score(force_finite=True): a constant target scores 1 if fitted exactly, else 0
    r2 = jnp.where(total > 0, 1 - residual / jnp.where(total > 0, total, 1), 0.0)
    r2 = jnp.where((total == 0) & (residual == 0), 1.0, r2)
    return jnp.where(jnp.all(jnp.isfinite(pred)), jnp.mean(r2), jnp.nan)


def batch_updates(state: State, hyper, X, Y, weights, keys, n, n_batches, static: Static, *,
                  activation, rows=None, mask=None, steps=None, half=None):  # fmt: skip
    """No input checks. An epoch's update of batch ``b``, as ``update(params, opt_state, b)
    -> (params, opt_state, batch loss * its real rows)``: the fit's and the search's step.

    The epoch's rows (``rows[order]`` of ``X``, or ``order`` itself) are gathered once, in
    batch order, and each step reads its batch as a slice. XLA:CPU splits an operation over
    threads when its cost model finds it large: a gather from all of ``X`` past 512 KiB,
    element-wise work on a few thousand values. A thread hand-off at every step (a batch
    gathered from ``X``) cost 30% of a digits fit, so the order is computed a batch at a time
    (:func:`jaxmlp.batches.epoch_order`: small operations, never split; ``steps`` batches of
    it) and the one split operation is the epoch's gather. ``mask``: 1 where a gradient is
    kept (the search's padded units), or None.
    """
    size = static.batch_size
    tx = optimizer(static, hyper, state.learning_rate)
    # one batch holding every row (padded to it) is never shuffled (Static.shuffle)
    order, valid = epoch_order(
        keys, n, size, n_batches, shuffle=static.shuffle, steps=steps, half=half
    )
    index = order if rows is None else rows[order]
    X_epoch, Y_epoch = X[index], Y[index]
    w_epoch = jnp.where(valid, weights[order], 0)

    def update(params, opt_state, b):
        start = b * size
        Xb, Yb, w = (
            jax.lax.dynamic_slice_in_dim(a, start, size) for a in (X_epoch, Y_epoch, w_epoch)
        )
        data, penalty, grads = regularized_loss_and_grads(
            params, Xb, Yb, w, hyper.alpha, activation=activation, output=static.output
        )
        if mask is not None:
            grads = jax.tree.map(lambda g, m: jnp.where(m, g, 0), grads, mask)
        updates, opt_state = tx.update(grads, opt_state, params)
        batch_loss = data * hyper.loss_scale + penalty
        counted = jnp.clip(n - start, 0, size).astype(X.dtype)
        return optax.apply_updates(params, updates), opt_state, batch_loss * counted

    return update


def _epoch(state: State, hyper, X, Y, sample_weight, keys, n_rows, static: Static):
    """One pass over the ``n_rows`` real rows in shuffled mini-batches; (state, mean loss).

    ``X`` may hold more rows (weight-0 padding to a bucket, so that data sizes of one
    bucket share a program): the batches past ``n_rows`` are never run, the shuffle is a
    permutation of ``0..n_rows-1``, so the result is the unpadded epoch's.
    """
    n_steps = (n_rows + static.batch_size - 1) // static.batch_size  # the real rows' batches
    n_batches = -(-X.shape[0] // static.batch_size)  # static: enough for every row
    update = batch_updates(state, hyper, X, Y, sample_weight, keys, n_rows, n_batches, static,
                           activation=static.activation, steps=n_steps)  # fmt: skip

    def step(b, carry):
        params, opt_state, accumulated = carry
        params, opt_state, counted = update(params, opt_state, b)
        return params, opt_state, accumulated + counted

    # the real rows' batches only: a loop of a traced length (the padding's are never run)
    carry = (state.params, state.opt_state, jnp.zeros((), X.dtype))
    params, opt_state, accumulated = jax.lax.fori_loop(0, n_steps, step, carry)
    return state._replace(params=params, opt_state=opt_state), accumulated / n_rows.astype(X.dtype)


def _end_of_epoch(state: State, hyper, loss, score, static: Static):
    """scikit-learn's bookkeeping after an epoch; returns (state, event)."""
    tol = hyper.tol
    if static.early_stopping:
        worse = score < state.best_score + tol
        better = score > state.best_score
        state = state._replace(
            best_score=jnp.where(better, score, state.best_score),
            best_params=jax.tree.map(
                lambda new, old: jnp.where(better, new, old), state.params, state.best_params
            ),
        )
    else:
        worse = loss > state.best_loss - tol
        state = state._replace(best_loss=jnp.where(loss < state.best_loss, loss, state.best_loss))
    count = jnp.where(worse, state.no_improvement + 1, 0)
    lr = state.learning_rate
    trigger = count > hyper.n_iter_no_change
    event = jnp.where(trigger, 2, 0)
    if static.solver == "sgd":  # the schedule is traced: scalar work, selected per epoch
        invscaling = hyper.learning_rate_init / (state.samples_seen + 1) ** hyper.power_t
        lr = jnp.where(hyper.schedule == SCHEDULES.index("invscaling"), invscaling, lr)
        adaptive = hyper.schedule == SCHEDULES.index("adaptive")
        reduce = adaptive & trigger & (lr > MIN_ADAPTIVE_LEARNING_RATE)
        lr = jnp.where(reduce, lr / 5.0, lr)
        count = jnp.where(reduce, 0, count)
        event = jnp.where(reduce, 1, event)
    lr = lr.astype(state.learning_rate.dtype)  # the loop's carry keeps its dtype
    return state._replace(no_improvement=count, learning_rate=lr), event


@compile_options.jit("fit", static_argnames="static")
def run_epochs(state: State, hyper: Hyper, X, Y, sample_weight, X_val, Y_val, w_val, keys,
               max_epochs, n_rows, *, static: Static) -> tuple[State, Record]:  # fmt: skip
    """Up to ``max_epochs`` epochs, stopping as scikit-learn's ``_fit_stochastic``.

    Args:
      state: the :class:`State` to continue from.
      hyper: traced :class:`Hyper`.
      X: (n, d) training inputs; Y: (n, k) targets; sample_weight: (n,) (rows of
        weight 0 may pad a single batch to a ``bucket`` size).
      X_val, Y_val, w_val: the validation split ((m, d), (m, k), (m,)), maybe padded
        with weight-0 rows; used only with ``static.early_stopping`` (pass one dummy
        row otherwise).
      keys: (record_length, SHUFFLE_ROUNDS) uint32, the shuffle's round keys of this
        call's epochs (:func:`jaxmlp.batches.host_round_keys`: a fit of ``seed`` run in
        chunks gives the chunk from epoch ``first`` the rows ``first, first + 1, ...``, so
        it shuffles as one call would).
      max_epochs: int32 scalar <= ``static.record_length``, the call's epoch limit.
      n_rows: int32 scalar, the training rows without padding (the epoch's batches and
        shuffle, its mean loss, ``samples_seen``).

    Returns:
      ``(state, record)``.
    """

    def epoch(state: State, e):
        return _epoch(state, hyper, X, Y, sample_weight, keys[e], n_rows, static)

    def score(params):
        return validation_score(
            params, X_val, Y_val, w_val, activation=static.activation, output=static.output
        )

    return epochs_until_stopped(
        state, hyper, max_epochs, n_rows, epoch=epoch, score=score, static=static
    )


def epochs_until_stopped(
    state: State, hyper: Hyper, max_epochs, n_rows, *, epoch, score, static: Static
) -> tuple[State, Record]:
    """No input checks. Epochs until ``max_epochs`` or scikit-learn's stopping rule, with
    their record: the loop of :func:`run_epochs` and of the search's programs.

    ``epoch(state, e) -> (state, mean loss)`` trains epoch ``e`` of this call;
    ``score(params)`` is the validation score (called with ``static.early_stopping`` only).
    """
    dtype = state.learning_rate.dtype  # the compute dtype, which the carry keeps
    empty = jnp.full((static.record_length,), jnp.nan, dtype)
    no_events = jnp.zeros((static.record_length,), jnp.int32)
    record = Record(empty, empty, empty, no_events, jnp.zeros((), jnp.int32))

    def cond(carry):
        _, record, stopped = carry
        return (record.epochs < max_epochs) & ~stopped

    def body(carry):
        state, record, _ = carry
        e = record.epochs
        state, loss = epoch(state, e)
        state = state._replace(samples_seen=state.samples_seen + n_rows.astype(dtype))
        value = score(state.params) if static.early_stopping else jnp.asarray(jnp.nan, dtype)
        lr_used = state.learning_rate
        state, event = _end_of_epoch(state, hyper, loss, value, static)
        record = Record(
            record.loss.at[e].set(loss),
            record.score.at[e].set(value),
            record.learning_rate.at[e].set(lr_used),
            record.event.at[e].set(event),
            e + 1,
        )
        return state, record, event == 2

    state, record, _ = jax.lax.while_loop(cond, body, (state, record, jnp.zeros((), bool)))
    return state, record


def flatten(params, xp=jnp) -> Array:
    """(P,) every ``W`` (row-major) then ``b``, layer by layer; ``xp=np`` on the host."""
    return xp.concatenate([xp.concatenate([layer.W.ravel(), layer.b]) for layer in params])


def unflatten(theta: Array, sizes: tuple[int, ...]) -> mlp.Params:
    """Inverse of :func:`flatten` for a network of ``sizes`` ``(d, h1, ..., k)`` (jnp or np)."""
    layers, start = [], 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        W = theta[start : start + fan_in * fan_out].reshape(fan_out, fan_in)
        start += fan_in * fan_out
        layers.append(mlp.Dense(W=W, b=theta[start : start + fan_out]))
        start += fan_out
    return tuple(layers)


@compile_options.jit("lbfgs", static_argnames=("sizes", "activation", "output"))
def flat_loss_and_grad(theta, X, Y, sample_weight, alpha, loss_scale, *, sizes, activation,
                       output):  # fmt: skip
    """L-BFGS's objective on flat parameters: ``(objective, reported loss, flat grad)``.

    The objective is the data loss summed over outputs (the one the gradient
    ``Delta_L = Y_hat - Y`` belongs to) plus the penalty; the reported loss is
    scikit-learn's ``loss_`` (mean over outputs for the identity output).
    """
    data, penalty, grads = regularized_loss_and_grads(
        unflatten(theta, sizes), X, Y, sample_weight, alpha, activation=activation, output=output
    )
    return data + penalty, data * loss_scale + penalty, flatten(grads)
