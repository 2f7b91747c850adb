"""Bad input gets a clear error at the API boundary."""

import jax
import jax.numpy as jnp
import optax
import pytest

import jaxmlp

PARAMS = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
PARAMS3 = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 3))
X = jnp.ones((4, 2))
Y = jnp.array([0, 1, 1, 0])


def all_entry_points(params, X, y):
    yield lambda: jaxmlp.loss(params, X, y)
    yield lambda: jaxmlp.manual_grads(params, X, y)
    yield lambda: jaxmlp.train(params, X, y, optimizer=optax.sgd(0.1), steps=2)


@pytest.mark.parametrize(
    ("X", "y", "error", "message"),
    [
        (jnp.ones(4), Y, ValueError, r"X must be 2-D with shape \(n, d\), got shape \(4,\)"),
        (jnp.ones((4, 2, 1)), Y, ValueError, r"X must be 2-D"),
        (X.at[1, 0].set(jnp.nan), Y, ValueError, "X must be finite"),
        (X.at[1, 0].set(jnp.inf), Y, ValueError, "X must be finite"),
        (jnp.ones((4, 3)), Y, ValueError, r"X must have 2 features .* got 3"),
        (jnp.ones((4, 2), jnp.int32), Y, TypeError, "X must have a floating dtype, got int32"),
        (X, jnp.array([0, 1, 1]), ValueError, r"y must have shape \(4,\) to match X, got \(3,\)"),
        (X, jnp.array([0, 1, 2, 0]), ValueError, r"y must hold labels in \{0, 1\}.* got 2"),
        (X, jnp.array([0.0, 1.0, 0.5, 0.0]), ValueError, r"y must hold labels .* got 0.5"),
        (X, jnp.array([0, -1, 1, 0]), ValueError, r"y must hold labels .* got -1"),
        ([[1.0, 2.0]], Y, TypeError, "X must be an array, got list"),
    ],
)
def test_bad_data(X, y, error, message):
    for call in all_entry_points(PARAMS, X, y):
        with pytest.raises(error, match=message):
            call()


def test_multiclass_labels_out_of_range():
    for call in all_entry_points(PARAMS3, X, jnp.array([0, 1, 3, 2])):
        with pytest.raises(ValueError, match=r"y must hold labels in 0..2, got 3"):
            call()


@pytest.mark.parametrize(
    ("sizes", "error", "message"),
    [
        ((2,), ValueError, "sizes must have at least two entries"),
        ((), ValueError, "sizes must have at least two entries"),
        ((2, 0, 1), ValueError, r"sizes must all be positive, got sizes\[1\] = 0"),
        ((2, -3, 1), ValueError, r"sizes must all be positive, got sizes\[1\] = -3"),
        ((2, 2.5, 1), TypeError, r"sizes\[1\] must be an int, got float"),
        (5, TypeError, "sizes must be a sequence of ints"),
    ],
)
def test_bad_sizes(sizes, error, message):
    with pytest.raises(error, match=message):
        jaxmlp.init_mlp(jax.random.key(0), sizes)


def test_bad_scheme():
    with pytest.raises(
        ValueError, match="scheme must be one of glorot_uniform, he_normal, uniform01"
    ):
        jaxmlp.init_mlp(jax.random.key(0), (2, 1), scheme="zeros")


def test_forward_wants_one_example():
    with pytest.raises(ValueError, match=r"x must be 1-D with shape \(d,\), got shape \(4, 2\)"):
        jaxmlp.forward(PARAMS, X)
    with pytest.raises(ValueError, match=r"x must have 2 features"):
        jaxmlp.forward(PARAMS, jnp.ones(3))


def test_predict_checks_features():
    with pytest.raises(ValueError, match=r"X must have 2 features .* got 5"):
        jaxmlp.predict(PARAMS, jnp.ones((3, 5)))


def test_bad_params():
    with pytest.raises(TypeError, match="params must be a non-empty tuple of Dense"):
        jaxmlp.loss({"W": 1}, X, Y)
    broken = (PARAMS[0], jaxmlp.Dense(jnp.ones((1, 4)), jnp.ones(1)))
    with pytest.raises(ValueError, match=r"params\[1\].W must have 3 input columns"):
        jaxmlp.loss(broken, X, Y)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"steps": 0}, ValueError, "steps must be a positive int, got 0"),
        ({"steps": 2.0}, TypeError, "steps must be a positive int, got float"),
        ({"steps": 5, "batch_size": 2}, ValueError, "key must be given when batch_size is set"),
        (
            {"steps": 5, "batch_size": 10, "key": jax.random.key(0)},
            ValueError,
            r"batch_size must be <= the number of examples \(4\), got 10",
        ),
        ({"steps": 5, "grad": "numeric"}, ValueError, "grad must be one of manual, autodiff"),
        ({"steps": 5, "activation": "gelu"}, ValueError, "activation must be one of"),
        ({"steps": 5, "snapshot_every": 6}, ValueError, r"snapshot_every must be <= steps"),
    ],
)
def test_bad_train_options(kwargs, error, message):
    with pytest.raises(error, match=message):
        jaxmlp.train(PARAMS, X, Y, optimizer=optax.sgd(0.1), **kwargs)


def test_optimizer_type():
    with pytest.raises(TypeError, match="optimizer must be an optax.GradientTransformation"):
        jaxmlp.train(PARAMS, X, Y, optimizer=0.1, steps=2)
