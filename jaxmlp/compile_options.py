"""XLA compile settings chosen for each of jaxmlp's compiled programs, from measurement.

jaxmlp compiles a handful of programs (``train``'s loops, the estimators' fits,
the sweep's programs, ``predict``). On the CPU, XLA's default settings spend
most of a first call compiling; some programs compile 2-4x faster with other
settings and run as fast (``docs/performance.md``, "Compile settings"). Each
program gets its own settings through ``jax.jit(..., compiler_options=...)``:
nothing global changes (no ``XLA_FLAGS``, no ``jax.config``), so the user's own
programs compile as before. On other backends (GPU, TPU) every program keeps
XLA's defaults.

Override: ``JAXMLP_COMPILER_OPTIONS=default`` compiles every jaxmlp program with
XLA's defaults; a JSON object, e.g.
``JAXMLP_COMPILER_OPTIONS='{"xla_backend_optimization_level": 2}'``, gives every
program exactly those options. The variable is read at each call (a program
already compiled with other settings is compiled again).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxmlp import compilation_cache

__all__ = ["CHOICES", "ENV", "Program", "chosen", "jit", "supported"]

ENV = "JAXMLP_COMPILER_OPTIONS"
"""The environment variable that overrides the choice (``default`` or a JSON object)."""

# One LLVM module per program instead of 32 split for parallel codegen: the same code, less
# compile CPU (on 2 cores there is rarely an idle one to win it back).
_SPLIT_1 = {"xla_cpu_parallel_codegen_split_count": 1}
# ... and LLVM at -O1: where it compiles measurably faster at the same speed.
_O1 = {**_SPLIT_1, "xla_backend_optimization_level": 1}
# XLA's per-op emitters instead of its MLIR fusion emitters, LLVM at its default level: for
# the tiny stacked networks only. -O1 with them runs a tiny loop 4x slower per step, and
# programs of larger networks run 15-50% slower with them at any level.
_PER_OP = {**_SPLIT_1, "xla_cpu_use_fusion_emitters": False}

# ... and LLVM at -O1 with the per-op emitters: for small programs whose speed does not
# matter (initial draws, data sets): 1.7-2.8x faster to compile, the same numbers bit for bit
# (spirals' last bits change with them: it gets -O1 alone, no faster).
_CHEAP = {**_PER_OP, "xla_backend_optimization_level": 1}

CHOICES: dict[str, dict[str, Any]] = {
    # train's guard-free loop and the guarded loop of stacked networks of <= 64 parameters
    "train_small": _PER_OP,
    "guarded_small": _PER_OP,
    # train's loops otherwise (-O1: no faster to compile, and it rounds differently from
    # the default level, which 1000-step float32 trajectories amplify)
    "train": _SPLIT_1,
    "guarded": _SPLIT_1,
    # the estimators' whole stochastic fit (the search's programs of many fits too), and
    # L-BFGS's objective
    "fit": _SPLIT_1,
    "lbfgs": _SPLIT_1,
    # the sweep's init, chunk and finish programs (-O1: a 160-model sweep compiled 22% faster
    # and ran no slower)
    "sweep": _O1,
    # the sweep's initial draws: init_mlp's settings (bit for bit the same numbers)
    "sweep_init": _CHEAP,
    # predict / predict_proba: -O1 compiles in half the time and runs as fast
    "predict": _O1,
    # init_mlp's draws and the data sets (spirals: -O1 only; the per-op emitters changed
    # its last bits)
    "init": _CHEAP,
    "datasets": _CHEAP,
    "spirals": _O1,
}
"""The options of each program on the CPU (measured: ``benchmarks/bench_compile.py``)."""

# every (option, value) of CHOICES; the level's 1 and the emitters' False coexist per key
_ALL = tuple(sorted({item for options in CHOICES.values() for item in options.items()}))


def supported(options: tuple[tuple[str, Any], ...]) -> bool:
    """Whether this XLA compiles with ``options`` (a later XLA may drop one).

    The options of :data:`CHOICES` are known to the jaxlib versions they were measured on
    (:data:`MEASURED_JAXLIB`); on another they are probed at once, in one tiny program,
    once per process. Other options are probed on their own.
    """
    if not options:
        return True
    if set(options) <= set(_ALL) and (_measured_jaxlib() or _probe(_ALL)):
        return True
    return _probe(options)


MEASURED_JAXLIB = ("0.10.",)
"""jaxlib versions whose XLA was measured with :data:`CHOICES`: no probe compile there."""


@functools.cache
def _measured_jaxlib() -> bool:
    import jaxlib

    return str(jaxlib.__version__).startswith(MEASURED_JAXLIB)


@functools.cache
def _probe(options: tuple[tuple[str, Any], ...]) -> bool:
    try:
        jax.jit(lambda: jnp.int32(0), compiler_options=dict(options)).lower().compile()
    except Exception:  # an unknown option, however a later jax reports it
        return False
    return True


@functools.cache
def _on_cpu() -> bool:
    return jax.default_backend() == "cpu"


@functools.cache
def _parse(value: str) -> dict[str, Any]:
    try:
        options = json.loads(value)
    except json.JSONDecodeError:
        options = None
    if not isinstance(options, dict):
        raise ValueError(f"{ENV} must be 'default' or a JSON object of XLA options, got {value!r}")
    return options


def chosen(program: str) -> dict[str, Any]:
    """The compile options ``program`` gets now: the override, else :data:`CHOICES` on CPU.

    >>> chosen("train_small") in ({}, CHOICES["train_small"])
    True
    """
    return _resolve(program, os.environ.get(ENV, "").strip())


@functools.cache
def _resolve(program: str, override: str) -> dict[str, Any]:
    if program not in CHOICES:
        raise ValueError(f"unknown program {program!r}; one of {', '.join(CHOICES)}")
    if override:
        if override.lower() in ("default", "defaults", "none", "{}"):
            return {}
        return _parse(override)
    options = CHOICES[program]
    if not _on_cpu() or not supported(tuple(sorted(options.items()))):
        return {}
    return options


class Program:
    """A function compiled with the options :func:`chosen` for its program, lazily.

    Called like the ``jax.jit`` of ``fun``; the jitted variant for the options in
    force is made on first need (the backend is not touched at import). Each call
    runs inside :func:`jaxmlp.compilation_cache.programs`, so a first compile may
    load the program an earlier process wrote.
    """

    def __init__(self, fun: Callable, program: str, **jit_kwargs: Any) -> None:
        functools.update_wrapper(self, fun)
        self.program = program
        self._fun = fun
        self._jit_kwargs = jit_kwargs
        self._variants: dict[str | None, Any] = {}

    def jitted(self) -> Any:
        """The ``jax.jit`` object of the options in force."""
        override = os.environ.get(ENV, "").strip()
        variant = self._variants.get(override)
        if variant is None:
            options = _resolve(self.program, override)
            variant = jax.jit(self._fun, compiler_options=options or None, **self._jit_kwargs)
            self._variants[override] = variant
        return variant

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with compilation_cache.programs():
            try:
                return self.jitted()(*args, **kwargs)
            except ValueError as error:
                # inside another jit, vmap or grad: compile options belong to the outer,
                # top-level program, so this one is inlined there as a plain jit
                if "compiler_options" not in str(error):
                    raise
        return self.nested()(*args, **kwargs)

    def nested(self) -> Any:
        """The plain ``jax.jit`` of ``fun``, for calls inside another transformation."""
        variant = self._variants.get(None)
        if variant is None:
            variant = self._variants[None] = jax.jit(self._fun, **self._jit_kwargs)
        return variant

    def lower(self, *args: Any, **kwargs: Any) -> Any:
        return self.jitted().lower(*args, **kwargs)

    def _cache_size(self) -> int:
        """Programs compiled in this process, over every set of options."""
        return sum(variant._cache_size() for variant in self._variants.values())

    def clear_cache(self) -> None:
        for variant in self._variants.values():
            variant.clear_cache()


def jit(program: str, **jit_kwargs: Any) -> Callable[[Callable], Program]:
    """Decorator: ``@jit("fit", static_argnames="static")`` makes a :class:`Program`."""
    return lambda fun: Program(fun, program, **jit_kwargs)
