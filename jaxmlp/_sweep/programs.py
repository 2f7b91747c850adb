"""The compiled programs of a sweep and the shardings of their inputs.

The bin axis is sharded over all devices (``shard_map`` on a one-axis ``Mesh``;
bins padded to a multiple of the device count with empty bins); the programs
have no cross-device communication but the finiteness flag. Under
``jax.distributed`` the same call runs on the global mesh (and the driver gathers
the results on every process). :func:`programs` is
cached on the :class:`~jaxmlp._sweep.plan.Plan`, whose optimizer compares by
structure, so an equal optimizer built again reuses every compiled program.
"""

from __future__ import annotations

import concurrent.futures
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxmlp import compilation_cache, compile_options
from jaxmlp._sweep.chunks import finish, global_finite, run_chunk
from jaxmlp._sweep.init import init_state, seed_dtype
from jaxmlp._sweep.parts import index, split_on_host, split_parts
from jaxmlp._sweep.plan import Plan, SweepState


class Programs(NamedTuple):
    """The compiled programs of a plan and the shardings their inputs must have."""

    init: Callable  # (seeds, key_data, rates) -> SweepState
    split: Callable  # SweepState -> its parts, one per host thread (a list)
    chunk: Callable  # (length, guarded) -> program (state, member, X, y, start)
    finish: Callable  # (state, member, X, y[, X_test, y_test]) -> per-activation results
    state_shapes: Any  # SweepState of ShapeDtypeStruct (all parts)
    state_sharding: Any
    replicated: NamedSharding
    members: list  # (B / threads, K, C) bool, one per part


class _Layout(NamedTuple):
    """The mesh, its specs and the abstract inputs every program is lowered for."""

    mesh: Mesh
    rep: NamedSharding  # replicated
    split: NamedSharding  # bin axis over the devices
    state_spec: SweepState
    state_sharding: SweepState
    shapes: SweepState  # the whole state, abstract
    state_arg: Any  # one part's state, abstract with shardings
    member_arg: jax.ShapeDtypeStruct
    members: list
    init_args: tuple  # seeds, key_data, rates, abstract


def _layout(plan: Plan, devices: tuple) -> _Layout:
    mesh = Mesh(np.array(devices), ("bins",))
    rep = NamedSharding(mesh, PartitionSpec())
    split = NamedSharding(mesh, PartitionSpec("bins"))
    init_args = (
        jax.ShapeDtypeStruct((plan.models_per_width,), seed_dtype()),  # seeds, one a column
        jax.ShapeDtypeStruct((2,), jnp.uint32),  # key_data
        jax.ShapeDtypeStruct((plan.packing.n_bins, plan.packing.slots), jnp.float32),  # rates
    )
    shapes = jax.eval_shape(functools.partial(init_state, plan), *init_args)
    threads = plan.packing.threads
    part_shapes = jax.eval_shape(lambda state: split_parts(state, threads)[0], shapes)
    state_sharding = SweepState(jax.tree.map(lambda _: split, shapes.bins), rep)  # type: ignore[arg-type]
    by_bin = PartitionSpec("bins")
    state_spec = SweepState(jax.tree.map(lambda _: by_bin, shapes.bins), PartitionSpec())  # type: ignore[arg-type]
    members = [
        jax.make_array_from_callback(m.shape, split, functools.partial(index, m))
        for m in split_parts(plan.packing.member(plan.widths), threads)
    ]
    state_arg = jax.tree.map(
        lambda a, sh: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sh),
        part_shapes,
        state_sharding,
    )
    member_arg = jax.ShapeDtypeStruct(members[0].shape, members[0].dtype, sharding=split)
    return _Layout(
        mesh,
        rep,
        split,
        state_spec,
        state_sharding,
        shapes,
        state_arg,
        member_arg,
        members,
        init_args,
    )


def _options(program: str = "sweep") -> dict | None:
    """The sweep's compile options (:mod:`jaxmlp.compile_options`)."""
    return compile_options.chosen(program) or None


def _compile(lowered):
    """Compiles a lowered program, through jaxmlp's program cache (on this thread)."""
    with compilation_cache.programs():
        return lowered.compile()


def _data(plan: Plan, lay: _Layout, n: int) -> tuple:
    return (
        jax.ShapeDtypeStruct((n, plan.n_features), jnp.float32, sharding=lay.rep),
        jax.ShapeDtypeStruct((n,), jnp.int32, sharding=lay.rep),
    )


def _chunk_lowered(plan: Plan, lay: _Layout, length: int, guarded: bool):
    """The chunk program of ``length`` steps (fast or guarded), lowered."""
    P, S = PartitionSpec, PartitionSpec("bins")
    body = functools.partial(run_chunk, plan, length=length, guarded=guarded)
    mapped = jax.shard_map(
        lambda state, member, X, y, start: global_finite(body(state, member, X, y, start)),
        mesh=lay.mesh,
        in_specs=(lay.state_spec, S, P(), P(), P()),
        out_specs=(lay.state_spec, tuple(P(None, "bins") for _ in plan.activations), P()),
        check_vma=False,
    )
    fn = jax.jit(
        mapped,
        in_shardings=(lay.state_sharding, lay.split, lay.rep, lay.rep, lay.rep),
        compiler_options=_options(),
    )
    start = jax.ShapeDtypeStruct((), jnp.int32, sharding=lay.rep)
    return fn.lower(lay.state_arg, lay.member_arg, *_data(plan, lay, plan.n_examples), start)


def _finish_lowered(plan: Plan, lay: _Layout, steps: int, n_test: int | None):
    """The final-scores program, lowered."""
    P, S = PartitionSpec, PartitionSpec("bins")
    test_out = (S, S) if n_test is not None else None
    finish_out = tuple(
        (jax.tree.map(lambda _: S, lay.shapes.bins[0].params), S, S, S, test_out)
        for _ in plan.activations
    )

    def finish_fn(state, member, X, y, *test):
        X_test, y_test = test if test else (None, None)
        return finish(plan, state, member, X, y, X_test, y_test, steps=steps)

    test_data = _data(plan, lay, n_test) if n_test is not None else ()
    program = jax.jit(
        jax.shard_map(
            finish_fn,
            mesh=lay.mesh,
            in_specs=(lay.state_spec, S) + (P(),) * (2 + len(test_data)),
            out_specs=finish_out,
            check_vma=False,
        ),
        compiler_options=_options(),
    )
    train_data = _data(plan, lay, plan.n_examples)
    return program.lower(lay.state_arg, lay.member_arg, *train_data, *test_data)


@functools.lru_cache(maxsize=16)
def programs(
    plan: Plan,
    devices: tuple,
    steps: int,
    chunk_lengths: tuple[int, ...],
    n_test: int | None,
) -> Programs:
    """The programs of a sweep, compiled concurrently (cached: repeated calls reuse them).

    Tracing is serial Python; XLA compiles the init, every chunk length and the
    finish program on parallel threads (it releases the GIL), so the first call
    waits for the slowest of them rather than their sum. The guarded chunk is
    compiled only when a chunk needs it (a divergence).
    """
    lay = _layout(plan, devices)
    threads = plan.packing.threads
    init = jax.jit(
        functools.partial(init_state, plan),
        in_shardings=(lay.rep, lay.rep, lay.rep),
        out_shardings=lay.state_sharding,
        compiler_options=_options("sweep_init"),
    )
    lowered = [
        init.lower(*lay.init_args),
        _finish_lowered(plan, lay, steps, n_test),
        *(_chunk_lowered(plan, lay, length, False) for length in chunk_lengths),
    ]
    with concurrent.futures.ThreadPoolExecutor(len(lowered)) as pool:
        compiled = list(pool.map(_compile, lowered))
    init_program, finish_program = compiled[:2]
    split: Callable = lambda state: [state]  # noqa: E731
    if threads > 1:  # a single CPU device (parts.host_threads)
        split = functools.partial(split_on_host, threads=threads, sharding=lay.state_sharding)
    fast = dict(zip(chunk_lengths, compiled[2:], strict=True))

    @functools.cache
    def chunk(length: int, guarded: bool):
        if not guarded and length in fast:
            return fast[length]
        return _compile(_chunk_lowered(plan, lay, length, guarded))

    return Programs(
        init_program,
        split,
        chunk,
        finish_program,
        lay.shapes,
        lay.state_sharding,
        lay.rep,
        lay.members,
    )
