"""Tests of jaxmlp.baselines: what a line can and cannot do, and the post's MLP can."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp import baselines, datasets

STEPS = 300  # one step count everywhere: the compiled run is reused across tests


@pytest.fixture(scope="module")
def blobs_data():
    return datasets.blobs(jax.random.key(2), 200)


@pytest.mark.slow
def test_logistic_regression_separates_blobs(blobs_data):
    X, y = blobs_data
    clf = baselines.logistic_regression(jax.random.key(0), X, y, steps=STEPS)
    assert clf.params[0].W.shape == (1, 2) and clf.params[0].b.shape == (1,)
    assert float(baselines.accuracy(clf, X, y)) >= 0.99
    assert float(clf.loss[-1]) < 0.1 < float(clf.loss[0])


def test_logistic_regression_cannot_separate_circles(circles_data):
    X, y = circles_data
    clf = baselines.logistic_regression(jax.random.key(0), X, y, steps=STEPS)
    assert float(baselines.accuracy(clf, X, y)) <= 0.75
    # The best a line does on balanced, symmetric classes is a loss near log 2.
    assert float(clf.loss[-1]) > 0.6


def test_square_feature_map_separates_circles(circles_data):
    X, y = circles_data
    clf = baselines.feature_map_classifier(jax.random.key(0), X, y, steps=STEPS)
    assert clf.feature_map is baselines.square_features
    assert float(baselines.accuracy(clf, X, y)) == 1.0
    # The learned line w . [x1^2, x2^2] + b = 0 is a circle between radii 1 and 3.
    w, b = np.asarray(clf.params[0].W[0]), float(clf.params[0].b[0])
    assert w[0] < 0 and w[1] < 0 and b > 0
    radius = np.sqrt(-b / w.mean())
    assert 1.2 < radius < 2.8


def test_posts_3_unit_mlp_separates_circles(circles_data):
    X, y = circles_data
    params = jaxmlp.init_mlp(jax.random.key(1), (2, 3, 1), scheme="uniform01")
    result = jaxmlp.train(params, X, y, optimizer=optax.sgd(2.0), steps=1000)
    assert float(jnp.mean(jaxmlp.predict(result.params, X) == y)) == 1.0
    assert float(result.loss[-1]) < 0.02


def test_square_features_values():
    X = jnp.array([[2.0, -3.0], [0.5, 0.0]])
    np.testing.assert_allclose(baselines.square_features(X), [[4.0, 9.0], [0.25, 0.0]])
    assert baselines.identity_features(X) is X


def test_predictions_match_the_mlp_functions(circles_data):
    X, y = circles_data
    clf = baselines.feature_map_classifier(jax.random.key(0), X, y, steps=STEPS)
    phi = baselines.square_features(X)
    np.testing.assert_allclose(
        baselines.predict_proba(clf, X), jaxmlp.predict_proba(clf.params, phi), rtol=1e-5
    )
    np.testing.assert_array_equal(baselines.predict(clf, X), jaxmlp.predict(clf.params, phi))
    z = baselines.decision_function(clf, X)
    np.testing.assert_array_equal(baselines.predict(clf, X), (z >= 0).astype(jnp.int32))


def test_custom_feature_map_and_optimizer(circles_data):
    X, y = circles_data

    def radius_squared(X):
        return jnp.sum(X * X, axis=1, keepdims=True)  # (n, 1)

    clf = baselines.fit_linear(
        jax.random.key(0), X, y, feature_map=radius_squared, optimizer=optax.adam(0.1), steps=STEPS
    )
    assert clf.params[0].W.shape == (1, 1)
    assert float(baselines.accuracy(clf, X, y)) == 1.0


def test_manual_and_autodiff_fits_agree(blobs_data):
    X, y = blobs_data
    a = baselines.logistic_regression(jax.random.key(0), X, y, steps=STEPS)
    b = baselines.logistic_regression(jax.random.key(0), X, y, steps=STEPS, grad="autodiff")
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-5)
    np.testing.assert_allclose(a.params[0].W, b.params[0].W, rtol=1e-4, atol=1e-6)


def test_deterministic_per_key(blobs_data):
    X, y = blobs_data
    a = baselines.logistic_regression(jax.random.key(7), X, y, steps=STEPS)
    b = baselines.logistic_regression(jax.random.key(7), X, y, steps=STEPS)
    np.testing.assert_array_equal(a.params[0].W, b.params[0].W)


def test_bad_input(blobs_data):
    X, y = blobs_data
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="feature_map must be one of identity, square"):
        baselines.fit_linear(key, X, y, feature_map="cubic")
    with pytest.raises(TypeError, match="feature_map must be a name or a callable"):
        baselines.fit_linear(key, X, y, feature_map=3)
    with pytest.raises(ValueError, match=r"feature_map must map X \(200, 2\) to \(n, m\)"):
        baselines.fit_linear(key, X, y, feature_map=lambda X: X[:, 0])
    with pytest.raises(ValueError, match="X must be 2-D"):
        baselines.logistic_regression(key, X[:, 0], y)
    with pytest.raises(ValueError, match=r"y must have shape \(200,\)"):
        baselines.logistic_regression(key, X, y[:10])
    with pytest.raises(ValueError, match="labels in"):
        baselines.logistic_regression(key, X, y + 2)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        baselines.logistic_regression(key, X, y, steps=0)
