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
from typing import Any

import jax
import numpy as np

from jaxmlp import activations as _activations
from jaxmlp.playground import compare as _compare
from jaxmlp.playground import views
from jaxmlp.playground.data import make_problem
from jaxmlp.playground.settings import (
    DATASETS,
    GENERATED,
    Settings,
    command_line,
    default_noise,
    parse_settings,
    python_snippet,
)
from jaxmlp.playground.trajectory import Trajectory

MAX_CURVE_POINTS = 400


def _thin(steps: np.ndarray, *curves: np.ndarray) -> list[list]:
    """At most MAX_CURVE_POINTS evenly spaced points of each curve (the last one kept)."""
    if steps.size > MAX_CURVE_POINTS:
        keep = np.unique(np.linspace(0, steps.size - 1, MAX_CURVE_POINTS).round().astype(int))
        steps, curves = steps[keep], tuple(c[keep] for c in curves)
    return [steps.tolist(), *(views._rounded(c, 5) for c in curves)]


class Playground:
    """The current setting, its trajectory and the frame the page shows.

    >>> pg = Playground()
    >>> pg.step(2)["step"]
    20
    """

    def __init__(self, settings: Settings | None = None):
        self._executor = concurrent.futures.ThreadPoolExecutor(1, "jaxmlp-playground")
        self._lock = threading.RLock()
        self._closed = False
        self._configure(settings or Settings())

    def close(self) -> None:
        """Waits for running work (a horizon in the background, a request's computation)
        and refuses any later call: JAX work still running in a thread at interpreter exit
        can crash it."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the playground is stopped")

    def _configure(self, settings: Settings) -> None:
        with self._lock:
            self._check_open()
            problem = make_problem(settings)
            self.settings = settings
            self.problem = problem
            self.canvas = views.make_canvas(problem)
            self.trajectory = Trajectory(settings, problem, self._executor)
            self.index = 0

    @staticmethod
    def choices() -> dict[str, Any]:
        """The page's options: data sets with their default noise, activations, optimizers."""
        from jaxmlp.cli import OPTIMIZERS
        from jaxmlp.plots import style

        return {
            "datasets": list(DATASETS),
            "default_noise": {name: default_noise(name) for name in GENERATED},
            "activations": list(_activations.NAMES),
            "optimizers": list(OPTIMIZERS),
            "defaults": Settings().public(),
            "palette": {
                "classes": list(style.CLASS_COLORS),
                "regions": list(style.REGION_COLORS),
                "boundary": style.BOUNDARY_COLOR,
                "units": list(style.UNIT_COLORS),
                "curves": list(style.CURVE_COLORS),
            },
        }

    def configure(self, raw: dict) -> dict:
        """Applies the page's settings (checked) and returns the data and frame 0."""
        self._configure(parse_settings(raw))
        return {**self.data(), "frame": self.frame()}

    def data(self) -> dict:
        """The points: ``X_train`` (n, 2), ``y_train`` (n,), the same for test, limits."""
        p = self.problem
        return {
            "settings": self.settings.public(),
            "X_train": views._rounded(p.X_train),
            "y_train": np.asarray(p.y_train).tolist(),
            "X_test": views._rounded(p.X_test),
            "y_test": np.asarray(p.y_test).tolist(),
            "limits": [list(lim) for lim in self.canvas.limits],
            "grid": [views._rounded(self.canvas.xs), views._rounded(self.canvas.ys)],
        }

    def reset(self) -> dict:
        """Back to step 0 of the same setting."""
        with self._lock:
            self.index = 0
        return self.frame()

    def step(self, frames: int = 1) -> dict:
        """Moves ``frames`` frames on (each ``steps_per_frame`` updates) and returns it."""
        if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= 1000:
            raise ValueError(f"frames must be an integer in [1, 1000], got {frames!r}")
        with self._lock:
            self.index += frames
            return self.frame()

    def _current(self):
        with self._lock:
            self._check_open()
            step, params = self.trajectory.frame(self.index)
            self.index = min(self.index, self.trajectory.frame_count() - 1)
            return step, jax.tree.map(jax.numpy.asarray, params)

    def frame(self) -> dict:
        """The current frame: step, losses, accuracies and every picture of the page."""
        with self._lock:
            step, params = self._current()
            trajectory, index = self.trajectory, self.index
            trajectory.prefetch(index)
            steps, train, test = trajectory.curves(index)
            done = trajectory.is_last(index)
            out = views.picture(params, self.problem, self.canvas, self.settings.activation)
        return {
            **out,
            "step": step,
            "frame": index,
            "done": done,
            "diverged_at": trajectory.diverged_at,
            "train_loss": float(train[-1]),
            "test_loss": float(test[-1]),
            "curve": _thin(steps, train, test),
        }

    def gradients(self) -> dict:
        """The post's gradients of the current params (whole training set) and jax.grad's."""
        with self._lock:
            step, params = self._current()
            p = self.problem
            out = views.gradients(params, p.X_train, p.y_train, self.settings.activation)
        return {**out, "step": step}

    def compare(self, axis: str, values) -> dict:
        """The setting trained for several widths or activations (see :mod:`.compare`)."""
        with self._lock:  # held throughout: the page's stepping waits for the comparison
            step, _ = self._current()
            return _compare.compare(
                self.settings,
                self.problem,
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
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "params.safetensors")
            io.save_params(path, params, step=step, **metadata)
            with open(path, "rb") as f:
                content = f.read()
        return f"jaxmlp-params-step{step}.safetensors", content
