"""jaxmlp.sklearn.MLPClassifier: scikit-learn's estimator checks and behaviour."""

import subprocess
import sys

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from jaxmlp.sklearn import MLPClassifier  # noqa: E402


def _blobs(n=120, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 4.0], [4.0, 0.0], [-4.0, -4.0]])[:k]
    y = np.arange(n) % k
    return centers[y] + rng.normal(size=(n, 2)), y


# The checks fit tiny problems with the default max_iter=200 and stop early on
# tol; a ConvergenceWarning on some of them is expected, not an error.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_check_estimator():
    failed = check_estimator(
        MLPClassifier(hidden_layer_sizes=(16,)),
        on_fail=None,
        on_skip=None,
        expected_failed_checks={},
    )
    failures = [r for r in failed if r["status"] == "failed"]
    skipped = [r for r in failed if r["status"] == "skipped"]
    assert failures == [], [(r["check_name"], str(r["exception"])) for r in failures]
    # skips only for checks about capabilities we do not claim (e.g. sample_weight)
    for r in skipped:
        # array API input (not claimed; needs SCIPY_ARRAY_API=1), pandas input without pandas
        assert "SCIPY_ARRAY_API" in str(r["exception"]) or "pandas" in str(r["exception"]), r


def test_import_jaxmlp_does_not_import_sklearn():
    code = "import sys, jaxmlp; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("k", [2, 3])
def test_fit_predict_learns(k):
    X, y = _blobs(k=k)
    clf = MLPClassifier(
        hidden_layer_sizes=(8,),
        max_iter=60,
        random_state=0,
        learning_rate_init=0.05,
        n_iter_no_change=100,
    )
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    assert clf.score(X, y) >= 0.98
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), k)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert clf.params_[-1].W.shape == (1 if k == 2 else k, 8)
    assert len(clf.loss_curve_) == clf.n_iter_ == 60
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # max_iter=5
def test_string_labels_and_same_seed_same_result():
    X, y = _blobs(k=3)
    labels = np.array(["cat", "dog", "emu"])[y]
    a = MLPClassifier((4,), max_iter=5, random_state=3).fit(X, labels)
    b = MLPClassifier((4,), max_iter=5, random_state=3).fit(X, labels)
    assert set(a.predict(X)) <= {"cat", "dog", "emu"}
    np.testing.assert_array_equal(a.params_[0].W, b.params_[0].W)
    c = MLPClassifier((4,), max_iter=5, random_state=4).fit(X, labels)
    assert not np.array_equal(a.params_[0].W, c.params_[0].W)


def test_alpha_shrinks_weights():
    X, y = _blobs(k=2)
    kw = dict(
        hidden_layer_sizes=(8,),
        max_iter=40,
        random_state=0,
        learning_rate_init=0.05,
        n_iter_no_change=100,
    )
    with pytest.warns(ConvergenceWarning):
        free = MLPClassifier(alpha=0.0, **kw).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        l2 = MLPClassifier(alpha=1.0, **kw).fit(X, y)
    norm = lambda c: sum(float(np.sum(p.W**2)) for p in c.params_)  # noqa: E731
    assert norm(l2) < 0.5 * norm(free)


def test_partial_fit_continues():
    X, y = _blobs(k=3)
    clf = MLPClassifier((8,), random_state=0, learning_rate_init=0.05)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    for _ in range(30):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.n_iter_ == 30 and len(clf.loss_curve_) == 30
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.score(X, y) >= 0.95
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X, np.full(len(X), 7))


def test_early_stopping_keeps_best_and_records_scores():
    X, y = _blobs(n=200, k=3)
    clf = MLPClassifier(
        (8,),
        max_iter=200,
        early_stopping=True,
        n_iter_no_change=3,
        random_state=0,
        learning_rate_init=0.05,
    ).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ < 200
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_validation_score_ >= 0.95


def test_bad_hyperparameters():
    X, y = _blobs()
    with pytest.raises(ValueError, match="activation"):
        MLPClassifier(activation="swish").fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier(hidden_layer_sizes=(4, 0)).fit(X, y)
    with pytest.raises(ValueError, match="one class"):
        MLPClassifier().fit(X, np.zeros(len(X)))
