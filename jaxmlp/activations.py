"""Activation functions and their derivatives, looked up by name.

Each :class:`Activation` carries the function ``g`` and its derivative ``g'``
written as ``derivative(s, h)`` with ``s`` the pre-activation and ``h = g(s)``,
so the backward pass can use whichever form is cheapest (the post's
``sigma'(s) = (1 - h) * h`` reuses ``h`` from the forward pass).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = [
    "Activation",
    "NAMES",
    "REGISTRY",
    "get",
    "identity",
    "leaky_relu",
    "relu",
    "sigmoid",
    "softplus",
    "tanh",
]

Array = jax.Array

DEFAULT_NEGATIVE_SLOPE = 0.01


@dataclasses.dataclass(frozen=True)
class Activation:
    """An element-wise activation ``g`` with its derivative.

    Attributes:
      name: registry name, e.g. ``"sigmoid"``.
      fn: ``g(s)``, element-wise.
      derivative: ``g'(s)`` as a function of ``(s, h)`` where ``h = g(s)``.

    Instances are hashable and compare by value, so they can be static
    arguments of :func:`jax.jit`.
    """

    name: str
    fn: Callable[[Array], Array]
    derivative: Callable[[Array, Array], Array]

    def __call__(self, s: Array) -> Array:
        return self.fn(s)


def _sigmoid_derivative(s: Array, h: Array) -> Array:
    del s
    return h * (1.0 - h)


def _tanh_derivative(s: Array, h: Array) -> Array:
    del s
    return 1.0 - h * h


def _relu_derivative(s: Array, h: Array) -> Array:
    del h
    return (s > 0).astype(s.dtype)


def _softplus_derivative(s: Array, h: Array) -> Array:
    del h
    return jax.nn.sigmoid(s)


def _identity(s: Array) -> Array:
    return s


def _identity_derivative(s: Array, h: Array) -> Array:
    del h
    return jnp.ones_like(s)


def _leaky_relu(s: Array, negative_slope: float) -> Array:
    return jnp.where(s > 0, s, negative_slope * s)


def _leaky_relu_derivative(s: Array, h: Array, negative_slope: float) -> Array:
    del h
    return jnp.where(s > 0, 1.0, negative_slope).astype(s.dtype)


sigmoid = Activation("sigmoid", jax.nn.sigmoid, _sigmoid_derivative)
"""The logistic sigmoid ``1 / (1 + exp(-s))``; ``g'(s) = h (1 - h)`` as in the post."""
tanh = Activation("tanh", jnp.tanh, _tanh_derivative)
"""``tanh(s)``; ``g'(s) = 1 - h^2``."""
relu = Activation("relu", jax.nn.relu, _relu_derivative)
"""``max(s, 0)``; ``g'(s) = 1`` for ``s > 0``, else 0."""
softplus = Activation("softplus", jax.nn.softplus, _softplus_derivative)
"""``log(1 + exp(s))``; ``g'(s) = sigmoid(s)``."""
identity = Activation("identity", _identity, _identity_derivative)
"""``g(s) = s``: no activation (the post's exercise: the network collapses to a line)."""


@functools.cache
def leaky_relu(negative_slope: float = DEFAULT_NEGATIVE_SLOPE) -> Activation:
    """LeakyReLU ``g(s) = s if s > 0 else negative_slope * s``.

    Cached, so equal slopes give the same object and reuse compiled programs.

    >>> act = leaky_relu(0.1)
    >>> round(float(act(jnp.array(-2.0))), 6)
    -0.2
    """
    if not isinstance(negative_slope, (int, float)) or isinstance(negative_slope, bool):
        raise TypeError(f"negative_slope must be a float, got {type(negative_slope).__name__}")
    slope = float(negative_slope)
    return Activation(
        "leaky_relu",
        functools.partial(_leaky_relu, negative_slope=slope),
        functools.partial(_leaky_relu_derivative, negative_slope=slope),
    )


REGISTRY: dict[str, Activation] = {
    act.name: act for act in (sigmoid, tanh, relu, leaky_relu(), softplus, identity)
}
"""Every activation by name (``leaky_relu`` with slope 0.01)."""
NAMES: tuple[str, ...] = tuple(REGISTRY)
"""The registered names, in the order of ``REGISTRY``."""


def get(activation: str | Activation) -> Activation:
    """Returns the :class:`Activation` for a name, or the object itself.

    Raises:
      ValueError: for an unknown name; the message lists the valid ones.
      TypeError: for anything that is neither a name nor an Activation.

    >>> get("tanh").name
    'tanh'
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        try:
            return REGISTRY[activation]
        except KeyError:
            raise ValueError(
                f"activation must be one of {', '.join(NAMES)}; got {activation!r}"
            ) from None
    raise TypeError(
        f"activation must be a name ({', '.join(NAMES)}) or an Activation, "
        f"got {type(activation).__name__}"
    )
