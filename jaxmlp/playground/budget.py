"""The playground's work budget: how much computing one request may do, and the plan
of a run that keeps every request within it.

Every request of the page runs under the session's lock, so what one request computes,
every other waits for. The work of a request is counted in multiply-adds (see
:func:`step_work`), and no request may compute more than ``WORK_PER_REQUEST``:

* training runs in chunks (:func:`plan`): each chunk, in a request or in the background
  thread the requests wait for, is at most the budget, less one frame's pictures;
* a setting whose single frame would cost more has its steps per frame lowered to what
  fits, and one whose frames would not fit the memory kept for them (MAX_SNAPSHOT_FLOATS)
  at that spacing has its max steps lowered (:func:`fit`); the page says so;
* compare mode trains its networks for at most the steps the budget allows
  (:func:`compare_steps`).

The budget itself is :data:`jaxmlp.validation.PLAYGROUND_REQUEST_WORK`, with jaxmlp's
other limits; this module holds the model that counts a request's work against it.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from jaxmlp import validation
from jaxmlp.playground.settings import Settings

# Multiply-adds one request may compute (jaxmlp.validation.PLAYGROUND_REQUEST_WORK):
# about 0.8 s of the playground's largest networks on the 2-core CPU VM under load
# (25e9 multiply-adds per second measured there, load average 7, for 5000 points
# through six layers of 128: 50 ms a step).
WORK_PER_REQUEST = validation.PLAYGROUND_REQUEST_WORK
# What a step costs besides the multiply-adds, in multiply-adds of the same time
# (fitted to the same measurements, rounded up): an activation and its derivative per
# unit and row, an optimizer update per parameter, and a fixed cost per layer.
UNIT_WORK = 40
PARAM_WORK = 80
LAYER_WORK = 50_000
MAX_SNAPSHOT_FLOATS = 2**24  # host memory of one run's frames: 64 MiB of float32
CHUNK_STEPS = 1000  # the most steps trained at once, however cheap
PICTURE_POINTS = 48 * 48  # the region and unit maps' grid (views.RESOLUTION squared)


def forward_work(sizes: tuple[int, ...]) -> int:
    """Multiply-adds of one row through the network (its units' activations included).

    >>> forward_work((2, 3, 1))  # 2*3 + 3*1 weights, 4 units
    169
    """
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    return weights + UNIT_WORK * sum(sizes[1:])


def step_work(sizes: tuple[int, ...], rows: int) -> int:
    """One training step on ``rows`` rows: forward and backward (three times the
    forward's multiply-adds), the optimizer's update, and each layer's fixed cost."""
    layers = len(sizes) - 1
    return (
        3 * rows * forward_work(sizes)
        + PARAM_WORK * validation.count_params(sizes)
        + LAYER_WORK * layers
    )


class Plan(NamedTuple):
    """How a run is trained within the budget.

    Attributes:
      every: steps between two frames (a multiple of the steps per frame).
      chunk: steps trained at once (a multiple of ``every``).
      end: the run's last step (a multiple of the steps per frame).
      step_work: work of one step.
      chunk_work: work of a chunk of ``chunk`` steps, its frames' losses included.
    """

    every: int
    chunk: int
    end: int
    step_work: int
    chunk_work: int


def _rows(settings: Settings, train_rows: int) -> int:
    return settings.batch_size or train_rows


def _steps_within(settings: Settings, train_rows: int, all_rows: int) -> tuple[int, int, int]:
    """``(steps, step work, curve work)``: the most steps one request may train (each
    step with its frame's loss curves, counted as if every step were a frame)."""
    sizes = settings.sizes()
    per_step = step_work(sizes, _rows(settings, train_rows))
    curve = all_rows * forward_work(sizes)
    available = WORK_PER_REQUEST - (PICTURE_POINTS + all_rows) * forward_work(sizes)
    return max(1, (available - curve) // (per_step + curve)), per_step, curve


def fit(settings: Settings, train_rows: int, all_rows: int) -> tuple[Settings, list[str]]:
    """``settings`` with the steps per frame and max steps lowered where the budget
    needs it, and one sentence for the page per value lowered (none: unchanged).

    Args:
      settings: checked settings.
      train_rows, all_rows: the training rows and all rows (training and test).

    >>> fit(Settings(), 150, 200)[1]
    []
    >>> big = Settings(n=5000, hidden=(128,) * 6, steps_per_frame=10_000, max_steps=10_000)
    >>> fitted, notes = fit(big, 3750, 5000)
    >>> fitted.steps_per_frame, fitted.max_steps, len(notes)
    (10, 2000, 2)
    """
    within, per_step, _ = _steps_within(settings, train_rows, all_rows)
    params = validation.count_params(settings.sizes())
    notes = []
    spf = settings.steps_per_frame
    if spf > within:
        notes.append(
            f"steps per frame lowered from {spf} to {within}: a request may compute at most "
            f"{WORK_PER_REQUEST:.1e} multiply-adds, and one step of this setting is "
            f"{per_step:.1e} ({_rows(settings, train_rows)} rows, {params:,} parameters)"
        )
        spf = within
    frames = MAX_SNAPSHOT_FLOATS // params
    widest = spf << ((within // spf).bit_length() - 1)  # the sparsest frames a request trains
    longest = (frames - 1) * widest  # the longest run whose frames fit in memory
    max_steps = settings.max_steps
    if settings.max_steps // spf * spf > longest:
        notes.append(
            f"max steps lowered from {max_steps} to {longest}: {frames - 1} frames of "
            f"{params:,} parameters, one every {widest} steps (the most a request may "
            f"train), fill the {MAX_SNAPSHOT_FLOATS * 4 // 2**20} MiB kept for frames"
        )
        max_steps = longest
    fitted = dataclasses.replace(settings, steps_per_frame=spf, max_steps=max_steps)
    return fitted, notes


def plan(settings: Settings, train_rows: int, all_rows: int) -> Plan:
    """The chunks and frames of a run of ``settings`` (as :func:`fit` leaves them).

    Frames are ``every`` steps apart: the steps per frame, doubled while the run's
    frames would exceed MAX_SNAPSHOT_FLOATS. A chunk is the most whole frames that a
    request may train, and at most CHUNK_STEPS steps (one frame if that is more).

    >>> p = plan(Settings(), 150, 200)
    >>> p.every, p.chunk, p.end
    (10, 1000, 10000)
    """
    settings, _ = fit(settings, train_rows, all_rows)
    within, per_step, curve = _steps_within(settings, train_rows, all_rows)
    spf = settings.steps_per_frame
    end = max(spf, settings.max_steps // spf * spf)
    frames = MAX_SNAPSHOT_FLOATS // validation.count_params(settings.sizes())
    every = spf
    while -(-end // every) + 1 > frames and every * 2 <= within:
        every *= 2
    chunk = every * max(1, min(within, CHUNK_STEPS) // every)
    return Plan(
        every=every,
        chunk=chunk,
        end=end,
        step_work=per_step,
        chunk_work=chunk * per_step + (chunk // every + 1) * curve,
    )


def compare_steps(
    models: list[tuple[int, ...]], rows: int, all_rows: int, steps: int
) -> tuple[int, str | None]:
    """``(steps, note)``: the steps compare mode trains ``models`` (their sizes) for, at
    most ``steps`` and within the budget (their regions and accuracies included), with
    a sentence for the page if fewer than ``steps``.

    >>> compare_steps([(2, 3, 1), (2, 8, 1)], 150, 200, 500)
    (500, None)
    """
    per_step = sum(step_work(sizes, rows) for sizes in models)
    after = sum((PICTURE_POINTS + all_rows) * forward_work(sizes) for sizes in models)
    within = max(1, (WORK_PER_REQUEST - after) // per_step)
    if steps <= within:
        return steps, None
    return within, (
        f"trained for {within} steps, not {steps}: a request may compute at most "
        f"{WORK_PER_REQUEST:.1e} multiply-adds, and one step of these {len(models)} "
        f"networks is {per_step:.1e}"
    )
