"""Gradient-descent training: a pure update step and whole runs as one compiled ``lax.scan``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from jaxmlp import activations as _activations
from jaxmlp import backprop, losses, mlp, validation
from jaxmlp.kernels.backends import resolve_backend

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


def fused_loss_and_grads(
    params: mlp.Params, X: Array, y: Array, activation: mlp.ActivationLike
) -> tuple[Array, mlp.Params]:
    """The fused Pallas kernel: forward, loss and the post's gradients in one kernel."""
    from jaxmlp import kernels

    return kernels.loss_and_fused_grads(params, X, y, activation)


def fused_autodiff_loss_and_grads(
    params: mlp.Params, X: Array, y: Array, activation: mlp.ActivationLike
) -> tuple[Array, mlp.Params]:
    """``jax.value_and_grad`` of the fused loss, whose ``custom_vjp`` runs the same kernel."""
    from jaxmlp import kernels

    return jax.value_and_grad(kernels.fused_loss)(params, X, y, activation)


# The loss-and-gradients function of each backend ("xla": GRADIENTS above).
BACKEND_GRADIENTS: dict[str, dict[str, LossAndGrads]] = {
    "xla": GRADIENTS,
    "pallas": {"manual": fused_loss_and_grads, "autodiff": fused_autodiff_loss_and_grads},
}


def _loss_and_grads_fn(grad: str, backend: str = "xla") -> LossAndGrads:
    try:
        return BACKEND_GRADIENTS[backend][grad]
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
        Snapshots after a divergence hold the last good params, like ``params``.
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
    >>> X, y = jnp.ones((4, 2)), jnp.array([0, 1, 1, 0])
    >>> params, state, value = step(params, opt.init(params), X, y)
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
    """State of the guarded loop."""

    params: mlp.Params
    opt_state: optax.OptState
    last_good: mlp.Params  # params of the last step whose loss and grads were finite
    diverged_at: Array  # int32; -1 while finite


# Networks at most this wide (every layer) and with at most this many parameters
# take the stacked-rows form of the manual gradients (backprop.stacked_loss_and_grads):
# far fewer, fused operations per step than one matmul per gradient (measured 2-3x
# faster for 2-3-1 up to 2-8-8-1 on 200 rows), while the (1 + P, rows) array stays
# small; at 2-8-8-1 with 4096-row batches the matmul form is faster.
STACKED_MAX_WIDTH = 8
STACKED_MAX_PARAMS = 128
STACKED_MAX_ELEMENTS = 2**16
# lax.scan unroll of the fast path. Measured in experiments/bench.py: unrolling
# saves a little loop work per step on tiny problems but multiplies compile time.
UNROLL = 1
# XLA:CPU options for the fast program of stacked networks with at most
# SMALL_MAX_PARAMS parameters: XLA's older per-op emitters instead of its MLIR
# fusion emitters. Measured on 2 cores, 1000 full-batch steps, 2-3-1 to 2-4-4-1
# (sigmoid/tanh, SGD/Adam): compile time halved (e.g. 0.55-0.79 s -> 0.22-0.38 s
# for 2-3-1), the same time per step (within +-4%), bit-identical results with
# SGD. Not used beyond: a step got slower (2-8-8-1 with Adam +13%, the matrix
# form of 2-16-1 +65%).
SMALL_COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}
SMALL_MAX_PARAMS = 64


def _use_stacked(params: mlp.Params, grad: str, rows: int) -> bool:
    sizes = mlp.sizes_of(params)
    dtypes = {leaf.dtype for leaf in jax.tree.leaves(params)}
    n_params = sum(leaf.size for leaf in jax.tree.leaves(params))
    return (
        grad == "manual"
        and max(sizes) <= STACKED_MAX_WIDTH
        and n_params <= STACKED_MAX_PARAMS
        and (1 + n_params) * rows <= STACKED_MAX_ELEMENTS
        and len(dtypes) == 1
    )


SHUFFLE_ROUNDS = 4  # Feistel rounds of the per-epoch shuffle (4: Luby-Rackoff)


def _mix32(x: Array) -> Array:
    """A 32-bit integer hash (lowbias32): the Feistel round function."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def shuffled_positions(key: Array, epoch: Array, positions: Array, n: int) -> Array:
    """Where ``positions`` of an epoch's shuffled order point: a keyed permutation of 0..n-1.

    A 4-round Feistel network on the next power of four >= n, cycle-walked into
    [0, n): a bijection of 0..n-1 per (key, epoch), evaluated only at the positions
    of one mini-batch. It costs O(batch) per step where a sorted permutation
    costs O(n log n) per epoch (seconds for n = 1e6 on a CPU).

    Args:
      key: PRNG key of the run.
      epoch: int32 scalar; each epoch gets an independent permutation.
      positions: (B,) int32 positions in 0..n-1 of the epoch's order.
      n: number of examples.

    Returns:
      (B,) int32 example indices, distinct for distinct positions.
    """
    half = max(1, (max(n, 2) - 1).bit_length() + 1) // 2
    mask = jnp.uint32((1 << half) - 1)
    round_keys = jax.random.bits(jax.random.fold_in(key, epoch), (SHUFFLE_ROUNDS,), jnp.uint32)

    def feistel(x):
        left, right = x >> half, x & mask
        for r in range(SHUFFLE_ROUNDS):
            left, right = right, left ^ (_mix32(right ^ round_keys[r]) & mask)
        return (left << half) | right

    x = feistel(positions.astype(jnp.uint32))
    x = jax.lax.while_loop(lambda x: jnp.any(x >= n), lambda x: jnp.where(x >= n, feistel(x), x), x)
    return x.astype(jnp.int32)


def _batch(step_index, key, X, y, *, batch_size, axis):
    """The examples of one update (all of them, or a mini-batch); examples on ``axis`` of X."""
    if batch_size is None:
        return X, y
    n = X.shape[axis]
    n_batches = n // batch_size
    epoch, batch = step_index // n_batches, step_index % n_batches
    positions = batch * batch_size + jnp.arange(batch_size, dtype=jnp.int32)
    idx = shuffled_positions(key, epoch, positions, n)
    return jnp.take(X, idx, axis=axis), y[idx]


def _update(
    carry: _Carry,
    step_index: Array,
    *,
    batch: Callable,
    loss_and_grads: Callable,
    optimizer: optax.GradientTransformation,
) -> tuple[_Carry, Array]:
    """One update with the divergence guard (the slow, exact path)."""
    Xb, yb = batch(step_index)
    value, grads = loss_and_grads(carry.params, Xb, yb)
    updates, opt_state = optimizer.update(grads, carry.opt_state, carry.params)
    new_params = optax.apply_updates(carry.params, updates)
    ok = jnp.isfinite(value) & _all_finite(grads) & (carry.diverged_at < 0)
    keep = lambda new, old: jnp.where(ok, new, old)  # noqa: E731
    carry = _Carry(
        params=jax.tree.map(keep, new_params, carry.params),
        opt_state=jax.tree.map(keep, opt_state, carry.opt_state),
        last_good=jax.tree.map(keep, carry.params, carry.last_good),
        diverged_at=jnp.where(ok | (carry.diverged_at >= 0), carry.diverged_at, step_index),
    )
    return carry, value


class _FastStep(NamedTuple):
    """A training step without the guard; its state also tracks a finiteness check.

    The check is the running sum of every step's loss and gradients: NaN/inf in
    any of them makes it non-finite (a false alarm from overflow only costs a
    guarded rerun).
    """

    to_state: Callable  # params -> state
    from_state: Callable  # state -> params
    finite: Callable  # state -> bool: all losses and gradients so far, and the params, finite?
    step: Callable  # (state, opt_state, Xb, yb) -> (state, opt_state, loss)


def _tree_fast_step(loss_and_grads, optimizer) -> _FastStep:
    def step(state, opt_state, Xb, yb):
        params, check = state
        value, grads = loss_and_grads(params, Xb, yb)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        check = check + value + sum(jnp.sum(g) for g in jax.tree.leaves(grads))
        return (optax.apply_updates(params, updates), check), opt_state, value

    return _FastStep(
        to_state=lambda p: (p, jnp.zeros((), jax.tree.leaves(p)[0].dtype)),
        from_state=lambda state: state[0],
        finite=lambda state: jnp.isfinite(state[1]) & _all_finite(state[0]),
        step=step,
    )


def _stacked_fast_step(params, act, optimizer, mean_weights) -> _FastStep:
    # State: one flat vector [theta (P), check (1 + P)] that one fused loop updates
    # in place (apply_updates on the pytree would be one loop per leaf).
    flat, unravel = ravel_pytree(params)
    size = flat.size

    def step(state, opt_state, XTb, yb):
        pp = unravel(state[:size])
        m = backprop.stacked_loss_and_grads(pp, XTb, yb, act, mean_weights=mean_weights)
        updates, opt_state = optimizer.update(unravel(m[1:]), opt_state, pp)
        step_vector = jnp.concatenate([ravel_pytree(updates)[0], m]).astype(state.dtype)
        return state + step_vector, opt_state, m[0]

    def to_state(p):
        theta = ravel_pytree(p)[0]
        return jnp.concatenate([theta, jnp.zeros(size + 1, theta.dtype)])

    return _FastStep(
        to_state=to_state,
        from_state=lambda state: unravel(state[:size]),
        # a sum is finite only if every term is: params and checks in one reduction
        finite=lambda state: jnp.isfinite(jnp.sum(state)),
        step=step,
    )


_STATIC = ("activation", "optimizer", "steps", "batch_size", "grad", "snapshot_every", "backend")


def _program(params, X, y, key, *, activation, batch_size, grad, backend):
    """What both programs share: ``(batch, loss_and_grads, fast_step)``.

    ``batch(step_index) -> (Xb, yb)``; ``loss_and_grads(params, Xb, yb)``;
    ``fast_step(optimizer) -> _FastStep``.
    """
    X = X.astype(params[0].W.dtype)  # compute in the parameters' dtype
    if backend == "xla" and _use_stacked(params, grad, batch_size or X.shape[0]):
        X = X.T  # examples as columns: (d, n)
        axis = 1
        unravel = ravel_pytree(params)[1]
        rows = batch_size or X.shape[1]
        # behind a barrier: XLA would otherwise sink the constant into the loop
        # and rebuild it at every step
        weights = jax.lax.optimization_barrier(jnp.full((rows,), 1.0 / rows, X.dtype))

        def loss_and_grads(p, Xb, yb):
            m = backprop.stacked_loss_and_grads(p, Xb, yb, activation, mean_weights=weights)
            return m[0], unravel(m[1:])

        fast_step = functools.partial(_stacked_fast_step, params, activation, mean_weights=weights)
    else:
        axis = 0
        grads_fn = _loss_and_grads_fn(grad, backend)
        loss_and_grads = lambda p, Xb, yb: grads_fn(p, Xb, yb, activation)  # noqa: E731
        fast_step = functools.partial(_tree_fast_step, loss_and_grads)
    batch = functools.partial(_batch, key=key, X=X, y=y, batch_size=batch_size, axis=axis)
    return batch, loss_and_grads, fast_step


def _chunks(run, carry, *, steps, snapshot_every, snapshot):
    """``run`` over [0, steps) in chunks of ``snapshot_every``, snapshotting between them.

    Returns ``(carry, losses (steps,), snapshots (steps // snapshot_every, ...) or None)``.
    """
    if not snapshot_every:
        carry, values = run(carry, jnp.int32(0), steps)
        return carry, values, None
    n_chunks, tail = divmod(steps, snapshot_every)

    def run_chunk(carry, start):
        carry, values = run(carry, start, snapshot_every)
        return carry, (snapshot(carry), values)

    starts = jnp.arange(n_chunks, dtype=jnp.int32) * snapshot_every
    carry, (snaps, values) = jax.lax.scan(run_chunk, carry, starts)
    values = values.reshape(-1)
    if tail:
        carry, tail_values = run(carry, jnp.int32(n_chunks * snapshot_every), tail)
        values = jnp.concatenate([values, tail_values])
    return carry, values, snaps


def _with_initial(params, snaps):
    if snaps is None:
        return None
    return jax.tree.map(lambda p, s: jnp.concatenate([p[None], s]), params, snaps)


def _train_fast_impl(
    params, X, y, key, *, activation, optimizer, steps, batch_size, grad, snapshot_every, backend
):
    """The whole run without the per-step divergence guard.

    Returns ``(params, losses, opt_state, snapshots, finite)``; when ``finite``
    (every loss, gradient and the final params finite) these are exactly what
    the guarded loop returns (with ``diverged_at`` -1). Otherwise the caller
    reruns :func:`_train_guarded`, which is compiled only then.
    """
    batch, _, fast_step = _program(
        params, X, y, key, activation=activation, batch_size=batch_size, grad=grad, backend=backend
    )
    fast = fast_step(optimizer=optimizer)

    def update(c, step_index):
        state, opt_state = c
        Xb, yb = batch(step_index)
        state, opt_state, value = fast.step(state, opt_state, Xb, yb)
        return (state, opt_state), value

    def run(c, start, length):
        indices = start + jnp.arange(length, dtype=jnp.int32)
        return jax.lax.scan(update, c, indices, unroll=min(UNROLL, length))

    c = (fast.to_state(params), optimizer.init(params))
    (state, opt_state), values, snaps = _chunks(
        run,
        c,
        steps=steps,
        snapshot_every=snapshot_every,
        snapshot=lambda c: fast.from_state(c[0]),
    )
    final = fast.from_state(state)
    return final, values, opt_state, _with_initial(params, snaps), fast.finite(state)


_train_fast = jax.jit(_train_fast_impl, static_argnames=_STATIC)
_train_fast_small = jax.jit(
    _train_fast_impl, static_argnames=_STATIC, compiler_options=SMALL_COMPILER_OPTIONS
)


@functools.cache
def _small_options_supported() -> bool:
    """Whether this XLA:CPU knows SMALL_COMPILER_OPTIONS (a later one may drop them)."""
    if jax.default_backend() != "cpu":
        return False
    try:
        jax.jit(lambda: jnp.int32(0), compiler_options=SMALL_COMPILER_OPTIONS).lower().compile()
    except Exception:  # an unknown option, however a later jax reports it: use the defaults
        return False
    return True


def _fast_program(params, grad: str, rows: int, backend: str) -> Callable:
    small = (
        backend == "xla"
        and _use_stacked(params, grad, rows)
        and sum(leaf.size for leaf in jax.tree.leaves(params)) <= SMALL_MAX_PARAMS
    )
    return _train_fast_small if small and _small_options_supported() else _train_fast


@functools.partial(jax.jit, static_argnames=_STATIC)
def _train_guarded(
    params, X, y, key, *, activation, optimizer, steps, batch_size, grad, snapshot_every, backend
):
    """The whole run with the divergence guard at every step (exact; slower per step).

    Returns ``(params, losses, diverged_at, opt_state, snapshots)``.
    """
    batch, loss_and_grads, _ = _program(
        params, X, y, key, activation=activation, batch_size=batch_size, grad=grad, backend=backend
    )
    update = functools.partial(
        _update, batch=batch, loss_and_grads=loss_and_grads, optimizer=optimizer
    )

    def run(carry, start, length):
        return jax.lax.scan(update, carry, start + jnp.arange(length, dtype=jnp.int32))

    def snapshot(carry):
        # after a divergence, snapshot the last good params rather than non-finite ones
        diverged = carry.diverged_at >= 0
        return jax.tree.map(lambda g, p: jnp.where(diverged, g, p), carry.last_good, carry.params)

    carry = _Carry(
        params=params,
        opt_state=optimizer.init(params),
        last_good=params,
        diverged_at=jnp.array(-1, jnp.int32),
    )
    carry, values, snaps = _chunks(
        run, carry, steps=steps, snapshot_every=snapshot_every, snapshot=snapshot
    )
    # The parameters after the very last update were never evaluated; keep them if finite.
    final_ok = (carry.diverged_at < 0) & _all_finite(carry.params)
    final = jax.tree.map(lambda p, g: jnp.where(final_ok, p, g), carry.params, carry.last_good)
    diverged = (carry.diverged_at < 0) & ~final_ok
    diverged_at = jnp.where(diverged, jnp.int32(steps), carry.diverged_at)
    return final, values, diverged_at, carry.opt_state, _with_initial(params, snaps)


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
    backend: str = "auto",
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
      backend: ``"xla"``, ``"pallas"`` (the fused kernels of :mod:`jaxmlp.kernels`
        compute each step's loss and gradients; Pallas interpret mode on CPU, slow)
        or ``"auto"``: pallas on GPU, xla elsewhere.

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
    backend = resolve_backend(backend)
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"optimizer must be an optax.GradientTransformation, got {type(optimizer).__name__}"
        )
    steps = validation.check_steps(steps)
    if snapshot_every is not None:
        snapshot_every = validation.positive_int(snapshot_every, "snapshot_every")
        if snapshot_every > steps:
            raise ValueError(f"snapshot_every must be <= steps ({steps}), got {snapshot_every}")
    batch_size, key = validation.check_batching(batch_size, key, X.shape[0])
    args = (params, X, y, key)
    options = dict(
        activation=act,
        optimizer=optimizer,
        steps=steps,
        batch_size=batch_size,
        grad=grad,
        snapshot_every=snapshot_every,
        backend=backend,
    )
    # The fast program has no per-step divergence guard; only if it reports a
    # non-finite loss, gradient or final params is the run redone with the guard
    # (a second program, compiled on first need), so the result is always the
    # guarded loop's, and a run that stays finite compiles one loop.
    fast = _fast_program(params, grad, batch_size or X.shape[0], backend)
    final, values, opt_state, snapshots, finite = fast(*args, **options)
    diverged_at = None
    if not np.asarray(finite):  # the one host sync (np: cheaper than bool(Array))
        final, values, diverged, opt_state, snapshots = _train_guarded(*args, **options)
        diverged_at = int(diverged)
        diverged_at = None if diverged_at < 0 else diverged_at
    snapshot_steps = None
    if snapshot_every:
        snapshot_steps = np.arange(steps // snapshot_every + 1) * snapshot_every
    return TrainResult(
        params=final,
        loss=values,
        diverged_at=diverged_at,
        opt_state=opt_state,
        snapshots=snapshots,
        snapshot_steps=snapshot_steps,
    )
