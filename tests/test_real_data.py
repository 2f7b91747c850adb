"""Real data: jaxmlp.sklearn.MLPClassifier vs scikit-learn's MLPClassifier on digits and
breast cancer, same split, standardised features and settings, measured in the same test."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_breast_cancer, load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLP  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from jaxmlp.sklearn import MLPClassifier  # noqa: E402

SETTINGS = dict(
    hidden_layer_sizes=(64,),
    activation="relu",
    learning_rate_init=1e-3,
    alpha=1e-4,
    batch_size=200,
    max_iter=200,
    random_state=0,
)


def compare(loader) -> dict:
    X, y = loader(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    result = {"classes": len(np.unique(y_tr))}
    for label, model in (("jaxmlp", MLPClassifier(**SETTINGS)), ("sklearn", SkMLP(**SETTINGS))):
        # one BLAS thread: on a busy 2-core machine OpenBLAS's two threads wait on each other
        # (scikit-learn's fit takes several times longer), and the fit's result is the same
        with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_tr, y_tr)
        result[label] = float(model.score(X_te, y_te))
    return result


@pytest.mark.parametrize(
    "loader, classes, floor", [(load_digits, 10, 0.95), (load_breast_cancer, 2, 0.93)]
)
@pytest.mark.slow
def test_estimator_accuracy_at_least_sklearn(loader, classes, floor):
    r = compare(loader)
    assert r["classes"] == classes
    assert r["jaxmlp"] >= r["sklearn"], r
    assert r["jaxmlp"] >= floor, r
