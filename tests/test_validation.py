"""Bad input gets a clear error at the API boundary."""

import jax
import jax.numpy as jnp
import numpy as np
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


# ---- hostile numbers (issue 19): refused where they enter, named ----


def test_finite_in_the_compute_dtype():
    """float64 1e300 is finite in float64 but inf in float32: refused, not 'diverged'."""
    import numpy as np

    huge = np.full((4, 2), 1e300)
    for call in all_entry_points(PARAMS, huge, Y):
        with pytest.raises(ValueError, match="X must be finite in float32"):
            call()
    with pytest.raises(ValueError, match="X must be finite in float32"):
        jaxmlp.predict(PARAMS, huge)
    with pytest.raises(ValueError, match="x must be finite in float32"):
        jaxmlp.forward(PARAMS, huge[0])
    np.testing.assert_array_equal(  # in range: float64 input still works
        jaxmlp.predict(PARAMS, np.ones((4, 2))), jaxmlp.predict(PARAMS, jnp.ones((4, 2)))
    )


def test_inference_computes_in_the_parameters_dtype_with_64_bit_floats():
    """Under ``jax_enable_x64`` float64 X meets float32 params: computed in float32, as
    ``loss``, ``manual_grads`` and ``train`` compute (before, inference promoted to float64)."""
    X64 = np.linspace(-1.0, 1.0, 8).reshape(4, 2)
    want = np.asarray(jaxmlp.predict_proba(PARAMS, X64.astype(np.float32)))
    with jax.enable_x64(True):
        got = jaxmlp.predict_proba(PARAMS, X64)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(np.asarray(got), want)
        with pytest.raises(ValueError, match="X must be finite in float32"):
            jaxmlp.predict(PARAMS, np.full((4, 2), 1e300))


@pytest.mark.parametrize("bad", [jnp.nan, jnp.inf, -jnp.inf])
def test_non_finite_params_are_refused(bad):
    broken = (PARAMS[0]._replace(W=PARAMS[0].W.at[0, 0].set(bad)), PARAMS[1])
    calls = [
        *all_entry_points(broken, X, Y),
        lambda: jaxmlp.predict(broken, X),
        lambda: jaxmlp.predict_proba(broken, X),
        lambda: jaxmlp.forward(broken, X[0]),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="params must be finite"):
            call()


def test_integer_params_are_refused():
    broken = (PARAMS[0]._replace(W=jnp.ones((3, 2), jnp.int32)), PARAMS[1])
    with pytest.raises(TypeError, match=r"params\[0\].W must have a floating dtype"):
        jaxmlp.predict(broken, X)


def test_bfloat16_input_is_handled():
    got = jaxmlp.predict(PARAMS, X.astype(jnp.bfloat16))
    assert got.shape == (4,)
    result = jaxmlp.train(PARAMS, X.astype(jnp.bfloat16), Y, optimizer=optax.sgd(0.1), steps=2)
    assert result.loss.shape == (2,)


def test_numpy_scalars_are_accepted():
    import numpy as np

    a = jaxmlp.train(PARAMS, X, Y, optimizer=optax.sgd(0.1), steps=np.int64(3))
    b = jaxmlp.train(PARAMS, X, Y, optimizer=optax.sgd(0.1), steps=3)
    assert (a.loss == b.loss).all()
    options = dict(batch_size=np.int64(2), key=jax.random.key(0), snapshot_every=np.uint8(1))
    jaxmlp.train(PARAMS, X, Y, optimizer=optax.sgd(0.1), steps=np.int32(2), **options)
    assert jaxmlp.init_mlp(jax.random.key(0), (np.int64(2), np.int32(3), 1))[0].W.shape == (3, 2)


@pytest.mark.parametrize("key", [0, 1.5, "seed", jax.random.split(jax.random.key(0), 2)])
def test_key_misuse_is_named(key):
    from jaxmlp import validation

    with pytest.raises(TypeError, match="key must be a JAX PRNG key such as jax.random.key"):
        jaxmlp.init_mlp(key, (2, 3, 1))
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        jaxmlp.train(PARAMS, X, Y, optimizer=optax.sgd(0.1), steps=2, batch_size=2, key=key)
    validation.check_key(jax.random.PRNGKey(0))  # the legacy raw key still works


def test_limits_are_named(monkeypatch):
    from jaxmlp import validation

    with pytest.raises(ValueError, match="MAX_STEPS"):
        jaxmlp.train(PARAMS, X, Y, optimizer=optax.sgd(0.1), steps=2**40)
    with pytest.raises(ValueError, match="MAX_PARAMS"):
        jaxmlp.init_mlp(jax.random.key(0), (2, 3_000_000_000, 1))
    with pytest.raises(ValueError, match="MAX_CLASSES"):
        jaxmlp.init_mlp(jax.random.key(0), (2, 3, validation.MAX_CLASSES + 1))
    with pytest.raises(ValueError, match="MEMORY_FRACTION"):
        validation.check_memory(validation.memory_bytes(), "a test")
    monkeypatch.setattr(validation, "memory_bytes", lambda: 2**32)  # a 4 GiB machine
    with pytest.raises(ValueError, match="MEMORY_FRACTION"):  # refused at once, nothing allocated
        jaxmlp.init_mlp(jax.random.key(0), (2, 20_000, 20_000, 1))  # 1.6 GB of float32, twice
