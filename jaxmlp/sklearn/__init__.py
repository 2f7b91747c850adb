"""scikit-learn estimators trained with jaxmlp's hand-derived gradients in compiled programs.

Drop-ins for ``sklearn.neural_network.MLPClassifier`` and ``MLPRegressor``: the same
parameters, fitted attributes and stopping rules (``docs/sklearn.md`` lists what
differs); ``GridSearchCV`` and ``RandomizedSearchCV``, scikit-learn's searches that
train a grid of these estimators in one compiled program.
Needs the ``sklearn`` extra (``pip install jaxmlp[sklearn]``); ``import jaxmlp`` never
imports scikit-learn.
"""

from typing import TYPE_CHECKING

from jaxmlp.sklearn._classifier import MLPClassifier
from jaxmlp.sklearn._regressor import MLPRegressor

if TYPE_CHECKING:  # loaded on first use: they import sklearn.model_selection (~0.3 s)
    from jaxmlp.sklearn._search import GridSearchCV, RandomizedSearchCV

__all__ = ["GridSearchCV", "MLPClassifier", "MLPRegressor", "RandomizedSearchCV"]


def __getattr__(name: str):
    """``GridSearchCV`` and ``RandomizedSearchCV``, imported on first use."""
    if name in ("GridSearchCV", "RandomizedSearchCV"):
        from jaxmlp.sklearn import _search

        return getattr(_search, name)
    raise AttributeError(f"module 'jaxmlp.sklearn' has no attribute {name!r}")
