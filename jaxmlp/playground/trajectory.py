"""A training run as the page plays it: real ``jaxmlp.train`` runs, with snapshots.

The page shows the parameters every ``steps_per_frame`` updates. They come from
``jaxmlp.train`` run in chunks (:func:`jaxmlp.playground.budget.plan`): each chunk
continues the previous one from its parameters and optimizer state
(``train(params, ..., opt_state=state, first_step=s, snapshot_every=...)``), which
``jaxmlp.train`` makes one run with it: so the parameters at step ``t`` are exactly
those of one ``jaxmlp.train(..., steps=t)`` call (the optimizer state and the mini-batch
order included; ``jaxmlp train --steps t``, which passes the rate the same way, too). A chunk is at
most one request's work budget, so neither a request that trains one nor one that waits
for one holds the session for long; the next chunk is trained in a background thread
while the page plays the current one. The learning rate is passed to ``train`` as a
value (held as optimizer state) and every chunk but a shorter last one has the same
length, so a new rate, or any setting of the same shapes, activation and optimizer,
reuses the compiled programs.
"""

from __future__ import annotations

import concurrent.futures
import functools
import threading
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxmlp
from jaxmlp import activations as _activations
from jaxmlp import losses, mlp, optimizers
from jaxmlp.playground import budget
from jaxmlp.playground.data import Problem
from jaxmlp.playground.settings import Settings


def _weights_only(params) -> tuple:
    """A mask pytree of bools in the params' structure: L2 on the weights, not the biases."""
    return tuple(mlp.Dense(W=True, b=False) for _ in params)  # type: ignore[arg-type]


def _add_l1(l1: float) -> optax.GradientTransformation:
    """Adds ``l1 * sign(W)`` to every weight's gradient: the (sub)gradient of ``l1 * sum |W|``."""
    return optax.masked(
        optax.stateless(lambda g, p: jax.tree.map(lambda gi, pi: gi + l1 * jnp.sign(pi), g, p)),
        _weights_only,
    )


@functools.lru_cache(maxsize=64)
def optimizer_factory(name: str, l2: float, l1: float = 0.0):
    """The optax constructor of ``jaxmlp train --optimizer name``, with L2 when ``l2 > 0``
    and L1 when ``l1 > 0`` (both on the weights, not the biases; L2 first, then L1, as the
    page's Python snippet writes them).

    It takes the learning rate first, for ``jaxmlp.train(..., optimizer=factory,
    learning_rate=rate)``: the rate is then optimizer state, so one compiled program
    serves every rate. ``l2 > 0`` adds ``l2 * W`` to every weight's gradient (not the
    biases'): the gradient of ``l2 / 2 * sum ||W||^2``. One object per (name, l2); two
    built for the same (name, l2) are also equal as compile keys
    (:func:`jaxmlp.optimizers.structural_key`).

    >>> optimizer_factory("sgd", 0.0) is optax.sgd
    True
    """
    inner = optimizers.by_name(name)
    if not (l2 or l1):
        return inner

    def regularized(learning_rate):
        penalties = [optax.add_decayed_weights(l2, mask=_weights_only)] if l2 else []
        penalties += [_add_l1(l1)] if l1 else []
        return optax.chain(*penalties, inner(learning_rate))

    return regularized


@functools.partial(jax.jit, static_argnames=("activation", "output"))
def _curves(snapshots, X, y, X_test, y_test, *, activation, output=None):
    """Full training-set and test loss (m,) of stacked snapshots (leading axis m)."""

    def losses_of(params):
        def mean_loss(X, y):
            logits = mlp.forward_with_intermediates(params, X, activation).s[-1]
            return losses.mean_loss(logits, y, output)

        return mean_loss(X, y), mean_loss(X_test, y_test)

    return jax.vmap(losses_of)(snapshots)


class Segment(NamedTuple):
    """Frames of one chunk: steps (m,), params stacked on axis 0, losses (m,)."""

    steps: np.ndarray
    params: mlp.Params
    train_loss: np.ndarray
    test_loss: np.ndarray
    diverged_at: int | None


class Trajectory:
    """The frames of one setting, trained chunk by chunk, ahead of the page.

    Frame ``i`` is the parameters after ``steps[i]`` updates (frame 0: the initial
    parameters). Thread-safe. ``plan`` (:func:`.budget.plan`) gives the frames' spacing,
    the chunks and the run's end; :meth:`frame` trains at most ``WORK_PER_REQUEST`` of
    work per call (waiting for a chunk in the background included).
    """

    def __init__(self, settings: Settings, problem: Problem, executor):
        self.settings = settings
        self.problem = problem
        self.activation = _activations.get(settings.activation)
        self.optimizer = optimizer_factory(settings.optimizer, settings.l2, settings.l1)
        keys = jaxmlp.datasets.run_keys(settings.seed)
        self.params0 = jaxmlp.init_mlp(jax.random.key(keys.init), settings.sizes())
        self._shuffle_key = jax.random.key(keys.shuffle) if settings.batch_size else None
        rows = int(problem.X_train.shape[0])
        self.plan = budget.plan(settings, rows, rows + int(problem.X_test.shape[0]))
        # the state after the last chunk trained: (step, params, optimizer state); the
        # first chunk too starts from a state (the optimizer's own init), so it runs the
        # same compiled program as every later chunk of its length
        injected, _ = optimizers.rate_injected(self.optimizer)
        self._state: tuple = (0, self.params0, injected.init(self.params0))
        self._segments: list[Segment] = []
        self._pending: concurrent.futures.Future | None = None
        self._executor = executor
        self._lock = threading.Lock()
        self.diverged_at: int | None = None

    def _chunk(self, start: int) -> int:
        """Steps of the chunk from step ``start``."""
        return min(self.plan.chunk, self.plan.end - start)

    def _train(self, state: tuple) -> tuple[Segment, tuple]:
        """The chunk from ``state`` (step, params, optimizer state): its frames, and the
        state after it."""
        s, p = self.settings, self.problem
        start, params, opt_state = state
        steps, every = self._chunk(start), self.plan.every
        result = jaxmlp.train(
            params,
            p.X_train,
            p.y_train,
            activation=self.activation,
            optimizer=self.optimizer,
            learning_rate=s.learning_rate,
            steps=steps,
            batch_size=s.batch_size,
            key=self._shuffle_key,
            snapshot_every=every if steps >= every else None,
            opt_state=opt_state,
            first_step=start,
            output=s.output,
        )
        if result.snapshots is not None:
            snapshots, relative = result.snapshots, np.asarray(result.snapshot_steps)
        else:  # a last chunk shorter than a frame: its start, then its end below
            snapshots = jax.tree.map(lambda a: jnp.asarray(a)[None], params)
            relative = np.zeros(1, dtype=np.int64)

        def curves(stacked):  # (train, test) loss of each of a stack of params
            return _curves(stacked, p.X_train, p.y_train, p.X_test, p.y_test,
                           activation=self.activation, output=s.output)  # fmt: skip

        train_loss, test_loss = curves(snapshots)
        steps_at = start + relative
        frames = jax.device_get(snapshots)
        if steps % every or result.snapshots is None:  # the final params, after the last snapshot
            steps_at = np.append(steps_at, start + steps)
            frames = jax.tree.map(lambda a, b: np.concatenate([a, b[None]]), frames, result.params)
            last = curves(jax.tree.map(lambda a: jnp.asarray(a)[None], result.params))
            train_loss = jnp.concatenate([train_loss, last[0]])
            test_loss = jnp.concatenate([test_loss, last[1]])
        diverged_at = None if result.diverged_at is None else start + result.diverged_at
        segment = Segment(
            steps=steps_at,
            params=frames,
            train_loss=np.asarray(train_loss),
            test_loss=np.asarray(test_loss),
            diverged_at=diverged_at,
        )
        return segment, (start + steps, result.params, result.opt_state)

    def first_segment(self) -> Segment:
        """The first chunk's frames, trained now (what a restart waits for)."""
        return self._train(self._state)[0]

    def idle(self) -> bool:
        """Whether the first chunk is known and no later one is being trained."""
        with self._lock:
            return bool(self._segments) and (self._pending is None or self._pending.done())

    def _known_step(self) -> int:
        return int(self._segments[-1].steps[-1]) if self._segments else -1

    def _finished(self) -> bool:
        """Whether nothing is left to train (the run's end reached, or it diverged)."""
        return self.diverged_at is not None or self._state[0] >= self.plan.end

    def _add(self, segment: Segment, state: tuple) -> None:
        known = self._known_step()
        keep = segment.steps > known
        if segment.diverged_at is not None:  # later frames would repeat the last good params
            keep &= segment.steps <= segment.diverged_at
        self._segments.append(
            Segment(
                steps=segment.steps[keep],
                params=jax.tree.map(lambda a: a[keep], segment.params),
                train_loss=segment.train_loss[keep],
                test_loss=segment.test_loss[keep],
                diverged_at=segment.diverged_at,
            )
        )
        self._state = state
        if segment.diverged_at is not None:
            self.diverged_at = segment.diverged_at

    def _advance(self) -> None:
        """The next chunk: the one in the background, waited for, or trained now; lock
        held."""
        if self._pending is not None:
            future, self._pending = self._pending, None
            segment, state = future.result()
        else:
            segment, state = self._train(self._state)
        self._add(segment, state)

    def _prefetch(self) -> None:
        """Starts the next chunk in the background (lock held)."""
        if self._pending is None and not self._finished() and self._executor is not None:
            state = self._state
            self._pending = self._executor.submit(self._train, state)

    def frame_count(self) -> int:
        """Frames known so far (computing the first chunk if none is)."""
        with self._lock:
            if not self._segments:
                self._advance()
                self._prefetch()
            return sum(len(seg.steps) for seg in self._segments)

    def is_last(self, index: int) -> bool:
        """Whether frame ``index`` is the run's last (its end reached or diverged)."""
        with self._lock:
            count = sum(len(seg.steps) for seg in self._segments)
            return index >= count - 1 and self._finished() and self._pending is None

    def frame(self, index: int) -> tuple[int, mlp.Params]:
        """``(step, params)`` of frame ``index``, or of the last frame known once
        training towards it has used ``WORK_PER_REQUEST`` (at least one chunk is
        trained, which fits in it), or once the run ends."""
        with self._lock:
            spent = 0
            while True:
                start = 0
                for seg in self._segments:
                    if index < start + len(seg.steps):
                        i = index - start
                        return int(seg.steps[i]), jax.tree.map(lambda a, i=i: a[i], seg.params)
                    start += len(seg.steps)
                if self._segments and (
                    (self._finished() and self._pending is None)
                    or spent + self.plan.chunk_work > budget.WORK_PER_REQUEST
                ):
                    index = start - 1  # the last frame known
                    continue
                self._advance()
                spent += self.plan.chunk_work

    def prefetch(self, index: int) -> None:
        """Starts training the next chunk once frame ``index`` is in the last one."""
        with self._lock:
            if self._segments:
                before_last = sum(len(seg.steps) for seg in self._segments[:-1])
                if index >= before_last:
                    self._prefetch()

    def curves(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Steps, training loss and test loss (each (i + 1,)) up to frame ``index``."""
        with self._lock:
            steps = np.concatenate([seg.steps for seg in self._segments])
            train = np.concatenate([seg.train_loss for seg in self._segments])
            test = np.concatenate([seg.test_loss for seg in self._segments])
        return steps[: index + 1], train[: index + 1], test[: index + 1]
