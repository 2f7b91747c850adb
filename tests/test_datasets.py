"""Tests of jaxmlp.datasets: shapes, dtypes, balance, geometry, determinism, bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import datasets

GENERATORS = ["blobs", "circles", "moons", "xor", "spirals"]


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n", [51])  # odd, to check the n // 2 split; one n keeps compiles few
@pytest.mark.slow
def test_shapes_dtypes_and_balance(name, n):
    X, y = getattr(datasets, name)(jax.random.key(0), n)
    assert X.shape == (n, 2) and X.dtype == jnp.float32
    assert y.shape == (n,) and y.dtype == jnp.int32
    X, y = np.asarray(X), np.asarray(y)  # checked in NumPy: eager jnp ops compile per shape
    assert set(np.unique(y).tolist()) <= {0, 1}
    assert int((y == 0).sum()) == n // 2 and int((y == 1).sum()) == n - n // 2
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("name", GENERATORS)
def test_deterministic_per_key(name):
    gen = getattr(datasets, name)
    X1, y1 = gen(jax.random.key(3), 51)
    X2, y2 = gen(jax.random.key(3), 51)
    X3, _ = gen(jax.random.key(4), 51)  # same n: no new compilation
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)


@pytest.mark.parametrize("name", GENERATORS)
def test_shuffled(name):
    _, y = getattr(datasets, name)(jax.random.key(0), 51)
    # Not all zeros first: labels are shuffled (the chance of a sorted draw is ~1e-14).
    assert not np.array_equal(np.asarray(y), np.sort(np.asarray(y)))


def test_circles_radii_within_noise(circles_data):
    X, y = circles_data
    r = np.linalg.norm(np.asarray(X), axis=1)
    y = np.asarray(y)
    # noise std 0.05 per coordinate: radial error beyond 0.25 (5 sigma) would be a bug.
    assert np.all(np.abs(r[y == 0] - 3.0) < 0.25)
    assert np.all(np.abs(r[y == 1] - 1.0) < 0.25)
    assert 0.02 < np.std(r[y == 0] - 3.0) < 0.08


def test_circles_exact_without_noise_and_offset_centre():
    X, y = datasets.circles(jax.random.key(1), 51, radii=(2.0, 0.5), noise=0.0, center=(1.0, -1.0))
    r = np.linalg.norm(np.asarray(X) - np.array([1.0, -1.0]), axis=1)
    np.testing.assert_allclose(r, np.where(np.asarray(y) == 0, 2.0, 0.5), rtol=1e-5)


def test_circles_is_the_posts_data(circles_data):
    X, y = datasets.circles(jax.random.key(0))
    np.testing.assert_array_equal(X, circles_data[0])
    np.testing.assert_array_equal(y, circles_data[1])
    # Pinned: the data every documented number (loss 0.0088 ...) was measured on.
    np.testing.assert_allclose(X[:2], [[0.8323107, 0.6291297], [-2.1059637, 2.0859616]], atol=1e-5)
    np.testing.assert_array_equal(y[:4], [1, 0, 0, 1])


@pytest.mark.slow
def test_blobs_centres_and_spread():
    X, y = datasets.blobs(jax.random.key(0), 2000, centers=((-1.0, 2.0), (3.0, 0.0)), std=0.5)
    X, y = np.asarray(X), np.asarray(y)
    np.testing.assert_allclose(X[y == 0].mean(axis=0), [-1.0, 2.0], atol=0.06)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [3.0, 0.0], atol=0.06)
    np.testing.assert_allclose(X[y == 0].std(axis=0), [0.5, 0.5], atol=0.05)


def test_moons_without_noise_lie_on_their_half_circles():
    X, y = datasets.moons(jax.random.key(0), 51, noise=0.0)  # options are traced: no recompile
    X, y = np.asarray(X), np.asarray(y)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1.0, rtol=1e-5)
    assert np.all(upper[:, 1] >= -1e-6)
    np.testing.assert_allclose(np.linalg.norm(lower - [1.0, 0.5], axis=1), 1.0, rtol=1e-5)
    assert np.all(lower[:, 1] <= 0.5 + 1e-6)


def test_xor_labels_follow_the_quadrants():
    X, y = datasets.xor(jax.random.key(0), 51, noise=0.1)
    X, y = np.asarray(X), np.asarray(y)
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))
    # All four corners are used.
    corners = {(int(a), int(b)) for a, b in np.sign(X)}
    assert corners == {(1, 1), (1, -1), (-1, 1), (-1, -1)}


def test_spirals_radius_and_arms():
    X, y = datasets.spirals(jax.random.key(0), 51, noise=0.0, turns=1.0)
    X, y = np.asarray(X), np.asarray(y)
    r = np.linalg.norm(X, axis=1)
    assert np.all((r >= 0.1 - 1e-6) & (r <= 1.0 + 1e-6))
    # angle = 2 pi t + pi y with r = 0.1 + 0.9 t, so each point's angle is fixed by its radius.
    t = (r - 0.1) / 0.9
    expected = np.stack([np.cos(2 * np.pi * t + np.pi * y), np.sin(2 * np.pi * t + np.pi * y)], 1)
    np.testing.assert_allclose(X / r[:, None], expected, atol=1e-4)


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("n", [1, 0, -5, 2.5, True, "10"])
def test_bad_n(name, n):
    with pytest.raises(ValueError, match="n must be an int >= 2"):
        getattr(datasets, name)(jax.random.key(0), n)


@pytest.mark.parametrize("name", ["circles", "moons", "xor", "spirals"])
@pytest.mark.parametrize("noise", [-0.1, float("nan"), float("inf")])
def test_bad_noise(name, noise):
    with pytest.raises(ValueError, match="noise must be a finite number >= 0"):
        getattr(datasets, name)(jax.random.key(0), 10, noise=noise)


def test_bad_generator_options():
    with pytest.raises(ValueError, match="std must be"):
        datasets.blobs(jax.random.key(0), 10, std=-1.0)
    with pytest.raises(ValueError, match="centers must be two"):
        datasets.blobs(jax.random.key(0), 10, centers=((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)))
    with pytest.raises(ValueError, match="radii must be two positive"):
        datasets.circles(jax.random.key(0), 10, radii=(3.0, -1.0))
    with pytest.raises(ValueError, match="turns must be > 0"):
        datasets.spirals(jax.random.key(0), 10, turns=0.0)
    with pytest.raises(TypeError, match="noise must be a number"):
        datasets.moons(jax.random.key(0), 10, noise="a lot")


def test_train_test_split_partitions_the_data():
    X, y = datasets.circles(jax.random.key(0), 51)
    X_tr, X_te, y_tr, y_te = datasets.train_test_split(jax.random.key(5), X, y, test_fraction=0.3)
    assert X_te.shape == (15, 2) and y_te.shape == (15,)
    assert X_tr.shape == (36, 2) and y_tr.shape == (36,)
    # Together they are exactly the original rows, each once, with labels kept.
    joined = np.concatenate([np.c_[X_tr, y_tr], np.c_[X_te, y_te]])
    original = np.c_[np.asarray(X), np.asarray(y)]
    np.testing.assert_array_equal(joined[np.lexsort(joined.T)], original[np.lexsort(original.T)])
    again = datasets.train_test_split(jax.random.key(5), X, y, test_fraction=0.3)
    np.testing.assert_array_equal(again[1], X_te)
    other = datasets.train_test_split(jax.random.key(6), X, y, test_fraction=0.3)
    assert not np.array_equal(other[1], X_te)


@pytest.mark.slow
def test_train_test_split_keeps_both_sides_non_empty():
    X, y = datasets.blobs(jax.random.key(0), 3)
    X_tr, X_te, _, _ = datasets.train_test_split(jax.random.key(0), X, y, test_fraction=0.01)
    assert X_te.shape[0] == 1 and X_tr.shape[0] == 2
    X_tr, X_te, _, _ = datasets.train_test_split(jax.random.key(0), X, y, test_fraction=0.99)
    assert X_te.shape[0] == 2 and X_tr.shape[0] == 1


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5, float("nan")])
def test_train_test_split_bad_fraction(fraction):
    X, y = datasets.blobs(jax.random.key(0), 10)
    with pytest.raises(ValueError, match="test_fraction must be in"):
        datasets.train_test_split(jax.random.key(0), X, y, test_fraction=fraction)
    with pytest.raises(TypeError, match="test_fraction must be a number"):
        datasets.train_test_split(jax.random.key(0), X, y, test_fraction=True)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("circles", {"radii": (float("nan"), 1.0)}, "radii must be finite"),
        ("circles", {"radii": (float("inf"), 1.0)}, "radii must be finite"),
        ("circles", {"radii": (3.0, -1.0)}, "radii must be two positive"),
        ("circles", {"center": (0.0, float("nan"))}, "center must be finite"),
        ("circles", {"center": (0.0, 1e300)}, "center must be finite"),
        ("circles", {"center": (0.0,)}, "center must be one"),
        ("blobs", {"centers": ((0.0, float("inf")), (1.0, 1.0))}, "centers must be finite"),
        ("blobs", {"std": float("nan")}, "std must be a finite number"),
        ("spirals", {"turns": float("nan")}, "turns must be > 0"),
        ("moons", {"noise": 1e300}, "noise must be a finite number"),
    ],
)
def test_non_finite_or_negative_geometry_is_refused(name, options, message):
    with pytest.raises(ValueError, match=message):
        getattr(datasets, name)(jax.random.key(0), 10, **options)


@pytest.mark.parametrize("name", ["circles", "blobs", "moons", "xor", "spirals"])
@pytest.mark.slow
def test_numpy_scalars_are_accepted(name):
    noise = {"blobs": {"std": np.float32(0.5)}}.get(name, {"noise": np.float32(0.1)})
    X, y = getattr(datasets, name)(jax.random.key(0), np.int64(10), **noise)
    X_py, y_py = getattr(datasets, name)(
        jax.random.key(0), 10, **{k: float(v) for k, v in noise.items()}
    )
    np.testing.assert_array_equal(X, X_py)
    np.testing.assert_array_equal(y, y_py)
    assert np.isfinite(np.asarray(X)).all()
    datasets.spirals(jax.random.key(0), 10, turns=np.float64(2.0), noise=np.int64(0))
    datasets.train_test_split(jax.random.key(0), X, y, test_fraction=np.float32(0.3))


@pytest.mark.parametrize("key", [0, None, np.uint32(3), jax.random.split(jax.random.key(0))])
def test_key_misuse_names_key(key):
    with pytest.raises(TypeError, match="key must be a JAX PRNG key such as jax.random.key"):
        datasets.circles(key, 10)
    X, y = datasets.blobs(jax.random.key(0), 10)
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        datasets.train_test_split(key, X, y)


@pytest.mark.slow
def test_legacy_raw_keys_still_work():
    X, y = datasets.moons(jax.random.PRNGKey(0), 10)
    assert X.shape == (10, 2)


def test_train_test_split_bad_shapes():
    X, y = datasets.blobs(jax.random.key(0), 10)
    with pytest.raises(ValueError, match=r"y must have shape \(10,\)"):
        datasets.train_test_split(jax.random.key(0), X, y[:5])
    with pytest.raises(ValueError, match="X must be 2-D"):
        datasets.train_test_split(jax.random.key(0), X[:, 0], y)
    with pytest.raises(ValueError, match="at least 2 rows"):
        datasets.train_test_split(jax.random.key(0), X[:1], y[:1])


def test_too_many_examples_are_refused_up_front():
    with pytest.raises(ValueError, match=r"n = 1000000000000 examples needs .* MEMORY_FRACTION"):
        datasets.moons(jax.random.key(0), 10**12)


@pytest.mark.parametrize("name", ["circles", "blobs", "moons", "xor", "spirals"])
def test_the_same_data_with_64_bit_floats(name):
    """Drawn in float32 whatever ``jax_enable_x64`` says: the post's data (and every
    documented number) stays the same in a float64 session."""
    make = getattr(datasets, name)
    X, y = make(jax.random.key(3), 50)
    with jax.enable_x64(True):
        X64, y64 = make(jax.random.key(3), 50)
    assert X64.dtype == np.float32 and y64.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(X64), np.asarray(X))
    np.testing.assert_array_equal(np.asarray(y64), np.asarray(y))


def test_run_keys_hold_the_offsets_that_train_the_playground_and_its_snippet_share():
    from jaxmlp import cli

    assert datasets.run_keys(0) == (0, 0, 1, 2)
    keys = datasets.run_keys(np.int64(datasets.MAX_RUN_SEED))
    assert keys.shuffle == 2**31 - 1 and type(keys.shuffle) is int
    assert cli.MAX_SEED == datasets.MAX_RUN_SEED
    for bad, error in (
        (-1, ValueError),
        (2**31 - 2, ValueError),
        (1.0, TypeError),
        (True, TypeError),
    ):
        with pytest.raises(error, match="seed"):
            datasets.run_keys(bad)
