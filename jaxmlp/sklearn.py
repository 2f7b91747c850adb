"""A scikit-learn classifier trained with jaxmlp's hand-derived gradients.

Needs the ``sklearn`` extra (``pip install jaxmlp[sklearn]``); ``import jaxmlp``
never imports scikit-learn.

Differences from ``sklearn.neural_network.MLPClassifier`` worth knowing:

* ``alpha`` adds ``alpha * W`` to the gradient of every weight matrix (not the
  biases) and ``0.5 * alpha * sum ||W||^2`` to the loss; scikit-learn divides both
  by the number of samples.
* An epoch is ``ceil(n / batch_size)`` mini-batches of a fresh permutation; the
  last batch wraps around to the start of the permutation so every batch has
  ``batch_size`` rows (one compiled program per data shape).
* Binary problems use one sigmoid output unit and BCE, multi-class problems k
  softmax outputs and cross-entropy; both through
  :func:`jaxmlp.backprop.loss_and_manual_grads` (no autodiff).
* ``random_state`` (None, an int or a ``RandomState``) draws one integer seed;
  every random choice (init, shuffles, validation split) derives from the JAX key
  ``jax.random.key(seed)``.
"""

from __future__ import annotations

import functools
import numbers
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from jaxmlp import activations as _activations
from jaxmlp import backprop, mlp

__all__ = ["MLPClassifier"]


def _optimizer(solver: str, learning_rate) -> optax.GradientTransformation:
    if solver == "adam":
        return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)
    return optax.inject_hyperparams(optax.sgd)(
        learning_rate=learning_rate, momentum=0.9, nesterov=True
    )


@functools.partial(jax.jit, static_argnames=("activation", "solver", "batch_size"))
def _epoch(params, opt_state, X, y, key, alpha, *, activation, solver, batch_size):
    """One pass over a fresh permutation; returns (params, opt_state, mean loss)."""
    n = X.shape[0]
    perm = jax.random.permutation(key, n)
    tx = _optimizer(solver, 0.0)  # the learning rate lives in opt_state.hyperparams

    def body(carry, b):
        p, s = carry
        idx = perm[(b * batch_size + jnp.arange(batch_size)) % n]
        value, grads = backprop.loss_and_manual_grads(p, X[idx], y[idx], activation)
        grads = tuple(
            mlp.Dense(W=g.W + alpha * layer.W, b=g.b) for g, layer in zip(grads, p, strict=True)
        )
        penalty = 0.5 * alpha * sum(jnp.sum(layer.W**2) for layer in p)
        updates, s = tx.update(grads, s, p)
        return (optax.apply_updates(p, updates), s), value + penalty

    n_batches = -(-n // batch_size)
    (params, opt_state), values = jax.lax.scan(body, (params, opt_state), jnp.arange(n_batches))
    return params, opt_state, jnp.mean(values)


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """Multilayer perceptron classifier (binary: sigmoid output; k classes: softmax).

    Args:
      hidden_layer_sizes: widths of the hidden layers.
      activation: hidden activation, one of ``jaxmlp.activations.NAMES``.
      solver: ``"adam"`` or ``"sgd"`` (Nesterov momentum 0.9).
      learning_rate_init: step size of the solver.
      alpha: L2 penalty on the weights (see the module notes).
      batch_size: mini-batch size; ``"auto"`` is ``min(200, n_samples)``.
      max_iter: maximum number of epochs.
      tol: an epoch improves when the loss (or validation score) beats the best by
        more than ``tol``.
      n_iter_no_change: stop after this many epochs without improvement.
      early_stopping: hold out ``validation_fraction`` of the data (stratified),
        stop when its accuracy stops improving and keep the best parameters.
      validation_fraction: held-out share for early stopping.
      random_state: None, an int or a ``numpy.random.RandomState``.

    Fitted attributes: ``classes_``, ``n_features_in_``, ``params_`` (tuple of
    ``jaxmlp.Dense`` with NumPy W (out, in), b (out,)), ``loss_curve_`` (mean
    training loss per epoch), ``loss_``, ``best_loss_``, ``validation_scores_`` and
    ``best_validation_score_`` (with early stopping, else None), ``n_iter_``
    (epochs), ``t_`` (samples seen), ``n_outputs_``.

    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 1.0], [0.9, 1.0]])
    >>> clf = MLPClassifier((4,), tol=1.0, n_iter_no_change=2, random_state=0)
    >>> clf = clf.fit(X, [0, 0, 1, 1])  # stops after 3 epochs: tol is huge
    >>> clf.predict_proba(X).shape, len(clf.loss_curve_)
    ((4, 2), 3)
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_activations.NAMES))],
        "solver": [StrOptions({"adam", "sgd"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        learning_rate_init=0.001,
        alpha=0.0001,
        batch_size="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        random_state=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    # ---- helpers -------------------------------------------------------------
    def _hidden(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)
        if not sizes or any(
            isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes
        ):
            raise ValueError(
                f"hidden_layer_sizes must be positive ints, got {self.hidden_layer_sizes!r}"
            )
        return tuple(int(s) for s in sizes)

    def _encode(self, y) -> np.ndarray:
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        unknown = self.classes_[idx] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels not in classes_ {list(self.classes_)}: "
                f"{list(np.unique(np.asarray(y)[unknown]))}"
            )
        return idx.astype(np.int32)

    def _initialize(self, X, y, classes) -> None:
        classes = np.unique(classes)
        if len(classes) < 2:
            raise ValueError(
                f"MLPClassifier needs at least 2 classes; got one class: {list(classes)}"
            )
        self.classes_ = classes
        self.n_outputs_ = 1 if len(classes) == 2 else len(classes)
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        self._key = jax.random.key(seed)
        init_key = jax.random.fold_in(self._key, 0)
        sizes = (X.shape[1], *self._hidden(), self.n_outputs_)
        params = mlp.init_mlp(init_key, sizes)
        self._opt_state = _optimizer(self.solver, float(self.learning_rate_init)).init(params)
        self.params_ = jax.tree.map(np.asarray, params)
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_: list[float] = []
        self.best_loss_ = np.inf
        self.validation_scores_: list[float] | None = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self._no_improvement = 0

    def _run_epoch(self, X: np.ndarray, y_idx: np.ndarray) -> float:
        n = X.shape[0]
        batch = min(200, n) if self.batch_size == "auto" else min(int(self.batch_size), n)
        key = jax.random.fold_in(jax.random.fold_in(self._key, 1), self.n_iter_)
        params, self._opt_state, value = _epoch(
            jax.tree.map(jnp.asarray, self.params_),
            self._opt_state,
            jnp.asarray(X, jnp.float32),
            jnp.asarray(y_idx),
            key,
            jnp.float32(self.alpha),
            activation=_activations.get(self.activation),
            solver=self.solver,
            batch_size=batch,
        )
        self.params_ = jax.tree.map(np.asarray, params)
        self.n_iter_ += 1
        self.t_ += n
        loss = float(value)
        self.loss_curve_.append(loss)
        self.loss_ = loss
        return loss

    # ---- public API ----------------------------------------------------------
    def fit(self, X, y):
        """Trains from a fresh initialisation for up to ``max_iter`` epochs.

        Args:
          X: (n, d) numeric array-like.
          y: (n,) class labels (any hashable dtype sklearn accepts).

        Returns:
          self.
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float32, reset=True)
        check_classification_targets(y)
        self._hidden()
        self._initialize(X, y, y)
        y_idx = self._encode(y)
        X_val = y_val = None
        if self.early_stopping:
            split_seed = int(jax.random.randint(jax.random.fold_in(self._key, 2), (), 0, 2**30))
            X, X_val, y_idx, y_val = train_test_split(
                X,
                y_idx,
                test_size=self.validation_fraction,
                random_state=split_seed,
                stratify=y_idx,
            )
        best_params = self.params_
        for _ in range(self.max_iter):
            loss = self._run_epoch(X, y_idx)
            if not np.isfinite(loss):
                raise FloatingPointError(
                    f"training loss became {loss} at epoch {self.n_iter_}: lower learning_rate_init"
                )
            if self.early_stopping:
                score = float(np.mean(self._predict_idx(X_val) == y_val))
                self.validation_scores_.append(score)
                improved = score > self.best_validation_score_ + self.tol
                if score > self.best_validation_score_:
                    self.best_validation_score_ = score
                    best_params = self.params_
            else:
                improved = loss < self.best_loss_ - self.tol
            self.best_loss_ = min(self.best_loss_, loss)
            self._no_improvement = 0 if improved else self._no_improvement + 1
            if self._no_improvement >= self.n_iter_no_change:
                break
        else:
            warnings.warn(
                f"MLPClassifier: max_iter={self.max_iter} epochs reached before convergence",
                ConvergenceWarning,
                stacklevel=2,
            )
        if self.early_stopping:
            self.params_ = best_params
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y), continuing from the current parameters and optimizer state.

        Args:
          X: (n, d) numeric array-like.
          y: (n,) labels, all in ``classes``.
          classes: every class that will ever appear; required on the first call.

        Returns:
          self.
        """
        first = not hasattr(self, "classes_")
        if first:
            self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float32, reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            self._hidden()
            self._initialize(X, y, classes)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes must equal classes_ {list(self.classes_)} from the first call, "
                f"got {list(np.unique(classes))}"
            )
        loss = self._run_epoch(X, self._encode(y))
        self.best_loss_ = min(self.best_loss_, loss)
        return self

    def _proba(self, X: np.ndarray) -> np.ndarray:
        params = jax.tree.map(jnp.asarray, self.params_)
        proba = np.asarray(mlp.predict_proba(params, jnp.asarray(X), self.activation))
        if proba.ndim == 1:
            proba = np.stack([1.0 - proba, proba], axis=1)
        return proba.astype(np.float64)

    def _predict_idx(self, X: np.ndarray) -> np.ndarray:
        return np.argmax(self._proba(X), axis=1)

    def predict_proba(self, X):
        """Class probabilities, shape (n, n_classes), columns in ``classes_`` order."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return self._proba(X)

    def predict(self, X):
        """Predicted labels (n,) from ``classes_``."""
        proba = self.predict_proba(X)  # checks fitted first
        return self.classes_[np.argmax(proba, axis=1)]
