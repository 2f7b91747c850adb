"""The playground's state behind the page: one setting, its run, and where the page is in it.

:class:`Playground` is what the HTTP server calls; every method takes and returns
JSON-ready values, so the tests drive it directly, as the page does.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import tempfile
import threading
import time
from typing import Any

import jax
import numpy as np

from jaxmlp import activations as _activations
from jaxmlp import optimizers
from jaxmlp.playground import budget, views
from jaxmlp.playground import compare as _compare
from jaxmlp.playground.data import make_inputs, make_problem
from jaxmlp.playground.features import NAMES as FEATURE_NAMES
from jaxmlp.playground.settings import (
    DATASETS,
    MODE_DATASETS,
    MODE_STARTS,
    MODES,
    POST_STEPS,
    Settings,
    command_line,
    default_noise,
    parse_settings,
    python_snippet,
)
from jaxmlp.playground.trajectory import Trajectory
from jaxmlp.playground.warming import IDLE_S, Warmer

MAX_CURVE_POINTS = 256


def curve_stride(index: int) -> int:
    """The loss curve's spacing in frames at frame ``index``: the smallest power of two
    that keeps at most MAX_CURVE_POINTS frames ``0, s, 2s, ...`` up to ``index``. A frame
    on the curve stays on it until the stride doubles, which drops every other one.

    >>> curve_stride(10), curve_stride(MAX_CURVE_POINTS - 1), curve_stride(MAX_CURVE_POINTS)
    (1, 1, 2)
    """
    stride = 1
    while index // stride + 1 > MAX_CURVE_POINTS:
        stride *= 2
    return stride


def curve_points(steps: np.ndarray, train: np.ndarray, test: np.ndarray, since: int | None) -> dict:
    """The loss curve's frames on the stride grid, after frame ``since`` if given.

    ``steps``, ``train``, ``test`` (i + 1,) are the curves up to frame ``i`` (the
    current one). The page keeps the points it has and appends these: a frame's
    payload stays small however long the run (``since=None`` or ``since >= i``: all of
    them, ``"full": true``). The current frame is always the last point (``"head"``),
    on the grid or not.

    >>> c = curve_points(np.arange(5) * 10, np.ones(5), np.ones(5), since=2)
    >>> c["frames"], c["steps"], c["full"], c["head"]["step"]
    ([3, 4], [30, 40], False, 40)
    """
    index = steps.size - 1
    stride = curve_stride(index)
    full = since is None or since < 0 or since >= index
    start = 0 if full else (since // stride + 1) * stride  # type: ignore[operator]
    frames = np.arange(start, index + 1, stride)
    return {
        "stride": stride,
        "full": full,
        "frames": frames.tolist(),
        "steps": steps[frames].tolist(),
        "train": views.rounded(train[frames], 5),
        "test": views.rounded(test[frames], 5),
        "head": {
            "frame": index,
            "step": int(steps[index]),
            "train": round(float(train[index]), 5),
            "test": round(float(test[index]), 5),
        },
    }


class Playground:
    """The current setting, its trajectory and the frame the page shows.

    With ``warm``, the programs of the settings one change away are compiled in a
    background thread while the page is idle (:mod:`.warming`), so that a change of
    activation, optimizer, data set or width restarts without compiling.

    >>> pg = Playground()
    >>> pg.step(2)["step"]
    20
    >>> pg.close()
    """

    def __init__(self, settings: Settings | None = None, *, warm: bool = False):
        self._executor = concurrent.futures.ThreadPoolExecutor(1, "jaxmlp-playground")
        self._lock = threading.RLock()
        self._closed = False
        self._last_request = time.monotonic()
        self._warmer = Warmer(self._idle) if warm else None
        self._configure(settings or Settings(), replacing=False)

    def _idle(self) -> bool:
        """No frame asked for in the last IDLE_S seconds, and no chunk being trained."""
        if time.monotonic() - self._last_request < IDLE_S:
            return False
        with self._lock:
            return not self._closed and self.trajectory.idle()

    def close(self) -> None:
        """Waits for running work (a chunk in the background, a request's computation,
        a setting being warmed) and refuses any later call: JAX work still running in a
        thread at interpreter exit can crash it."""
        if self._warmer is not None:
            self._warmer.close()
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the playground is stopped")

    def _configure(self, settings: Settings, *, replacing: bool = True) -> None:
        """Replaces the setting, or leaves everything as it was if any part of the new
        one is refused: its data, its batch size against the training rows, and its
        first chunk of training (``jaxmlp.train``'s own checks) all run first. The first
        setting (``replacing=False``: nothing to keep) trains on its first frame instead,
        so that a server prints its address before compiling anything."""
        self._last_request = time.monotonic()
        with self._lock:
            self._check_open()
            problem = make_problem(settings)
            rows = int(problem.X_train.shape[0])
            if settings.batch_size is not None and settings.batch_size > rows:
                raise ValueError(
                    f"batch_size must be at most the training rows ({rows}: n less the test "
                    f"fraction {settings.test_fraction:g}), got {settings.batch_size}"
                )
            # steps per frame and max steps lowered where one request's work needs it
            settings, notes = budget.fit(settings, rows, rows + int(problem.X_test.shape[0]))
            inputs = make_inputs(settings)  # what the network sees: the input features
            canvas = views.make_canvas(problem, features=settings.features)
            trajectory = Trajectory(settings, inputs, self._executor)
            if replacing:
                trajectory.frame_count()  # trains the first chunk: what it refuses, raises here
            self.settings, self.problem, self.canvas = settings, problem, canvas
            self.inputs = inputs
            self.trajectory, self.notes = trajectory, notes
            self.index = 0
            if self._warmer is not None:
                self._warmer.target(settings)

    @staticmethod
    def choices() -> dict[str, Any]:
        """The page's options: data sets with their default noise, activations, optimizers."""
        from jaxmlp.plots import style

        return {
            "datasets": list(DATASETS),
            "modes": list(MODES),
            "mode_datasets": {mode: list(names) for mode, names in MODE_DATASETS.items()},
            "mode_starts": MODE_STARTS,
            "default_noise": {name: default_noise(name) for name in DATASETS if name != "csv"},
            "activations": list(_activations.NAMES),
            "optimizers": list(optimizers.NAMES),
            "features": list(FEATURE_NAMES),
            "post_steps": [step._asdict() for step in POST_STEPS],
            "defaults": Settings().public(),
            "palette": {
                "classes": list(style.CLASS_COLORS),
                "regions": list(style.REGION_COLORS),
                "boundary": style.BOUNDARY_COLOR,
                "sign": list(style.SIGN_COLORS),  # negative, positive: weights and biases
                "units": list(style.UNIT_COLORS),
                "curves": list(style.CURVE_COLORS),
            },
        }

    def configure(self, raw: dict) -> dict:
        """Applies the page's settings (checked) and returns the data and frame 0.

        The data's ``settings`` are those applied: the steps per frame and max steps
        may be lower than asked (:func:`.budget.fit`), and ``notes`` then says why."""
        self._configure(parse_settings(raw))
        return {**self.data(), "frame": self.frame()}

    def data(self) -> dict:
        """The points: ``X_train`` (n, 2), ``y_train`` (n,), the same for test, limits,
        ``notes``: the settings lowered to the work budget, one sentence each, and
        ``value_range``: regression's colour scale, +- the largest |target| (else null)."""
        p = self.problem
        value_range = None
        if self.settings.mode == "regression":
            targets = np.concatenate([np.asarray(p.y_train), np.asarray(p.y_test)])
            value_range = max(float(np.max(np.abs(targets))), 1e-6)
        return {
            "value_range": value_range,
            "settings": self.settings.public(),
            "notes": list(self.notes),
            "X_train": views.rounded(p.X_train),
            "y_train": views.labels(p.y_train),
            "X_test": views.rounded(p.X_test),
            "y_test": views.labels(p.y_test),
            "limits": [list(lim) for lim in self.canvas.limits],
            "grid": [views.rounded(self.canvas.xs), views.rounded(self.canvas.ys)],
        }

    def reset(self) -> dict:
        """Back to step 0 of the same setting."""
        with self._lock:
            self.index = 0
        return self.frame()

    def step(self, frames: int = 1, curve_since: int | None = None) -> dict:
        """Moves ``frames`` frames on (each ``steps_per_frame`` updates) and returns it,
        with the loss curve's points after frame ``curve_since`` (all if None). Stops
        short of ``frames`` at the last frame trained once this request's work budget
        is spent (its ``frame`` says where)."""
        if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= 1000:
            raise ValueError(f"frames must be an integer in [1, 1000], got {frames!r}")
        if curve_since is not None and (
            isinstance(curve_since, bool) or not isinstance(curve_since, int)
        ):
            raise ValueError(f"curve_since must be an integer or null, got {curve_since!r}")
        self._last_request = time.monotonic()
        with self._lock:
            self.index += frames
            return self.frame(curve_since)

    def _current(self):
        with self._lock:
            self._check_open()
            step, params = self.trajectory.frame(self.index)
            self.index = min(self.index, self.trajectory.frame_count() - 1)
            return step, jax.tree.map(jax.numpy.asarray, params)

    def frame(self, curve_since: int | None = None) -> dict:
        """The current frame: step, losses, accuracies and every picture of the page,
        with the loss curve's points after frame ``curve_since`` (:func:`curve_points`)."""
        with self._lock:
            step, params = self._current()
            trajectory, index = self.trajectory, self.index
            trajectory.prefetch(index)
            steps, train, test = trajectory.curves(index)
            done = trajectory.is_last(index)
            out = views.picture(
                params, self.inputs, self.canvas, self.settings.activation, self.settings.output
            )
        return {
            **out,
            "step": step,
            "frame": index,
            "done": done,
            "diverged_at": trajectory.diverged_at,
            "train_loss": float(train[-1]),
            "test_loss": float(test[-1]),
            "curve": curve_points(steps, train, test, curve_since),
        }

    def gradients(self) -> dict:
        """The post's gradients of the current params (whole training set) and jax.grad's."""
        with self._lock:
            step, params = self._current()
            p = self.inputs
            out = views.gradients(
                params, p.X_train, p.y_train, self.settings.activation, self.settings.output
            )
        return {**out, "step": step}

    def compare(self, axis: str, values) -> dict:
        """The setting trained for several widths or activations (see :mod:`.compare`)."""
        with self._lock:  # held throughout: the page's stepping waits for the comparison
            if self.settings.mode == "regression":
                raise ValueError(
                    "compare trains classifiers (jaxmlp.sweep): switch mode to classification"
                )
            step, _ = self._current()
            return _compare.compare(
                self.settings,
                self.inputs,
                self.canvas,
                axis=axis,
                values=values,
                steps=step or self.settings.max_steps,
            )

    def reproduce(self) -> dict:
        """The ``jaxmlp train`` command (or why there is none) and Python of the current step."""
        with self._lock:
            step, _ = self._current()
            settings = self.settings
        steps = step or settings.max_steps
        command, note = command_line(settings, steps)
        return {
            "steps": steps,
            "command": command,
            "note": note,
            "python": python_snippet(settings, steps),
        }

    def params_file(self) -> tuple[str, bytes]:
        """``(file name, bytes)`` of the current params, written by ``jaxmlp.io.save_params``."""
        from jaxmlp import io

        with self._lock:
            step, params = self._current()
            settings = self.settings
        metadata = {k: v for k, v in dataclasses.asdict(settings).items() if k not in ("csv_text",)}
        metadata["hidden"] = list(settings.hidden)
        metadata["features"] = list(settings.features)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "params.safetensors")
            io.save_params(path, params, step=step, **metadata)
            with open(path, "rb") as f:
                content = f.read()
        return f"jaxmlp-params-step{step}.safetensors", content
