"""jaxmlp.sklearn: scikit-learn's checks, its semantics side by side, reuse of programs."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

import scipy.sparse  # noqa: E402
from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from jaxmlp.sklearn import MLPClassifier, MLPRegressor, _fit, _params  # noqa: E402


def _blobs(n=120, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 4.0], [4.0, 0.0], [-4.0, -4.0]])[:k]
    y = np.arange(n) % k
    return centers[y] + rng.normal(size=(n, 2)), y


def _quiet_fit(model, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **kw)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_check_estimator(Estimator):
    failed = check_estimator(
        Estimator(max_iter=100),  # scikit-learn's settings for its MLPs in these checks
        on_fail=None,
        on_skip=None,
        expected_failed_checks={
            # repeated rows change the mini-batches of adam; scikit-learn's own MLPs meet this
            # check only with settings its instance generator picks (lbfgs, float64)
            "check_sample_weight_equivalence_on_dense_data": "mini-batches, float32",
            "check_sample_weight_equivalence_on_sparse_data": "mini-batches, float32",
        },
    )
    failures = [r for r in failed if r["status"] == "failed"]
    assert failures == [], [(r["check_name"], str(r["exception"])) for r in failures]
    for r in (r for r in failed if r["status"] == "skipped"):
        # array API input (not claimed; needs SCIPY_ARRAY_API=1), pandas input without pandas,
        # decision_function (scikit-learn's MLPClassifier has none either)
        reasons = ("SCIPY_ARRAY_API", "pandas", "does not have a decision_function")
        assert any(reason in str(r["exception"]) for reason in reasons), r


@pytest.mark.slow
def test_import_jaxmlp_does_not_import_sklearn():
    code = "import sys, jaxmlp; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


SETTINGS = dict(hidden_layer_sizes=(5,), random_state=1, max_iter=15, tol=0.0, alpha=1e-3)


@pytest.mark.slow  # compiles several programs: > 5 s on 2 busy cores
@pytest.mark.parametrize(
    "solver, kw, rtol",
    [
        ("sgd", dict(momentum=0.9, learning_rate_init=0.1), 1e-4),
        (
            "sgd",
            dict(
                momentum=0.5,
                nesterovs_momentum=False,
                learning_rate="invscaling",
                power_t=0.2,
                learning_rate_init=0.5,
            ),
            1e-4,
        ),  # fmt: skip
        ("adam", dict(learning_rate_init=0.01), 1e-3),  # epsilon placement differs: ~1e-8
    ],
)
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_loss_curve_equals_sklearn_full_batch(solver, kw, rtol, task):
    """Same RandomState init, one batch per epoch: the loss curves agree to float32 rounding."""
    if task == "regression":
        X, y = make_regression(60, 4, noise=5.0, random_state=0)
        y = (y - y.mean()) / y.std()
        pair = (MLPRegressor, neural_network.MLPRegressor)
    else:
        X, y = _blobs(60, k=2 if task == "binary" else 3)
        pair = (MLPClassifier, neural_network.MLPClassifier)
    args = dict(SETTINGS, solver=solver, batch_size=len(X), **kw)
    ours, theirs = (_quiet_fit(E(**args), X, y) for E in pair)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol)
    for a, b in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=50 * rtol, atol=1e-4)


@pytest.mark.slow  # compiles several programs: > 5 s on 2 busy cores
def test_minibatches_and_weights_keep_sklearn_loss_definition():
    """Short last batch, sample weights: the loss of sklearn's epoch (weights sum like counts)."""
    X, y = _blobs(50)
    w = np.linspace(0.5, 2.0, len(X))
    args = dict(SETTINGS, solver="sgd", batch_size=16, shuffle=False, learning_rate_init=0.05)
    ours = _quiet_fit(MLPClassifier(**args), X, y, sample_weight=w)
    theirs = _quiet_fit(neural_network.MLPClassifier(**args), X, y, sample_weight=w)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)


@pytest.mark.slow
def test_n_iter_no_change_stops_as_sklearn():
    """Strictly more than n_iter_no_change epochs without improvement, as scikit-learn."""
    X, y = _blobs()
    args = dict(hidden_layer_sizes=(4,), tol=10.0, n_iter_no_change=3, random_state=0)
    ours = MLPClassifier(**args).fit(X, y)
    theirs = neural_network.MLPClassifier(**args).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 5
    assert ours._no_improvement_count == theirs._no_improvement_count == 4


@pytest.mark.slow
def test_a_refit_with_other_numbers_compiles_nothing():
    """alpha, learning_rate_init, tol, momentum are traced: a clone with new values reuses."""
    X, y = _blobs()
    first = MLPClassifier((8,), solver="sgd", max_iter=7, random_state=0)
    _quiet_fit(first, X, y)
    compiled = _fit.run_epochs._cache_size()
    second = clone(first).set_params(alpha=0.1, learning_rate_init=0.05, tol=1e-3, momentum=0.5)
    _quiet_fit(second, X, y)
    assert _fit.run_epochs._cache_size() == compiled
    assert not np.allclose(first.coefs_[0], second.coefs_[0])
    third = clone(first).set_params(max_iter=8)  # the record's length is static: one more
    _quiet_fit(third, X, y)
    assert _fit.run_epochs._cache_size() == compiled + 1


@pytest.mark.slow
def test_partial_fit_raises_under_early_stopping_and_continues_otherwise():
    X, y = _blobs()
    clf = MLPClassifier((8,), random_state=0, learning_rate_init=0.05)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    for _ in range(20):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 20  # scikit-learn's n_iter_ too
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    stopping = MLPClassifier((8,), early_stopping=True, random_state=0)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        stopping.partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.slow  # compiles several programs: > 5 s on 2 busy cores
def test_early_stopping_best_loss_none_and_best_weights_restored():
    X, y = _blobs(200)
    clf = MLPClassifier((8,), early_stopping=True, n_iter_no_change=3, random_state=0,
                        learning_rate_init=0.05).fit(X, y)  # fmt: skip
    assert clf.best_loss_ is None
    assert len(clf.validation_scores_) == clf.n_iter_ < 200
    assert clf.best_validation_score_ == max(clf.validation_scores_) >= 0.95


@pytest.mark.slow
def test_predict_log_proba_and_logistic_activation():
    X, y = _blobs(k=2)
    clf = _quiet_fit(MLPClassifier((4,), activation="logistic", max_iter=30, random_state=0), X, y)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(clf.predict_proba(X)))
    assert clf.out_activation_ == "logistic" and clf.n_layers_ == 3 and clf.n_outputs_ == 1


def test_multilabel_indicator_y():
    X, _ = _blobs(90)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0], axis=1).astype(int)
    clf = MLPClassifier((16,), solver="lbfgs", random_state=0).fit(X, Y)
    assert clf.predict(X).shape == Y.shape and clf.score(X, Y) > 0.9
    assert clf.predict_proba(X).shape == Y.shape


@pytest.mark.slow
def test_sparse_input_equals_dense_and_limit(monkeypatch):
    X, y = _blobs()
    dense = _quiet_fit(MLPClassifier((4,), max_iter=5, random_state=0), X, y)
    sparse = _quiet_fit(
        MLPClassifier((4,), max_iter=5, random_state=0), scipy.sparse.csr_matrix(X), y
    )
    np.testing.assert_array_equal(dense.coefs_[0], sparse.coefs_[0])
    monkeypatch.setattr(_params, "MAX_DENSE_ELEMENTS", 10)
    with pytest.raises(ValueError, match="MAX_DENSE_ELEMENTS"):
        MLPClassifier((4,)).fit(scipy.sparse.csr_matrix(X), y)


@pytest.mark.slow
def test_verbose_prints_like_sklearn(capsys):
    X, y = _blobs(40)
    MLPClassifier((4,), tol=10.0, n_iter_no_change=1, verbose=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Iteration 1, loss = ")
    assert out[-1] == (
        "Training loss did not improve more than tol=10.000000 for 1 consecutive epochs. Stopping."
    )


@pytest.mark.slow  # compiles several programs: > 5 s on 2 busy cores
def test_regressor_multioutput_lbfgs_and_float64_dtype():
    X, Y = make_regression(80, 5, n_targets=2, noise=1.0, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0, max_iter=300).fit(
        X, Y / 100
    )
    assert reg.predict(X).shape == (80, 2) and reg.predict(X).dtype == np.float64
    assert reg.score(X, Y / 100) > 0.95
    assert reg.coefs_[0].shape == (5, 16) and reg.coefs_[0].dtype == np.float64


@pytest.mark.slow
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_clone_pickle_pipeline_grid_cross_val(Estimator):
    X, y = _blobs(90)
    model = Estimator(hidden_layer_sizes=(6,), max_iter=20, random_state=0, learning_rate_init=0.02)
    fitted = _quiet_fit(clone(model), X, y)
    back = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(back.predict(X), fitted.predict(X))
    pipe = _quiet_fit(make_pipeline(StandardScaler(), clone(model)), X, y)
    assert pipe.score(X, y) > 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid = GridSearchCV(
            model, {"alpha": [1e-4, 1e-2], "learning_rate_init": [0.01, 0.03]}, cv=3
        )
        grid.fit(X, y)
        scores = cross_val_score(model, X, y, cv=3)
    floor = 0.5 if Estimator is MLPClassifier else 0.0  # accuracy; R^2 of a 20-epoch fit
    assert grid.best_score_ > floor and scores.shape == (3,)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_a_fitted_network_saves_as_a_safetensors_file(Estimator, tmp_path):
    """The pickle-free way to keep a fitted estimator: its network through jaxmlp.io."""
    from jaxmlp import io

    X, y = _blobs(60)
    fitted = _quiet_fit(Estimator(hidden_layer_sizes=(4,), max_iter=5, random_state=0), X, y)
    path = tmp_path / "net.safetensors"
    io.save_params(path, fitted.network_params(), activation=fitted.activation)
    params, metadata = io.load_params(path)
    assert metadata["activation"] == fitted.activation
    for layer, W, b in zip(params, fitted.coefs_, fitted.intercepts_, strict=True):
        np.testing.assert_array_equal(np.asarray(layer.W), W.T)
        np.testing.assert_array_equal(np.asarray(layer.b), b)
