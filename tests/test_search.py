"""jaxmlp.sklearn.GridSearchCV / RandomizedSearchCV: one program, scikit-learn's results."""

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from _counting import counting_compiles  # noqa: E402  # tests/ is on sys.path under pytest
from sklearn import model_selection  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from jaxmlp.sklearn import (  # noqa: E402
    GridSearchCV,
    MLPClassifier,
    MLPRegressor,
    RandomizedSearchCV,
    _prefit,
    _search,
)

RTOL = 1e-5  # float32


def _data(n=90, seed=0, k=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    y = (np.arange(n) % k + (X[:, 0] > 0)) % k
    return X, y


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(autouse=True, params=["per model", pytest.param("vmapped", marks=pytest.mark.slow)])
def mode(request, monkeypatch):
    """Both ways a program runs: one model a call (CPU's default), chunks under vmap (the
    accelerators' way: in the full suite, not the fast loop)."""
    monkeypatch.setattr(_search, "VMAP_ON_CPU", request.param == "vmapped")
    monkeypatch.setattr(_search, "ONE_PROGRAM", "always")  # "auto": test_auto_* below
    return request.param


@pytest.fixture
def served(monkeypatch):
    """Counts the fits served from a program (a search that serves none proves nothing)."""
    count = {"served": 0}
    restore = _prefit.restore

    def counting(*args):
        found = restore(*args)
        count["served"] += found
        return found

    monkeypatch.setattr(_prefit, "restore", counting)
    return count


def _assert_fits_equal(fitted: dict, est, *, rtol=RTOL, atol=1e-6):
    """A program's fitted attributes equal the estimator's own fit's, to float rounding."""
    assert fitted["n_iter_"] == est.n_iter_
    assert fitted["t_"] == est.t_
    for a, b in zip(fitted["coefs_"], est.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    for a, b in zip(fitted["intercepts_"], est.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    np.testing.assert_allclose(fitted["loss_curve_"], est.loss_curve_, rtol=rtol)
    if est.best_loss_ is None:
        assert fitted["best_loss_"] is None
    else:
        np.testing.assert_allclose(fitted["best_loss_"], est.best_loss_, rtol=rtol)
    if est.validation_scores_ is None:
        assert fitted["validation_scores_"] is None
    else:
        np.testing.assert_allclose(fitted["validation_scores_"], est.validation_scores_, rtol=rtol)
        np.testing.assert_allclose(fitted["best_validation_score_"], est.best_validation_score_)


def _train_and_compare(base, candidates, X, y, splits, sample_weight=None, **tol):
    jobs = []
    for params in candidates:
        for train in splits:
            w = None if sample_weight is None else sample_weight[train]
            est = clone(base).set_params(**params)
            jobs.append(_search._Job(est, X[train], y[train], w, np.asarray(train)))
    with _prefit.serving():
        fitted = _search.train_jobs(jobs, len(jobs), X.shape[0])
    assert len(fitted) == len(jobs)  # every fit ran in a program
    by_key = dict(fitted)
    for job in jobs:
        key = _prefit.key_of(job.estimator, job.X, job.y, job.sample_weight)
        own = clone(job.estimator).fit(job.X, job.y, sample_weight=job.sample_weight)
        _assert_fits_equal(by_key[key].attributes, own, **tol)


SOLVERS = {
    "adam": dict(solver="adam", learning_rate_init=1e-2),
    "sgd": dict(solver="sgd", learning_rate_init=0.1, momentum=0.9),
    "sgd-invscaling": dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5),
}


@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize("batch_size", ["auto", 16])  # one batch; shuffled mini-batches
def test_each_fit_equals_the_estimators_own_fit(solver, batch_size):
    X, y = _data()
    base = MLPClassifier(max_iter=25, batch_size=batch_size, random_state=0, **SOLVERS[solver])
    candidates = [
        {"hidden_layer_sizes": (5,), "alpha": 1e-4, "random_state": 0},
        {"hidden_layer_sizes": (12,), "alpha": 1e-2, "random_state": 1, "tol": 1e-2},
        {"hidden_layer_sizes": (7,), "activation": "relu", "beta_1": 0.8, "momentum": 0.5},
    ]
    splits = [train for train, _ in KFold(3).split(X)] + [np.arange(61)]  # unequal sizes
    _train_and_compare(base, candidates, X, y, splits)


@pytest.mark.parametrize("activation", ["logistic", "tanh"])
def test_padded_units_change_nothing_deeper_networks(activation):
    X, y = _data()
    base = MLPClassifier(activation=activation, max_iter=20, learning_rate_init=1e-2)
    candidates = [
        {"hidden_layer_sizes": (3, 9), "random_state": 0},
        {"hidden_layer_sizes": (10, 2), "random_state": 1},
    ]
    splits = [train for train, _ in KFold(2).split(X)]
    _train_and_compare(base, candidates, X, y, splits)


def test_early_stopping_and_its_own_n_iter_per_model():
    X, y = _data(n=150)
    base = MLPClassifier((8,), early_stopping=True, max_iter=60, n_iter_no_change=3,
                         learning_rate_init=3e-2, batch_size=32)  # fmt: skip
    candidates = [{"random_state": s, "tol": t} for s in (0, 1) for t in (1e-4, 0.05)]
    splits = [train for train, _ in StratifiedKFold(3).split(X, y)]
    _train_and_compare(base, candidates, X, y, splits)


@pytest.mark.slow  # the fast loop's budget; the full suite runs it
def test_regressor_and_sample_weight():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4)).astype(np.float32)
    y = X @ rng.normal(size=(4, 2)) + 0.1 * rng.normal(size=(80, 2))
    w = rng.uniform(0.2, 2.0, size=80)
    base = MLPRegressor(
        hidden_layer_sizes=(6,), max_iter=30, learning_rate_init=1e-2, random_state=0
    )
    candidates = [{"alpha": a, "hidden_layer_sizes": h} for a in (1e-4, 1.0) for h in [(4,), (9,)]]
    splits = [train for train, _ in KFold(4).split(X)]
    _train_and_compare(base, candidates, X, y, splits, sample_weight=w)
    _train_and_compare(base.set_params(solver="sgd", learning_rate="adaptive", batch_size=20),
                       candidates, X, y, splits, sample_weight=w)  # fmt: skip


def _assert_results_equal(ours, theirs, rtol=RTOL):
    assert set(ours.cv_results_) == set(theirs.cv_results_)
    for key, value in theirs.cv_results_.items():
        if "time" in key:
            continue
        if key == "params" or key.startswith("param_"):
            assert list(ours.cv_results_[key]) == list(value), key
        else:
            np.testing.assert_allclose(
                np.asarray(ours.cv_results_[key], float), np.asarray(value, float),
                rtol=rtol, atol=1e-7, err_msg=key,
            )  # fmt: skip
    for name in ("best_index_", "best_params_", "n_splits_", "multimetric_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    if hasattr(theirs, "best_score_"):
        np.testing.assert_allclose(ours.best_score_, theirs.best_score_, rtol=rtol)
    if hasattr(getattr(theirs, "best_estimator_", None), "coefs_"):
        for a, b in zip(ours.best_estimator_.coefs_, theirs.best_estimator_.coefs_, strict=True):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-6)
        assert ours.refit_time_ >= 0


GRID = {
    "alpha": [1e-4, 1e-1],
    "learning_rate_init": [1e-3, 3e-2],
    "hidden_layer_sizes": [(4,), (8,)],
}


def _both(search_kwargs, X, y, served, expect_served=True, **fit_params):
    ours = GridSearchCV(**search_kwargs).fit(X, y, **fit_params)
    n_served = served["served"]
    theirs = model_selection.GridSearchCV(**search_kwargs).fit(X, y, **fit_params)
    assert (n_served > 0) == expect_served
    _assert_results_equal(ours, theirs)
    return ours, theirs


@pytest.mark.parametrize(
    "cv",
    [3, StratifiedKFold(3, shuffle=True, random_state=0), KFold(4), "groups", "iterable"],
)
def test_cv_results_equal_scikit_learns_search(cv, served):
    X, y = _data()
    fit_params = {}
    if cv == "groups":
        cv, fit_params = GroupKFold(3), {"groups": np.arange(X.shape[0]) % 5}
    elif cv == "iterable":
        cv = [(np.arange(0, 60), np.arange(60, 90)), (np.arange(30, 90), np.arange(0, 30))]
    est = MLPClassifier(max_iter=15, random_state=0)
    kwargs = dict(estimator=est, param_grid=GRID, cv=cv, return_train_score=True)
    _both(kwargs, X, y, served, **fit_params)
    n_splits = len(cv) if isinstance(cv, list) else 3 if cv == 3 else cv.get_n_splits()
    # every fold's fit; the refit on 90 rows (a batch of 128) joins a folds' program only
    # where a fold has more than 64 rows (a batch of 128 too), else the estimator's fit runs it
    assert served["served"] in (8 * n_splits, 8 * n_splits + 1)


def test_scoring_dict_refit_by_name_sample_weight_and_predict(served):
    X, y = _data(n=120)
    w = np.random.default_rng(2).uniform(0.5, 2, size=120)
    est = MLPClassifier(max_iter=15, random_state=0)
    scoring = {"acc": "accuracy", "nll": "neg_log_loss"}
    kwargs = dict(estimator=est, param_grid=GRID, cv=3, scoring=scoring, refit="nll")
    ours, theirs = _both(kwargs, X, y, served, sample_weight=w)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-4)
    assert (ours.predict(X) == theirs.predict(X)).mean() > 0.98
    np.testing.assert_allclose(ours.score(X, y), theirs.score(X, y), rtol=1e-4)


def test_multilabel_y(served):
    X, _ = _data(n=90)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 2] > 0], axis=1).astype(int)
    est = MLPClassifier(max_iter=15, random_state=0)
    _both(dict(estimator=est, param_grid=GRID, cv=KFold(3)), X, Y, served)


def test_regressor_search(served):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 4)).astype(np.float32)
    y = X @ rng.normal(size=4)
    est = MLPRegressor(max_iter=20, random_state=0, solver="sgd", learning_rate_init=1e-2)
    grid = {"alpha": [1e-4, 1e-1], "momentum": [0.5, 0.9], "hidden_layer_sizes": [(3,), (7,)]}
    _both(dict(estimator=est, param_grid=grid, cv=3, scoring="r2"), X, y, served)


def test_randomized_search_equals_scikit_learns():
    X, y = _data()
    est = MLPClassifier(max_iter=15, random_state=0)
    dists = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1], "learning_rate_init": [1e-3, 1e-2, 3e-2]}
    kwargs = dict(estimator=est, param_distributions=dists, n_iter=5, cv=3, random_state=0)
    ours = RandomizedSearchCV(**kwargs).fit(X, y)
    theirs = model_selection.RandomizedSearchCV(**kwargs).fit(X, y)
    _assert_results_equal(ours, theirs)


def test_what_no_program_runs_falls_back_to_scikit_learns_loop(served):
    X, y = _data()
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=10, random_state=0))
    _both(dict(estimator=pipe, param_grid={"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2), X, y,
          served, expect_served=False)  # fmt: skip
    lbfgs = MLPClassifier(solver="lbfgs", max_iter=10, random_state=0)
    _both(dict(estimator=lbfgs, param_grid={"alpha": [1e-4, 1e-2]}, cv=2), X, y, served,
          expect_served=False)  # fmt: skip


@pytest.mark.slow  # the fast loop's budget; the full suite runs it
def test_errors_go_through_error_score():
    X, y = _data()
    est = MLPClassifier(max_iter=10, random_state=0, early_stopping=True)
    grid = {"validation_fraction": [0.01, 0.2]}  # 0.01 of 60 rows: "too small"
    kwargs = dict(estimator=est, param_grid=grid, cv=3, error_score=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = GridSearchCV(**kwargs).fit(X, y)
        theirs = model_selection.GridSearchCV(**kwargs).fit(X, y)
    assert np.isnan(ours.cv_results_["mean_test_score"][0])
    _assert_results_equal(ours, theirs)


@pytest.mark.slow  # the fast loop's budget; the full suite runs it
def test_a_grid_over_numbers_compiles_at_most_3_programs():
    X, y = _data(n=150)  # mini-batches of 200 rows: one batch per fold, and for the refit
    est = MLPClassifier((8,), max_iter=10, random_state=0)
    grid = {
        "alpha": [1e-4, 1e-3, 1e-2],
        "learning_rate_init": [1e-3, 1e-2],
        "beta_1": [0.8, 0.9],
        "random_state": [0, 1],
        "tol": [1e-4, 1e-3],
    }
    search = GridSearchCV(est, grid, cv=5)
    with counting_compiles() as count:
        search.fit(X, y)
    assert count["compiles"] <= 3
    with counting_compiles() as count:  # the same grid again, other numbers: nothing new
        search.set_params(param_grid={**grid, "alpha": [0.5, 1.0, 2.0]}).fit(X, y)
    assert count["compiles"] == 0


def test_widths_and_activations_compile_one_program_per_activation():
    X, y = _data(n=100)
    est = MLPClassifier(max_iter=10, random_state=0)
    grid = {
        "hidden_layer_sizes": [(2,), (5,), (16,), (33,)],
        "activation": ["relu", "tanh", "logistic"],
        "alpha": [1e-4, 1e-2],
    }
    search = GridSearchCV(est, grid, cv=3)
    with counting_compiles() as count:
        search.fit(X, y)
    # at most one per activation, as asked; the activation varies inside the program and
    # the refit (100 rows, a batch of 128) joins the folds' (66 or 67 rows, 128): one
    assert count["compiles"] == 1


@pytest.mark.parametrize("mode", ["vmapped"], indirect=True)  # chunks of several models
@pytest.mark.slow  # the fast loop's budget; the full suite runs it
def test_chunks_share_one_program_and_change_nothing(monkeypatch, capsys, mode):
    X, y = _data()
    est = MLPClassifier(max_iter=10, random_state=0)
    whole = GridSearchCV(est, GRID, cv=3).fit(X, y)
    _model_bytes = _search._model_bytes
    monkeypatch.setattr(_search, "MAX_CHUNK_BYTES", 1)  # one model per chunk
    monkeypatch.setattr(_search, "_model_bytes", lambda *a: 1 << 20)
    monkeypatch.setattr(_search, "MAX_CHUNK_BYTES", 5 << 20)  # 5 models a chunk
    with counting_compiles() as count:
        chunked = GridSearchCV(est, {**GRID, "alpha": [2e-4, 1e-1]}, cv=3, verbose=1).fit(X, y)
    assert count["compiles"] <= 1
    assert "chunk 5/5" in capsys.readouterr().out
    monkeypatch.setattr(_search, "MAX_CHUNK_BYTES", 1 << 30)
    monkeypatch.setattr(_search, "_model_bytes", _model_bytes)
    again = GridSearchCV(est, {**GRID, "alpha": [2e-4, 1e-1]}, cv=3).fit(X, y)
    _assert_results_equal(chunked, again)
    assert whole.n_splits_ == chunked.n_splits_


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 3.0, 2: 0.5}])
def test_class_weight_equals_the_matching_sample_weight(class_weight):
    X, y = _data(n=100)
    y = np.where(np.arange(100) < 60, 0, y)  # imbalanced
    weighted = MLPClassifier((6,), max_iter=20, random_state=0, class_weight=class_weight)
    weighted.fit(X, y)
    if class_weight == "balanced":
        counts = np.bincount(y)
        w = (len(y) / (len(counts) * counts))[y]
    else:
        w = np.array([class_weight[c] for c in y])
    plain = MLPClassifier((6,), max_iter=20, random_state=0).fit(X, y, sample_weight=w)
    for a, b in zip(weighted.coefs_, plain.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    assert weighted.loss_curve_ == plain.loss_curve_
    with pytest.raises(ValueError, match="partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="sample_weight"):
        weighted.fit(X, y, sample_weight=np.ones(5))


def test_class_weight_in_a_search(served):
    X, y = _data(n=90)
    est = MLPClassifier(max_iter=10, random_state=0)
    grid = {"class_weight": [None, "balanced", {0: 2.0, 1: 1.0, 2: 1.0}], "alpha": [1e-4, 1e-2]}
    _both(dict(estimator=est, param_grid=grid, cv=3), X, y, served)


@pytest.mark.parametrize("mode", ["per model"], indirect=True)
def test_auto_runs_programs_on_a_cpu_only_where_they_beat_the_loop(monkeypatch, served, mode):
    """On a CPU a grid of one network (numbers only) is left to scikit-learn's loop, whose
    fits share one program (padded rows); a grid over activations or widths, which the loop
    compiles once per network, trains in the programs. Results are the same either way."""
    monkeypatch.setattr(_search, "ONE_PROGRAM", "auto")
    X, y = _data()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=10, random_state=0)
    numbers = {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 3e-2]}
    _both(dict(estimator=est, param_grid=numbers, cv=3), X, y, served, expect_served=False)
    networks = {"activation": ["relu", "tanh"], "alpha": [1e-4, 1e-1]}
    _both(dict(estimator=est, param_grid=networks, cv=3), X, y, served, expect_served=True)
