"""What a sweep returns: :class:`SweepResult`, assembled from the bins on the host."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import activations as _activations
from jaxmlp import mlp
from jaxmlp._sweep.plan import Index, Spec


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a sweep between chunks; what finished is kept.

    Attributes:
      steps_done: updates every model had when the sweep stopped (0: none finished).
      steps: the updates asked for.
      result: a :class:`SweepResult` of the models after ``steps_done`` updates (its
        ``steps`` is ``steps_done``, its loss curves stop there), or None if no chunk
        finished.

    A ``KeyboardInterrupt``, so code that handles Ctrl-C handles it unchanged.
    """

    def __init__(self, steps_done: int, steps: int, result: SweepResult | None):
        super().__init__(f"sweep interrupted after {steps_done} of {steps} steps")
        self.steps_done, self.steps, self.result = steps_done, steps, result


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """What :func:`jaxmlp.sweep` returns; arrays are indexed ``[width, activation, seed]``.

    With ``learning_rates``, every array has a learning-rate axis after the seed
    axis: ``[width, activation, seed, learning rate]`` (below, ``S`` stands for
    ``S, L`` then).

    Attributes:
      widths, activations, seeds: the grid axes, in the order given.
      learning_rates: the learning-rate axis, or None (one optimizer for all).
      final_loss: (W, A, S) mean training loss of the final params.
      train_accuracy: (W, A, S) training accuracy of the final params.
      test_loss, test_accuracy: (W, A, S) on the held-out set, or None without one.
      loss: (W, A, S, T) training loss curves: ``loss[..., t]`` is the loss before
        update ``loss_steps[t]`` (as :func:`jaxmlp.train`'s ``loss``).
      loss_steps: (T,) the steps kept in ``loss``: all of them, or evenly spaced
        ones (first and last included) when there are more than ``loss_points``.
      diverged_at: (W, A, S) int, the step at which a loss or gradient turned
        non-finite (training of that model stopped there), else -1.
      steps: number of updates of every model.
      resumed_from: the updates the models had when this call started: those of the
        checkpoint it resumed (``steps`` when it held the finished sweep), else 0.
      depth: hidden layers of every model.
      group_params: per width (in the order of ``widths``), the trained params of
        every (activation, seed): ``(Dense(W (A, S, w, d), b), Dense(W (A, S, k, w), b))``
        (with ``depth`` > 1, hidden layers ``Dense(W (A, S, w, w), b)`` in between).
    """

    widths: tuple[int, ...]
    activations: tuple[str, ...]
    seeds: tuple[int, ...]
    final_loss: np.ndarray
    train_accuracy: np.ndarray
    test_loss: np.ndarray | None
    test_accuracy: np.ndarray | None
    loss: np.ndarray
    loss_steps: np.ndarray
    diverged_at: np.ndarray
    steps: int
    depth: int = 1
    group_params: tuple = dataclasses.field(repr=False, default=())
    learning_rates: tuple[float, ...] | None = None
    resumed_from: int = 0

    def params(
        self, width: int, activation: str, seed: int, learning_rate: float | None = None
    ) -> mlp.Params:
        """The trained params of one config, unpadded.

        ``(Dense(W (w, d), b), ..., Dense(W (k, w), b))``: ``depth`` hidden layers, then
        the output layer. ``learning_rate`` picks the model of a sweep with a
        learning-rate axis (required there, not allowed otherwise).

        >>> import jaxmlp, optax
        >>> X, y = jax.numpy.ones((4, 2)), jax.numpy.array([0, 1, 0, 1])
        >>> r = jaxmlp.sweep(X, y, widths=(3,), activations=("tanh",), seeds=(0,), steps=2,
        ...                  optimizer=optax.sgd(0.1))
        >>> [layer.W.shape for layer in r.params(3, "tanh", 0)]
        [(3, 2), (1, 3)]
        """
        name = _activations.get(activation).name if not isinstance(activation, str) else activation
        for value, axis, label in (
            (width, self.widths, "width"),
            (name, self.activations, "activation"),
            (seed, self.seeds, "seed"),
        ):
            if value not in axis:
                raise ValueError(f"{label} must be one of {axis}, got {value!r}")
        at: tuple[int, ...] = (self.activations.index(name), self.seeds.index(seed))
        if self.learning_rates is None:
            if learning_rate is not None:
                raise ValueError("learning_rate is only for a sweep with learning_rates")
        elif learning_rate not in self.learning_rates:
            raise ValueError(
                f"learning_rate must be one of {self.learning_rates}, got {learning_rate!r}"
            )
        else:
            at += (self.learning_rates.index(learning_rate),)
        group = self.group_params[self.widths.index(width)]
        return jax.tree.map(lambda p: jnp.asarray(p[at]), group)


def model_params(params, ix: Index) -> mlp.Params:
    """The (S, ...) params of one width's models from bin params on the host."""
    *hidden, o = params
    k = o.W.shape[1]
    bins, units = ix.bins[:, None], ix.units  # (S, 1), (S, w)
    layers = [mlp.Dense(hidden[0].W[bins, units], hidden[0].b[bins, units])]
    layers += [
        mlp.Dense(h.W[bins[..., None], units[:, :, None], units[:, None, :]], h.b[bins, units])
        for h in hidden[1:]
    ]
    out = mlp.Dense(
        o.W[bins[..., None], np.arange(k)[None, :, None], units[:, None, :]],
        o.b[ix.bins, ix.slots],
    )
    return (*layers, out)


def assemble(
    spec: Spec, index: list[Index], out: tuple, curves: np.ndarray, kept: np.ndarray
) -> SweepResult:
    """The result, indexed ``[width, activation, seed(, rate)]``, from the host outputs.

    ``out``: per activation, ``(params, diverged_at, loss, accuracy, test)`` of
    every bin and slot (:func:`jaxmlp._sweep.chunks.finish`); ``curves`` (W, A, S, T)
    with S the model columns (seed-major over the rates).
    """
    plan = spec.plan
    rates = plan.learning_rates

    def split_rates(a: np.ndarray, axis: int) -> np.ndarray:
        """The model-column axis (S * L, seed-major) as (S, L) with a learning-rate axis."""
        if rates is None:
            return a
        return a.reshape(a.shape[:axis] + (len(spec.seeds), len(rates)) + a.shape[axis + 1 :])

    def grid(field) -> np.ndarray:
        """(W, A, S[, L]) from a per-activation (B, K) result."""
        g = np.stack([np.stack([field(o)[ix.bins, ix.slots] for o in out]) for ix in index])
        return split_rates(g, 2)

    group_params = tuple(
        jax.tree.map(
            lambda *xs: split_rates(np.stack(xs), 1), *[model_params(o[0], ix) for o in out]
        )
        for ix in index
    )
    has_test = out[0][4] is not None
    return SweepResult(
        widths=plan.widths,
        activations=tuple(a.name for a in plan.activations),
        seeds=spec.seeds,
        final_loss=grid(lambda o: o[2]),
        train_accuracy=grid(lambda o: o[3]),
        test_loss=grid(lambda o: o[4][0]) if has_test else None,
        test_accuracy=grid(lambda o: o[4][1]) if has_test else None,
        loss=split_rates(curves, 2),
        loss_steps=kept,
        diverged_at=grid(lambda o: o[1]),
        steps=spec.steps,
        depth=plan.depth,
        group_params=group_params,
        learning_rates=rates,
    )
