"""Cross-entropy losses computed stably from logits.

The post's BCE ``-y log(y_hat) - (1 - y) log(1 - y_hat)`` with
``y_hat = sigma(z)`` equals ``softplus(z) - y z``, which is finite for any
finite logit: no ``log(0)`` and no overflow.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxmlp import activations as _activations
from jaxmlp import mlp, validation

__all__ = [
    "binary_cross_entropy",
    "loss",
    "mean_cross_entropy",
    "mean_loss",
    "softmax_cross_entropy",
]

Array = jax.Array


def binary_cross_entropy(logits: Array, y: Array) -> Array:
    """Per-example BCE from logits (elementwise). No input checks.

    Args:
      logits: (n,) logits ``z``, or any shape (the sweep's bins: (B, K, n)).
      y: (n,) labels in {0, 1} (any numeric dtype), or of a shape that broadcasts
        to the logits' from the right.

    Returns:
      (n,) ``softplus(z) - y z = max(z, 0) - y z + log1p(exp(-|z|))``.

    >>> float(binary_cross_entropy(jnp.array([0.0]), jnp.array([1.0]))[0])  # log 2
    0.6931...
    """
    y = y.astype(logits.dtype)
    y = jnp.expand_dims(y, tuple(range(logits.ndim - y.ndim)))  # labels of a broadcast layout
    return jnp.maximum(logits, 0) - y * logits + jnp.log1p(jnp.exp(-jnp.abs(logits)))


def softmax_cross_entropy(logits: Array, y: Array, *, axis: int = -1) -> Array:
    """Per-example softmax cross-entropy from logits, the classes on ``axis``.

    No input checks.

    Args:
      logits: (n, k) logits, or any shape with the k classes on ``axis`` (the
        sweep's bins use (B, K, k, n) with ``axis=2``).
      y: integer class ids in 0..k-1, of the logits' shape without ``axis``
        ((n,) for (n, k) logits), or broadcastable to it.
      axis: the class axis of ``logits``.

    Returns:
      ``logsumexp(z) - z_y`` over ``axis``: (n,) for (n, k) logits.

    >>> z = jnp.array([[0.0, 0.0], [0.0, 0.0]])
    >>> softmax_cross_entropy(z, jnp.array([0, 1])).tolist() == softmax_cross_entropy(
    ...     z.T, jnp.array([0, 1]), axis=0).tolist()
    True
    """
    axis = axis - logits.ndim if axis >= 0 else axis  # from the end: y aligns on the right
    log_z = jax.nn.logsumexp(logits, axis=axis)
    if axis == -1 and y.ndim == logits.ndim - 1:
        picked = jnp.take_along_axis(logits, y.astype(jnp.int32)[..., None], axis=-1)[..., 0]
    else:  # labels broadcast against the other axes: pick z_y by a one-hot sum (exact)
        one_hot = jax.nn.one_hot(y, logits.shape[axis], dtype=logits.dtype, axis=axis)
        one_hot = jnp.expand_dims(one_hot, tuple(range(logits.ndim - one_hot.ndim)))
        picked = jnp.sum(logits * one_hot, axis=axis)
    return log_z - picked


def mean_cross_entropy(logits: Array, y: Array) -> Array:
    """Mean BCE for (n, 1) logits, mean softmax CE for (n, k) logits; a scalar.

    No input checks: the building block of :func:`loss`.
    """
    if logits.shape[-1] == 1:
        return jnp.mean(binary_cross_entropy(logits[:, 0], y))
    return jnp.mean(softmax_cross_entropy(logits, y))


def mean_loss(logits: Array, y: Array, output: str | None = None) -> Array:
    """The mean loss of a batch from its logits: what ``train`` minimises. No input checks.

    Args:
      logits: (n, k) logits.
      y: (n,) class labels for a classifier (``output`` None: :func:`mean_cross_entropy`);
        for ``output="identity"`` (regression) float targets (n, k), or (n,) when k == 1.
      output: None, or an output unit of :func:`per_example_output_loss` (its loss
        averaged over the n rows; for ``"identity"`` half the squared error summed
        over the k outputs, whose output delta is ``Y_hat - Y``).

    Returns:
      A scalar.

    >>> float(mean_loss(jnp.array([[3.0], [1.0]]), jnp.array([1.0, 1.0]), "identity"))
    1.0
    """
    if output is None:
        return mean_cross_entropy(logits, y)
    return jnp.mean(per_example_output_loss(logits, jnp.reshape(y, logits.shape), output))


@functools.partial(jax.jit, static_argnames=("activation", "output"))
def _loss(
    params: mlp.Params,
    X: Array,
    y: Array,
    activation: _activations.Activation,
    output: str | None = None,
) -> Array:
    logits = mlp.forward_with_intermediates(params, X, activation).s[-1]
    return mean_loss(logits, y, output)


def loss(
    params: mlp.Params,
    X: Array,
    y: Array,
    activation: mlp.ActivationLike = "sigmoid",
    *,
    output: str | None = None,
) -> Array:
    """Mean loss of the network on a batch: the post's ``L(y, y_hat)``, or regression's.

    Args:
      params: tuple of Dense layers.
      X: (n, d) inputs.
      y: (n,) labels: {0, 1} for one output, 0..k-1 for k outputs; for
        ``output="identity"``, float targets (n,) (one output) or (n, k).
      activation: hidden-layer activation.
      output: None for a classifier; ``"identity"`` for regression (see ``train``).

    Returns:
      Scalar mean BCE (k == 1) or softmax cross-entropy (k > 1); with
      ``output="identity"`` the mean over rows of half the squared error.

    >>> params = mlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> loss(params, jnp.ones((4, 2)), jnp.array([0, 1, 1, 0])).shape
    ()
    >>> loss(params, jnp.ones((4, 2)), jnp.zeros(4), output="identity").shape
    ()
    """
    act = _activations.get(activation)
    sizes = validation.check_data(params, X, y, output=output)
    output = validation.check_output(output, sizes[-1])
    return _loss(params, X, y, act, output)


def per_example_output_loss(logits: Array, Y: Array, output: str) -> Array:
    """Per-example loss of an output unit with its canonical loss, from the logits.

    No input checks (an unknown ``output`` raises a ValueError).

    Args:
      logits: (n, k) pre-activations of the output layer.
      Y: (n, k) float targets: {0, 1} indicators for ``"logistic"`` (BCE summed
        over the k outputs: binary or multilabel), one-hot rows for ``"softmax"``
        (cross-entropy), real values for ``"identity"`` (half squared error summed
        over outputs) and non-negative counts for ``"exp"`` (half Poisson
        deviance, log link, summed over outputs).
      output: one of :data:`jaxmlp.mlp.OUTPUTS` (each with its canonical loss, so the
        output delta of (P1) is ``Y_hat - Y``, see :func:`jaxmlp.mlp.output_units`).

    Returns:
      (n,) losses.

    >>> z, Y = jnp.array([[0.0]]), jnp.array([[1.0]])
    >>> float(per_example_output_loss(z, Y, "logistic")[0])  # log 2
    0.6931...
    >>> float(per_example_output_loss(jnp.array([[3.0]]), Y, "identity")[0])
    2.0
    """
    Y = Y.astype(logits.dtype)
    if output == "logistic":
        terms = binary_cross_entropy(logits, Y)
    elif output == "softmax":
        terms = jax.nn.logsumexp(logits, axis=-1, keepdims=True) * Y - logits * Y
    elif output == "identity":
        terms = 0.5 * (logits - Y) ** 2
    elif output == "exp":
        terms = jnp.exp(logits) - Y * logits + jax.scipy.special.xlogy(Y, Y) - Y
    else:
        raise ValueError(f"output must be one of {', '.join(mlp.OUTPUTS)}; got {output!r}")
    return jnp.sum(terms, axis=-1)
