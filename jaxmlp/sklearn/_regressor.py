"""MLPRegressor: scikit-learn's regressor, trained by jaxmlp's compiled fit."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from jaxmlp.sklearn._base import BaseMLP
from jaxmlp.sklearn._classifier import assign


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multilayer perceptron regressor: ``sklearn.neural_network.MLPRegressor``'s interface.

    ``loss="squared_error"``: identity output units and the half squared error,
    whose output delta is the post's ``Delta_L = Y_hat - Y``, so the same
    hand-derived backward pass trains it; ``loss="poisson"``: exponential output
    and the half Poisson deviance (the same delta). ``loss_curve_`` is
    scikit-learn's figure (half the mean squared error, averaged over outputs,
    plus the L2 term). Arithmetic is float32 unless X is float64 and
    ``jax_enable_x64`` is on; predictions come back in X's dtype.

    >>> import numpy as np
    >>> X = np.linspace(-1, 1, 20)[:, None]
    >>> y = 2 * X[:, 0] + 1
    >>> reg = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", random_state=0).fit(X, y)
    >>> bool(reg.score(X, y) > 0.99), reg.out_activation_
    (True, 'identity')
    """

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
    ):
        assign(self, locals())

    def _output(self, Y) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("y: loss='poisson' needs non-negative targets")
        return X, y

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights and solver state.

        Args:
          X: (n, d) array-like or sparse matrix.
          y: (n,) or (n, k) targets.
          sample_weight: (n,) weights or None.

        Returns:
          self.
        """
        if not hasattr(self, "coefs_"):
            self._validate_params()
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _predict(self, X, check_input=True):
        units = self._forward_pass_fast(X, check_input=check_input)
        return units.ravel() if units.shape[1] == 1 else units

    def predict(self, X):
        """Predictions (n,), or (n, k) for k targets, in X's dtype."""
        check_is_fitted(self)
        return self._predict(X)
