"""Gradient-descent training: a pure update step and whole runs as one compiled ``lax.scan``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmlp import activations as _activations
from jaxmlp import backprop, losses, mlp, validation

Array = jax.Array
LossAndGrads = Callable[..., tuple[Array, mlp.Params]]


def autodiff_loss_and_grads(
    params: mlp.Params, X: Array, y: Array, activation: mlp.ActivationLike
) -> tuple[Array, mlp.Params]:
    """``jax.value_and_grad`` of the mean loss: the autodiff twin of the manual pass."""
    act = _activations.get(activation)

    def objective(p: mlp.Params) -> Array:
        return losses.mean_cross_entropy(mlp.forward_with_intermediates(p, X, act).s[-1], y)

    return jax.value_and_grad(objective)(params)


GRADIENTS: dict[str, LossAndGrads] = {
    "manual": backprop.loss_and_manual_grads,
    "autodiff": autodiff_loss_and_grads,
}


def _loss_and_grads_fn(grad: str) -> LossAndGrads:
    try:
        return GRADIENTS[grad]
    except KeyError:
        raise ValueError(f"grad must be one of {', '.join(GRADIENTS)}; got {grad!r}") from None


class TrainResult(NamedTuple):
    """What :func:`train` returns.

    Attributes:
      params: final parameters; the last ones with a finite loss if training diverged.
      loss: (steps,) ``loss[i]`` is the loss of the parameters before update ``i``
        (on update i's mini-batch when ``batch_size`` is set); NaN/inf from
        ``diverged_at`` on.
      diverged_at: first step whose loss or gradient was not finite, or None.
      opt_state: the optimizer state after the last applied update.
      snapshots: with ``snapshot_every=k``, the params at steps 0, k, 2k, ...
        stacked on a leading axis (same pytree as ``params``); else None.
      snapshot_steps: (m,) the step of each snapshot, or None.
    """

    params: mlp.Params
    loss: Array
    diverged_at: int | None
    opt_state: optax.OptState
    snapshots: mlp.Params | None = None
    snapshot_steps: np.ndarray | None = None


def _all_finite(tree) -> Array:
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


def make_step(
    optimizer: optax.GradientTransformation,
    activation: mlp.ActivationLike = "sigmoid",
    grad: str = "manual",
) -> Callable[[mlp.Params, optax.OptState, Array, Array], tuple[mlp.Params, optax.OptState, Array]]:
    """A pure, jit-compiled update step ``theta <- theta - alpha grad L`` (or any optax rule).

    Args:
      optimizer: an optax GradientTransformation, e.g. ``optax.sgd(2.0)``.
      activation: hidden-layer activation.
      grad: ``"manual"`` (the post's formulas) or ``"autodiff"`` (``jax.grad``).

    Returns:
      ``step(params, opt_state, X (n, d), y (n,)) -> (params, opt_state, loss)``,
      where ``loss`` is the loss of the parameters before the update.

    >>> import optax
    >>> params = mlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> opt = optax.sgd(2.0)
    >>> step = make_step(opt)
    >>> params, state, value = step(params, opt.init(params), jnp.ones((4, 2)), jnp.array([0, 1, 1, 0]))
    """
    act = _activations.get(activation)
    loss_and_grads = _loss_and_grads_fn(grad)

    @jax.jit
    def step(params, opt_state, X, y):
        value, grads = loss_and_grads(params, X, y, act)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return step


class _Carry(NamedTuple):
    params: mlp.Params
    opt_state: optax.OptState
    last_good: mlp.Params  # params of the last step whose loss and grads were finite
    diverged_at: Array  # int32; -1 while finite
    perm: Array  # (n,) current epoch's shuffle (unused for full batch)
    key: Array


def _update(
    carry: _Carry,
    step_index: Array,
    X: Array,
    y: Array,
    *,
    act: _activations.Activation,
    optimizer: optax.GradientTransformation,
    loss_and_grads: LossAndGrads,
    batch_size: int | None,
) -> tuple[_Carry, Array]:
    perm, key = carry.perm, carry.key
    if batch_size is None:
        Xb, yb = X, y
    else:
        n_batches = X.shape[0] // batch_size
        batch = step_index % n_batches

        def reshuffle(key):
            key, sub = jax.random.split(key)
            return jax.random.permutation(sub, X.shape[0]), key

        perm, key = jax.lax.cond(batch == 0, reshuffle, lambda k: (perm, k), key)
        idx = jax.lax.dynamic_slice_in_dim(perm, batch * batch_size, batch_size)
        Xb, yb = X[idx], y[idx]
    value, grads = loss_and_grads(carry.params, Xb, yb, act)
    updates, opt_state = optimizer.update(grads, carry.opt_state, carry.params)
    new_params = optax.apply_updates(carry.params, updates)
    ok = jnp.isfinite(value) & _all_finite(grads) & (carry.diverged_at < 0)
    keep = lambda new, old: jnp.where(ok, new, old)  # noqa: E731
    carry = _Carry(
        params=jax.tree.map(keep, new_params, carry.params),
        opt_state=jax.tree.map(keep, opt_state, carry.opt_state),
        last_good=jax.tree.map(keep, carry.params, carry.last_good),
        diverged_at=jnp.where(ok | (carry.diverged_at >= 0), carry.diverged_at, step_index),
        perm=perm,
        key=key,
    )
    return carry, value


@functools.partial(
    jax.jit,
    static_argnames=(
        "activation", "optimizer", "steps", "batch_size", "grad", "snapshot_every",
    ),
)
def _train(params, X, y, key, *, activation, optimizer, steps, batch_size, grad, snapshot_every):
    update = functools.partial(
        _update,
        X=X,
        y=y,
        act=activation,
        optimizer=optimizer,
        loss_and_grads=_loss_and_grads_fn(grad),
        batch_size=batch_size,
    )
    carry = _Carry(
        params=params,
        opt_state=optimizer.init(params),
        last_good=params,
        diverged_at=jnp.array(-1, jnp.int32),
        perm=jnp.arange(X.shape[0], dtype=jnp.int32),
        key=key,
    )
    chunk = snapshot_every or steps
    n_chunks, tail = divmod(steps, chunk)

    def run_chunk(carry, start):
        carry, values = jax.lax.scan(update, carry, start + jnp.arange(chunk))
        return carry, (carry.params, values)

    carry, (snaps, values) = jax.lax.scan(run_chunk, carry, jnp.arange(n_chunks) * chunk)
    values = values.reshape(-1)
    if tail:
        carry, tail_values = jax.lax.scan(update, carry, n_chunks * chunk + jnp.arange(tail))
        values = jnp.concatenate([values, tail_values])
    snapshots = None
    if snapshot_every:
        first = jax.tree.map(lambda p: p[None], params)
        snapshots = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), first, snaps)
    # The parameters after the very last update were never evaluated; keep them if finite.
    final_ok = (carry.diverged_at < 0) & _all_finite(carry.params)
    final = jax.tree.map(lambda p, g: jnp.where(final_ok, p, g), carry.params, carry.last_good)
    diverged_at = jnp.where(
        (carry.diverged_at < 0) & ~final_ok, jnp.int32(steps), carry.diverged_at
    )
    return final, values, diverged_at, carry.opt_state, snapshots


def train(
    params: mlp.Params,
    X: Array,
    y: Array,
    *,
    activation: mlp.ActivationLike = "sigmoid",
    optimizer: optax.GradientTransformation,
    steps: int,
    batch_size: int | None = None,
    key: Array | None = None,
    grad: str = "manual",
    snapshot_every: int | None = None,
) -> TrainResult:
    """Trains a network; the whole run is one ``lax.scan`` inside one ``jit``.

    Args:
      params: initial parameters (tuple of Dense).
      X: (n, d) inputs.
      y: (n,) labels: {0, 1} for one output, 0..k-1 for k outputs.
      activation: hidden-layer activation.
      optimizer: any optax transformation. Pass the same object to reuse the
        compiled program across calls.
      steps: number of updates.
      batch_size: None for full-batch gradient descent (as in the post), or the
        size of shuffled mini-batches (a fresh permutation each epoch, the
        incomplete last batch dropped); needs ``key``.
      key: PRNG key for the mini-batch shuffle.
      grad: ``"manual"`` (the post's formulas) or ``"autodiff"``.
      snapshot_every: if set, also return the params every that many steps.

    Returns:
      A :class:`TrainResult`. If a loss or gradient turns non-finite, updates
      stop, ``params`` are the last ones with a finite loss and ``diverged_at``
      is that step.

    >>> import optax
    >>> X = jnp.array([[0.0, 0.0], [1.0, 1.0]]); y = jnp.array([0, 1])
    >>> params = mlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> result = train(params, X, y, optimizer=optax.sgd(1.0), steps=10)
    >>> result.loss.shape
    (10,)
    """
    act = _activations.get(activation)
    validation.check_data(params, X, y)
    _loss_and_grads_fn(grad)
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"optimizer must be an optax.GradientTransformation, got {type(optimizer).__name__}"
        )
    steps = _positive_int(steps, "steps")
    if snapshot_every is not None:
        snapshot_every = _positive_int(snapshot_every, "snapshot_every")
        if snapshot_every > steps:
            raise ValueError(f"snapshot_every must be <= steps ({steps}), got {snapshot_every}")
    if batch_size is not None:
        batch_size = _positive_int(batch_size, "batch_size")
        if batch_size > X.shape[0]:
            raise ValueError(
                f"batch_size must be <= the number of examples ({X.shape[0]}), got {batch_size}"
            )
        if key is None:
            raise ValueError("key must be given when batch_size is set (it drives the shuffle)")
    if key is None:
        key = jax.random.key(0)  # unused for full-batch training
    final, values, diverged_at, opt_state, snapshots = _train(
        params, X, y, key,
        activation=act, optimizer=optimizer, steps=steps, batch_size=batch_size,
        grad=grad, snapshot_every=snapshot_every,
    )
    diverged = int(diverged_at)
    snapshot_steps = None
    if snapshot_every:
        snapshot_steps = np.arange(steps // snapshot_every + 1) * snapshot_every
    return TrainResult(
        params=final,
        loss=values,
        diverged_at=None if diverged < 0 else diverged,
        opt_state=opt_state,
        snapshots=snapshots,
        snapshot_steps=snapshot_steps,
    )


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__} ({value!r})")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)
