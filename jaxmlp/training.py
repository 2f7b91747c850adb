"""Gradient-descent training: a pure update step and whole runs as one compiled ``lax.scan``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmlp import _steps, compile_options, guard, mlp, optimizers, validation
from jaxmlp import activations as _activations
from jaxmlp._steps import loss_and_grads_fn
from jaxmlp.kernels.backends import resolve_backend

__all__ = [
    "TrainResult",
    "make_step",
    "train",
]

Array = jax.Array


class TrainResult(NamedTuple):
    """What :func:`train` returns.

    Attributes:
      params: final parameters; the last ones with a finite loss if training diverged.
      loss: (steps,) ``loss[i]`` is the loss of the parameters before update ``i``
        of this call (on update i's mini-batch when ``batch_size`` is set); NaN/inf
        from ``diverged_at`` on.
      diverged_at: first update of this call (an index into ``loss``) whose loss
        or gradient was not finite, or None.
      opt_state: the optimizer state after the last applied update; pass it back
        as ``train(..., opt_state=, first_step=)`` to continue the run.
      snapshots: with ``snapshot_every=k``, the params at steps 0, k, 2k, ... of
        this call stacked on a leading axis (same pytree as ``params``); else None.
        Snapshots after a divergence hold the last good params, like ``params``.
      snapshot_steps: (m,) the step of each snapshot (counted from this call's
        first update), or None.
    """

    params: mlp.Params
    loss: Array
    diverged_at: int | None
    opt_state: optax.OptState
    snapshots: mlp.Params | None = None
    snapshot_steps: np.ndarray | None = None


@functools.partial(jax.jit, static_argnames=("optimizer", "activation", "grad"))
def _step(params, opt_state, X, y, *, optimizer, activation, grad):
    value, grads = loss_and_grads_fn(grad)(params, X, y, activation)
    updates, opt_state = optimizer.optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value


def make_step(
    optimizer: optax.GradientTransformation,
    activation: mlp.ActivationLike = "sigmoid",
    grad: str = "manual",
) -> Callable[[mlp.Params, optax.OptState, Array, Array], tuple[mlp.Params, optax.OptState, Array]]:
    """A pure, jit-compiled update step ``theta <- theta - alpha grad L`` (or any optax rule).

    Steps made from equal optimizers (equal :func:`jaxmlp.optimizers.structural_key`:
    the same optax transformation with the same hyperparameters, even if built
    again) and the same activation and ``grad`` share one compiled program per
    shape of their arguments.

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
    loss_and_grads_fn(grad)
    return functools.partial(
        _step, optimizer=optimizers.static(optimizer), activation=act, grad=grad
    )


# lax.scan unroll of the fast path. Measured in benchmarks/bench.py: unrolling
# saves a little loop work per step on tiny problems but multiplies compile time.
UNROLL = 1
# Stacked networks of at most SMALL_MAX_PARAMS parameters compile their fast loop as the
# "train_small" program of jaxmlp.compile_options (XLA's per-op emitters: half the compile
# time, the same time per step); larger ones as "train".
SMALL_MAX_PARAMS = 64


def _update(
    carry: guard.GuardState,
    step_index: Array,
    *,
    batch: Callable,
    loss_and_grads: Callable,
    optimizer: optax.GradientTransformation,
    first_step: Array,
) -> tuple[guard.GuardState, Array]:
    """One update with the divergence guard (the slow, exact path)."""
    Xb, yb = batch(step_index)
    value, grads = loss_and_grads(carry.params, Xb, yb)
    updates, opt_state = optimizer.update(grads, carry.opt_state, carry.params)
    ok = jnp.isfinite(value) & guard.all_finite(grads)
    new_params = optax.apply_updates(carry.params, updates)
    return guard.update(carry, new_params, opt_state, ok, step_index - first_step), value


_STATIC = (
    "activation",
    "optimizer",
    "steps",
    "batch_size",
    "grad",
    "snapshot_every",
    "backend",
    "rate_name",
    "output",
)


def _program(params, X, y, key, options):
    """``(batch, loss_and_grads, fast_step)`` of a run: see :func:`jaxmlp._steps.program`."""
    grad, backend, batch_size = options["grad"], options["backend"], options["batch_size"]
    output = options["output"]
    return _steps.program(
        params, X, y, key,
        activation=options["activation"],
        batch_size=batch_size,
        grads_fn=loss_and_grads_fn(grad, backend),
        stacked=backend == "xla"
        and _steps.use_stacked(params, grad, batch_size or X.shape[0], output),
        output=output,
    )  # fmt: skip


def _initial_opt_state(optimizer, params, opt_state, rate, rate_name):
    """The state a run starts from: ``opt_state`` or a fresh one, with the injected rate."""
    if opt_state is None:
        opt_state = optimizer.init(params)
    if rate_name is not None:
        hyper = opt_state.hyperparams
        rate = jnp.asarray(rate, hyper[rate_name].dtype)
        opt_state = opt_state._replace(hyperparams={**hyper, rate_name: rate})
    return opt_state


def _chunks(run, carry, *, first_step, steps, snapshot_every, snapshot):
    """``run`` over [first_step, first_step + steps) in chunks of ``snapshot_every``,
    snapshotting between them.

    Returns ``(carry, losses (steps,), snapshots (steps // snapshot_every, ...) or None)``.
    """
    if not snapshot_every:
        carry, values = run(carry, first_step, steps)
        return carry, values, None
    n_chunks, tail = divmod(steps, snapshot_every)

    def run_chunk(carry, start):
        carry, values = run(carry, start, snapshot_every)
        return carry, (snapshot(carry), values)

    starts = first_step + jnp.arange(n_chunks, dtype=jnp.int32) * snapshot_every
    carry, (snaps, values) = jax.lax.scan(run_chunk, carry, starts)
    values = values.reshape(-1)
    if tail:
        carry, tail_values = run(carry, first_step + n_chunks * snapshot_every, tail)
        values = jnp.concatenate([values, tail_values])
    return carry, values, snaps


def _with_initial(params, snaps):
    if snaps is None:
        return None
    return jax.tree.map(lambda p, s: jnp.concatenate([p[None], s]), params, snaps)


def _train_fast_impl(params, X, y, key, opt_state, first_step, rate, **options):
    """The whole run without the per-step divergence guard.

    Returns ``(params, losses, opt_state, snapshots, finite)``; when ``finite``
    (every loss, gradient and the final params finite) these are exactly what
    the guarded loop returns (with ``diverged_at`` -1). Otherwise the caller
    reruns :func:`_train_guarded`, which is compiled only then.
    """
    optimizer = options["optimizer"].optimizer
    batch, _, fast_step = _program(params, X, y, key, options)
    fast = fast_step(optimizer=optimizer)

    def update(c, step_index):
        state, opt_state = c
        Xb, yb = batch(step_index)
        state, opt_state, value = fast.step(state, opt_state, Xb, yb)
        return (state, opt_state), value

    def run(c, start, length):
        indices = start + jnp.arange(length, dtype=jnp.int32)
        return jax.lax.scan(update, c, indices, unroll=min(UNROLL, length))

    opt_state = _initial_opt_state(optimizer, params, opt_state, rate, options["rate_name"])
    (state, opt_state), values, snaps = _chunks(
        run,
        (fast.to_state(params), opt_state),
        first_step=first_step,
        steps=options["steps"],
        snapshot_every=options["snapshot_every"],
        snapshot=lambda c: fast.from_state(c[0]),
    )
    final = fast.from_state(state)
    return final, values, opt_state, _with_initial(params, snaps), fast.finite(state)


_train_fast = compile_options.Program(_train_fast_impl, "train", static_argnames=_STATIC)
_train_fast_small = compile_options.Program(
    _train_fast_impl, "train_small", static_argnames=_STATIC
)


def _small(params, grad: str, rows: int, backend: str, output: str | None = None) -> bool:
    return (
        backend == "xla"
        and _steps.use_stacked(params, grad, rows, output)
        and sum(leaf.size for leaf in jax.tree.leaves(params)) <= SMALL_MAX_PARAMS
    )


def _fast_program(
    params, grad: str, rows: int, backend: str, output: str | None = None
) -> compile_options.Program:
    return _train_fast_small if _small(params, grad, rows, backend, output) else _train_fast


def _train_guarded_impl(params, X, y, key, opt_state, first_step, rate, **options):
    """The whole run with the divergence guard at every step (exact; slower per step).

    Returns ``(params, losses, diverged_at, opt_state, snapshots)``.
    """
    optimizer = options["optimizer"].optimizer
    batch, loss_and_grads, _ = _program(params, X, y, key, options)
    update = functools.partial(
        _update,
        batch=batch,
        loss_and_grads=loss_and_grads,
        optimizer=optimizer,
        first_step=first_step,
    )

    def run(carry, start, length):
        return jax.lax.scan(update, carry, start + jnp.arange(length, dtype=jnp.int32))

    opt_state = _initial_opt_state(optimizer, params, opt_state, rate, options["rate_name"])
    carry, values, snaps = _chunks(
        run,
        guard.init(params, opt_state),
        first_step=first_step,
        steps=options["steps"],
        snapshot_every=options["snapshot_every"],
        snapshot=guard.snapshot,
    )
    final, diverged_at = guard.final(carry, guard.all_finite(carry.params), options["steps"])
    return final, values, diverged_at, carry.opt_state, _with_initial(params, snaps)


_train_guarded = compile_options.Program(_train_guarded_impl, "guarded", static_argnames=_STATIC)
_train_guarded_small = compile_options.Program(
    _train_guarded_impl, "guarded_small", static_argnames=_STATIC
)


def _check_optimizer(optimizer, learning_rate) -> tuple[optax.GradientTransformation, str | None]:
    """``(transformation, name of its injected rate or None)``; TypeError/ValueError if bad."""
    validation.check_optimizer(
        optimizer, rate_name="learning_rate", with_rate=learning_rate is not None
    )
    if learning_rate is None:
        return optimizer, None
    if isinstance(learning_rate, bool) or not isinstance(
        learning_rate, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"learning_rate must be a number, got {type(learning_rate).__name__}")
    if not (np.isfinite(learning_rate) and learning_rate >= 0):
        raise ValueError(f"learning_rate must be finite and >= 0, got {learning_rate!r}")
    return optimizers.rate_injected(optimizer)


def _check_resume(optimizer, params, opt_state, first_step, steps: int) -> int:
    """Checks ``opt_state`` against ``optimizer.init(params)``; returns ``first_step``."""
    if isinstance(first_step, bool) or not isinstance(first_step, (int, np.integer)):
        raise TypeError(f"first_step must be an int, got {type(first_step).__name__}")
    if not 0 <= first_step <= np.iinfo(np.int32).max - steps:
        raise ValueError(
            f"first_step must be >= 0 (and first_step + steps < 2**31), got {first_step}"
        )
    if opt_state is not None:
        shapes = lambda tree: [(np.shape(a), jnp.result_type(a)) for a in jax.tree.leaves(tree)]  # noqa: E731
        expected = jax.eval_shape(optimizer.init, params)
        if jax.tree.structure(opt_state) != jax.tree.structure(expected) or shapes(  # type: ignore[operator]
            opt_state
        ) != shapes(expected):
            raise ValueError(
                "opt_state does not match optimizer.init(params): pass the opt_state of a "
                "TrainResult of the same optimizer and network"
            )
    return int(first_step)


def _train_backend(backend: str, output: str | None) -> str:
    """``"xla"`` or ``"pallas"``: the fused kernels train classifiers; regression runs on XLA."""
    resolved = resolve_backend(backend)
    if output is None or resolved == "xla":
        return resolved
    if backend == "auto":
        return "xla"
    raise ValueError(
        f"backend 'pallas' trains classifiers only; output={output!r} needs backend 'xla' or 'auto'"
    )


def train(
    params: mlp.Params,
    X: Array,
    y: Array,
    *,
    activation: mlp.ActivationLike = "sigmoid",
    optimizer: optax.GradientTransformation | Callable[..., optax.GradientTransformation],
    steps: int,
    learning_rate: float | None = None,
    batch_size: int | None = None,
    key: Array | None = None,
    grad: str = "manual",
    snapshot_every: int | None = None,
    backend: str = "auto",
    opt_state: optax.OptState | None = None,
    first_step: int = 0,
    output: str | None = None,
) -> TrainResult:
    """Trains a network; the whole run is one ``lax.scan`` inside one ``jit``.

    What reuses the compiled program: a call with the same shapes and dtypes, the
    same static options (``activation``, ``steps``, ``batch_size``, ``grad``,
    ``snapshot_every``, ``backend``, ``output``) and an *equal* optimizer: the same object, or
    the same optax transformation built again with equal hyperparameters
    (``optax.sgd(2.0)`` written in the call, chains, schedules,
    ``inject_hyperparams``; see :mod:`jaxmlp.optimizers`). An optimizer holding
    values that cannot be compared (large or traced arrays, unhashable objects)
    reuses the program only when it is the same object. Parameters, data, ``key``,
    ``learning_rate`` and ``first_step`` are values: new ones never recompile;
    passing ``opt_state`` (or not) is one program each.

    Scanning learning rates one run at a time: pass the factory and the rate,
    ``train(..., optimizer=optax.adam, learning_rate=r)``; the rate is held as
    optimizer state (``optax.inject_hyperparams``), so every rate runs the same
    compiled program.

    Args:
      params: initial parameters (tuple of Dense).
      X: (n, d) inputs.
      y: (n,) labels: {0, 1} for one output, 0..k-1 for k outputs; for
        ``output="identity"``, finite float targets (n,) (one output) or (n, k).
      activation: hidden-layer activation.
      optimizer: any optax transformation; with ``learning_rate``, a factory taking
        the learning rate first (``optax.adam``, ``optax.sgd``).
      steps: number of updates.
      learning_rate: the rate given to the ``optimizer`` factory, or None.
      batch_size: None for full-batch gradient descent (as in the post), or the
        size of shuffled mini-batches (a fresh permutation each epoch, the
        incomplete last batch dropped); needs ``key``.
      key: PRNG key for the mini-batch shuffle.
      grad: ``"manual"`` (the post's formulas) or ``"autodiff"``.
      snapshot_every: if set, also return the params every that many steps.
      backend: ``"xla"``, ``"pallas"`` (the fused kernels of :mod:`jaxmlp.kernels`
        compute each step's loss and gradients; Pallas interpret mode on CPU, slow)
        or ``"auto"``: pallas on GPU, xla elsewhere.
      opt_state: continue from this optimizer state (a previous ``TrainResult``'s;
        it carries a schedule's step count); None starts a fresh one.
      first_step: the index of this call's first update in the whole run: the
        mini-batch shuffle's position (epoch, batch). Two calls of 50 steps, the
        second with the first's ``params``, ``opt_state`` and ``first_step=50``,
        are one run of 100 steps.
      output: the output unit and its loss. None (or ``"logistic"`` for one
        output, ``"softmax"`` for k): a classifier, mean cross-entropy.
        ``"identity"``: regression, the mean over rows of half the squared error
        summed over the k outputs (the output delta of (P1) stays ``Y_hat - Y``);
        on the XLA backend (``"auto"`` picks it; the fused kernels are a
        classifier's).

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
    >>> more = train(result.params, X, y, optimizer=optax.sgd(1.0), steps=10,
    ...              opt_state=result.opt_state, first_step=10)
    >>> rates = [train(params, X, y, optimizer=optax.sgd, learning_rate=r, steps=10)
    ...          for r in (0.1, 1.0)]
    >>> fit = train(params, X, jnp.array([-1.0, 2.0]), optimizer=optax.sgd(0.1), steps=50,
    ...             output="identity")
    >>> bool(fit.loss[-1] < fit.loss[0])
    True
    """
    validation.check_not_traced("train", params=params, X=X, y=y, opt_state=opt_state)
    act = _activations.get(activation)
    sizes = validation.check_data(params, X, y, output=output)
    output = validation.check_output(output, sizes[-1])
    loss_and_grads_fn(grad)
    backend = _train_backend(backend, output)
    optimizer, rate_name = _check_optimizer(optimizer, learning_rate)
    steps = validation.check_steps(steps)
    if snapshot_every is not None:
        snapshot_every = validation.positive_int(snapshot_every, "snapshot_every")
        if snapshot_every > steps:
            raise ValueError(f"snapshot_every must be <= steps ({steps}), got {snapshot_every}")
    batch_size, key = validation.check_batching(batch_size, key, X.shape[0])
    validation.check_training_memory(
        sizes, rows=batch_size or X.shape[0], itemsize=X.dtype.itemsize, what="this training run"
    )
    first_step = _check_resume(optimizer, params, opt_state, first_step, steps)
    rate = None if rate_name is None else float(learning_rate)  # type: ignore[arg-type]
    args = (params, X, y, key, opt_state, np.int32(first_step), rate)
    options = dict(
        activation=act,
        optimizer=optimizers.static(optimizer),
        steps=steps,
        batch_size=batch_size,
        grad=grad,
        snapshot_every=snapshot_every,
        backend=backend,
        rate_name=rate_name,
        output=output,
    )
    # The fast program has no per-step divergence guard; only if it reports a
    # non-finite loss, gradient or final params is the run redone with the guard
    # (a second program, compiled on first need), so the result is always the
    # guarded loop's, and a run that stays finite compiles one loop.
    fast = _fast_program(params, grad, batch_size or X.shape[0], backend, output)
    final, values, opt_state, snapshots, finite = fast(*args, **options)
    diverged_at = None
    if not np.asarray(finite):  # the one host sync (np: cheaper than bool(Array))
        small = _small(params, grad, batch_size or X.shape[0], backend, output)
        guarded = _train_guarded_small if small else _train_guarded
        final, values, diverged, opt_state, snapshots = guarded(*args, **options)
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
