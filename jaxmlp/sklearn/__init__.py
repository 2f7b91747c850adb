"""scikit-learn estimators trained with jaxmlp's hand-derived gradients in compiled programs.

Drop-ins for ``sklearn.neural_network.MLPClassifier`` and ``MLPRegressor``: the same
parameters, fitted attributes and stopping rules (``docs/sklearn.md`` lists what
differs); ``GridSearchCV`` and ``RandomizedSearchCV``, scikit-learn's searches that
train a grid of these estimators in one compiled program.
Needs the ``sklearn`` extra (``pip install jaxmlp[sklearn]``); ``import jaxmlp`` never
imports scikit-learn.
"""

from jaxmlp.sklearn._classifier import MLPClassifier
from jaxmlp.sklearn._regressor import MLPRegressor
from jaxmlp.sklearn._search import GridSearchCV, RandomizedSearchCV

__all__ = ["GridSearchCV", "MLPClassifier", "MLPRegressor", "RandomizedSearchCV"]
