"""Many MLPs (hidden width x activation x seed) trained in one compiled program.

Layout. Models are grouped by hidden width; the group of width ``w`` holds the
parameters of every (activation, seed) pair stacked on two leading axes, exactly
the pytree :func:`jaxmlp.init_mlp` returns for one model but with leaves of shape
``(A, S, ...)``. Each step computes, per width group, the pre-activations of all
``A * S`` models in one fused elementwise pass (examples as columns, ``(A, S, w, n)``;
with two inputs the first layer is two broadcast multiply-adds, no matmul), applies
each activation to its static slice, and runs the post's hand-derived backward pass
(:mod:`jaxmlp.backprop`) in the same batched form, the other products as batched
``einsum`` (a broadcast-and-sum there measured 12x slower per step on XLA:CPU).
No width is padded: a group's
arrays have exactly its width. The optimizer is ``jax.vmap``-ed over the models, so
any optax transformation (even one that couples leaves, like global-norm clipping)
sees one model's pytree, as in :func:`jaxmlp.train`; the divergence guard of
:func:`jaxmlp.train` is applied per model. So config ``(w, a, s)`` gives the
result of ``train(init_mlp(jax.random.key(s), (d, w, k), scheme), X, y,
activation=a, ...)`` to float rounding.

Devices. The seed axis of every group is sharded over all devices with a
``NamedSharding`` on a one-axis ``Mesh`` (seeds padded to a multiple of the device
count with copies of the last seed, dropped from the results); the program has
no cross-model communication. Under ``jax.distributed`` (many processes) the
same call runs on the global mesh and gathers the results on every process.

Long sweeps. The steps run in chunks of ``chunk_steps``; after each chunk a tqdm
bar advances and, with ``checkpoint=path``, the whole sweep state is written
atomically (:mod:`jaxmlp.checkpoint`; ``.npz`` without pickle). A call with the
same arguments and an existing checkpoint resumes from it and ends with the same
results as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxmlp import activations as _activations
from jaxmlp import checkpoint as _checkpoint
from jaxmlp import mlp, training, validation
from jaxmlp.kernels.backends import resolve_backend

Array = jax.Array

# Inputs with at most this many features take the first layer as broadcast
# multiply-adds (fused with the activation) instead of a batched matmul.
SMALL_INPUT = 8
# At most this many points of each loss curve are kept (evenly spaced steps).
DEFAULT_LOSS_POINTS = 1000


# --------------------------------------------------------------------------------------
# The batched forward / backward pass of one width group.
# --------------------------------------------------------------------------------------


def _first_layer(W: Array, b: Array, XT: Array) -> Array:
    """``s = W x + b`` for all models: W (A, S, w, d), b (A, S, w), XT (d, n) -> (A, S, w, n)."""
    d = XT.shape[0]
    if d <= SMALL_INPUT:
        s = b[..., None] + W[..., 0:1] * XT[0][None, None, None, :]
        for j in range(1, d):
            s = s + W[..., j : j + 1] * XT[j][None, None, None, :]
        return s
    return jnp.einsum("aswd,dn->aswn", W, XT) + b[..., None]


def _per_activation(acts: Sequence[_activations.Activation], fn: Callable, *arrays) -> Array:
    """Applies ``fn(act, *slices)`` to each activation's slice (axis 0) and re-stacks."""
    parts = [fn(act, *(x[i : i + 1] for x in arrays)) for i, act in enumerate(acts)]
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=0)


def _output_terms(z: Array, y: Array) -> tuple[Array, Array]:
    """Per-model mean loss (A, S) and ``Delta_L = Y_hat - Y`` (A, S, k, n) from logits."""
    if z.shape[2] == 1:
        z1 = z[:, :, 0, :]
        yf = y.astype(z.dtype)[None, None, :]
        terms = jnp.maximum(z1, 0) - yf * z1 + jnp.log1p(jnp.exp(-jnp.abs(z1)))
        delta = (jax.nn.sigmoid(z1) - yf)[:, :, None, :]
    else:
        one_hot = jax.nn.one_hot(y, z.shape[2], dtype=z.dtype).T[None, None]
        terms = jax.nn.logsumexp(z, axis=2) - jnp.sum(z * one_hot, axis=2)
        delta = jax.nn.softmax(z, axis=2) - one_hot
    return jnp.mean(terms, axis=-1), delta


def _logits(params: mlp.Params, XT: Array, acts) -> tuple[Array, Array, Array]:
    """Forward pass of a group: pre-activations s, hidden h (A, S, w, n), logits (A, S, k, n)."""
    hidden, out = params
    s = _first_layer(hidden.W, hidden.b, XT)
    h = _per_activation(acts, lambda act, s_: act(s_), s)
    z = jnp.einsum("askw,aswn->askn", out.W, h) + out.b[..., None]
    return s, h, z


def _group_loss_and_grads(
    params: mlp.Params, XT: Array, y: Array, acts
) -> tuple[Array, mlp.Params]:
    """Mean loss (A, S) and the post's manual gradients of every model of one width group.

    The formulas of :mod:`jaxmlp.backprop` with examples as columns:
    ``Delta_2 = Y_hat - Y`` (P1), ``dW_2 = Delta_2 H^T / n`` (P2),
    ``Delta_1 = (W_2^T Delta_2) * g'(S_1)`` (P3), ``dW_1 = Delta_1 X^T / n`` (P4).
    """
    hidden, out = params
    n = XT.shape[1]
    s, h, z = _logits(params, XT, acts)
    value, delta = _output_terms(z, y)  # (P1)
    dW2 = jnp.einsum("askn,aswn->askw", delta, h) / n  # (P2)
    db2 = jnp.sum(delta, axis=-1) / n
    back = jnp.einsum("askw,askn->aswn", out.W, delta)  # W_2^T Delta_2
    delta1 = back * _per_activation(acts, lambda act, s_, h_: act.derivative(s_, h_), s, h)  # (P3)
    dW1 = jnp.einsum("aswn,dn->aswd", delta1, XT)
    dW1 = dW1 / n  # (P4)
    db1 = jnp.sum(delta1, axis=-1) / n
    return value, (mlp.Dense(dW1, db1), mlp.Dense(dW2, db2))


def _fused_group_loss_and_grads(
    params: mlp.Params, XT: Array, y: Array, acts
) -> tuple[Array, mlp.Params]:
    """:func:`_group_loss_and_grads` by the fused Pallas kernel (``backend="pallas"``).

    Per activation, ``jax.vmap`` of :func:`jaxmlp.kernels.loss_and_fused_grads`
    over the seeds: one kernel launch whose grid has a seed axis.
    """
    from jaxmlp import kernels

    many = jax.vmap(kernels.loss_and_fused_grads, in_axes=(0, None, None, None))
    X = XT.T
    parts = [
        many(jax.tree.map(lambda p, i=i: p[i], params), X, y, act) for i, act in enumerate(acts)
    ]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *parts)


def _vmap2(fn: Callable) -> Callable:
    """``fn`` mapped over the two leading (activation, seed) axes."""
    return jax.vmap(jax.vmap(fn))


def _finite_per_model(tree) -> Array:
    """(A, S) bool: every leaf of each model finite."""
    leaves = jax.tree.leaves(tree)
    checks = [
        jnp.all(jnp.isfinite(leaf.reshape(leaf.shape[:2] + (-1,))), axis=-1) for leaf in leaves
    ]
    return functools.reduce(jnp.logical_and, checks)


def _select(ok: Array, new, old):
    """Per model ``where(ok, new, old)`` over a pytree of (A, S, ...) leaves."""

    def pick(a, b):
        return jnp.where(ok.reshape(ok.shape + (1,) * (a.ndim - 2)), a, b)

    return jax.tree.map(pick, new, old)


# --------------------------------------------------------------------------------------
# State, plan and the compiled programs.
# --------------------------------------------------------------------------------------


class GroupState(NamedTuple):
    """Training state of one width group; every leaf has leading (A, S) axes."""

    params: mlp.Params
    opt_state: Any
    last_good: mlp.Params
    diverged_at: Array  # (A, S) int32, -1 while finite


class SweepState(NamedTuple):
    """The whole sweep's state between chunks (a pytree of arrays)."""

    groups: tuple[GroupState, ...]
    perm: Array  # (n,) current epoch's shuffle (mini-batches only)
    key: Array  # (2,) uint32 raw key data of the shuffle key


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Everything static about a sweep: it keys the compiled programs."""

    widths: tuple[int, ...]  # distinct, sorted: one group each
    activations: tuple[_activations.Activation, ...]
    n_seeds: int  # padded to a multiple of the device count
    n_features: int
    n_outputs: int
    optimizer: optax.GradientTransformation
    scheme: str
    batch_size: int | None
    n_examples: int
    backend: str = "xla"  # "xla" or "pallas" (the loss-and-gradients of each step)


def _state_sharding(plan: _Plan, mesh: Mesh, state_shapes) -> Any:
    """Seed axis (axis 1) of every group leaf sharded over the mesh; the rest replicated."""
    seeds = NamedSharding(mesh, PartitionSpec(None, "config"))
    rep = NamedSharding(mesh, PartitionSpec())
    groups = jax.tree.map(lambda _: seeds, state_shapes.groups)
    return SweepState(groups, rep, rep)  # type: ignore[arg-type]


def _init_state(plan: _Plan, seeds: Array, key_data: Array) -> SweepState:
    """Initial state: config (w, a, s) starts from ``init_mlp(key(seed), (d, w, k), scheme)``."""
    A = len(plan.activations)
    groups = []
    for w in plan.widths:
        sizes = (plan.n_features, w, plan.n_outputs)
        init = jax.vmap(lambda s, sizes=sizes: mlp.init_mlp(jax.random.key(s), sizes, plan.scheme))
        per_seed = init(seeds)  # leaves (S, ...)
        params = jax.tree.map(lambda p: jnp.broadcast_to(p[None], (A,) + p.shape), per_seed)
        opt_state = _vmap2(plan.optimizer.init)(params)
        groups.append(
            GroupState(params, opt_state, params, jnp.full((A, len(seeds)), -1, jnp.int32))
        )
    perm = jnp.arange(plan.n_examples, dtype=jnp.int32)
    return SweepState(tuple(groups), perm, key_data)


def _batch(plan: _Plan, step: Array, perm: Array, key_data: Array, XT: Array, y: Array):
    """The examples of one update, as :func:`jaxmlp.train` draws them (same key, same order)."""
    if plan.batch_size is None:
        return XT, y, perm, key_data
    n_batches = plan.n_examples // plan.batch_size
    epoch, batch = step // n_batches, step % n_batches
    positions = batch * plan.batch_size + jnp.arange(plan.batch_size, dtype=jnp.int32)
    key = jax.random.wrap_key_data(key_data)
    idx = training.shuffled_positions(key, epoch, positions, plan.n_examples)
    return jnp.take(XT, idx, axis=1), y[idx], perm, key_data


def _group_update(plan: _Plan, g: GroupState, XT: Array, y: Array, step: Array):
    """One guarded update of every model of a group, exactly as :func:`jaxmlp.train`'s."""
    loss_and_grads = (
        _fused_group_loss_and_grads if plan.backend == "pallas" else _group_loss_and_grads
    )
    value, grads = loss_and_grads(g.params, XT, y, plan.activations)
    updates, opt_state = _vmap2(plan.optimizer.update)(grads, g.opt_state, g.params)
    new_params = _vmap2(optax.apply_updates)(g.params, updates)
    ok = jnp.isfinite(value) & _finite_per_model(grads) & (g.diverged_at < 0)
    g = GroupState(
        params=_select(ok, new_params, g.params),
        opt_state=_select(ok, opt_state, g.opt_state),
        last_good=_select(ok, g.params, g.last_good),
        diverged_at=jnp.where(ok | (g.diverged_at >= 0), g.diverged_at, step),
    )
    return g, value


def _run_chunk(plan: _Plan, state: SweepState, X: Array, y: Array, start: Array, length: int):
    """``length`` updates from step ``start``; returns the state and the losses (length, ...)."""
    XT = X.astype(jnp.float32).T

    def body(state, step):
        XTb, yb, perm, key_data = _batch(plan, step, state.perm, state.key, XT, y)
        groups, values = [], []
        for g in state.groups:
            g, value = _group_update(plan, g, XTb, yb, step)
            groups.append(g)
            values.append(value)
        return SweepState(tuple(groups), perm, key_data), tuple(values)

    steps = start + jnp.arange(length, dtype=jnp.int32)
    return jax.lax.scan(body, state, steps)


def _final_params(g: GroupState, steps: int) -> tuple[mlp.Params, Array]:
    """:func:`jaxmlp.train`'s choice of final params and ``diverged_at`` per model."""
    final_ok = (g.diverged_at < 0) & _finite_per_model(g.params)
    params = _select(final_ok, g.params, g.last_good)
    diverged = (g.diverged_at < 0) & ~final_ok
    return params, jnp.where(diverged, jnp.int32(steps), g.diverged_at)


def _evaluate(plan: _Plan, params: mlp.Params, X: Array, y: Array) -> tuple[Array, Array]:
    """Mean loss and accuracy (A, S) of every model of a group on (X, y)."""
    _, _, z = _logits(params, X.astype(jnp.float32).T, plan.activations)
    value, _ = _output_terms(z, y)
    if z.shape[2] == 1:
        labels = (z[:, :, 0, :] >= 0).astype(jnp.int32)  # sigmoid(z) >= 0.5
    else:
        labels = jnp.argmax(z, axis=2).astype(jnp.int32)
    accuracy = jnp.mean((labels == y[None, None, :].astype(jnp.int32)).astype(jnp.float32), axis=-1)
    return value, accuracy


def _finish(plan: _Plan, state: SweepState, X, y, X_test, y_test, steps: int):
    out = []
    for g in state.groups:
        params, diverged_at = _final_params(g, steps)
        loss, acc = _evaluate(plan, params, X, y)
        test = _evaluate(plan, params, X_test, y_test) if X_test is not None else None
        out.append((params, diverged_at, loss, acc, test))
    return tuple(out)


@functools.lru_cache(maxsize=64)
def _programs(plan: _Plan, devices: tuple, chunk: int, steps: int, has_test: bool):
    """The jitted init, chunk and finish programs of a plan (cached: repeated calls reuse them)."""
    mesh = Mesh(np.array(devices), ("config",))
    rep = NamedSharding(mesh, PartitionSpec())
    shapes = jax.eval_shape(
        functools.partial(_init_state, plan),
        jax.ShapeDtypeStruct((plan.n_seeds,), jnp.int32),
        jax.ShapeDtypeStruct((2,), jnp.uint32),
    )
    state_sharding = _state_sharding(plan, mesh, shapes)
    init = jax.jit(
        functools.partial(_init_state, plan), in_shardings=(rep, rep), out_shardings=state_sharding
    )
    loss_sharding = NamedSharding(mesh, PartitionSpec(None, None, "config"))
    run = jax.jit(
        functools.partial(_run_chunk, plan, length=chunk),
        in_shardings=(state_sharding, rep, rep, rep),
        out_shardings=(state_sharding, tuple(loss_sharding for _ in plan.widths)),
        donate_argnums=0,
    )
    tail = steps % chunk
    run_tail = None
    if tail:
        run_tail = jax.jit(
            functools.partial(_run_chunk, plan, length=tail),
            in_shardings=(state_sharding, rep, rep, rep),
            out_shardings=(state_sharding, tuple(loss_sharding for _ in plan.widths)),
            donate_argnums=0,
        )
    data = (rep, rep, rep, rep) if has_test else (rep, rep, None, None)
    finish = jax.jit(
        functools.partial(_finish, plan, steps=steps), in_shardings=(state_sharding, *data)
    )
    return init, run, run_tail, finish, state_sharding


# --------------------------------------------------------------------------------------
# The public API.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """What :func:`sweep` returns; arrays are indexed ``[width, activation, seed]``.

    Attributes:
      widths, activations, seeds: the grid axes, in the order given.
      final_loss: (W, A, S) mean training loss of the final params.
      train_accuracy: (W, A, S) training accuracy of the final params.
      test_loss, test_accuracy: (W, A, S) on the held-out set, or None without one.
      loss: (W, A, S, T) training loss curves: ``loss[..., t]`` is the loss before
        update ``loss_steps[t]`` (as :func:`jaxmlp.train`'s ``loss``).
      loss_steps: (T,) the steps kept in ``loss``: all of them, or evenly spaced
        ones (first and last included) when there are more than ``loss_points``.
      diverged_at: (W, A, S) int, the step at which a loss or gradient turned
        non-finite (training of that model stopped there), else -1.
      steps: number of updates of every model.
    """

    widths: tuple[int, ...]
    activations: tuple[str, ...]
    seeds: tuple[int, ...]
    final_loss: np.ndarray
    train_accuracy: np.ndarray
    test_loss: np.ndarray | None
    test_accuracy: np.ndarray | None
    loss: np.ndarray
    loss_steps: np.ndarray
    diverged_at: np.ndarray
    steps: int
    group_params: tuple = dataclasses.field(repr=False, default=())

    def params(self, width: int, activation: str, seed: int) -> mlp.Params:
        """The trained params of one config, unpadded: ``(Dense(W (w, d), b), Dense(W (k, w), b))``.

        >>> import optax
        >>> X, y = jax.numpy.ones((4, 2)), jax.numpy.array([0, 1, 0, 1])
        >>> r = sweep(X, y, widths=(3,), activations=("tanh",), seeds=(0,), steps=2,
        ...           optimizer=optax.sgd(0.1))
        >>> [layer.W.shape for layer in r.params(3, "tanh", 0)]
        [(3, 2), (1, 3)]
        """
        name = _activations.get(activation).name if not isinstance(activation, str) else activation
        for value, axis, label in (
            (width, self.widths, "width"),
            (name, self.activations, "activation"),
            (seed, self.seeds, "seed"),
        ):
            if value not in axis:
                raise ValueError(f"{label} must be one of {axis}, got {value!r}")
        group = sorted(self.widths).index(width)
        a, s = self.activations.index(name), self.seeds.index(seed)
        return jax.tree.map(lambda p: jnp.asarray(p[a, s]), self.group_params[group])


def _check_axis(values, name: str, kind) -> tuple:
    try:
        values = tuple(values)
    except TypeError:
        raise TypeError(f"{name} must be a sequence, got {type(values).__name__}") from None
    if not values:
        raise ValueError(f"{name} must not be empty")
    for v in values:
        if kind is int and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
            raise TypeError(f"{name} must hold ints, got {type(v).__name__} ({v!r})")
    keys = [v.name if isinstance(v, _activations.Activation) else v for v in values]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{name} must not repeat values, got {keys}")
    return values


def _default_chunk(steps: int) -> int:
    """About a tenth of the run, preferring a divisor of ``steps`` (one compiled chunk)."""
    for chunk in range(-(-steps // 10), max(steps // 5, 1) + 1):
        if steps % chunk == 0:
            return chunk
    return -(-steps // 10)


def _loss_steps(steps: int, points: int) -> np.ndarray:
    if steps <= points:
        return np.arange(steps)
    return np.unique(np.round(np.linspace(0, steps - 1, points)).astype(np.int64))


def _to_host(x) -> np.ndarray:
    """A (possibly multi-process) array as a full numpy array on this process."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        x = multihost_utils.process_allgather(x, tiled=True)
    return np.asarray(x)


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def sweep(
    X: Array,
    y: Array,
    *,
    widths: Sequence[int],
    activations: Sequence[str | _activations.Activation],
    seeds: Sequence[int],
    steps: int,
    optimizer: optax.GradientTransformation,
    X_test: Array | None = None,
    y_test: Array | None = None,
    batch_size: int | None = None,
    scheme: str = "glorot_uniform",
    key: Array | None = None,
    n_outputs: int | None = None,
    chunk_steps: int | None = None,
    progress: bool = False,
    checkpoint: str | os.PathLike | None = None,
    loss_points: int = DEFAULT_LOSS_POINTS,
    on_chunk: Callable[[int], None] | None = None,
    devices: Sequence[jax.Device] | None = None,
    backend: str = "auto",
) -> SweepResult:
    """Trains every (hidden width, activation, seed) one-hidden-layer MLP in one compiled program.

    Config ``(w, a, s)`` gets the result of ``jaxmlp.train(jaxmlp.init_mlp(
    jax.random.key(s), (d, w, k), scheme), X, y, activation=a, optimizer=optimizer,
    steps=steps, batch_size=batch_size, key=key)`` up to float rounding (the
    post's manual gradients, the same divergence guard). The seed axis is
    sharded over ``devices``. Calling again with the same shapes, grid and
    optimizer object reuses the compiled program.

    Args:
      X: (n, d) training inputs.
      y: (n,) labels: {0, 1} (one output) or 0..k-1.
      widths: hidden widths, distinct positive ints.
      activations: hidden activations (names or Activation objects), distinct names.
      seeds: distinct ints; model ``s`` starts from ``init_mlp(jax.random.key(s), ...)``.
      steps: updates per model.
      optimizer: any optax transformation, applied to each model separately.
      X_test, y_test: optional (m, d) and (m,) held-out data.
      batch_size: None (full batch) or the mini-batch size, shuffled as ``train``
        does with ``key`` (the same batches for every model).
      scheme: initialisation scheme of :func:`jaxmlp.init_mlp`.
      key: PRNG key of the mini-batch shuffle; required with ``batch_size``.
      n_outputs: output units k; default 1 for labels in {0, 1}, else max(y) + 1.
      chunk_steps: updates per compiled chunk (progress and checkpoints happen
        between chunks); default all of them, or about a tenth with
        ``progress`` or ``checkpoint``.
      progress: show a tqdm progress bar over the steps.
      checkpoint: path of an ``.npz`` checkpoint written after every chunk; if it
        exists (from a call with the same arguments) the sweep resumes from it.
      loss_points: at most this many points kept of each loss curve.
      on_chunk: called with the number of steps done after each chunk (and its
        checkpoint).
      devices: devices to shard over; default ``jax.devices()`` (all processes').
      backend: ``"xla"``, ``"pallas"`` (each step's loss and gradients by the fused
        kernels of :mod:`jaxmlp.kernels`; Pallas interpret mode on CPU, slow) or
        ``"auto"``: pallas on GPU, xla elsewhere.

    Returns:
      A :class:`SweepResult`.

    >>> import optax
    >>> X, y = (jnp.array([[0.0, 0.0], [3.0, 0.0]]), jnp.array([1, 0]))
    >>> r = sweep(X, y, widths=(2, 4), activations=("tanh", "relu"), seeds=(0, 1), steps=10,
    ...           optimizer=optax.sgd(0.5))
    >>> r.final_loss.shape, r.loss.shape
    ((2, 2, 2), (2, 2, 2, 10))
    """
    # ---- validation (before anything compiles) ----
    widths = tuple(int(w) for w in _check_axis(widths, "widths", int))
    for w in widths:
        validation.positive_int(w, "widths entries")
    acts = tuple(_activations.get(a) for a in _check_axis(activations, "activations", None))
    if len({a.name for a in acts}) != len(acts):
        raise ValueError(f"activations must have distinct names, got {[a.name for a in acts]}")
    seeds = tuple(int(s) for s in _check_axis(seeds, "seeds", int))
    steps = validation.positive_int(steps, "steps")
    backend = resolve_backend(backend)
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"optimizer must be an optax.GradientTransformation, got {type(optimizer).__name__}"
        )
    if scheme not in mlp.INIT_SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(mlp.INIT_SCHEMES)}; got {scheme!r}")
    if not hasattr(X, "shape") or len(X.shape) != 2:
        raise ValueError(f"X must be 2-D with shape (n, d), got shape {getattr(X, 'shape', X)}")
    d = int(X.shape[1])
    validation.check_inputs(X, d)
    if n_outputs is None:
        y_max = int(np.max(np.asarray(y))) if np.size(np.asarray(y)) else 0
        n_outputs = 1 if y_max <= 1 else y_max + 1
    n_outputs = validation.positive_int(n_outputs, "n_outputs")
    validation.check_labels(y, X.shape[0], n_outputs)
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test must be given together")
    if X_test is not None:
        validation.check_inputs(X_test, d, name="X_test")
        validation.check_labels(y_test, X_test.shape[0], n_outputs, name="y_test")
    batch_size, key = validation.check_batching(batch_size, key, X.shape[0])
    if chunk_steps is None:
        chunk_steps = _default_chunk(steps) if (progress or checkpoint) else steps
    chunk_steps = min(validation.positive_int(chunk_steps, "chunk_steps"), steps)
    loss_points = validation.positive_int(loss_points, "loss_points")
    devices = tuple(jax.devices() if devices is None else devices)

    # ---- plan and compiled programs ----
    n_dev = len(devices)
    padded = seeds + (seeds[-1],) * (-len(seeds) % n_dev)
    plan = _Plan(
        widths=tuple(sorted(widths)),
        activations=acts,
        n_seeds=len(padded),
        n_features=d,
        n_outputs=n_outputs,
        optimizer=optimizer,
        scheme=scheme,
        batch_size=batch_size,
        n_examples=int(X.shape[0]),
        backend=backend,
    )
    has_test = X_test is not None
    init, run, run_tail, finish, state_sharding = _programs(
        plan, devices, chunk_steps, steps, has_test
    )
    X = jnp.asarray(X, jnp.float32)
    y = jnp.asarray(y, jnp.int32)
    if has_test:
        X_test = jnp.asarray(X_test, jnp.float32)
        y_test = jnp.asarray(y_test, jnp.int32)
    key_data = jax.random.key_data(key)
    kept = _loss_steps(steps, loss_points)
    G, A, S = len(plan.widths), len(acts), len(padded)
    curves = np.full((G, len(kept), A, S), np.nan, np.float32)

    # ---- state: fresh, or resumed from a checkpoint ----
    path = None if checkpoint is None else os.fspath(checkpoint)
    fingerprint = {
        "data": _digest(X, y, *((X_test, y_test) if has_test else ())),
        "widths": list(widths),
        "activations": [a.name for a in acts],
        "seeds": list(padded),
        "steps": steps,
        "chunk_steps": chunk_steps,
        "scheme": scheme,
        "batch_size": batch_size,
        "key": _digest(key_data),
        "n_outputs": n_outputs,
        "loss_points": loss_points,
    }
    done = 0
    state = None
    if path is not None and os.path.exists(path):
        leaves, meta = _checkpoint.load(path)
        if meta.get("fingerprint") != fingerprint:
            raise ValueError(
                f"checkpoint {path!r} was written by a sweep with other arguments; "
                "pass another path or delete it"
            )
        shapes = jax.eval_shape(init, jnp.zeros(S, jnp.int32), key_data)
        treedef = jax.tree.structure(shapes)
        expected = [(tuple(s.shape), s.dtype) for s in jax.tree.leaves(shapes)]
        got = [(tuple(leaf.shape), leaf.dtype) for leaf in leaves[:-1]]
        if got != expected:
            raise ValueError(
                f"checkpoint {path!r} does not match this sweep's state (another optimizer?)"
            )
        state = jax.device_put(jax.tree.unflatten(treedef, leaves[:-1]), state_sharding)
        curves = np.array(leaves[-1])
        done = int(meta["step"])
    if state is None:
        state = init(jnp.asarray(padded, jnp.int32), key_data)

    # ---- the chunks ----
    from tqdm.auto import tqdm

    with tqdm(total=steps, initial=done, disable=not progress, unit="step", desc="sweep") as bar:
        while done < steps:
            length = min(chunk_steps, steps - done)
            program = run if length == chunk_steps else run_tail
            state, values = program(state, X, y, jnp.int32(done))
            rows = (kept >= done) & (kept < done + length)
            if rows.any():
                chunk_values = np.stack([_to_host(v) for v in values])  # (G, length, A, S)
                curves[:, rows] = chunk_values[:, kept[rows] - done]
            done += length
            if path is not None:
                host_state = jax.tree.map(_to_host, state)
                if jax.process_index() == 0:
                    meta = {"fingerprint": fingerprint, "step": done}
                    _checkpoint.save(path, (host_state, curves), meta)
            bar.update(length)
            if on_chunk is not None:
                on_chunk(done)

    # ---- results, indexed [width, activation, seed] ----
    out = jax.tree.map(_to_host, finish(state, X, y, X_test, y_test))
    order = [plan.widths.index(w) for w in widths]
    n_seeds = len(seeds)

    def grid(i):
        return np.stack([out[g][i][:, :n_seeds] for g in order])

    return SweepResult(
        widths=widths,
        activations=tuple(a.name for a in acts),
        seeds=seeds,
        final_loss=grid(2),
        train_accuracy=grid(3),
        test_loss=np.stack([out[g][4][0][:, :n_seeds] for g in order]) if has_test else None,
        test_accuracy=np.stack([out[g][4][1][:, :n_seeds] for g in order]) if has_test else None,
        loss=np.moveaxis(curves[order][:, :, :, :n_seeds], 1, -1),
        loss_steps=kept,
        diverged_at=grid(1),
        steps=steps,
        group_params=tuple(out[g][0] for g in range(G)),
    )
