"""Optimizers as compile-cache keys: equal optax transformations share a program.

An optax optimizer is a ``NamedTuple`` of closures (``init``, ``update``); two calls
of ``optax.adam(1e-2)`` give two objects that are equal in every way that shapes
a compiled program but not ``==``. :func:`structural_key` reads the closures
(code, captured values, defaults, referenced globals, nested transformations of an
``optax.chain``, ``inject_hyperparams`` factories and schedules) into a hashable
value, so that :class:`StaticOptimizer`, the static argument of jaxmlp's compiled
programs, compares two such objects by that value.

What counts as equal: Python numbers of the same type and bits (``2`` and ``2.0``
differ: they may trace to other dtypes; so do ``0.0`` and ``-0.0``), strings,
``None``, tuples/lists/dicts of those, functions with the same code, defaults and
equal captured values, the globals a function reads (plain values by value; the
caller's own functions by their code and globals, recursively, so a rebound
module-level rate changes the key; functions of jax, numpy, optax and chex by
identity), concrete NumPy/JAX arrays of at most ``MAX_ARRAY_SIZE`` elements with
the same dtype, shape and bytes, enums, and other hashable objects that define
their own ``==`` (dtypes). What cannot be keyed (a traced array, a large array,
an unhashable object, an object compared by identity whose attributes could
change, such as a config instance): the optimizer is then compared by identity,
as ``jax.jit`` does with any static argument, so only the very same object
reuses the program.

>>> import optax
>>> structural_key(optax.adam(1e-2)) == structural_key(optax.adam(1e-2))
True
>>> structural_key(optax.adam(1e-2)) == structural_key(optax.adam(2e-2))
False
"""

from __future__ import annotations

import dis
import enum
import functools
import hashlib
import inspect
import types
import weakref
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import optax

__all__ = [
    "NAMES",
    "StaticOptimizer",
    "by_name",
    "fingerprint",
    "rate_injected",
    "static",
    "structural_key",
]

NAMES = ("sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad")
"""The optimizer names of ``jaxmlp train --optimizer`` and the playground (:func:`by_name`)."""


@functools.cache
def by_name(name: str) -> Callable[..., optax.GradientTransformation]:
    """The optax constructor of ``jaxmlp train --optimizer name``, learning rate first.

    ``momentum`` is SGD with momentum 0.9; the others are optax's functions of that
    name. One object per name, so ``train(..., optimizer=by_name(name),
    learning_rate=rate)`` runs one compiled program for every rate.

    >>> by_name("adam") is optax.adam
    True
    >>> by_name("momentum")(0.1) is not None
    True
    """
    if name not in NAMES:
        raise ValueError(f"optimizer must be one of {', '.join(NAMES)}; got {name!r}")
    if name == "momentum":
        return functools.partial(optax.sgd, momentum=0.9)
    return getattr(optax, name)


MAX_ARRAY_SIZE = 4096  # larger captured arrays are not compared by value (cost)
MAX_DEPTH = 64  # nesting deeper than this is not keyed (identity instead)


class _Unkeyable(Exception):
    """Raised inside :func:`_key` for a value with no safe structural key."""


def _code_key(code: types.CodeType) -> tuple:
    # A code object compares by bytecode, constants and names (not by file), so
    # that two closures built by one factory have equal code.
    return ("code", code.co_filename, code)


@functools.lru_cache(maxsize=4096)
def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """Names a function's code (nested code included) may read as globals, sorted."""
    names = {
        ins.argval
        for ins in dis.get_instructions(code)
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")
    }
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.update(_global_names(const))
    return tuple(sorted(names))


_EMPTY_CELL = ("empty cell",)  # a closure variable never assigned (so never read)


def _cell_key(cell: types.CellType, depth: int, seen: dict) -> Any:
    try:
        contents = cell.cell_contents
    except ValueError:
        return _EMPTY_CELL
    return _key(contents, depth + 1, seen)


def _function_key(fn: types.FunctionType, depth: int, seen: dict) -> tuple:
    cells = fn.__closure__ or ()
    captured = tuple(_cell_key(cell, depth, seen) for cell in cells)
    # A global read by the function is part of what it computes: a rebound
    # module-level rate must not reuse a program traced with the old one.
    globals_ = tuple(
        (name, _global_key(fn.__globals__[name], depth, seen))
        for name in _global_names(fn.__code__)
        if name in fn.__globals__
    )
    return (
        "function",
        fn.__module__,
        fn.__qualname__,
        _code_key(fn.__code__),
        _key(fn.__defaults__, depth + 1, seen),
        _key(fn.__kwdefaults__, depth + 1, seen),
        captured,
        globals_,
    )


# Functions of these packages are keyed by identity when read as globals: their
# module globals are the libraries' own constants, and walking them (jax's
# internals) would cost milliseconds per call.
LIBRARY_PACKAGES = ("jax", "jaxlib", "numpy", "optax", "chex", "builtins")


def _is_library(module: str | None) -> bool:
    return module is not None and module.split(".")[0] in LIBRARY_PACKAGES


def _global_key(value: Any, depth: int, seen: dict) -> Any:
    """Globals: modules and classes by name; functions of the caller's own code by
    their code and globals (recursively: a helper reading a rebound global changes
    the key), library functions and other callables by identity; plain values by value."""
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    if isinstance(value, type):
        return ("class", value.__module__, value.__qualname__)
    if isinstance(value, types.FunctionType) and not _is_library(value.__module__):
        return _key(value, depth + 1, seen)
    if callable(value) and hasattr(value, "__qualname__"):
        return ("global", getattr(value, "__module__", None), value.__qualname__, id(value))
    return _key(value, depth + 1, seen)


def _array_key(value: Any) -> tuple:
    try:
        array = np.asarray(value)  # a tracer raises here: not a concrete value
    except Exception:
        raise _Unkeyable from None
    if array.dtype == object or array.size > MAX_ARRAY_SIZE:
        raise _Unkeyable
    return ("array", type(value).__name__, array.dtype.str, array.shape, array.tobytes())


def _key(value: Any, depth: int, seen: dict) -> Any:
    if depth > MAX_DEPTH:
        raise _Unkeyable
    if isinstance(value, (float, complex)):  # by bits: 0.0 == -0.0, and nan != nan
        return (type(value).__name__, repr(value))
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return (type(value).__name__, value)
    marker = id(value)
    if marker in seen:  # a cycle (a recursive closure): refer to the first visit
        return ("cycle", seen[marker])
    seen[marker] = len(seen)
    if isinstance(value, types.FunctionType):
        return _function_key(value, depth, seen)
    if isinstance(value, types.MethodType):
        return ("method", _key(value.__self__, depth + 1, seen), _key(value.__func__, depth, seen))
    if isinstance(value, functools.partial):
        return (
            "partial",
            _key(value.func, depth + 1, seen),
            _key(value.args, depth + 1, seen),
            _key(value.keywords, depth + 1, seen),
        )
    if isinstance(value, (tuple, list)):
        items = tuple(_key(item, depth + 1, seen) for item in value)
        return (type(value).__module__, type(value).__qualname__, items)
    if isinstance(value, dict):
        items = tuple(sorted(((repr(k), _key(v, depth + 1, seen)) for k, v in value.items())))
        return ("dict", items)
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted(repr(_key(v, depth + 1, seen)) for v in value)))
    if isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "__jax_array__"):
        return _array_key(value)
    if type(value).__module__.startswith(("jax", "jaxlib")) and hasattr(value, "shape"):
        return _array_key(value)  # jax.Array (concrete) or a tracer (unkeyable)
    if isinstance(value, Hashable):
        try:
            hash(value)
        except TypeError:
            raise _Unkeyable from None
        mutable = hasattr(value, "__dict__") and not isinstance(value, enum.Enum)
        if type(value).__eq__ is object.__eq__ and mutable:
            # compared by identity yet mutable: a rebuilt optimizer around the same
            # object may read other attribute values; only the very same optimizer
            # (as with any jit static argument) may reuse the program
            raise _Unkeyable
        return ("object", value)  # its own == (value semantics: dtypes, enums, ...)
    raise _Unkeyable


def structural_key(optimizer: Any) -> Hashable | None:
    """A hashable value equal for optimizers that compile to the same program.

    Args:
      optimizer: an optax ``GradientTransformation`` (or any object).

    Returns:
      The key, or ``None`` when some captured value cannot be compared safely.
    """
    try:
        return ("optimizer", _key(optimizer, 0, {}))
    except _Unkeyable:
        return None


class StaticOptimizer:
    """An optimizer wrapped for use as a ``jax.jit`` static argument.

    Equal (and of equal hash) when :func:`structural_key` of the two optimizers
    is equal and not ``None``; otherwise equal only to a wrapper of the very
    same object. A compiled program traced with one optimizer is thus reused for
    an equal one: their ``init`` and ``update`` compute the same thing.
    """

    __slots__ = ("optimizer", "key", "_hash", "__weakref__")

    def __init__(self, optimizer: optax.GradientTransformation, known: tuple | None = None):
        """Wraps ``optimizer``; ``known`` is ``(key, hash)`` of an earlier wrapper of it."""
        self.optimizer = optimizer
        if known is None:
            self.key = structural_key(optimizer)
            # jit hashes its static arguments at every call: hash the deep key once
            self._hash = hash(self.key) if self.key is not None else id(optimizer)
        else:
            self.key, self._hash = known

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StaticOptimizer):
            return NotImplemented
        if self.optimizer is other.optimizer:
            return True
        return self.key is not None and self.key == other.key

    def __repr__(self) -> str:
        kind = "structural" if self.key is not None else "identity"
        return f"StaticOptimizer({kind})"


# The walk is cheap to reuse: the same optimizer object (kept alive by the caller)
# maps to its key without walking its closures again. The memo holds the key only,
# and weak references to the optimizer's functions (a NamedTuple cannot be weakly
# referenced), so it never keeps an optimizer alive.
_KEYS: dict[tuple[int, int], tuple[weakref.ref, weakref.ref, tuple]] = {}


def static(optimizer: optax.GradientTransformation) -> StaticOptimizer:
    """The :class:`StaticOptimizer` of ``optimizer``; its key memoised per live object.

    >>> import optax
    >>> static(optax.sgd(2.0)) == static(optax.sgd(2.0))
    True
    >>> static(optax.sgd(2.0)) == static(optax.sgd(3.0))
    False
    """
    init, update = optimizer.init, optimizer.update
    marker = (id(init), id(update))
    entry = _KEYS.get(marker)
    if entry is not None and entry[0]() is init and entry[1]() is update:
        return StaticOptimizer(optimizer, entry[2])
    wrapped = StaticOptimizer(optimizer)
    forget = lambda _, table=_KEYS: table.pop(marker, None)  # noqa: E731
    try:
        refs = weakref.ref(init, forget), weakref.ref(update, forget)
    except TypeError:  # functions that are not weak-referenceable: no memo
        return wrapped
    _KEYS[marker] = (*refs, (wrapped.key, wrapped._hash))
    return wrapped


@functools.lru_cache(maxsize=32)
def rate_injected(factory) -> tuple[optax.GradientTransformation, str]:
    """``factory`` with its first argument (the learning rate) held as optimizer state.

    ``optax.inject_hyperparams(factory)`` built with a placeholder rate of 1.0: the
    caller sets the real rate in ``opt_state.hyperparams[name]`` after ``init``, so
    that one compiled program serves every rate. Cached per factory (and equal
    factories give equal :func:`static` wrappers anyway).

    Args:
      factory: an optax alias taking the learning rate first (``optax.adam``).

    Returns:
      ``(transformation, name)``: the injected transformation and the name of the
      factory's first parameter (``"learning_rate"`` for optax's aliases).

    Raises:
      TypeError: ``factory`` has no first parameter to take the rate.

    >>> import optax
    >>> opt, name = rate_injected(optax.adam)
    >>> name, float(opt.init(optax.tree.zeros_like({"w": 0.0})).hyperparams[name])
    ('learning_rate', 1.0)
    """
    try:
        name = next(iter(inspect.signature(factory).parameters))
    except (StopIteration, TypeError, ValueError):
        raise TypeError(
            "optimizer must be a factory taking the learning rate as its first argument "
            f"(like optax.adam) with learning_rate= or learning_rates=, got {factory!r}"
        ) from None
    return optax.inject_hyperparams(factory)(1.0), name


def _stable(value: Any) -> Any:
    """A rendering of a key that is the same in every process (no ids, no addresses)."""
    if isinstance(value, types.CodeType):
        return ("code", value.co_qualname, value.co_code.hex(), _stable(value.co_consts))
    if isinstance(value, tuple):
        if len(value) == 4 and value[0] == "global":  # drop the id of a global callable
            return value[:3]
        if len(value) == 2 and value[0] == "object":
            obj = value[1]
            return ("object", type(obj).__module__, type(obj).__qualname__)
        return tuple(_stable(item) for item in value)
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    if isinstance(value, float):
        return float.hex(value)
    return value


def fingerprint(optimizer: Any) -> str | None:
    """A hex digest of the optimizer's structure and hyperparameters, stable across
    processes (for checkpoints), or ``None`` when it cannot be keyed.

    >>> import optax
    >>> fingerprint(optax.adam(0.01)) == fingerprint(optax.adam(0.5))
    False
    """
    key = structural_key(optimizer)
    if key is None:
        return None
    return hashlib.sha256(repr(_stable(key)).encode()).hexdigest()
