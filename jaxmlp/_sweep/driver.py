"""The chunk loop: each part's program on its own host thread, a guarded redo of a
chunk that went non-finite, the loss curves, a checkpoint after every chunk.

The protocol is :func:`jaxmlp.train`'s "fast run, then a guarded redo": a chunk
first runs without the guard; only if its finiteness flag is false is it redone,
from its start, by the guarded program (compiled on that first need), and a part
with a stopped model keeps the guarded program from then on.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import threading
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np

from jaxmlp._sweep import resume
from jaxmlp._sweep.init import seed_dtype
from jaxmlp._sweep.parts import join_parts, to_host
from jaxmlp._sweep.plan import Index, Spec, SweepState, slot_rates
from jaxmlp._sweep.programs import Programs


class Data(NamedTuple):
    """The sweep's inputs on the devices (replicated)."""

    X: jax.Array  # (n, d) float32
    y: jax.Array  # (n,) int32
    test: tuple  # () or (X_test (m, d), y_test (m,))
    key_data: jax.Array  # (2,) uint32


class Checkpoint(NamedTuple):
    """Where and under which fingerprint the state is written after every chunk."""

    path: str
    fingerprint: dict


class _Threads:
    """Calls ``fn(i)`` for every part concurrently (one host thread per part)."""

    def __init__(self, n: int):
        self.n = n
        self.pool = concurrent.futures.ThreadPoolExecutor(n) if n > 1 else None

    def each(self, fn: Callable) -> list:
        """``[fn(0), ..., fn(n - 1)]``, run concurrently; each call waits for its result."""
        call = lambda i: jax.block_until_ready(fn(i))  # noqa: E731
        return [call(0)] if self.pool is None else list(self.pool.map(call, range(self.n)))

    def close(self) -> None:
        """Waits for the running calls (a second Ctrl-C must not interrupt this wait: the
        interpreter would exit while XLA's threads still run, and abort)."""
        if self.pool is not None:
            with sigint_deferred():
                self.pool.shutdown()


@contextlib.contextmanager
def sigint_noted():
    """Ctrl-C raises KeyboardInterrupt as usual, and is noted in the yielded list.

    Python drops an exception raised where it cannot propagate (a garbage-collection
    callback of XLA's, say), and with it the Ctrl-C: the note lets the chunk loop stop
    anyway. Outside the main thread, or under a handler of the caller's, a no-op.
    """
    noted: list[bool] = []
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield noted
        return

    def handler(signum, frame):
        noted.append(True)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def sigint_deferred():
    """Ctrl-C is ignored inside (in the main thread; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _has_diverged(part: SweepState) -> bool:
    """Any model stopped? Then its part takes the guarded program (which keeps it stopped)."""
    return any(bool(np.any(to_host(b.diverged_at) >= 0)) for b in part.bins)


def _record(curves: np.ndarray, kept, index: list[Index], outs, done: int, length: int):
    """Copies the chunk's kept loss points into ``curves`` (W, A, S, T), in place."""
    rows = (kept >= done) & (kept < done + length)
    if not rows.any():
        return
    for a in range(curves.shape[1]):
        v = np.concatenate([to_host(values[a]) for _, values, _ in outs], axis=1)
        v = v[kept[rows] - done]  # (T, B, K)
        for i, ix in enumerate(index):
            curves[i, a][:, rows] = v[:, ix.bins, ix.slots].T


def _save(checkpoint: Checkpoint, parts: list, curves: np.ndarray, done: int) -> None:
    """Writes the state after ``done`` steps (gathered on every process, written by the first)."""
    host_state = join_parts([jax.tree.map(to_host, part) for part in parts])
    if jax.process_index() == 0:
        resume.save(checkpoint.path, host_state, curves, checkpoint.fingerprint, done)


def start(
    programs: Programs, spec: Spec, data: Data, n_kept: int, saved: resume.Saved | None
) -> tuple[SweepState, np.ndarray, int]:
    """The state to start from, the (W, A, S, T) curves so far and the steps done:
    those of the checkpoint ``saved`` (:func:`jaxmlp._sweep.resume.read`), else fresh."""
    plan = spec.plan
    curves_shape = (len(plan.widths), len(plan.activations), plan.models_per_width, n_kept)
    if saved is not None:
        state, curves, done = resume.restore(saved, programs.state_shapes, curves_shape)
        return jax.device_put(state, programs.state_sharding), curves, done
    n_rates = 1 if plan.learning_rates is None else len(plan.learning_rates)
    seeds = np.repeat(np.asarray(spec.seeds, seed_dtype()), n_rates)  # one per model column
    rates = slot_rates(plan.packing, plan.learning_rates or (0.0,))  # (B, K) values, not keys
    seeds, rates = jax.device_put((seeds, rates), programs.replicated)
    state = programs.init(seeds, data.key_data, rates)
    return state, np.full(curves_shape, np.nan, np.float32), 0


def run(
    programs: Programs,
    spec: Spec,
    state: SweepState,
    curves: np.ndarray,
    *,
    done: int,
    data: Data,
    kept: np.ndarray,
    index: list[Index],
    checkpoint: Checkpoint | None = None,
    progress: bool = False,
    on_chunk: Callable[[int], None] | None = None,
):
    """Runs the steps ``done..spec.steps`` and the final scores.

    ``curves`` (W, A, S, T) is filled in place. Returns ``(out, done)``: the
    per-activation results of the finish program, joined over the parts on the host,
    and the steps done. Ctrl-C stops the run between chunks: then ``done`` is the
    steps of the last finished chunk and ``out`` its models' results (None if no
    chunk finished).
    """
    from tqdm.auto import tqdm

    parts = programs.split(state)
    threads = _Threads(len(parts))
    X, y = data.X, data.y

    def run_part(length: int, guarded: bool, i: int, start):
        program = programs.chunk(length, guarded)
        return program(parts[i], programs.members[i], X, y, start)

    guarded = [_has_diverged(part) for part in parts]
    bar = tqdm(total=spec.steps, initial=done, disable=not progress, unit="step", desc="sweep")

    def finish(i: int):
        return programs.finish(parts[i], programs.members[i], X, y, *data.test)

    interrupted = False
    try:
        try:
            with bar, sigint_noted() as ctrl_c:
                while done < spec.steps:
                    if ctrl_c:  # a Ctrl-C whose KeyboardInterrupt Python dropped
                        raise KeyboardInterrupt
                    length = min(spec.chunk_steps, spec.steps - done)
                    start = jax.device_put(np.int32(done), programs.replicated)
                    outs = threads.each(lambda i: run_part(length, guarded[i], i, start))  # noqa: B023
                    for i, (_, _, finite) in enumerate(outs):
                        if not guarded[i] and not bool(to_host(finite)):  # non-finite: redo
                            outs[i] = run_part(length, True, i, start)
                            guarded[i] = _has_diverged(outs[i][0])
                    _record(curves, kept, index, outs, done, length)  # curves past done: unread
                    # one assignment (no Ctrl-C between its stores): the parts match `done`
                    parts, done = [new for new, _, _ in outs], done + length
                    if checkpoint is not None:
                        _save(checkpoint, parts, curves, done)
                    bar.update(length)
                    if on_chunk is not None:
                        on_chunk(done)
        except KeyboardInterrupt:
            if done == 0:  # nothing finished to keep
                raise
            interrupted = True
        if not interrupted:
            finished = threads.each(finish)
    finally:
        threads.close()
    if interrupted:  # score what finished, undisturbed by another Ctrl-C
        with sigint_deferred():
            finished = [jax.block_until_ready(finish(i)) for i in range(len(parts))]
    return join_parts([jax.tree.map(to_host, o) for o in finished]), done
