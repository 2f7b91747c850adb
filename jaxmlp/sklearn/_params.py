"""scikit-learn's parameter constraints of the MLP estimators, and input conversions."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, Options, StrOptions

# Sparse X is densified before training; above this many elements (2**28: 1 GiB of
# float32) it is refused rather than silently filling memory.
MAX_DENSE_ELEMENTS = 2**28

# scikit-learn's activation names -> jaxmlp's (jaxmlp.activations)
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}

CONSTRAINTS: dict = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
}


def hidden_sizes(hidden_layer_sizes) -> list[int]:
    """The hidden widths as a list of ints; ValueError (scikit-learn's message) if any is <= 0.

    >>> hidden_sizes(5), hidden_sizes((4, 3))
    ([5], [4, 3])
    """
    sizes = hidden_layer_sizes
    sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
    for s in sizes:  # (2.5,) was silently width 2
        if isinstance(s, bool) or not isinstance(s, Integral):
            raise ValueError(f"hidden_layer_sizes must hold ints, got {s!r} in {sizes}")
    if np.any(np.array(sizes) <= 0):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return [int(s) for s in sizes]


def densify(X):
    """A dense ndarray of X; sparse X is expanded if it has at most MAX_DENSE_ELEMENTS entries.

    >>> import scipy.sparse
    >>> densify(scipy.sparse.eye(2, format="csr")).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    if not hasattr(X, "toarray"):
        return X
    if X.shape[0] * X.shape[1] > MAX_DENSE_ELEMENTS:
        raise ValueError(
            f"X: sparse input of shape {X.shape} is densified for training and has more than "
            f"MAX_DENSE_ELEMENTS={MAX_DENSE_ELEMENTS} entries; reduce it or pass fewer rows"
        )
    return X.toarray()
