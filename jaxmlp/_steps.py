"""The two forms of a training step, and the program pieces shared by train's loops.

* The pytree form: any loss-and-gradients function over ``tuple[Dense]``.
* The stacked-rows form (:func:`jaxmlp.backprop.stacked_loss_and_grads`): tiny
  networks, examples as columns, the loss and every gradient in one ``(1 + P,)``
  vector, the parameters and a finiteness check in one flat state vector.

:func:`program` builds, for the form the caller chose (:func:`use_stacked`), the
batch selection, the loss and gradients, and the unguarded fast step
(:class:`FastStep`). ``BACKEND_GRADIENTS`` names the loss-and-gradients function of
each backend and ``grad`` option.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jaxmlp import activations as _activations
from jaxmlp import backprop, batches, guard, losses, mlp

Array = jax.Array
LossAndGrads = Callable[..., tuple[Array, mlp.Params]]


def autodiff_loss_and_grads(
    params: mlp.Params,
    X: Array,
    y: Array,
    activation: mlp.ActivationLike,
    output: str | None = None,
) -> tuple[Array, mlp.Params]:
    """``jax.value_and_grad`` of the mean loss: the autodiff twin of the manual pass
    (``output``: see :func:`jaxmlp.losses.mean_loss`)."""
    act = _activations.get(activation)

    def objective(p: mlp.Params) -> Array:
        return losses.mean_loss(mlp.forward_with_intermediates(p, X, act).s[-1], y, output)

    return jax.value_and_grad(objective)(params)


GRADIENTS: dict[str, LossAndGrads] = {
    "manual": backprop.loss_and_manual_grads,
    "autodiff": autodiff_loss_and_grads,
}


def _pallas_manual_grads(
    params: mlp.Params, X: Array, y: Array, activation: mlp.ActivationLike
) -> tuple[Array, mlp.Params]:
    """The fused Pallas kernel's loss and manual gradients (imported on first use)."""
    from jaxmlp import kernels

    return kernels.loss_and_fused_grads(params, X, y, activation)


def _pallas_autodiff_grads(
    params: mlp.Params, X: Array, y: Array, activation: mlp.ActivationLike
) -> tuple[Array, mlp.Params]:
    """``jax.value_and_grad`` of the fused loss, whose ``custom_vjp`` runs the same kernel."""
    from jaxmlp import kernels

    return jax.value_and_grad(kernels.fused_loss)(params, X, y, activation)


# The loss-and-gradients function of each backend ("xla": GRADIENTS above).
BACKEND_GRADIENTS: dict[str, dict[str, LossAndGrads]] = {
    "xla": GRADIENTS,
    "pallas": {"manual": _pallas_manual_grads, "autodiff": _pallas_autodiff_grads},
}


def loss_and_grads_fn(grad: str, backend: str = "xla") -> LossAndGrads:
    try:
        return BACKEND_GRADIENTS[backend][grad]
    except KeyError:
        raise ValueError(f"grad must be one of {', '.join(GRADIENTS)}; got {grad!r}") from None


# Networks at most this wide (every layer) and with at most this many parameters
# take the stacked-rows form of the manual gradients (backprop.stacked_loss_and_grads):
# far fewer, fused operations per step than one matmul per gradient (measured 2-3x
# faster for 2-3-1 up to 2-8-8-1 on 200 rows), while the (1 + P, rows) array stays
# small; at 2-8-8-1 with 4096-row batches the matmul form is faster.
STACKED_MAX_WIDTH = 8
STACKED_MAX_PARAMS = 128
STACKED_MAX_ELEMENTS = 2**16


def use_stacked(params: mlp.Params, grad: str, rows: int, output: str | None = None) -> bool:
    """Whether a run of ``params`` on batches of ``rows`` takes the stacked-rows form
    (a classifier's only: ``output`` None)."""
    sizes = mlp.sizes_of(params)
    dtypes = {leaf.dtype for leaf in jax.tree.leaves(params)}
    n_params = sum(leaf.size for leaf in jax.tree.leaves(params))
    return (
        grad == "manual"
        and output is None
        and max(sizes) <= STACKED_MAX_WIDTH
        and n_params <= STACKED_MAX_PARAMS
        and (1 + n_params) * rows <= STACKED_MAX_ELEMENTS
        and len(dtypes) == 1
    )


class FastStep(NamedTuple):
    """A training step without the guard; its state also tracks a finiteness check.

    The check is the running sum of every step's loss and gradients: NaN/inf in
    any of them makes it non-finite (a false alarm from overflow only costs a
    guarded rerun).
    """

    to_state: Callable  # params -> state
    from_state: Callable  # state -> params
    finite: Callable  # state -> bool: all losses and gradients so far, and the params, finite?
    step: Callable  # (state, opt_state, Xb, yb) -> (state, opt_state, loss)


def tree_fast_step(loss_and_grads, optimizer) -> FastStep:
    def step(state, opt_state, Xb, yb):
        params, check = state
        value, grads = loss_and_grads(params, Xb, yb)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        check = check + value + sum(jnp.sum(g) for g in jax.tree.leaves(grads))
        return (optax.apply_updates(params, updates), check), opt_state, value

    return FastStep(
        to_state=lambda p: (p, jnp.zeros((), jax.tree.leaves(p)[0].dtype)),
        from_state=lambda state: state[0],
        finite=lambda state: jnp.isfinite(state[1]) & guard.all_finite(state[0]),
        step=step,
    )


def stacked_fast_step(params, act, optimizer, mean_weights) -> FastStep:
    # State: one flat vector [theta (P), check (1 + P)] that one fused loop updates
    # in place (apply_updates on the pytree would be one loop per leaf).
    flat, unravel = ravel_pytree(params)
    size = flat.size

    def step(state, opt_state, XTb, yb):
        pp = unravel(state[:size])
        m = backprop.stacked_loss_and_grads(pp, XTb, yb, act, mean_weights=mean_weights)
        updates, opt_state = optimizer.update(unravel(m[1:]), opt_state, pp)
        step_vector = jnp.concatenate([ravel_pytree(updates)[0], m]).astype(state.dtype)
        return state + step_vector, opt_state, m[0]

    def to_state(p):
        theta = ravel_pytree(p)[0]
        return jnp.concatenate([theta, jnp.zeros(size + 1, theta.dtype)])

    return FastStep(
        to_state=to_state,
        from_state=lambda state: unravel(state[:size]),
        # a sum is finite only if every term is: params and checks in one reduction
        finite=lambda state: jnp.isfinite(jnp.sum(state)),
        step=step,
    )


def program(params, X, y, key, *, activation, batch_size, grads_fn, stacked, output=None):
    """What both programs share: ``(batch, loss_and_grads, fast_step)``.

    ``batch(step_index) -> (Xb, yb)``; ``loss_and_grads(params, Xb, yb)``;
    ``fast_step(optimizer) -> FastStep``. ``grads_fn(params, X, y, activation)``
    is the pytree form's loss and gradients; ``stacked`` selects the stacked form
    (a classifier's only); ``output`` (None: a classifier) is passed to ``grads_fn``.
    """
    if output is not None:
        grads_fn = functools.partial(grads_fn, output=output)
    X = X.astype(params[0].W.dtype)  # compute in the parameters' dtype
    if stacked:
        X = X.T  # examples as columns: (d, n)
        axis = 1
        unravel = ravel_pytree(params)[1]
        rows = batch_size or X.shape[1]
        # behind a barrier: XLA would otherwise sink the constant into the loop
        # and rebuild it at every step
        weights = jax.lax.optimization_barrier(jnp.full((rows,), 1.0 / rows, X.dtype))

        def loss_and_grads(p, Xb, yb):
            m = backprop.stacked_loss_and_grads(p, Xb, yb, activation, mean_weights=weights)
            return m[0], unravel(m[1:])

        fast_step = functools.partial(stacked_fast_step, params, activation, mean_weights=weights)
    else:
        axis = 0
        loss_and_grads = lambda p, Xb, yb: grads_fn(p, Xb, yb, activation)  # noqa: E731
        fast_step = functools.partial(tree_fast_step, loss_and_grads)
    batch = functools.partial(batches.batch_at, key=key, X=X, y=y, batch_size=batch_size, axis=axis)
    return batch, loss_and_grads, fast_step
