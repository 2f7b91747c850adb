"""MLPClassifier: scikit-learn's classifier, trained by jaxmlp's compiled fit."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from jaxmlp.sklearn._base import BaseMLP


def assign(estimator, params: dict) -> None:
    """Stores every ``__init__`` argument unchanged, as scikit-learn requires."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multilayer perceptron classifier: ``sklearn.neural_network.MLPClassifier``'s interface.

    Every parameter, fitted attribute and stopping rule is scikit-learn's (see its
    documentation and ``docs/sklearn.md`` for the few differences); the gradients
    are the post's hand-derived formulas (``Delta_L = Y_hat - Y``) and a whole
    ``sgd``/``adam`` fit runs as one compiled JAX program (``lbfgs``: scipy's
    L-BFGS-B on the compiled objective, as scikit-learn).

    ``class_weight`` (``None``, ``"balanced"`` or a dict ``{label: weight}``; a list of
    dicts, one per label, for multilabel y) multiplies each row's sample weight by its
    class's weight, as scikit-learn's other classifiers (``compute_sample_weight``):
    a fit with it equals the fit with those sample weights. ``partial_fit`` takes a
    dict but not ``"balanced"`` (one batch's counts are not the data's).

    Outputs: one logistic unit for two classes, k logistic units for multilabel
    indicator y, softmax for k classes. Arithmetic is float32 unless X is
    float64 and ``jax_enable_x64`` is on; ``coefs_`` and probabilities come back
    in X's dtype.

    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 1.0], [0.9, 1.0]])
    >>> clf = MLPClassifier((4,), solver="lbfgs", random_state=0).fit(X, [0, 0, 1, 1])
    >>> clf.predict(X).tolist(), [c.shape for c in clf.coefs_]
    ([0, 0, 1, 1], [(2, 4), (4, 1)])
    """

    def __init__(
        self,
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
        class_weight=None,
    ):
        assign(self, locals())

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "class_weight": [dict, list, StrOptions({"balanced"}), None],
    }

    def _class_sample_weight(self, y, sample_weight, *, incremental: bool):
        """``sample_weight`` times each row's ``class_weight`` (unchanged without one)."""
        if self.class_weight is None:
            return sample_weight
        if incremental and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: pass a dict of "
                "class weights, or sample_weight"
            )
        weights = compute_sample_weight(self.class_weight, np.asarray(y))
        if sample_weight is None:
            return weights
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != weights.shape:
            raise ValueError(
                f"sample_weight: shape {sample_weight.shape} does not match y's "
                f"{weights.shape[0]} rows"
            )
        return sample_weight * weights

    def _fit(self, X, y, sample_weight=None, incremental=False):
        sample_weight = self._class_sample_weight(y, sample_weight, incremental=incremental)
        return super()._fit(X, y, sample_weight=sample_weight, incremental=incremental)

    def _output(self, Y) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        return X, self._label_binarizer.transform(y).astype(bool)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing from the current weights and solver state.

        Args:
          X: (n, d) array-like or sparse matrix.
          y: (n,) labels or (n, k) label indicators.
          sample_weight: (n,) weights or None.
          classes: every class that will appear; required on the first call.

        Returns:
          self.
        """
        if not hasattr(self, "classes_"):
            self._validate_params()
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predicted labels (n,), or (n, k) indicators for multilabel y."""
        check_is_fitted(self)
        units = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            units = units.ravel()
        return self._label_binarizer.inverse_transform(units)

    def _predict(self, X, check_input=True):
        units = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            units = units.ravel()
        return self._label_binarizer.inverse_transform(units)

    def predict_proba(self, X):
        """Probabilities (n, n_classes) in ``classes_`` order (multilabel: each label's)."""
        check_is_fitted(self)
        units = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            p = units.ravel()
            return np.vstack([1 - p, p]).T
        return units

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``, (n, n_classes)."""
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
