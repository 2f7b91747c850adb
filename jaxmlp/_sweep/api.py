"""``jaxmlp.sweep``: check the arguments, plan, compile, run the chunks, assemble."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

import jax
import numpy as np
import optax

from jaxmlp import activations as _activations
from jaxmlp import mlp, optimizers, validation
from jaxmlp._sweep import driver, resume
from jaxmlp._sweep.parts import host_threads
from jaxmlp._sweep.plan import (
    DEFAULT_LOSS_POINTS,
    MAX_SLOTS,
    Plan,
    Spec,
    default_chunk,
    indices,
    loss_steps,
    pack,
    work_chunk,
)
from jaxmlp._sweep.programs import programs as compiled_programs
from jaxmlp._sweep.result import SweepInterrupted, SweepResult, assemble
from jaxmlp.kernels.backends import resolve_backend

Array = jax.Array


def _plan(grid: validation.Grid, optimizer, X, *, n_outputs, devices, **options) -> Plan:
    """The :class:`Plan` of a checked call (the packing of its models into bins)."""
    rate_name = None
    if grid.learning_rates is not None:
        optimizer, rate_name = optimizers.rate_injected(optimizer)
    per_width = len(grid.seeds) * (1 if grid.learning_rates is None else len(grid.learning_rates))
    one_per_bin = options["backend"] == "pallas" or options["depth"] > 1
    packing = pack(
        grid.widths,
        per_width,
        rows=options["batch_size"] or int(X.shape[0]),
        n_devices=len(devices),
        threads=host_threads(devices),
        max_slots=1 if one_per_bin else MAX_SLOTS,
    )
    return Plan(
        widths=grid.widths,
        activations=grid.activations,
        models_per_width=per_width,
        n_features=int(X.shape[1]),
        n_outputs=n_outputs,
        optimizer=optimizers.static(optimizer),
        n_examples=int(X.shape[0]),
        packing=packing,
        learning_rates=grid.learning_rates,
        rate_name=rate_name,
        **options,
    )


def _host_data(X, y, X_test, y_test, key) -> tuple[np.ndarray, ...]:
    """The data as the programs take it: float32 inputs, int32 labels, the raw (2,) key."""
    key_data = key if key.dtype == np.uint32 else jax.random.key_data(key)
    test = () if X_test is None else (np.asarray(X_test, np.float32), np.asarray(y_test, np.int32))
    return (
        np.asarray(X, np.float32),
        np.asarray(y, np.int32),
        *test,
        np.asarray(key_data, np.uint32),
    )


def _put(programs, X, y, X_test, y_test, key) -> driver.Data:
    """The data on the devices, replicated."""
    X, y, *test, key_data = (
        jax.device_put(a, programs.replicated) for a in _host_data(X, y, X_test, y_test, key)
    )
    return driver.Data(X, y, tuple(test), key_data)


# Long by its signature: 22 keyword options, one per line. The body is the five steps
# check -> plan -> programs -> driver -> assemble, each a call into its own module.
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
    depth: int = 1,
    learning_rates: Sequence[float] | None = None,
) -> SweepResult:
    """Trains every (hidden width, activation, seed) MLP in one compiled program.

    Config ``(w, a, s)`` gets the result of ``jaxmlp.train(jaxmlp.init_mlp(
    jax.random.key(s), (d, w, k), scheme), X, y, activation=a, optimizer=optimizer,
    steps=steps, batch_size=batch_size, key=key)`` up to float rounding (the
    post's manual gradients, the same divergence guard); with ``depth`` hidden
    layers the sizes are ``(d, w, ..., w, k)``. The models are packed into bins
    (see :mod:`jaxmlp._sweep`) sharded over ``devices``. Calling again with the
    same shapes and grid and an equal optimizer (the same object, or one built
    again with the same hyperparameters, :mod:`jaxmlp.optimizers`) reuses the
    compiled programs.

    Args:
      X: (n, d) training inputs.
      y: (n,) labels: {0, 1} (one output) or 0..k-1 (at most
        ``jaxmlp.validation.MAX_CLASSES`` classes).
      widths: hidden widths, distinct positive ints.
      activations: hidden activations (names or Activation objects), distinct names.
      seeds: distinct ints in ``jaxmlp.validation.SEED_RANGE``; model ``s`` starts
        from ``init_mlp(jax.random.key(s), ...)``.
      steps: updates per model.
      optimizer: any optax transformation, applied to each model separately; with
        ``learning_rates``, a factory taking the learning rate first (``optax.adam``,
        ``lambda lr: optax.sgd(lr, momentum=0.9)``).
      X_test, y_test: optional (m, d) and (m,) held-out data.
      batch_size: None (full batch) or the mini-batch size, shuffled as ``train``
        does with ``key`` (the same batches for every model).
      scheme: initialisation scheme of :func:`jaxmlp.init_mlp`.
      key: PRNG key of the mini-batch shuffle; required with ``batch_size``.
      n_outputs: output units k; default 1 for labels in {0, 1}, else max(y) + 1.
      chunk_steps: updates per compiled chunk (progress, checkpoints and Ctrl-C
        happen between chunks); default about a second of work
        (``validation.CHUNK_FLOPS``, a divisor of ``steps`` where one is near), at
        most a tenth of the run with ``progress`` or ``checkpoint``.
      progress: show a tqdm progress bar over the steps.
      checkpoint: path of a checkpoint written after every chunk; if it exists
        (from a call with the same arguments, data and optimizer hyperparameters)
        the sweep resumes from it; one written otherwise is refused. Needs an
        optimizer that :func:`jaxmlp.optimizers.fingerprint` can key.
      loss_points: at most this many points kept of each loss curve.
      on_chunk: called with the number of steps done after each chunk (and its
        checkpoint).
      devices: devices to shard over; default ``jax.devices()`` (all processes').
      backend: ``"xla"``, ``"pallas"`` (each step's loss and gradients by the fused
        kernels of :mod:`jaxmlp.kernels`, one model per bin; Pallas interpret mode
        on CPU, slow) or ``"auto"``: pallas on GPU, xla elsewhere.
      depth: hidden layers per model, each ``w`` wide. With more than one, a bin
        holds one model (a hidden-to-hidden layer is then a dense ``(C, C)``
        matrix whose padding stays zero; packing several models would make it
        block-diagonal), so deep sweeps of mixed widths cost more per model.
      learning_rates: optional learning-rate axis: model ``(w, a, s, r)`` trains
        with ``optimizer(r)`` (the rate is injected into each model's optimizer
        state, ``optax.inject_hyperparams``), and results get an axis for it.

    Returns:
      A :class:`SweepResult`.

    Raises:
      SweepInterrupted: Ctrl-C; the run stops between chunks (each about a second of
        work, ``validation.CHUNK_FLOPS``), and ``.result`` holds the models after the
        steps that finished (a ``KeyboardInterrupt`` subclass).

    >>> import jax.numpy as jnp, optax
    >>> X, y = (jnp.array([[0.0, 0.0], [3.0, 0.0]]), jnp.array([1, 0]))
    >>> r = sweep(X, y, widths=(2, 4), activations=("tanh", "relu"), seeds=(0, 1), steps=10,
    ...           optimizer=optax.sgd(0.5))
    >>> r.final_loss.shape, r.loss.shape
    ((2, 2, 2), (2, 2, 2, 10))
    """
    grid = validation.check_grid(
        widths=widths,
        activations=activations,
        seeds=seeds,
        learning_rates=learning_rates,
        optimizer=optimizer,
    )
    steps = validation.check_steps(steps)
    backend = resolve_backend(backend)
    depth = validation.positive_int(depth, "depth")
    if scheme not in mlp.INIT_SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(mlp.INIT_SCHEMES)}; got {scheme!r}")
    n_outputs, batch_size, key = validation.check_sweep_data(
        X, y, X_test, y_test, n_outputs=n_outputs, batch_size=batch_size, key=key
    )
    models, rows = len(grid.seeds) * len(grid.learning_rates or (None,)), batch_size or len(X)
    validation.check_sweep_models(
        grid.widths, depth=depth, n_features=int(X.shape[1]), n_outputs=n_outputs,
        models=models, rows=rows,
    )  # fmt: skip
    if chunk_steps is None:  # about a second of work a chunk, so Ctrl-C stops it soon
        per_step = sum(
            validation.step_flops((X.shape[1], *[w] * depth, n_outputs), rows=rows, models=models)
            for w in grid.widths
        )
        chunk_steps = work_chunk(steps, per_step, validation.CHUNK_FLOPS)
        if progress or checkpoint:
            chunk_steps = min(chunk_steps, default_chunk(steps))
    chunk_steps = min(validation.positive_int(chunk_steps, "chunk_steps"), steps)
    loss_points = validation.positive_int(loss_points, "loss_points")
    devices = validation.check_devices(devices)
    checkpoint = validation.check_path(checkpoint, "checkpoint")
    validation.check_callback(on_chunk, "on_chunk")

    plan = _plan(
        grid, optimizer, X, n_outputs=n_outputs, devices=devices,
        scheme=scheme, batch_size=batch_size, backend=backend, depth=depth,
    )  # fmt: skip
    spec = Spec(plan, grid.seeds, steps, chunk_steps, loss_points, len(devices))
    saving, saved = None, None
    if checkpoint is not None:  # checked before anything compiles
        data_digest = resume.digest(*_host_data(X, y, X_test, y_test, key))
        saving = driver.Checkpoint(checkpoint, resume.fingerprint(spec, data_digest))
        if os.path.exists(saving.path):
            saved = resume.read(saving.path, saving.fingerprint, steps)
    n_test = None if X_test is None else int(X_test.shape[0])
    programs = compiled_programs(
        plan.without_rate_values(), devices, steps, spec.chunk_lengths, n_test
    )
    data = _put(programs, X, y, X_test, y_test, key)
    kept, index = loss_steps(steps, loss_points), indices(plan.packing, plan.widths)
    state, curves, done = driver.start(programs, spec, data, len(kept), saved)
    out, done = driver.run(
        programs, spec, state, curves, done=done, data=data, kept=kept, index=index,
        checkpoint=saving, progress=progress, on_chunk=on_chunk,
    )  # fmt: skip
    resumed_from = 0 if saved is None else saved.step
    if done < steps:  # Ctrl-C between chunks: keep what finished
        shown = kept < done
        partial = dataclasses.replace(spec, steps=done)
        result = assemble(partial, index, out, curves[..., shown], kept[shown])
        raise SweepInterrupted(done, steps, dataclasses.replace(result, resumed_from=resumed_from))
    return dataclasses.replace(assemble(spec, index, out, curves, kept), resumed_from=resumed_from)
