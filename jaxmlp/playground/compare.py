"""Compare mode: the page's setting for several widths or activations, by ``jaxmlp.sweep``."""

from __future__ import annotations

import jax
import numpy as np

import jaxmlp
from jaxmlp import activations as _activations
from jaxmlp.playground import budget
from jaxmlp.playground.data import Problem
from jaxmlp.playground.settings import MAX_WIDTH, Settings
from jaxmlp.playground.trajectory import optimizer_factory
from jaxmlp.playground.views import Canvas, encode_map

MAX_MODELS = 8


def parse_values(axis: str, values) -> tuple:
    """The compared widths (ints) or activation names, checked; a ValueError or
    TypeError names ``axis`` or ``values``. Widths are integers or strings of digits,
    never numbers rounded to one (``2.5`` and ``true`` are refused, not read as 2 and 1).

    >>> parse_values("widths", "2, 3,8")
    (2, 3, 8)
    """
    if not isinstance(axis, str) or axis not in ("widths", "activations"):
        raise ValueError(f"axis must be 'widths' or 'activations', got {axis!r}")
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",") if v.strip()]
    if not isinstance(values, (list, tuple)) or not 1 <= len(values) <= MAX_MODELS:
        raise ValueError(f"values must list 1 to {MAX_MODELS} {axis}, got {values!r}")
    if axis == "activations":
        if not all(isinstance(name, str) for name in values):
            raise TypeError(f"values must be activation names (strings), got {values!r}")
        unknown = [name for name in values if name not in _activations.NAMES]
        if unknown:
            known = ", ".join(_activations.NAMES)
            raise ValueError(f"values: unknown activation {unknown[0]!r}; known: {known}")
        parsed: tuple = tuple(values)
    else:
        if not all(
            (isinstance(v, int) and not isinstance(v, bool))
            or (isinstance(v, str) and v.strip().isascii() and v.strip().isdigit())
            for v in values
        ):
            raise TypeError(f"values must be widths (integers), got {values!r}")
        parsed = tuple(int(v) for v in values)
        if any(not 1 <= w <= MAX_WIDTH for w in parsed):
            raise ValueError(f"values: widths must be in [1, {MAX_WIDTH}], got {list(parsed)}")
    if len(set(parsed)) != len(parsed):
        raise ValueError(f"values must be distinct, got {list(parsed)}")
    return parsed


def compare(
    settings: Settings, problem: Problem, canvas: Canvas, *, axis: str, values, steps: int
) -> dict:
    """Trains the setting for each width (or activation) at once and draws their regions.

    One ``jaxmlp.sweep`` over ``widths x activations`` with the setting's seed,
    optimizer, batches and ``depth = len(hidden)`` hidden layers of one width; the
    other axis is the setting's own (its activation, or its single hidden width). The
    optimizer is the page's factory per (optimizer, L2) with the rate passed as a value
    (a learning-rate axis of one), so every rate reuses the sweep's compiled programs.

    ``steps`` is lowered to what one request's work budget allows
    (:func:`.budget.compare_steps`); ``note`` then says so.

    Returns:
      ``{"axis", "steps", "note" (or None), "models": [{"label", "regions" (r, r),
      "train_accuracy", "test_accuracy", "final_loss", "diverged_at"}]}``, JSON-ready.
    """
    values = parse_values(axis, values)
    if not settings.hidden:
        raise ValueError("compare needs at least one hidden layer")
    if axis == "activations" and len(set(settings.hidden)) != 1:
        raise ValueError(
            f"compare of activations needs hidden layers of one width, got {settings.hidden}"
        )
    widths = values if axis == "widths" else (settings.hidden[0],)
    acts = values if axis == "activations" else (settings.activation,)
    depth = len(settings.hidden)
    rows = settings.batch_size or int(problem.X_train.shape[0])
    all_rows = int(problem.X_train.shape[0] + problem.X_test.shape[0])
    inputs = int(problem.X_train.shape[1])  # one per input feature
    networks = [(inputs, *([w] * depth), 1) for w in widths for _ in acts]
    steps, note = budget.compare_steps(networks, rows, all_rows, steps)  # one request's work
    result = jaxmlp.sweep(
        problem.X_train,
        problem.y_train,
        widths=widths,
        activations=acts,
        seeds=(settings.seed,),
        steps=steps,
        optimizer=optimizer_factory(settings.optimizer, settings.l2, settings.l1),
        learning_rates=(settings.learning_rate,),
        X_test=problem.X_test,
        y_test=problem.y_test,
        batch_size=settings.batch_size,
        key=jax.random.key(jaxmlp.datasets.run_keys(settings.seed).shuffle)
        if settings.batch_size
        else None,
        depth=len(settings.hidden),
    )
    r = canvas.xs.size
    models = []
    for i, width in enumerate(result.widths):
        for j, act in enumerate(result.activations):
            params = result.params(width, act, settings.seed, settings.learning_rate)
            proba = np.asarray(jaxmlp.predict_proba(params, canvas.points, act))
            diverged = int(result.diverged_at[i, j, 0, 0])
            models.append(
                {
                    "label": f"width {width}" if axis == "widths" else act,
                    "sizes": [inputs, *([width] * len(settings.hidden)), 1],
                    "activation": act,
                    "regions": encode_map(proba.reshape(r, r)),
                    "train_accuracy": float(result.train_accuracy[i, j, 0, 0]),
                    "test_accuracy": float(result.test_accuracy[i, j, 0, 0]),  # type: ignore[index]
                    "final_loss": float(result.final_loss[i, j, 0, 0]),
                    "diverged_at": None if diverged < 0 else diverged,
                }
            )
    return {"axis": axis, "steps": steps, "note": note, "models": models}
