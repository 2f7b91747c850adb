"""The post's baselines: linear classifiers, on the raw inputs or on a hand-made feature map.

Logistic regression is the MLP with no hidden layer, sizes ``(d, 1)``, so it is
trained by the same :func:`jaxmlp.train` (same loss, same manual gradients) as
the networks. A feature-map classifier is logistic regression on ``phi(X)``,
e.g. the post's ``phi(x) = [x1^2, x2^2]`` that makes concentric circles
linearly separable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxmlp import mlp, training, validation

__all__ = [
    "LinearClassifier",
    "accuracy",
    "decision_function",
    "feature_map_classifier",
    "fit_linear",
    "identity_features",
    "logistic_regression",
    "predict",
    "predict_proba",
    "square_features",
]

Array = jax.Array
FeatureMap = Callable[[Array], Array]


def identity_features(X: Array) -> Array:
    """``phi(x) = x``: plain logistic regression. (n, d) -> (n, d)."""
    return X


def square_features(X: Array) -> Array:
    """The post's ``phi(x) = [x1^2, x2^2]``, elementwise squares. (n, d) -> (n, d).

    >>> square_features(jnp.array([[2.0, -3.0]])).tolist()
    [[4.0, 9.0]]
    """
    return X * X


FEATURE_MAPS: dict[str, FeatureMap] = {"identity": identity_features, "square": square_features}


class LinearClassifier(NamedTuple):
    """A trained linear classifier on features ``phi(X)``.

    Attributes:
      params: ``(Dense(W (1, m), b (1,)),)``: the line ``w . phi(x) + b = 0``.
      loss: (steps,) training loss per step (see :func:`jaxmlp.train`).
      feature_map: ``phi``, (n, d) -> (n, m).
    """

    params: mlp.Params
    loss: Array
    feature_map: FeatureMap


@functools.cache
def _sgd(learning_rate: float) -> optax.GradientTransformation:
    # One transformation object per rate, so repeated fits reuse the compiled run.
    return optax.sgd(learning_rate)


def _resolve_feature_map(feature_map: str | FeatureMap) -> FeatureMap:
    if isinstance(feature_map, str):
        try:
            return FEATURE_MAPS[feature_map]
        except KeyError:
            raise ValueError(
                f"feature_map must be one of {', '.join(FEATURE_MAPS)} or a callable; "
                f"got {feature_map!r}"
            ) from None
    if not callable(feature_map):
        raise TypeError(
            f"feature_map must be a name or a callable, got {type(feature_map).__name__}"
        )
    return feature_map


def fit_linear(
    key: Array,
    X: Array,
    y: Array,
    *,
    feature_map: str | FeatureMap = "identity",
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 1.0,
    steps: int = 1000,
    grad: str = "manual",
) -> LinearClassifier:
    """Fits ``sigma(w . phi(x) + b)`` by full-batch gradient descent on the mean BCE.

    Args:
      key: PRNG key for the initial ``w`` (Glorot uniform; ``b = 0``).
      X: (n, d) inputs.
      y: (n,) labels in {0, 1}.
      feature_map: ``"identity"`` (logistic regression), ``"square"`` (the post's
        ``[x1^2, x2^2]``) or a callable (n, d) -> (n, m).
      optimizer: any optax transformation; default ``optax.sgd(learning_rate)``.
      learning_rate: step size of the default optimizer.
      steps: number of updates.
      grad: ``"manual"`` or ``"autodiff"``, as in :func:`jaxmlp.train`.

    Returns:
      A :class:`LinearClassifier`.

    >>> from jaxmlp import datasets
    >>> X, y = datasets.blobs(jax.random.key(0))
    >>> clf = fit_linear(jax.random.key(1), X, y, steps=200)
    >>> float(accuracy(clf, X, y)) > 0.95
    True
    """
    phi = _resolve_feature_map(feature_map)
    if not hasattr(X, "shape") or len(X.shape) != 2:
        raise ValueError(f"X must be 2-D with shape (n, d), got {getattr(X, 'shape', X)!r}")
    validation.check_inputs(X, X.shape[1])
    features = phi(X)
    if not hasattr(features, "ndim") or features.ndim != 2 or features.shape[0] != X.shape[0]:
        raise ValueError(
            f"feature_map must map X {tuple(X.shape)} to (n, m) with n = {X.shape[0]}, "
            f"got {getattr(features, 'shape', type(features).__name__)}"
        )
    if optimizer is None:
        optimizer = _sgd(float(learning_rate))
    params = mlp.init_mlp(key, (features.shape[1], 1))
    # No hidden layer, so the activation is unused: the output unit's sigmoid is in the loss.
    result = training.train(params, features, y, optimizer=optimizer, steps=steps, grad=grad)
    return LinearClassifier(result.params, result.loss, phi)


def logistic_regression(key: Array, X: Array, y: Array, **kwargs) -> LinearClassifier:
    """Logistic regression on the raw inputs: :func:`fit_linear` with ``phi(x) = x``.

    Takes :func:`fit_linear`'s keyword options (``optimizer``, ``learning_rate``,
    ``steps``, ``grad``).

    >>> from jaxmlp import datasets
    >>> X, y = datasets.blobs(jax.random.key(0))
    >>> clf = logistic_regression(jax.random.key(1), X, y)
    >>> clf.params[0].W.shape
    (1, 2)
    """
    return fit_linear(key, X, y, feature_map="identity", **kwargs)


def feature_map_classifier(
    key: Array, X: Array, y: Array, *, feature_map: str | FeatureMap = "square", **kwargs
) -> LinearClassifier:
    """A linear classifier on hand-made features, by default the post's ``[x1^2, x2^2]``.

    >>> from jaxmlp import datasets
    >>> X, y = datasets.circles(jax.random.key(0))
    >>> clf = feature_map_classifier(jax.random.key(1), X, y)
    >>> float(accuracy(clf, X, y))
    1.0
    """
    return fit_linear(key, X, y, feature_map=feature_map, **kwargs)


def decision_function(clf: LinearClassifier, X: Array) -> Array:
    """Logits ``w . phi(x) + b`` for (n, d) inputs, shape (n,)."""
    layer = clf.params[0]
    return clf.feature_map(X) @ layer.W[0] + layer.b[0]


def predict_proba(clf: LinearClassifier, X: Array) -> Array:
    """Probability of class 1, (n, d) -> (n,)."""
    return jax.nn.sigmoid(decision_function(clf, X))


def predict(clf: LinearClassifier, X: Array) -> Array:
    """Labels (n,) int32: 1 where ``w . phi(x) + b >= 0``."""
    return (decision_function(clf, X) >= 0).astype(jnp.int32)


def accuracy(clf: LinearClassifier, X: Array, y: Array) -> Array:
    """Share of correctly classified examples, a scalar in [0, 1]."""
    return jnp.mean(predict(clf, X) == y)
