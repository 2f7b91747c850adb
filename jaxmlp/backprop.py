"""The post's hand-derived gradients, in batch matrix form, for any depth.

The post derives, for one example of the 2-layer network,

    (P1) dL/dy_hat * dy_hat/ds_2 = y_hat - y
    (P2) dL/dw_final = (y_hat - y) h,            dL/db_final = y_hat - y
    (P3) delta = (y_hat - y) w_final * (1 - h) * h     (the diag(sigma') step)
    (P4) dL/dW = delta (outer) x,                 dL/db = delta

and asks the reader to redo it in matrix form. With rows as examples
(``H_0 = X`` of shape (n, d), ``S_l = H_{l-1} W_l^T + b_l``, ``H_l = g(S_l)``)
and the mean over n examples, the same chain rule for L layers reads

    Delta_L = Y_hat - Y                                   (P1; BCE and softmax CE alike,
                                                           and regression's identity output
                                                           with half the squared error)
    Delta_l = (Delta_{l+1} W_{l+1}) * g'(S_l)             (P3, for each hidden layer)
    dW_l    = Delta_l^T H_{l-1} / n                       (P2/P4: the outer products, summed)
    db_l    = mean over rows of Delta_l                   (P2/P4)

No autodiff is used here; tests check every line against ``jax.grad``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxmlp import activations as _activations
from jaxmlp import losses, mlp, validation

__all__ = [
    "loss_and_manual_grads",
    "manual_grads",
    "output_delta",
    "stacked_loss_and_grads",
]

Array = jax.Array


def output_delta(logits: Array, y: Array, *, axis: int = -1, output: str | None = None) -> Array:
    """``Delta_L = Y_hat - Y`` (P1) for BCE (k == 1) and softmax CE (k > 1). No input checks.

    Args:
      logits: (n, k) logits, or any shape with the k outputs on ``axis`` (the
        sweep's bins use (B, K, k, n) with ``axis=2``).
      y: labels of the logits' shape without ``axis`` ((n,) for (n, k) logits),
        or broadcastable to it; for an ``output``, targets of the logits' size.
      axis: the output axis of ``logits``.
      output: None (the classifier's output units above), or an output unit of
        :func:`jaxmlp.mlp.output_units` with its canonical loss (``"identity"``:
        regression's half squared error): then ``y`` holds the (n, k) targets
        ((n,) for k == 1) of (n, k) logits.

    Returns:
      An array of the logits' shape.

    >>> output_delta(jnp.zeros((2, 1)), jnp.array([0, 1]))[:, 0].tolist()
    [0.5, -0.5]
    >>> output_delta(jnp.array([[3.0]]), jnp.array([1.0]), output="identity").tolist()
    [[2.0]]
    """
    if output is not None:
        targets = jnp.reshape(y, logits.shape).astype(logits.dtype)
        return mlp.output_units(logits, output) - targets  # (P1) with the canonical loss
    axis = axis - logits.ndim if axis >= 0 else axis  # from the end: y aligns on the right
    if logits.shape[axis] == 1:  # BCE: the sigmoid
        y_hat = mlp.output_units(logits, "logistic")
        target = jnp.expand_dims(y.astype(logits.dtype), axis)
    else:  # softmax CE
        y_hat = mlp.output_units(logits, "softmax", axis=axis)
        target = jax.nn.one_hot(y, logits.shape[axis], dtype=logits.dtype, axis=axis)
    return y_hat - jnp.expand_dims(target, tuple(range(logits.ndim - target.ndim)))


def loss_and_manual_grads(
    params: mlp.Params,
    X: Array,
    y: Array,
    activation: mlp.ActivationLike,
    output: str | None = None,
) -> tuple[Array, mlp.Params]:
    """One forward pass, the loss, and the explicit backward pass. No input checks.

    Args:
      params: tuple of L Dense layers.
      X: (n, d) inputs.
      y: (n,) labels; for ``output="identity"`` float targets (n,) or (n, k).
      activation: hidden-layer activation.
      output: None (a classifier) or ``"identity"`` (regression): see
        :func:`jaxmlp.losses.mean_loss`.

    Returns:
      ``(loss, grads)``: the scalar mean loss and a pytree like ``params``.
    """
    act = _activations.get(activation)
    s, h = mlp.forward_with_intermediates(params, X, act)
    logits = s[-1]
    delta = output_delta(logits, y, output=output)  # (P1)
    grads = _backward(params, s, h, delta, act, mean=True)  # (P3), (P2/P4)
    return losses.mean_loss(logits, y, output), grads


def _backward(params, s, h, delta, act, *, mean: bool) -> mlp.Params:
    """(P3) and (P2/P4) from the output delta: each layer's gradient, over the rows.

    ``s``, ``h``: the forward pass's :class:`~jaxmlp.mlp.Intermediates`; ``delta``:
    (n, k) ``Delta_L`` (P1), already weighted per row where the loss is weighted.
    ``mean``: the mean over the n rows (``/ n``), else their sum.
    """
    n, rows = delta.shape[0], jnp.mean if mean else jnp.sum
    grads = []
    for l in reversed(range(len(params))):
        W = delta.T @ h[l]  # (P2/P4): the outer products, summed
        grads.append(mlp.Dense(W=W / n if mean else W, b=rows(delta, axis=0)))  # (P2/P4)
        if l > 0:
            delta = (delta @ params[l].W) * act.derivative(s[l - 1], h[l])  # (P3)
    return tuple(reversed(grads))


def _small_matmul(W: Array, H: Array) -> Array:
    """``W @ H`` for a tiny inner dimension, as broadcast products that fuse with neighbours."""
    acc = W[:, 0:1] * H[0:1, :]
    for j in range(1, W.shape[1]):
        acc = acc + W[:, j : j + 1] * H[j : j + 1, :]
    return acc


def stacked_loss_and_grads(
    params: mlp.Params,
    XT: Array,
    y: Array,
    activation: mlp.ActivationLike,
    *,
    mean_weights: Array | None = None,
) -> Array:
    """The same formulas for tiny networks: per-example terms stacked as rows, one reduction.

    Examples are columns here (``XT`` is (d, n)); for each example the loss, the
    outer products of (P2/P4) and the deltas are rows of one (1 + P, n) array whose
    row means are the loss and every gradient at once (one matrix-vector product
    instead of a matmul per gradient; worthwhile only when every layer is a few
    units wide, as in the post's 2-3-1 network). No input checks.

    Args:
      params: tuple of L Dense layers.
      XT: (d, n) inputs, one example per column.
      y: (n,) labels.
      activation: hidden-layer activation.
      mean_weights: (n,) all ``1 / n``; pass one made outside a loop so that it
        is not rebuilt every iteration.

    Returns:
      (1 + P,) ``[loss, *ravel(grads)]``, grads raveled in
      ``jax.flatten_util.ravel_pytree(params)`` order. With one output the loss
      is read off the sigmoid: within ~1 ulp of 1.0 per example of the
      log-sigmoid form of :func:`jaxmlp.losses.mean_cross_entropy`.
    """
    act = _activations.get(activation)
    n = XT.shape[1]
    h, hs, ss = XT, [XT], []
    for i, layer in enumerate(params):
        s = _small_matmul(layer.W, h) + layer.b[:, None]
        ss.append(s)
        if i < len(params) - 1:
            h = act(s)
            hs.append(h)
    z = ss[-1]
    if z.shape[0] == 1:
        yf = y.astype(z.dtype)[None, :]
        y_hat = jax.nn.sigmoid(z)
        # BCE from the logit, max(z, 0) - y z + softplus(-|z|), with softplus(-|z|) =
        # -log(sigmoid(|z|)) = -log(max(y_hat, 1 - y_hat)) read off the sigmoid that (P1)
        # needs anyway: one exp and one log1p fewer per example (measured ~15% of a
        # 2-3-1 step). The max is >= 1/2, so the log is finite for every z; its error is
        # that of rounding y_hat, at most ~1 ulp of 1.0 (6e-8 in float32) per example.
        terms = jnp.maximum(z, 0) - yf * z - jnp.log(jnp.maximum(y_hat, 1 - y_hat))
        delta = y_hat - yf  # (P1)
    else:
        one_hot = jax.nn.one_hot(y, z.shape[0], dtype=z.dtype).T
        terms = jax.nn.logsumexp(z, axis=0, keepdims=True) - jnp.sum(
            z * one_hot, axis=0, keepdims=True
        )
        delta = jax.nn.softmax(z, axis=0) - one_hot  # (P1)
    rows = []
    for l in reversed(range(len(params))):
        outer = delta[:, None, :] * hs[l][None, :, :]  # (P2/P4), one outer product per column
        rows.append((outer.reshape(-1, n), delta))
        if l > 0:
            delta = _small_matmul(params[l].W.T, delta) * act.derivative(ss[l - 1], hs[l])  # (P3)
    stacked = jnp.concatenate([terms] + [r for pair in reversed(rows) for r in pair], axis=0)
    if mean_weights is None:
        mean_weights = jnp.full((n,), 1.0 / n, stacked.dtype)
    return stacked @ mean_weights


@functools.partial(jax.jit, static_argnames=("activation", "output"))
def _manual_grads(params, X, y, activation, output=None):
    return loss_and_manual_grads(params, X, y, activation, output)[1]


def manual_grads(
    params: mlp.Params,
    X: Array,
    y: Array,
    activation: mlp.ActivationLike = "sigmoid",
    *,
    output: str | None = None,
) -> mlp.Params:
    """Gradient of :func:`jaxmlp.loss` by the post's formulas (see the module docstring).

    Args:
      params: tuple of Dense layers.
      X: (n, d) inputs.
      y: (n,) labels: {0, 1} for one output, 0..k-1 for k outputs; for
        ``output="identity"``, float targets (n,) (one output) or (n, k).
      activation: hidden-layer activation.
      output: None for a classifier; ``"identity"`` for regression (see ``train``).

    Returns:
      A pytree like ``params``: ``Dense(dW (out, in), db (out,))`` per layer.

    >>> params = mlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> grads = manual_grads(params, jnp.ones((4, 2)), jnp.array([0, 1, 1, 0]))
    >>> grads[0].W.shape
    (3, 2)
    """
    act = _activations.get(activation)
    sizes = validation.check_data(params, X, y, output=output)
    output = validation.check_output(output, sizes[-1])
    return _manual_grads(params, X, y, act, output)


def weighted_loss_and_manual_grads(
    params: mlp.Params,
    X: Array,
    Y: Array,
    weights: Array,
    activation: mlp.ActivationLike,
    output: str,
) -> tuple[Array, mlp.Params]:
    """The post's formulas with per-example weights and any canonical output unit.

    The loss is ``sum_i weights_i * l_i`` with ``l_i`` from
    :func:`jaxmlp.losses.per_example_output_loss`; every output unit there is
    paired with its canonical loss, so (P1) stays ``Delta_L = Y_hat - Y`` (the
    regressor's identity output with the half squared error included), scaled
    per row by the weight. Then (P3) and (P2/P4) as in
    :func:`loss_and_manual_grads`, with the weighted sum in place of the mean.
    No autodiff. No input checks.

    Args:
      params: tuple of L Dense layers.
      X: (n, d) inputs.
      Y: (n, k) float targets (see :func:`jaxmlp.losses.per_example_output_loss`).
      weights: (n,) non-negative example weights; ``1 / n`` each gives the mean.
      activation: hidden-layer activation.
      output: output unit, one of :data:`jaxmlp.mlp.OUTPUTS`.

    Returns:
      ``(loss, grads)``: the scalar weighted loss and a pytree like ``params``.

    >>> params = mlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> X, Y, w = jnp.ones((4, 2)), jnp.zeros((4, 1)), jnp.full((4,), 0.25)
    >>> loss, grads = weighted_loss_and_manual_grads(params, X, Y, w, "relu", "identity")
    >>> grads[0].W.shape
    (3, 2)
    """
    act = _activations.get(activation)
    s, h = mlp.forward_with_intermediates(params, X, act)
    logits = s[-1]
    delta = output_delta(logits, Y, output=output) * weights[:, None]  # (P1)
    loss = jnp.sum(weights * losses.per_example_output_loss(logits, Y, output))
    return loss, _backward(params, s, h, delta, act, mean=False)  # the weighted sum
