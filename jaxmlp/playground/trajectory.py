"""A training run as the page plays it: real ``jaxmlp.train`` runs, with snapshots.

The page shows the parameters every ``steps_per_frame`` updates. They come from
``jaxmlp.train(params0, ..., steps=H, snapshot_every=steps_per_frame)`` over growing
horizons ``H`` (1000, 4000, 16000, ... up to ``max_steps``), each run from the
initial parameters: so the parameters at step ``t`` are exactly those of one
``jaxmlp.train(..., steps=t)`` call (the optimizer state and the mini-batch order
included; ``jaxmlp train --steps t`` gives them to float rounding), with no state
carried between calls. The next horizon is trained in a background thread while the
page plays the current one. The learning rate is passed to ``train`` as a value (held
as optimizer state) and the horizons are the same for every setting, so a new rate, or
any setting of the same shapes, activation and optimizer, reuses the compiled programs.
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
from jaxmlp.playground.data import Problem
from jaxmlp.playground.settings import Settings

FIRST_HORIZON = 1000
GROWTH = 4
MAX_SNAPSHOT_FLOATS = 2**24  # host memory of one run's snapshots: 64 MiB of float32


def _weights_only(params) -> tuple:
    """A mask pytree of bools in the params' structure: L2 on the weights, not the biases."""
    return tuple(mlp.Dense(W=True, b=False) for _ in params)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=64)
def optimizer_factory(name: str, l2: float):
    """The optax constructor of ``jaxmlp train --optimizer name``, with L2 when ``l2 > 0``.

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
    if not l2:
        return inner

    def with_l2(learning_rate):
        return optax.chain(optax.add_decayed_weights(l2, mask=_weights_only), inner(learning_rate))

    return with_l2


def horizons(max_steps: int, every: int) -> list[int]:
    """The run lengths trained in turn: multiples of ``every``, growing, ending at the last.

    >>> horizons(20000, 10)
    [1000, 4000, 16000, 20000]
    """
    last = max(every, max_steps // every * every)
    out, h = [], FIRST_HORIZON
    while h < last:
        out.append(-(-h // every) * every)
        h *= GROWTH
    out.append(last)
    return sorted(set(out))


@functools.partial(jax.jit, static_argnames="activation")
def _curves(snapshots, X, y, X_test, y_test, *, activation):
    """Full training-set and test loss (m,) of stacked snapshots (leading axis m)."""

    def losses_of(params):
        def mean_loss(X, y):
            return losses.mean_cross_entropy(
                mlp.forward_with_intermediates(params, X, activation).s[-1], y
            )

        return mean_loss(X, y), mean_loss(X_test, y_test)

    return jax.vmap(losses_of)(snapshots)


class Segment(NamedTuple):
    """Frames of one horizon: steps (m,), params stacked on axis 0, losses (m,)."""

    steps: np.ndarray
    params: mlp.Params
    train_loss: np.ndarray
    test_loss: np.ndarray
    diverged_at: int | None


class Trajectory:
    """The frames of one setting, trained horizon by horizon, ahead of the page.

    Frame ``i`` is the parameters after ``steps[i]`` updates (frame 0: the initial
    parameters). Thread-safe.
    """

    def __init__(self, settings: Settings, problem: Problem, executor):
        self.settings = settings
        self.problem = problem
        self.activation = _activations.get(settings.activation)
        self.optimizer = optimizer_factory(settings.optimizer, settings.l2)
        self.params0 = jaxmlp.init_mlp(
            jax.random.key(jaxmlp.datasets.run_keys(settings.seed).init), settings.sizes()
        )
        self.n_params = sum(leaf.size for leaf in jax.tree.leaves(self.params0))
        self._horizons = horizons(settings.max_steps, settings.steps_per_frame)
        self._segments: list[Segment] = []
        self._pending: concurrent.futures.Future | None = None
        self._executor = executor
        self._lock = threading.Lock()
        self.diverged_at: int | None = None

    def _train(self, horizon: int) -> Segment:
        s, p = self.settings, self.problem
        every = s.steps_per_frame
        # at most MAX_SNAPSHOT_FLOATS floats of snapshots: a wide net's frames are sparser
        while (horizon // every + 1) * self.n_params > MAX_SNAPSHOT_FLOATS and every < horizon:
            every = min(horizon, every * 2)
        result = jaxmlp.train(
            self.params0,
            p.X_train,
            p.y_train,
            activation=self.activation,
            optimizer=self.optimizer,
            learning_rate=s.learning_rate,
            steps=horizon,
            batch_size=s.batch_size,
            key=jax.random.key(jaxmlp.datasets.run_keys(s.seed).shuffle) if s.batch_size else None,
            snapshot_every=every,
        )
        train_loss, test_loss = _curves(
            result.snapshots, p.X_train, p.y_train, p.X_test, p.y_test, activation=self.activation
        )
        steps = np.asarray(result.snapshot_steps)
        params = jax.device_get(result.snapshots)
        if horizon % every:  # the final params, after the last snapshot
            steps = np.append(steps, horizon)
            params = jax.tree.map(lambda a, b: np.concatenate([a, b[None]]), params, result.params)
            last = _curves(
                jax.tree.map(lambda a: jnp.asarray(a)[None], result.params),
                p.X_train,
                p.y_train,
                p.X_test,
                p.y_test,
                activation=self.activation,
            )
            train_loss = jnp.concatenate([train_loss, last[0]])
            test_loss = jnp.concatenate([test_loss, last[1]])
        return Segment(
            steps=steps,
            params=params,
            train_loss=np.asarray(train_loss),
            test_loss=np.asarray(test_loss),
            diverged_at=result.diverged_at,
        )

    def first_segment(self) -> Segment:
        """The first horizon's frames, trained now (what a restart waits for)."""
        return self._train(self._horizons[0])

    def idle(self) -> bool:
        """Whether the first horizon is known and no later one is being trained."""
        with self._lock:
            return bool(self._segments) and (self._pending is None or self._pending.done())

    def _known_horizon(self) -> int:
        return self._segments[-1].steps[-1] if self._segments else -1

    def _next_horizon(self) -> int | None:
        known = self._known_horizon()
        later = [h for h in self._horizons if h > known]
        if self.diverged_at is not None or not later:
            return None
        return later[0]

    def _add(self, segment: Segment) -> None:
        known = self._known_horizon()
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
        if segment.diverged_at is not None:
            self.diverged_at = segment.diverged_at

    def _grow(self, wait: bool) -> None:
        """Trains the next horizon (in the background unless ``wait``); lock held."""
        if self._pending is not None and (wait or self._pending.done()):
            future, self._pending = self._pending, None
            horizon, segment = future.result()
            if horizon > self._known_horizon():
                self._add(segment)
        horizon = self._next_horizon()
        if horizon is None or self._pending is not None:
            return
        if wait:
            self._add(self._train(horizon))
            horizon = self._next_horizon()
            if horizon is None:
                return
        self._pending = self._executor.submit(lambda h=horizon: (h, self._train(h)))

    def frame_count(self) -> int:
        """Frames known so far (computing the first horizon if none is)."""
        with self._lock:
            if not self._segments:
                self._grow(wait=True)
            return sum(len(seg.steps) for seg in self._segments)

    def is_last(self, index: int) -> bool:
        """Whether frame ``index`` is the run's last (``max_steps`` reached or diverged)."""
        with self._lock:
            count = sum(len(seg.steps) for seg in self._segments)
            return index >= count - 1 and self._next_horizon() is None and self._pending is None

    def frame(self, index: int) -> tuple[int, mlp.Params]:
        """``(step, params)`` of frame ``index`` (clipped to the last frame of the run)."""
        with self._lock:
            while True:
                start = 0
                for seg in self._segments:
                    if index < start + len(seg.steps):
                        i = index - start
                        return int(seg.steps[i]), jax.tree.map(lambda a, i=i: a[i], seg.params)
                    start += len(seg.steps)
                if self._next_horizon() is None and self._pending is None:
                    index = start - 1  # past the end: the last frame
                    continue
                self._grow(wait=True)

    def prefetch(self, index: int) -> None:
        """Starts training the next horizon once frame ``index`` is in the last one."""
        with self._lock:
            if self._segments:
                before_last = sum(len(seg.steps) for seg in self._segments[:-1])
                if index >= before_last:
                    self._grow(wait=False)

    def curves(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Steps, training loss and test loss (each (i + 1,)) up to frame ``index``."""
        with self._lock:
            steps = np.concatenate([seg.steps for seg in self._segments])
            train = np.concatenate([seg.train_loss for seg in self._segments])
            test = np.concatenate([seg.test_loss for seg in self._segments])
        return steps[: index + 1], train[: index + 1], test[: index + 1]
