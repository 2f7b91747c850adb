"""One program per search: a fit's rows are padded to a bucket with weight 0, and the result
is the unpadded fit's (to float rounding); folds, refit and partial_fit's batches share it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from jaxmlp.sklearn import MLPClassifier, MLPRegressor, _base, _fit

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)


def fitted(pad: bool, monkeypatch, est, X, y):
    if not pad:  # the reference: every array at its own size
        monkeypatch.setattr(_base, "rows_bucket", lambda n: n)
        monkeypatch.setattr(_base, "fine_bucket", lambda n: n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    monkeypatch.undo()
    return est


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(solver="adam"),
        dict(solver="sgd", learning_rate="adaptive", momentum=0.8),
        dict(solver="adam", early_stopping=True, validation_fraction=0.2),
        dict(solver="sgd", batch_size=700),  # one batch of all the (padded) rows
        dict(solver="lbfgs"),
    ],
    ids=["adam", "sgd", "early-stopping", "one-batch", "lbfgs"],
)
def test_the_padded_fit_is_the_unpadded_fit(monkeypatch, kwargs):
    X, y = X_DIGITS[:700], Y_DIGITS[:700]  # padded to 1024 rows
    make = lambda: MLPClassifier((12,), max_iter=12, random_state=0, tol=1e-6, **kwargs)  # noqa: E731
    padded, plain = (
        fitted(True, monkeypatch, make(), X, y),
        fitted(False, monkeypatch, make(), X, y),
    )
    assert padded.n_iter_ == plain.n_iter_
    rtol = 1e-5 if kwargs.get("batch_size") or kwargs["solver"] == "lbfgs" else 0
    for a, b in zip(
        padded.coefs_ + padded.intercepts_, plain.coefs_ + plain.intercepts_, strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-6 if rtol else 0)
    np.testing.assert_allclose(padded.loss_, plain.loss_, rtol=rtol or 1e-7)
    if kwargs["solver"] != "lbfgs":
        np.testing.assert_allclose(padded.loss_curve_, plain.loss_curve_, rtol=rtol or 1e-7)
        assert padded.t_ == plain.t_
    if kwargs.get("early_stopping"):
        assert padded.validation_scores_ == plain.validation_scores_


def test_a_regressors_padded_fit_is_the_unpadded_fit(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = X @ rng.normal(size=5) + 0.1 * rng.normal(size=300)
    make = lambda: MLPRegressor(hidden_layer_sizes=(8,), max_iter=10, random_state=0)  # noqa: E731
    padded, plain = (
        fitted(True, monkeypatch, make(), X, y),
        fitted(False, monkeypatch, make(), X, y),
    )
    assert padded.loss_curve_ == plain.loss_curve_
    np.testing.assert_array_equal(padded.coefs_[0], plain.coefs_[0])


def test_a_search_over_numbers_compiles_one_program():
    """3 folds of 600 rows and the refit on 900: one bucket (1024 rows), one program."""
    X, y = X_DIGITS[:900], Y_DIGITS[:900]
    before = _fit.run_epochs._cache_size()
    grid = {"learning_rate_init": [1e-3, 1e-2], "alpha": [1e-4, 1e-2]}
    search = GridSearchCV(MLPClassifier((11,), max_iter=5, random_state=0), grid, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    assert _fit.run_epochs._cache_size() == before + 1


def test_partial_fits_batches_of_one_bucket_share_one_program():
    est = MLPClassifier((9,), random_state=0)
    classes = np.unique(Y_DIGITS)
    before = _fit.run_epochs._cache_size()
    start = 0
    for size in (300, 260, 450, 400, 270):  # mini-batches of 200, rows padded to 512
        est.partial_fit(
            X_DIGITS[start : start + size], Y_DIGITS[start : start + size], classes=classes
        )
        start += size
    assert _fit.run_epochs._cache_size() == before + 1
    assert est.t_ == start


def test_the_fit_program_takes_its_shuffle_keys_and_holds_no_prng(monkeypatch):
    """The shuffle's round keys come from the host (``batches.host_round_keys``): JAX's
    Threefry hash, about a fifth of the program to lower and compile, is not in it."""
    calls = []
    run_epochs = _fit.run_epochs

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return run_epochs(*args, **kwargs)

    monkeypatch.setattr(_fit, "run_epochs", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier((7,), max_iter=2, random_state=0).fit(X_DIGITS[:300], Y_DIGITS[:300])
    args, kwargs = calls[0]
    text = run_epochs.lower(*args, **kwargs).as_text()
    assert "while" in text and "dot_general" in text  # the fit's loops and matmuls
    assert "threefry" not in text.lower() and "random" not in text.lower()
