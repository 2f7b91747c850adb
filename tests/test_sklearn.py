"""jaxmlp.sklearn: scikit-learn's checks, its semantics side by side, reuse of programs."""

import contextlib
import copy
import functools
import warnings
from unittest import SkipTest

import chex
import jax
import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

import scipy.sparse  # noqa: E402
from _counting import counting_compiles  # noqa: E402  # tests/ is on sys.path under pytest
from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import estimator_checks  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from jaxmlp.sklearn import MLPClassifier, MLPRegressor, _fit, _params  # noqa: E402
from jaxmlp.sklearn._data import init_opt_state, to_params  # noqa: E402


def _blobs(n=120, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 4.0], [4.0, 0.0], [-4.0, -4.0]])[:k]
    y = np.arange(n) % k
    return centers[y] + rng.normal(size=(n, 2)), y


def _quiet_fit(model, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **kw)


# scikit-learn's settings for its own MLPs in these checks (PER_ESTIMATOR_CHECK_PARAMS in
# sklearn/utils/_test_common/instance_generator.py, 1.9); every other check, the sparse variant
# included, runs on the default instance Estimator(max_iter=100), as scikit-learn's do
CHECK_PARAMS = {
    ("MLPClassifier", "check_sample_weight_equivalence_on_dense_data"): dict(solver="lbfgs"),
    ("MLPRegressor", "check_sample_weight_equivalence_on_dense_data"): dict(
        solver="sgd", tol=1e-2, random_state=42
    ),
}
# Weights equal to repetitions holds to assert_allclose's rtol=1e-7, below float32's epsilon
# (1.2e-7): the weighted and the repeated rows are summed in different orders, and the
# classifier's predict_proba then differs by up to 9e-5 (lbfgs) / 2.2e-7 (adam) relative in
# float32. With jax_enable_x64 (float64 arithmetic, as scikit-learn's) both checks pass; the
# regressor's pass in float32.
X64_CHECKS = {
    ("MLPClassifier", "check_sample_weight_equivalence_on_dense_data"),
    ("MLPClassifier", "check_sample_weight_equivalence_on_sparse_data"),
}
# The checks not collected, each with why: (check name, its keyword arguments) -> reason.
NOT_COLLECTED = {
    ("check_estimators_pickle", (("readonly_memmap", True),)): "reads a fitted estimator back "
    "from a pickle file (joblib); jaxmlp reads no pickle file (the in-memory variant runs)",
    (
        "check_array_api_input",
        (("array_namespace", "numpy"), ("expect_only_array_outputs", False)),
    ): "array API input is not claimed (scikit-learn skips it unless SCIPY_ARRAY_API=1)",
    ("check_classifiers_multilabel_output_format_decision_function", ()): "no "
    "decision_function, as scikit-learn's MLPClassifier has none (scikit-learn skips it)",
}


def _check_key(check) -> tuple[str, tuple]:
    return getattr(check, "func", check).__name__, tuple(getattr(check, "keywords", {}).items())


_ALL_CHECKS = parametrize_with_checks([MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)])
CHECKS = [(e, c) for e, c in _ALL_CHECKS.args[1] if _check_key(c) not in NOT_COLLECTED]


def test_every_check_left_out_exists():
    """The list stays true: each entry names a check that scikit-learn still generates."""
    generated = {_check_key(check) for _, check in _ALL_CHECKS.args[1]}
    assert set(NOT_COLLECTED) <= generated, set(NOT_COLLECTED) - generated


def _memmap_without_pickle(data, mmap_mode="r", return_folder=False, *, folder):
    """scikit-learn's ``create_memmap_backed_data`` without its joblib (pickle) file.

    Arrays (or a list of them) come back as read-only memory maps of ``.npy`` files
    read with ``allow_pickle=False``. Anything else (a fitted estimator) would need a
    pickle file: that check is not collected (NOT_COLLECTED), so reaching here fails.
    """
    arrays = data if isinstance(data, list) else [data]
    if not all(isinstance(a, np.ndarray) and a.dtype != object for a in arrays):
        raise AssertionError(f"would read a {type(data).__name__} back from a pickle file")
    out = []
    for i, a in enumerate(arrays):
        path = folder / f"data{i}.npy"
        np.save(path, a, allow_pickle=False)
        out.append(np.load(path, mmap_mode=mmap_mode, allow_pickle=False))
    result = out if isinstance(data, list) else out[0]
    return (result, str(folder)) if return_folder else result


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(_ALL_CHECKS.args[0], CHECKS, **_ALL_CHECKS.kwargs)
def test_check_estimator(estimator, check, monkeypatch, tmp_path):
    """Every collected check of scikit-learn's check_estimator passes; none may skip (a
    skip means a missing test dependency, such as pandas, or a check newly skipping)."""
    memmap = functools.partial(_memmap_without_pickle, folder=tmp_path)
    monkeypatch.setattr(estimator_checks, "create_memmap_backed_data", memmap)
    name = type(estimator).__name__
    key = (name, getattr(check, "func", check).__name__)
    estimator = clone(estimator).set_params(**CHECK_PARAMS.get(key, {}))
    try:
        with jax.enable_x64(True) if key in X64_CHECKS else contextlib.nullcontext():
            check(estimator)
    except SkipTest as skipped:
        pytest.fail(f"scikit-learn skipped the check: {skipped}")


@pytest.mark.slow
@pytest.mark.parametrize("sparse", [False, True])
def test_sample_weights_are_repetitions_in_float32(sparse):
    """The X64_CHECKS above in float32: weights and repeated rows agree to float32 rounding."""
    rng = np.random.RandomState(42)
    X, y, sw = rng.rand(15, 30), rng.randint(0, 3, size=15), rng.randint(0, 5, size=15)
    X_repeated, y_repeated = X.repeat(sw, axis=0), y.repeat(sw)
    convert = scipy.sparse.csr_array if sparse else np.asarray
    params = dict(solver="lbfgs", random_state=0) if not sparse else dict(random_state=0)
    repeated = _quiet_fit(MLPClassifier(max_iter=100, **params), convert(X_repeated), y_repeated)
    weighted = _quiet_fit(MLPClassifier(max_iter=100, **params), convert(X), y, sample_weight=sw)
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-3)


# `import jaxmlp` imports no scikit-learn: tests/test_plots.py::test_import_jaxmlp_stays_light

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
    """alpha, learning_rate_init, tol, momentum, max_iter are traced: a clone reuses the program.

    So do fewer rows in one batch (padded with weight-0 rows to the same power of two).
    """
    X, y = _blobs()
    first = MLPClassifier((8,), solver="sgd", max_iter=7, random_state=0)
    _quiet_fit(first, X, y)
    compiled = _fit.run_epochs._cache_size()
    second = clone(first).set_params(alpha=0.1, learning_rate_init=0.05, tol=1e-3, momentum=0.5)
    _quiet_fit(second, X, y)
    assert not np.allclose(first.coefs_[0], second.coefs_[0])
    eight = _quiet_fit(clone(first).set_params(max_iter=8), X, y)  # records of 8 epochs
    fewer_rows = _quiet_fit(clone(first), X[:100], y[:100])  # 120 and 100 rows: 128
    assert _fit.run_epochs._cache_size() == compiled
    assert eight.n_iter_ == 8 and first.n_iter_ == 7 and fewer_rows.t_ == 700
    _quiet_fit(clone(first).set_params(max_iter=9), X, y)  # records of 16 epochs: one more
    assert _fit.run_epochs._cache_size() == compiled + 1


@pytest.mark.parametrize("solver, nesterov", [("sgd", True), ("sgd", False), ("adam", False)])
def test_fresh_solver_states_built_on_the_host_are_optax_init(solver, nesterov):
    static = _fit.Static("relu", "softmax", solver, nesterov, False, True, 8, 8)
    hyper = _fit.Hyper(*(np.float32(v) for v in (1e-4, 1e-3, 0.5, 0.9, 0.9, 0.999, 1e-8,
                                                    1e-4, 10, 1, 0)))  # fmt: skip
    params = to_params([np.ones((2, 3)), np.ones((3, 4))], [np.ones(3), np.ones(4)], np.float32)
    host = init_opt_state(static, params)
    zero_rate = np.zeros((), np.float32)
    chex.assert_trees_all_equal(host, _fit.optimizer(static, hyper, zero_rate).init(params))
    assert all(isinstance(leaf, np.ndarray) for leaf in jax.tree.leaves(host))


@pytest.mark.slow
def test_a_fit_compiles_one_program_and_a_refit_of_nearby_size_none():
    """Nothing eager in the fit path; one batch, validation and L-BFGS rows are bucketed."""
    X, y = _blobs(120)
    options = [  # (option, the refit's rows)
        (dict(solver="sgd", batch_size=16), 120),  # mini-batches: a row count is a program
        (dict(solver="adam"), 115),  # one batch of 120 and 115 rows: 128
        (dict(solver="adam", early_stopping=True), 115),  # validation 12 rows: 16
        (dict(solver="lbfgs"), 115),  # fine_bucket: 120
    ]
    for option, rows in options:
        model = MLPClassifier((13,), max_iter=3, random_state=0, **option)
        with counting_compiles() as first:
            _quiet_fit(model, X, y)
        with counting_compiles() as nearby:
            refit = _quiet_fit(clone(model).set_params(learning_rate_init=0.01), X[:rows], y[:rows])
        assert (first["compiles"], nearby["compiles"]) == (1, 0), option
        assert refit.n_iter_ == 3 and refit.loss_ != model.loss_
    model = MLPClassifier((13,), max_iter=3, random_state=0)
    with counting_compiles() as partial:  # one batch of 128 rows each: fit's adam program
        for rows in (120, 100, 90):
            model.partial_fit(X[:rows], y[:rows], classes=[0, 1, 2])
    assert partial["compiles"] == 0 and model.t_ == 310 and len(model.loss_curve_) == 3


@pytest.mark.slow
def test_options_a_program_does_not_use_share_it():
    """adam ignores learning_rate and nesterovs_momentum, one batch ignores shuffle, and
    sgd's schedule is traced: each shares one program."""
    X, y = _blobs(120)
    adam = _quiet_fit(MLPClassifier((9,), batch_size=32, max_iter=4, random_state=0), X, y)
    sgd = MLPClassifier((9,), solver="sgd", max_iter=4, random_state=0)
    curves = {}
    for schedule in ("constant", "invscaling", "adaptive"):
        with counting_compiles() as count:
            model = _quiet_fit(clone(sgd).set_params(learning_rate=schedule), X, y)
            curves[schedule] = model.loss_curve_
            _quiet_fit(clone(model).set_params(shuffle=False), X, y)  # one batch of 120
        assert count["compiles"] == (schedule == "constant"), schedule
    assert curves["invscaling"] != curves["constant"]  # the rate decays from epoch 2 on
    with counting_compiles() as count:
        other = clone(adam).set_params(learning_rate="invscaling", nesterovs_momentum=False)
        _quiet_fit(other, X, y)
    assert count["compiles"] == 0
    np.testing.assert_array_equal(other.coefs_[0], adam.coefs_[0])


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
def test_clone_copy_pipeline_grid_cross_val(Estimator):
    X, y = _blobs(90)
    model = Estimator(hidden_layer_sizes=(6,), max_iter=20, random_state=0, learning_rate_init=0.02)
    fitted = _quiet_fit(clone(model), X, y)
    # a copy rebuilt through the estimator's reduce protocol (what joblib's workers use; the
    # in-memory pickle round trip is scikit-learn's check_estimators_pickle, above)
    back = copy.deepcopy(fitted)
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
