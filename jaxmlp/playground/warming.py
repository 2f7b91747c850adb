"""Compiles, while the page is idle, the programs of the settings one change away.

A new learning rate or seed reuses the current setting's compiled programs; a new
activation, optimizer, data set or width needs programs of its own (``jaxmlp.train``
for the first chunk, the loss curves, the pictures, the gradients): about a second
of compiling on first use. :class:`Warmer` compiles them ahead, one setting at a
time in a background thread, by running exactly what a restart to that setting runs,
and only while no frame has been asked for in the last ``IDLE_S`` seconds: once the page
asks for frames, warming stops after the program being compiled (and takes that setting
up again when the page is idle), so playing is slowed by at most one compile.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxmlp import activations as _activations
from jaxmlp import optimizers
from jaxmlp.playground import views
from jaxmlp.playground.data import make_inputs, make_problem
from jaxmlp.playground.settings import MAX_WIDTH, MODE_DATASETS, Settings, default_noise
from jaxmlp.playground.trajectory import Trajectory

IDLE_S = 1.0  # seconds without a frame request before warming (resumes between settings)


def program_key(settings: Settings) -> tuple:
    """What decides a setting's compiled programs (not its rate, seed, noise or CSV rows).

    >>> program_key(Settings()) == program_key(Settings(learning_rate=0.5, seed=3))
    True
    >>> program_key(Settings()) == program_key(Settings(features=("x1", "x2", "x1*x2")))
    False
    >>> program_key(Settings()) == program_key(Settings(l1=0.01))
    False
    """
    s = settings
    n = s.n if s.dataset != "csv" else ("csv", s.csv_text.count("\n"))
    return (n, s.test_fraction, s.hidden, s.activation, s.optimizer, s.l2, s.batch_size,
            s.steps_per_frame, s.max_steps, s.dataset, s.mode, len(s.features), s.l1)  # fmt: skip


def neighbours(settings: Settings) -> list[Settings]:
    """The settings one change away that need other programs, most asked for first:
    every other activation, every other optimizer (same L2), every other generated
    data set of the mode (its default noise), and the last hidden layer one unit narrower
    or wider.

    >>> [s.activation for s in neighbours(Settings())][:2]
    ['tanh', 'relu']
    """
    s = settings
    out = [dataclasses.replace(s, activation=a) for a in _activations.NAMES if a != s.activation]
    out += [dataclasses.replace(s, optimizer=o) for o in optimizers.NAMES if o != s.optimizer]
    if s.dataset != "csv":
        out += [
            dataclasses.replace(s, dataset=d, noise=default_noise(d))
            for d in MODE_DATASETS[s.mode]
            if d not in (s.dataset, "csv")
        ]
    if s.hidden:
        for width in (s.hidden[-1] - 1, s.hidden[-1] + 1):
            if 1 <= width <= MAX_WIDTH:
                out.append(dataclasses.replace(s, hidden=(*s.hidden[:-1], width)))
    return out


def warm(settings: Settings, stopped: Callable[[], bool] = lambda: False) -> bool:
    """Runs, on the calling thread, what a restart to ``settings`` runs: the data, the
    first chunk's training and loss curves, the pictures and the gradients. Returns
    early, False, if ``stopped()`` between them; True once all ran."""
    problem = make_problem(settings)  # the Trajectory fits the budget as configure does
    canvas = views.make_canvas(problem, features=settings.features)
    problem = make_inputs(settings)
    if stopped():
        return False
    segment = Trajectory(settings, problem, executor=None).first_segment()
    params = jax.tree.map(lambda a: jnp.asarray(a[-1]), segment.params)
    if stopped():
        return False
    views.picture(params, problem, canvas, settings.activation, settings.output)
    if stopped():
        return False
    views.gradients(params, problem.X_train, problem.y_train, settings.activation, settings.output)
    return True


class Warmer:
    """A daemon thread that warms the neighbours of the current setting while idle.

    ``is_idle()`` says whether the page is idle (checked before each setting).
    """

    def __init__(self, is_idle: Callable[[], bool]):
        self._is_idle = is_idle
        self._todo: list[Settings] = []
        self._done: set[tuple] = set()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="jaxmlp-playground-warm")
        self._thread.daemon = True
        self._thread.start()

    def target(self, settings: Settings) -> None:
        """Warms the neighbours of ``settings`` from now on (the current one is warm)."""
        with self._cond:
            self._done.add(program_key(settings))
            self._todo = [s for s in neighbours(settings) if program_key(s) not in self._done]
            self._cond.notify()

    def pending(self) -> int:
        """Settings still to warm."""
        with self._cond:
            return len(self._todo)

    def close(self) -> None:
        """Stops at the end of the program being compiled (JAX work must not outlive the
        process)."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join()

    def _next(self) -> Settings | None:
        """The next setting to warm, once the page is idle; None once stopped."""
        while True:
            with self._cond:
                while not self._stopped and not self._todo:
                    self._cond.wait()
                if self._stopped:
                    return None
            if not self._is_idle():
                time.sleep(IDLE_S / 4)
                continue
            with self._cond:
                if self._todo and not self._stopped:
                    settings = self._todo.pop(0)
                    self._done.add(program_key(settings))
                    return settings

    def _run(self) -> None:
        while (settings := self._next()) is not None:
            try:
                done = warm(settings, lambda: self._stopped or not self._is_idle())
            except Exception:  # a neighbour that cannot be built (too many points...): skip
                continue
            if not done:  # the page got busy: this setting again, first, once idle
                with self._cond:
                    self._done.discard(program_key(settings))
                    if not any(program_key(t) == program_key(settings) for t in self._todo):
                        self._todo.insert(0, settings)
