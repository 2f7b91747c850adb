"""The MLP as pure functions over a pytree of parameters.

A network with ``sizes = (d, h1, ..., k)`` is a tuple of :class:`Dense` layers;
layer ``l`` computes ``s_l = W_l h_{l-1} + b_l`` and, for every layer but the
last, ``h_l = g(s_l)``. The last layer returns logits: the output unit's
sigmoid (``k == 1``) or softmax (``k > 1``) lives in the loss and in
:func:`predict_proba`, as in the post's ``y_hat = sigma(s_2)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxmlp import activations as _activations
from jaxmlp import compile_options, validation

__all__ = [
    "Dense",
    "INIT_SCHEMES",
    "Intermediates",
    "Params",
    "forward",
    "forward_with_intermediates",
    "init_mlp",
    "output_probabilities",
    "output_units",
    "predict",
    "predict_proba",
    "sizes_of",
]

Array = jax.Array
ActivationLike = str | _activations.Activation

INIT_SCHEMES = ("glorot_uniform", "he_normal", "uniform01")
"""Initialisation schemes of ``init_mlp``."""


class Dense(NamedTuple):
    """One layer: ``s = W x + b``. Rows of ``W`` are the post's unit classifiers.

    Attributes:
      W: (out, in) weights.
      b: (out,) biases.
    """

    W: Array
    b: Array


Params = tuple[Dense, ...]
"""A network: one ``Dense`` layer per weight matrix, first layer first."""


class Intermediates(NamedTuple):
    """What the forward pass keeps for the backward pass.

    Attributes:
      s: pre-activations ``s_1 .. s_L``, each (n, size_l); ``s[-1]`` are the logits.
      h: layer inputs ``h_0 = X, h_1, .., h_{L-1}``, each (n, size_{l}).
    """

    s: tuple[Array, ...]
    h: tuple[Array, ...]


def init_mlp(
    key: Array,
    sizes: Sequence[int],
    scheme: str = "glorot_uniform",
    dtype=jnp.float32,
) -> Params:
    """Initialises a network of any depth.

    Args:
      key: PRNG key.
      sizes: ``(d, h1, ..., hL, k)``: input size, hidden widths, output size.
      scheme: ``"glorot_uniform"`` (default; biases zero), ``"he_normal"``
        (biases zero) or ``"uniform01"`` (every weight and bias from U(0, 1),
        as the post's notebook does).
      dtype: floating dtype of the parameters.

    Returns:
      A tuple of ``Dense(W (out, in), b (out,))``, one per layer.

    >>> params = init_mlp(jax.random.key(0), (2, 3, 1))
    >>> [layer.W.shape for layer in params]
    [(3, 2), (1, 3)]
    """
    validation.check_key(key)
    sizes = validation.check_sizes(sizes)
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(INIT_SCHEMES)}; got {scheme!r}")
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype!r}")
    n_params = validation.count_params(sizes)
    # twice: the random draws and the parameters exist together while they are made
    validation.check_memory(2 * n_params * jnp.dtype(dtype).itemsize, f"init_mlp of sizes {sizes}")
    return _init_layers(key, sizes=tuple(sizes), scheme=scheme, dtype=jnp.dtype(dtype))


@compile_options.jit("init", static_argnames=("sizes", "scheme", "dtype"))
def _init_layers(key: Array, *, sizes: tuple[int, ...], scheme: str, dtype) -> Params:
    """No input checks. :func:`init_mlp`'s draws, one small program per network shape
    (the same numbers as drawing op by op, in a fraction of their compile time)."""
    keys = jax.random.split(key, len(sizes) - 1)
    return tuple(
        _init_dense(k, fan_in, fan_out, scheme, dtype)
        for k, fan_in, fan_out in zip(keys, sizes[:-1], sizes[1:], strict=True)
    )


def _init_dense(key: Array, fan_in: int, fan_out: int, scheme: str, dtype) -> Dense:
    w_key, b_key = jax.random.split(key)
    shape = (fan_out, fan_in)
    if scheme == "uniform01":
        return Dense(
            jax.random.uniform(w_key, shape, dtype),
            jax.random.uniform(b_key, (fan_out,), dtype),
        )
    if scheme == "glorot_uniform":
        limit = jnp.sqrt(6.0 / (fan_in + fan_out))
        W = jax.random.uniform(w_key, shape, dtype, -limit, limit)
    else:  # he_normal
        # the barrier keeps the scaling a multiply of its own, as drawn op by op (XLA would
        # fold it into the draw's own constant factor: other last bits)
        normal = jax.lax.optimization_barrier(jax.random.normal(w_key, shape, dtype))
        W = normal * jnp.sqrt(2.0 / fan_in).astype(dtype)
    return Dense(W, jnp.zeros((fan_out,), dtype))


def sizes_of(params: Params) -> tuple[int, ...]:
    """Returns ``(d, h1, ..., k)`` of a network. No input checks."""
    return (params[0].W.shape[1],) + tuple(layer.W.shape[0] for layer in params)


@functools.partial(jax.jit, static_argnames="activation")
def _forward(params: Params, x: Array, activation: _activations.Activation) -> Array:
    h = x.astype(params[0].W.dtype)  # computed in the parameters' dtype, as training is
    for layer in params[:-1]:
        h = activation(layer.W @ h + layer.b)
    return params[-1].W @ h + params[-1].b


def forward(params: Params, x: Array, activation: ActivationLike = "sigmoid") -> Array:
    """Logits of ONE example: ``W_L g(... g(W_1 x + b_1) ...) + b_L``.

    Args:
      params: tuple of Dense layers.
      x: (d,) one example, computed in the parameters' dtype (as training is). Batch
        with ``jax.vmap(forward, in_axes=(None, 0))``.
      activation: hidden-layer activation, a name or an Activation.

    Returns:
      (k,) logits.

    >>> params = init_mlp(jax.random.key(0), (2, 3, 1))
    >>> forward(params, jnp.ones(2)).shape
    (1,)
    """
    act = _activations.get(activation)
    sizes = validation.check_params(params)
    validation.check_inputs(x, sizes[0], name="x", batched=False, dtype=params[0].W.dtype)
    return _forward(params, x, act)


def forward_with_intermediates(
    params: Params, X: Array, activation: ActivationLike = "sigmoid"
) -> Intermediates:
    """Batched forward pass in matrix form that keeps every layer's ``s_l`` and input ``h_{l-1}``.

    Rows are examples, so ``S_l = H_{l-1} W_l^T + b_l``. No input checks: this is
    the inner building block of :mod:`jaxmlp.backprop`.

    Args:
      params: tuple of Dense layers.
      X: (n, d) inputs.
      activation: hidden-layer activation.

    Returns:
      :class:`Intermediates` with ``s[-1]`` the (n, k) logits.
    """
    act = _activations.get(activation)
    h = X
    ss, hs = [], [X]
    for i, layer in enumerate(params):
        s = h @ layer.W.T + layer.b[None, :]
        ss.append(s)
        if i < len(params) - 1:
            h = act(s)
            hs.append(h)
    return Intermediates(tuple(ss), tuple(hs))


OUTPUTS = ("logistic", "softmax", "identity", "exp")
"""Output units of :func:`output_units` (scikit-learn's names); each has its canonical loss
in :func:`jaxmlp.losses.per_example_output_loss`, so the output delta (P1) is ``Y_hat - Y``."""


def output_units(logits: Array, output: str, *, axis: int = -1) -> Array:
    """``Y_hat`` of an output unit from logits, the k outputs on ``axis``: the one home.

    No input checks (an unknown ``output`` raises a ValueError).

    Args:
      logits: (n, k) logits, or any shape with the outputs on ``axis``.
      output: one of :data:`OUTPUTS`: ``"logistic"`` (sigmoid of each output),
        ``"softmax"`` (over ``axis``), ``"identity"`` or ``"exp"``.
      axis: the output axis (used by ``"softmax"``).

    Returns:
      An array of the logits' shape.

    >>> output_units(jnp.zeros((1, 2)), "softmax").tolist()
    [[0.5, 0.5]]
    """
    if output == "logistic":
        return jax.nn.sigmoid(logits)
    if output == "softmax":
        return jax.nn.softmax(logits, axis=axis)
    if output == "identity":
        return logits
    if output == "exp":
        return jnp.exp(logits)
    raise ValueError(f"output must be one of {', '.join(OUTPUTS)}; got {output!r}")


def output_probabilities(logits: Array) -> Array:
    """Sigmoid of (..., 1) logits as (...,), or softmax over the last axis when k > 1.

    The classifier's case of :func:`output_units`. No input checks.
    """
    if logits.shape[-1] == 1:
        return output_units(logits[..., 0], "logistic")
    return output_units(logits, "softmax")


def _proba(params: Params, X: Array, activation: _activations.Activation) -> Array:
    logits = jax.vmap(_forward, in_axes=(None, 0, None))(params, X, activation)
    return output_probabilities(logits)


@compile_options.jit("predict", static_argnames="activation")
def _predict_proba(params: Params, X: Array, activation: _activations.Activation) -> Array:
    return _proba(params, X, activation)


@compile_options.jit("predict", static_argnames="activation")
def _predict(params: Params, X: Array, activation: _activations.Activation) -> Array:
    proba = _proba(params, X, activation)
    if proba.ndim == 1:
        return (proba >= 0.5).astype(jnp.int32)
    return jnp.argmax(proba, axis=-1).astype(jnp.int32)


def predict_proba(params: Params, X: Array, activation: ActivationLike = "sigmoid") -> Array:
    """Class probabilities by ``jax.vmap`` of :func:`forward` over the rows of ``X``.

    Args:
      params: tuple of Dense layers.
      X: (n, d) inputs, computed in the parameters' dtype (as training is).
      activation: hidden-layer activation.

    Returns:
      (n,) probability of class 1 when k == 1, else (n, k) softmax probabilities.

    >>> params = init_mlp(jax.random.key(0), (2, 3, 1))
    >>> predict_proba(params, jnp.ones((5, 2))).shape
    (5,)
    """
    act = _activations.get(activation)
    sizes = validation.check_params(params)
    validation.check_inputs(X, sizes[0], dtype=params[0].W.dtype)
    return _predict_proba(params, X, act)


def predict(params: Params, X: Array, activation: ActivationLike = "sigmoid") -> Array:
    """Predicted class labels (n,) int32: ``proba >= 0.5`` for one output, argmax for k.

    >>> params = init_mlp(jax.random.key(0), (2, 3, 1))
    >>> predict(params, jnp.ones((5, 2))).dtype
    dtype('int32')
    """
    act = _activations.get(activation)
    sizes = validation.check_params(params)
    validation.check_inputs(X, sizes[0], dtype=params[0].W.dtype)
    return _predict(params, X, act)
