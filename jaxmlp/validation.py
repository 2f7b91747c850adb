"""Checks of user input at the API boundary, before anything is compiled.

Every failure is a ``ValueError`` or ``TypeError`` that names the argument,
what was expected and what was given. Value checks (finite, label range) are
skipped for tracers, so the public functions still work under ``jit``/``vmap``.

Limits that protect the machine (each named in the error that enforces it, and
listed in docs/cli.md):

* :data:`MAX_PARAMS`: parameters of one network (and entries of one layer);
* :data:`MAX_CLASSES`: outputs of a network, i.e. classes of its labels;
* :data:`MAX_STEPS`: updates of one training run (epochs of one estimator fit);
* :data:`MAX_LAYERS`: weight layers of one network;
* :data:`MEMORY_FRACTION`: share of the machine's memory a network, a sweep or a fit may
  need;
* :data:`CHUNK_FLOPS`: work of one compiled call of a long loop (Ctrl-C's latency);
* :data:`PLAYGROUND_REQUEST_WORK`: work of one request of the playground (how long it
  holds the session).

``train``, ``sweep``, the estimators, the command line and the playground all check
these same limits, through the functions below.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

# 2**31 - 1: XLA indexes arrays with 32-bit ints in places, and beyond it jax.random and
# XLA:CPU abort the process instead of raising (sizes (2, 3e9, 1) did); 8 GiB of float32.
MAX_PARAMS = 2**31 - 1
# Outputs of a classifier: one stray label 10**7 would otherwise build a 10**7-output model.
MAX_CLASSES = 10_000
# Updates of one run: the (steps,) loss curve is kept (400 MB of float32 at the limit),
# and step indices are int32 inside the compiled loop.
MAX_STEPS = 100_000_000
# Weight layers of one network: each is traced and compiled on its own, so depth costs
# compile time linearly (a sweep of depth 20000 never finished tracing).
MAX_LAYERS = 64
# Work of one compiled call of a long loop (the command line's train chunks, the sweep's
# chunks): about a second of one CPU core, so Ctrl-C, which Python handles between
# calls, is honoured within about a second.
CHUNK_FLOPS = 2e9
# Work one request of the playground may do while it holds the session (every other
# request of the page waits for it): about 0.8 s on 2 CPU cores under load. Counted by
# jaxmlp.playground.budget's model of a request (the weights' multiply-adds, plus the
# activations, the optimizer's update, a cost per layer, the loss curves and pictures,
# fitted to measured times), not in CHUNK_FLOPS' units.
PLAYGROUND_REQUEST_WORK = 20_000_000_000
# A network whose parameters need more than this share of the memory (the device's, or
# the machine's on CPU) is refused by init_mlp: training needs several copies of them.
MEMORY_FRACTION = 0.5


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_key(key, name: str = "key") -> None:
    """Checks that ``key`` is one JAX PRNG key: ``jax.random.key(s)`` or a raw uint32 key.

    >>> check_key(jax.random.key(0))
    >>> check_key(0)
    Traceback (most recent call last):
    TypeError: key must be a JAX PRNG key such as jax.random.key(0), got int 0
    """
    dtype, shape = getattr(key, "dtype", None), getattr(key, "shape", None)
    if dtype is not None and isinstance(key, (jax.Array, np.ndarray)):
        if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key) and shape == ():
            return
        if dtype == np.uint32 and shape in ((2,), (4,)):  # raw threefry / rbg keys
            return
    shown = repr(key) if np.ndim(key) == 0 else f"of shape {shape} and dtype {dtype}"
    raise TypeError(
        f"{name} must be a JAX PRNG key such as jax.random.key(0), got {type(key).__name__} {shown}"
    )


def memory_bytes() -> int:
    """Memory of the default device: its allocator's limit, else the machine's RAM.

    >>> memory_bytes() > 2**20
    True
    """
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:  # noqa: BLE001 - backends without memory stats (CPU)
        stats = {}
    if stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(n_bytes: int, what: str) -> None:
    """Refuses ``what`` when it needs more than MEMORY_FRACTION of :func:`memory_bytes`.

    >>> check_memory(2**20, "a small network")
    """
    budget = int(memory_bytes() * MEMORY_FRACTION)
    if n_bytes > budget:
        raise ValueError(
            f"{what} needs {n_bytes / 2**30:.1f} GiB, more than MEMORY_FRACTION = "
            f"{MEMORY_FRACTION} of this device's {memory_bytes() / 2**30:.1f} GiB"
        )


# Copies of the parameters training holds at once: the parameters, their gradients, two
# optimizer moments (Adam) and the divergence guard's last finite copy.
TRAINING_COPIES = 5


def count_params(sizes: Sequence[int]) -> int:
    """Parameters of a network of layer ``sizes``.

    >>> count_params((2, 3, 1))
    13
    """
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def training_bytes(sizes: Sequence[int], *, rows: int, models: int = 1, itemsize: int = 4) -> int:
    """Memory to train ``models`` networks of ``sizes`` on ``rows`` rows at a time: the
    parameters' copies (:data:`TRAINING_COPIES`) and the activations (each layer's
    pre-activation and output, for every row).

    >>> training_bytes((2, 3, 1), rows=200)
    6660
    """
    params = models * count_params(sizes)
    units = models * rows * sum(sizes[1:])
    return (TRAINING_COPIES * params + 2 * units) * itemsize


def step_flops(sizes: Sequence[int], *, rows: int, models: int = 1) -> int:
    """Multiply-adds of one training step (forward and backward, about 6 per parameter and
    row) of ``models`` networks of ``sizes`` on ``rows`` rows.

    >>> step_flops((2, 3, 1), rows=200)
    15600
    """
    return 6 * rows * models * count_params(sizes)


def chunk_length(limit: int, flops_per_unit: float, chunk_flops: float | None = None) -> int:
    """Units (steps, epochs) of one compiled call of a long loop: about ``chunk_flops``
    (default :data:`CHUNK_FLOPS`) of work, at least 1 and at most ``limit``.

    >>> chunk_length(1000, step_flops((2, 3, 1), rows=200)), chunk_length(1000, 1e8)
    (1000, 20)
    """
    work = CHUNK_FLOPS if chunk_flops is None else chunk_flops
    return max(1, min(limit, int(work // max(flops_per_unit, 1.0))))


def check_training_memory(
    sizes: Sequence[int], *, rows: int, models: int = 1, itemsize: int = 4, what: str
) -> None:
    """Refuses a run whose :func:`training_bytes` exceed :data:`MEMORY_FRACTION`.

    >>> check_training_memory((2, 3, 1), rows=200, models=36, what="a sweep")
    """
    check_memory(training_bytes(sizes, rows=rows, models=models, itemsize=itemsize), what)


def check_sweep_models(
    widths: Sequence[int], *, depth: int, n_features: int, n_outputs: int, models: int, rows: int
) -> None:
    """The sweep's networks within the limits one network has (MAX_LAYERS, MAX_PARAMS), and
    all of them together within the memory limit (float32; ``models`` per width).

    >>> check_sweep_models((2, 8), depth=1, n_features=2, n_outputs=1, models=6, rows=200)
    """
    if depth + 1 > MAX_LAYERS:
        raise ValueError(f"depth must be at most MAX_LAYERS - 1 = {MAX_LAYERS - 1}, got {depth}")
    total = 0
    for width in widths:
        sizes = (n_features, *[width] * depth, n_outputs)
        try:
            check_sizes(sizes)
        except ValueError as e:
            raise ValueError(f"widths entry {width} at depth {depth}: {e}") from None
        total += training_bytes(sizes, rows=rows, models=models)
    check_memory(total, f"a sweep of {models * len(widths)} models on {rows} rows at a time")


def check_number(value, name: str) -> None:
    """A TypeError unless ``value`` is a real number: a Python or NumPy int or float, not a
    bool.

    >>> check_number(0.5, "noise")
    >>> check_number("1", "noise")
    Traceback (most recent call last):
    TypeError: noise must be a number, got str ('1')
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")


def check_not_traced(function: str, **values) -> None:
    """A TypeError when any of ``values`` is a tracer: ``function`` runs compiled loops of
    its own and reads results on the host, so it cannot run inside ``jit`` or ``vmap``.

    >>> check_not_traced("train", X=np.zeros(2))
    """
    for name, value in values.items():
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(value)):
            raise TypeError(
                f"{function} was called under a JAX transformation ({name} is a tracer): "
                f"{function} compiles and runs its own loop, so call it outside jax.jit and "
                "jax.vmap. To train many networks in one program use jaxmlp.sweep; to jit "
                "your own loop use jaxmlp.make_step."
            )


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """Returns ``sizes`` as a tuple of ints; at least two, all positive."""
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(
            f"sizes must be a sequence of ints such as (2, 3, 1), got {type(sizes).__name__}"
        ) from None
    if len(sizes) < 2:
        raise ValueError(
            f"sizes must have at least two entries (inputs, outputs), got {len(sizes)}: {sizes}"
        )
    for i, s in enumerate(sizes):
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"sizes[{i}] must be an int, got {type(s).__name__} ({s!r})")
        if s <= 0:
            raise ValueError(f"sizes must all be positive, got sizes[{i}] = {s} in {sizes}")
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) - 1 > MAX_LAYERS:
        raise ValueError(
            f"sizes make {len(sizes) - 1} weight layers; the limit is MAX_LAYERS = {MAX_LAYERS}"
        )
    n_params = count_params(sizes)
    if n_params > MAX_PARAMS:
        raise ValueError(
            f"sizes {sizes} make a network of {n_params:.3g} parameters; the limit is "
            f"MAX_PARAMS = {MAX_PARAMS} ({MAX_PARAMS:.3g})"
        )
    if sizes[-1] > MAX_CLASSES:
        raise ValueError(
            f"sizes[-1] = {sizes[-1]} outputs (classes) is beyond MAX_CLASSES = {MAX_CLASSES}"
        )
    return sizes


def check_params(params) -> tuple[int, ...]:
    """Checks that ``params`` is a chain of Dense layers; returns its sizes."""
    if not isinstance(params, (tuple, list)) or not params:
        raise TypeError(
            f"params must be a non-empty tuple of Dense layers (see init_mlp), "
            f"got {type(params).__name__}"
        )
    sizes: list[int] = []
    for i, layer in enumerate(params):
        if not (isinstance(layer, tuple) and hasattr(layer, "W") and hasattr(layer, "b")):
            raise TypeError(f"params[{i}] must be a Dense(W, b), got {type(layer).__name__}")
        W, b = layer.W, layer.b
        if np.ndim(W) != 2 or np.ndim(b) != 1 or np.shape(b)[0] != np.shape(W)[0]:
            raise ValueError(
                f"params[{i}] must have W of shape (out, in) and b of shape (out,), "
                f"got W {np.shape(W)} and b {np.shape(b)}"
            )
        if sizes and np.shape(W)[1] != sizes[-1]:
            raise ValueError(
                f"params[{i}].W must have {sizes[-1]} input columns (the previous layer's "
                f"width), got W of shape {np.shape(W)}"
            )
        for what, leaf in (("W", W), ("b", b)):
            if not jnp.issubdtype(getattr(leaf, "dtype", np.float64), jnp.floating):
                raise TypeError(f"params[{i}].{what} must have a floating dtype, got {leaf.dtype}")
        if not sizes:
            sizes.append(int(np.shape(W)[1]))
        sizes.append(int(np.shape(W)[0]))
    leaves = jax.tree.leaves(tuple((layer.W, layer.b) for layer in params))
    # On the host, as X is checked: nothing to compile for a new shape (a jitted
    # check cost a first call of train about 0.06 s), and zero-copy on the CPU.
    if all(_is_concrete(leaf) for leaf in leaves) and not all(
        np.isfinite(np.asarray(leaf)).all() for leaf in leaves
    ):
        raise ValueError("params must be finite, got NaN or inf values")
    return tuple(sizes)


def check_inputs(X, n_features: int, *, name: str = "X", batched: bool = True, dtype=None) -> None:
    """Checks a feature array: 2-D (n, d) when ``batched`` else 1-D (d,), finite floats.

    ``dtype``: the dtype ``X`` is computed in (default its own); ``X`` must be
    finite in it, so float64 values beyond float32's range are refused for float32.
    """
    if not hasattr(X, "shape") or not hasattr(X, "dtype"):
        raise TypeError(f"{name} must be an array, got {type(X).__name__}")
    expected_ndim = 2 if batched else 1
    expected = "(n, d)" if batched else "(d,)"
    if X.ndim != expected_ndim:
        raise ValueError(
            f"{name} must be {expected_ndim}-D with shape {expected}, got shape {tuple(X.shape)}"
        )
    if not jnp.issubdtype(X.dtype, jnp.floating):
        raise TypeError(f"{name} must have a floating dtype, got {X.dtype}")
    if X.shape[-1] != n_features:
        raise ValueError(
            f"{name} must have {n_features} features (the first layer's input size), "
            f"got {X.shape[-1]} in shape {tuple(X.shape)}"
        )
    if batched and X.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row, got shape {tuple(X.shape)}")
    if _is_concrete(X):
        _check_finite(np.asarray(X), name, dtype)


def _check_finite(values: np.ndarray, name: str, dtype) -> None:
    """``values`` finite, and finite in ``dtype`` (the dtype they are computed in) if given."""
    if not bool(np.isfinite(values).all()):
        raise ValueError(f"{name} must be finite, got NaN or inf values")
    if dtype is not None and np.dtype(dtype) != values.dtype:
        with np.errstate(over="ignore", invalid="ignore"):
            cast = values.astype(dtype)
        if not bool(np.isfinite(cast).all()):
            raise ValueError(
                f"{name} must be finite in {np.dtype(dtype).name}, the dtype it is computed in: "
                f"|values| up to {np.abs(values).max():.3g} exceed its largest "
                f"{float(jnp.finfo(dtype).max):.3g}"
            )


def _check_label_array(y, name: str) -> None:
    """Labels are an array of integer, float (whole numbers) or bool dtype."""
    if not hasattr(y, "shape") or not hasattr(y, "dtype"):
        raise TypeError(f"{name} must be an array, got {type(y).__name__}")
    if not (
        np.issubdtype(y.dtype, np.integer)
        or np.issubdtype(y.dtype, np.floating)
        or y.dtype == np.bool_
    ):
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")


def check_labels(y, n: int, n_outputs: int, *, name: str = "y") -> None:
    """Checks labels: shape (n,), values in {0, 1} (one output) or 0..k-1 (k outputs)."""
    _check_label_array(y, name)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match X, got {tuple(y.shape)}")
    if not _is_concrete(y):
        return
    values = np.asarray(y)
    n_classes = 2 if n_outputs == 1 else n_outputs
    valid = (
        np.isfinite(values) & (values == np.round(values)) & (values >= 0) & (values < n_classes)
    )
    if not valid.all():
        bad = values[~valid][0].item()
        allowed = "{0, 1} (one output)" if n_outputs == 1 else f"0..{n_outputs - 1}"
        raise ValueError(f"{name} must hold labels in {allowed}, got {bad!r}")


def check_output(output, n_outputs: int) -> str | None:
    """The loss of ``train``/``loss``: None (the classifier's cross-entropy) or ``"identity"``.

    ``"logistic"`` (one output) and ``"softmax"`` (k outputs) name the classifier's own
    output unit and read as None; anything else is a ValueError naming ``output``.

    >>> check_output("logistic", 1), check_output("identity", 3)
    (None, 'identity')
    """
    if output is None or output == "identity":
        return output
    if (output == "logistic" and n_outputs == 1) or (output == "softmax" and n_outputs > 1):
        return None
    if output in ("logistic", "softmax"):
        which = "one output" if output == "logistic" else "two or more outputs"
        raise ValueError(
            f"output {output!r} needs {which}; this network has {n_outputs} (sizes[-1])"
        )
    raise ValueError(
        "output must be None (a classifier: 'logistic' for one output, 'softmax' for k) "
        f"or 'identity' (regression, the half squared error); got {output!r}"
    )


def check_targets(y, n: int, n_outputs: int, *, name: str = "y", dtype=None) -> None:
    """Checks regression targets: (n,) for one output or (n, k), finite floats.

    ``dtype``: the dtype they are computed in (the parameters'); they must be finite in it.
    """
    if not hasattr(y, "shape") or not hasattr(y, "dtype"):
        raise TypeError(f"{name} must be an array, got {type(y).__name__}")
    if not jnp.issubdtype(y.dtype, jnp.floating):
        raise TypeError(
            f"{name} must hold float targets for output='identity' (regression), "
            f"got dtype {y.dtype}"
        )
    shapes = [(n, n_outputs)] + ([(n,)] if n_outputs == 1 else [])
    if tuple(y.shape) not in shapes:
        expected = " or ".join(map(str, reversed(shapes)))
        raise ValueError(
            f"{name} must have shape {expected} to match X and the {n_outputs} output(s), "
            f"got {tuple(y.shape)}"
        )
    if _is_concrete(y):
        _check_finite(np.asarray(y), name, dtype)


def check_data(params, X, y, *, output: str | None = None) -> tuple[int, ...]:
    """Checks params, X (n, d) and y together; returns the network's sizes.

    y: (n,) class labels for a classifier (``output`` None), or the regression
    targets of ``output="identity"`` (:func:`check_targets`).
    """
    sizes = check_params(params)
    check_inputs(X, sizes[0], dtype=params[0].W.dtype)  # training computes in W's dtype
    if check_output(output, sizes[-1]) is None:
        check_labels(y, X.shape[0], sizes[-1])
    else:
        check_targets(y, X.shape[0], sizes[-1], dtype=params[0].W.dtype)
    return sizes


def positive_int(value, name: str) -> int:
    """Returns ``value`` as an int; a TypeError if it is not an int, a ValueError if <= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__} ({value!r})")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


def check_steps(steps) -> int:
    """Returns ``steps`` as an int in 1..MAX_STEPS (NumPy integers accepted).

    >>> check_steps(np.int64(5))
    5
    """
    steps = positive_int(steps, "steps")
    if steps > MAX_STEPS:
        raise ValueError(f"steps must be <= MAX_STEPS = {MAX_STEPS}, got {steps}")
    return steps


def check_batching(batch_size, key, n: int):
    """Checks mini-batch options for ``n`` examples; returns ``(batch_size, key)``.

    ``batch_size`` None means full batch (then a missing key becomes an unused dummy);
    otherwise it must be an int in 1..n and ``key`` must be given.
    """
    if batch_size is not None:
        batch_size = positive_int(batch_size, "batch_size")
        if batch_size > n:
            raise ValueError(
                f"batch_size must be <= the number of examples ({n}), got {batch_size}"
            )
        if key is None:
            raise ValueError("key must be given when batch_size is set (it drives the shuffle)")
        check_key(key)
    if key is None:
        key = _unused_key()
    return batch_size, key


@functools.cache
def _unused_key():
    """The key full-batch training carries and never reads, built once (~0.1 ms a call)."""
    key = jax.random.key(0)
    if _is_concrete(key):
        return key
    with jax.ensure_compile_time_eval():  # first asked under a trace: cache a concrete key
        return jax.random.key(0)  # (this way compiles its own program: ~70 ms, once)


# --------------------------------------------------------------------------------------
# The sweep's arguments (jaxmlp.sweep): the grid, the optimizer, the data, the devices.
# --------------------------------------------------------------------------------------

# MAX_CLASSES (above) also bounds a sweep's outputs: labels are class ids, so one
# stray label such as 100000 would otherwise make every model 100001 outputs wide.
SEED_RANGE = (-(2**31), 2**31 - 1)  # jax.random.key's 32-bit seeds: wider ones alias


def _check_axis(values, name: str, kind) -> tuple:
    """A grid axis as a non-empty tuple of distinct ints (kind int), numbers (float) or any."""
    from jaxmlp import activations as _activations

    try:
        values = tuple(values)
    except TypeError:
        raise TypeError(f"{name} must be a sequence, got {type(values).__name__}") from None
    if not values:
        raise ValueError(f"{name} must not be empty")
    for v in values:
        if kind is int and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
            raise TypeError(f"{name} must hold ints, got {type(v).__name__} ({v!r})")
        if kind is float:
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise TypeError(f"{name} must hold numbers, got {type(v).__name__} ({v!r})")
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be positive and finite, got {v!r}")
    if kind is float:
        values = tuple(float(v) for v in values)
    keys = [v.name if isinstance(v, _activations.Activation) else v for v in values]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{name} must not repeat values, got {keys}")
    return values


class Grid(NamedTuple):
    """A checked sweep grid (see :func:`check_grid`)."""

    widths: tuple[int, ...]
    activations: tuple  # Activation objects, distinct names
    seeds: tuple[int, ...]
    learning_rates: tuple[float, ...] | None


def check_grid(*, widths, activations, seeds, learning_rates, optimizer) -> Grid:
    """Checks a sweep's grid axes and its optimizer; returns the axes as tuples.

    ``optimizer`` must be an optax transformation, or with ``learning_rates`` a
    factory taking the rate first (``optax.adam``). Seeds must lie in
    ``SEED_RANGE``: ``jax.random.key`` keeps 32 bits, so wider seeds would alias.

    >>> import optax
    >>> check_grid(widths=(2, 3), activations=("tanh",), seeds=(0,), learning_rates=None,
    ...            optimizer=optax.sgd(0.1)).widths
    (2, 3)
    """

    from jaxmlp import activations as _activations

    widths = tuple(int(w) for w in _check_axis(widths, "widths", int))
    for w in widths:
        positive_int(w, "widths entries")
    acts = tuple(_activations.get(a) for a in _check_axis(activations, "activations", None))
    if len({a.name for a in acts}) != len(acts):
        raise ValueError(f"activations must have distinct names, got {[a.name for a in acts]}")
    seeds = tuple(int(s) for s in _check_axis(seeds, "seeds", int))
    low, high = SEED_RANGE
    for s in seeds:
        if not low <= s <= high:
            raise ValueError(f"seeds must lie in [{low}, {high}] (32-bit keys), got {s}")
    rates = None
    if learning_rates is not None:
        rates = tuple(_check_axis(learning_rates, "learning_rates", float))
    check_optimizer(optimizer, rate_name="learning_rates", with_rate=rates is not None)
    return Grid(widths, acts, seeds, rates)


def check_optimizer(optimizer, *, rate_name: str, with_rate: bool) -> None:
    """``optimizer`` is an optax transformation, or with a rate a factory taking it first.

    ``rate_name`` is the argument that gives the rate (``learning_rate`` of ``train``,
    ``learning_rates`` of ``sweep``) and ``with_rate`` whether it was given.

    >>> import optax
    >>> check_optimizer(optax.adam, rate_name="learning_rate", with_rate=False)
    Traceback (most recent call last):
    TypeError: optimizer must be an optax.GradientTransformation, got function (...learning_rate=)
    """
    import optax

    if with_rate:
        if isinstance(optimizer, optax.GradientTransformation) or not callable(optimizer):
            raise TypeError(
                f"with {rate_name}, optimizer must be a factory taking the learning rate "
                f"(like optax.adam), got {type(optimizer).__name__}"
            )
    elif not isinstance(optimizer, optax.GradientTransformation):
        hint = f" (a factory like optax.adam needs {rate_name}=)" if callable(optimizer) else ""
        raise TypeError(
            f"optimizer must be an optax.GradientTransformation, got {type(optimizer).__name__}"
            + hint
        )


def check_n_outputs(y, n_outputs, *, name: str = "y") -> int:
    """The number of outputs k for labels ``y``: given, or 1 for {0, 1}, else max(y) + 1.

    The labels are checked to be numbers, finite, whole and >= 0 before their
    maximum is read, and k is at most ``MAX_CLASSES``.

    >>> check_n_outputs(np.array([0, 2, 1]), None)
    3
    """
    _check_label_array(y, name)
    if n_outputs is None:
        values = np.asarray(y)
        bad = values[~(np.isfinite(values) & (values == np.round(values)) & (values >= 0))]
        if bad.size:
            raise ValueError(f"{name} must hold class labels 0, 1, 2, ..., got {bad[0].item()!r}")
        top = int(values.max()) if values.size else 0
        if top >= MAX_CLASSES:
            raise ValueError(
                f"{name} holds the label {top}: at most MAX_CLASSES = {MAX_CLASSES} classes "
                f"(labels 0..{MAX_CLASSES - 1}) are supported"
            )
        n_outputs = 1 if top <= 1 else top + 1
    n_outputs = positive_int(n_outputs, "n_outputs")
    if n_outputs > MAX_CLASSES:
        raise ValueError(f"n_outputs must be at most MAX_CLASSES = {MAX_CLASSES}, got {n_outputs}")
    return n_outputs


def check_sweep_data(X, y, X_test, y_test, *, n_outputs, batch_size, key):
    """Checks a sweep's data and batching; returns ``(n_outputs, batch_size, key)``.

    X (n, d) finite floats, y (n,) labels (:func:`check_n_outputs`), the optional
    held-out pair given together, and :func:`check_batching`'s options.
    """
    if not hasattr(X, "shape") or len(X.shape) != 2:
        raise ValueError(f"X must be 2-D with shape (n, d), got shape {getattr(X, 'shape', X)}")
    d = int(X.shape[1])
    check_inputs(X, d, dtype=np.float32)  # the sweep computes in float32
    n_outputs = check_n_outputs(y, n_outputs)
    check_labels(y, X.shape[0], n_outputs)
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test must be given together")
    if X_test is not None:
        check_inputs(X_test, d, name="X_test", dtype=np.float32)
        check_n_outputs(y_test, n_outputs, name="y_test")
        check_labels(y_test, X_test.shape[0], n_outputs, name="y_test")
    if key is not None:
        check_key(key)
    batch_size, key = check_batching(batch_size, key, X.shape[0])
    return n_outputs, batch_size, key


def check_devices(devices) -> tuple:
    """``devices`` as a non-empty tuple of ``jax.Device`` (default: ``jax.devices()``)."""
    if devices is None:
        return tuple(jax.devices())
    try:
        devices = tuple(devices)
    except TypeError:
        raise TypeError(f"devices must be a sequence of jax devices, got {devices!r}") from None
    if not devices:
        raise ValueError("devices must hold at least one device, got an empty sequence")
    for device in devices:
        if not isinstance(device, jax.Device):
            raise TypeError(f"devices must hold jax devices, got {type(device).__name__}")
    return devices


def check_path(path, name: str) -> str | None:
    """``path`` (str or ``os.PathLike``) as a str, or None; a TypeError naming ``name``."""
    import os

    if path is None:
        return None
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"{name} must be a file path, got {type(path).__name__}") from None


def check_callback(fn, name: str) -> None:
    """``fn`` None or callable; a TypeError naming ``name`` (before any work is done)."""
    if fn is not None and not callable(fn):
        raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")
