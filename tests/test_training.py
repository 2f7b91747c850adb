import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxmlp
from jaxmlp import validation

SGD = optax.sgd(2.0)  # one object, so the compiled program is reused across tests


@pytest.fixture(scope="module")
def post_params():
    return jaxmlp.init_mlp(jax.random.key(1), (2, 3, 1), scheme="uniform01")


@pytest.fixture(scope="module")
def post_run(circles_data, post_params):
    X, y = circles_data
    return jaxmlp.train(post_params, X, y, activation="sigmoid", optimizer=SGD, steps=1000)


@pytest.mark.slow
def test_posts_experiment(circles_data, post_params, post_run):
    """Circles, 2-3-1 sigmoid, U(0, 1) init, GD with lr 2.0 on the mean loss, 1000 steps."""
    X, y = circles_data
    assert post_run.loss.shape == (1000,)
    assert post_run.diverged_at is None
    np.testing.assert_allclose(post_run.loss[0], jaxmlp.loss(post_params, X, y), rtol=1e-6)
    assert float(post_run.loss[-1]) < 0.02  # the notebook reports 0.0086
    assert float(post_run.loss[-1]) < float(post_run.loss[300]) < float(post_run.loss[0])
    assert np.mean(np.asarray(jaxmlp.predict(post_run.params, X)) == np.asarray(y)) == 1.0


@pytest.mark.slow
@pytest.mark.xla_defaults  # 1000 float32 steps: other compile settings drift past 1e-3
def test_manual_and_autodiff_give_the_same_trajectory(circles_data, post_params, post_run):
    X, y = circles_data
    auto = jaxmlp.train(post_params, X, y, optimizer=SGD, steps=1000, grad="autodiff")
    np.testing.assert_allclose(auto.loss, post_run.loss, rtol=1e-4, atol=1e-6)
    chex.assert_trees_all_close(auto.params, post_run.params, rtol=1e-3, atol=1e-5)


def test_loss_is_recorded_before_each_update(circles_data, post_params, post_run):
    X, y = circles_data
    step = jaxmlp.make_step(SGD, "sigmoid")
    params, state = post_params, SGD.init(post_params)
    for i in range(5):
        params, state, value = step(params, state, X, y)
        np.testing.assert_allclose(value, post_run.loss[i], rtol=1e-5)
    short = jaxmlp.train(post_params, X, y, optimizer=SGD, steps=5)
    chex.assert_trees_all_close(short.params, params, rtol=1e-5)


@pytest.mark.parametrize("grad", ["manual", "autodiff"])
@pytest.mark.slow
def test_step_is_plain_gradient_descent(circles_data, post_params, grad, maybe_jit):
    X, y = circles_data
    opt = optax.sgd(0.5)
    step = maybe_jit(jaxmlp.make_step(opt, activation="tanh", grad=grad))
    new, _, value = step(post_params, opt.init(post_params), X, y)
    grads = jax.grad(jaxmlp.loss)(post_params, X, y, "tanh")
    expected = jax.tree.map(lambda p, g: p - 0.5 * g, post_params, grads)
    chex.assert_trees_all_close(new, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(value, jaxmlp.loss(post_params, X, y, "tanh"), rtol=1e-6)


@settings(max_examples=10, deadline=None)
@given(st.sampled_from(["sigmoid", "relu", "identity"]), st.integers(0, 100))
@pytest.mark.slow
def test_zero_learning_rate_leaves_params_unchanged(activation, seed):
    X = jax.random.normal(jax.random.key(seed), (8, 2))
    y = (X[:, 0] > 0).astype(jnp.int32)
    params = jaxmlp.init_mlp(jax.random.key(seed + 1), (2, 3, 1))
    result = jaxmlp.train(params, X, y, activation=activation, optimizer=ZERO, steps=3)
    chex.assert_trees_all_equal(result.params, params)
    np.testing.assert_allclose(result.loss, jaxmlp.loss(params, X, y, activation), rtol=1e-6)


ZERO = optax.sgd(0.0)


def test_minibatches(circles_data, post_params):
    X, y = circles_data
    opt = optax.adam(0.05)
    run = lambda key: jaxmlp.train(  # noqa: E731
        post_params, X, y, optimizer=opt, steps=600, batch_size=32, key=key
    )
    a, b, c = run(jax.random.key(0)), run(jax.random.key(0)), run(jax.random.key(1))
    chex.assert_trees_all_equal(a.params, b.params)
    assert not np.allclose(a.loss, c.loss)
    assert float(jaxmlp.loss(a.params, X, y)) < 0.1


def test_one_batch_of_everything_is_full_batch(circles_data, post_params, post_run):
    X, y = circles_data
    mini = jaxmlp.train(
        post_params, X, y, optimizer=SGD, steps=50, batch_size=200, key=jax.random.key(0)
    )
    np.testing.assert_allclose(mini.loss, post_run.loss[:50], rtol=1e-4)


@pytest.mark.slow
def test_minibatches_visit_every_example_once_per_epoch():
    # With lr 0, loss[i] is the mean loss of batch i: per epoch they average to the full loss.
    X = jax.random.normal(jax.random.key(0), (12, 2))
    y = (X[:, 1] > 0).astype(jnp.int32)
    params = jaxmlp.init_mlp(jax.random.key(1), (2, 3, 1))
    result = jaxmlp.train(
        params, X, y, optimizer=ZERO, steps=8, batch_size=3, key=jax.random.key(2)
    )
    full = jaxmlp.loss(params, X, y)
    np.testing.assert_allclose(result.loss[:4].mean(), full, rtol=1e-5)
    np.testing.assert_allclose(result.loss[4:].mean(), full, rtol=1e-5)
    assert not np.allclose(result.loss[:4], result.loss[4:])  # reshuffled


def nan_at(count_at: int) -> optax.GradientTransformation:
    """SGD that turns its update into NaN at one step."""

    def init(params):
        return jnp.zeros((), jnp.int32)

    def update(grads, count, params=None):
        scale = jnp.where(count == count_at, jnp.nan, -0.5)
        return jax.tree.map(lambda g: scale * g, grads), count + 1

    return optax.GradientTransformation(init, update)


NAN_AT_5 = nan_at(5)


@pytest.mark.slow
def test_divergence_keeps_the_last_finite_params(circles_data, post_params):
    X, y = circles_data
    # 13 steps: the program of test_divergence_in_a_continued_run's whole run (one compile less)
    result = jaxmlp.train(post_params, X, y, optimizer=NAN_AT_5, steps=13)
    assert result.diverged_at == 6  # loss of the params after update 5 is the first NaN
    assert np.all(np.isfinite(result.loss[:6])) and np.all(np.isnan(result.loss[6:]))
    assert all(np.all(np.isfinite(p)) for p in jax.tree.leaves(result.params))
    five = jaxmlp.train(post_params, X, y, optimizer=NAN_AT_5, steps=5)
    assert five.diverged_at is None
    chex.assert_trees_all_close(result.params, five.params, rtol=1e-6)
    assert np.isfinite(float(jaxmlp.loss(result.params, X, y)))


def test_divergence_on_the_last_update_is_reported(circles_data, post_params):
    X, y = circles_data
    result = jaxmlp.train(post_params, X, y, optimizer=NAN_AT_5, steps=6)
    assert result.diverged_at == 6
    five = jaxmlp.train(post_params, X, y, optimizer=NAN_AT_5, steps=5)
    chex.assert_trees_all_close(result.params, five.params, rtol=1e-6)


def test_infinite_learning_rate_never_returns_nan(circles_data, post_params):
    X, y = circles_data
    result = jaxmlp.train(post_params, X, y, optimizer=optax.sgd(jnp.inf), steps=10)
    assert result.diverged_at == 1
    chex.assert_trees_all_equal(result.params, post_params)


def test_snapshots_equal_the_params_reached_by_that_many_steps(circles_data, post_params):
    X, y = circles_data
    result = jaxmlp.train(post_params, X, y, optimizer=SGD, steps=25, snapshot_every=10)
    np.testing.assert_array_equal(result.snapshot_steps, [0, 10, 20])
    chex.assert_tree_shape_prefix(result.snapshots, (3,))
    snapshots = jax.tree.map(np.asarray, result.snapshots)  # sliced in NumPy, not op by op
    step = jaxmlp.make_step(SGD, "sigmoid")
    params, state = post_params, SGD.init(post_params)
    for i in range(21):
        if i % 10 == 0:
            snapshot = jax.tree.map(lambda s, j=i // 10: s[j], snapshots)
            chex.assert_trees_all_close(snapshot, params, rtol=1e-5, atol=1e-6)
        params, state, _ = step(params, state, X, y)
    full = jaxmlp.train(post_params, X, y, optimizer=SGD, steps=25)
    np.testing.assert_allclose(result.loss, full.loss, rtol=1e-6)


@pytest.mark.slow
def test_multiclass_training():
    centers = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]], np.float32)
    y = np.repeat(np.arange(3, dtype=np.int32), 30)
    noise = np.asarray(jax.random.normal(jax.random.key(0), (90, 2)))
    X = jax.device_put(centers[y] + 0.5 * noise)  # built in NumPy: no op-by-op compiles
    params = jaxmlp.init_mlp(jax.random.key(1), (2, 8, 3))
    result = jaxmlp.train(params, X, y, activation="relu", optimizer=optax.adam(0.05), steps=200)
    assert float(result.loss[-1]) < 0.1 < float(result.loss[0])
    assert np.mean(np.asarray(jaxmlp.predict(result.params, X, "relu")) == y) == 1.0


def test_full_batch_key_is_built_once_and_never_a_tracer():
    validation._unused_key.cache_clear()

    @jax.jit
    def traced(x):
        validation.check_batching(None, None, 4)  # first built while tracing
        return x

    traced(jnp.ones(2))
    key = validation.check_batching(None, None, 4)[1]
    assert not isinstance(key, jax.core.Tracer)
    assert key is validation.check_batching(None, None, 7)[1]  # cached, not rebuilt
    np.testing.assert_array_equal(jax.random.key_data(key), jax.random.key_data(jax.random.key(0)))
    given = jax.random.key(3)
    assert validation.check_batching(None, given, 4)[1] is given


# ----------------------------------------------------------------------------- continuing a run
RESUMABLE = {
    "sgd_schedule": lambda: optax.sgd(optax.exponential_decay(2.0, 20, 0.5)),
    "adam": lambda: optax.adam(0.05),
}


@pytest.mark.parametrize("name", sorted(RESUMABLE))
@pytest.mark.parametrize("batch_size", [None, 48])  # full batch; 4 batches an epoch, 12.5 epochs
@pytest.mark.parametrize("sizes", [(2, 3, 1), (2, 16, 1)])  # stacked form, matrix form
@pytest.mark.slow
def test_two_pieces_of_50_steps_are_one_run_of_100(circles_data, name, batch_size, sizes):
    X, y = circles_data
    params = jaxmlp.init_mlp(jax.random.key(5), sizes)
    opt = RESUMABLE[name]()
    kw = dict(optimizer=opt, batch_size=batch_size, key=jax.random.key(9), activation="tanh")
    whole = jaxmlp.train(params, X, y, steps=100, **kw)
    first = jaxmlp.train(params, X, y, steps=50, **kw)
    second = jaxmlp.train(
        first.params, X, y, steps=50, opt_state=first.opt_state, first_step=50, **kw
    )
    # bit for bit: the same per-step program, resumed from the same state
    np.testing.assert_array_equal(np.concatenate([first.loss, second.loss]), whole.loss)
    chex.assert_trees_all_equal(second.params, whole.params)
    chex.assert_trees_all_equal(second.opt_state, whole.opt_state)
    # the second piece did depend on the state and the step it was given
    fresh = jaxmlp.train(first.params, X, y, steps=50, first_step=50, **kw)
    assert not np.array_equal(fresh.loss, second.loss)
    if batch_size:
        shifted = jaxmlp.train(
            first.params, X, y, steps=50, opt_state=first.opt_state, first_step=51, **kw
        )
        assert not np.array_equal(shifted.loss, second.loss)


@pytest.mark.slow
def test_continuing_a_learning_rate_run(circles_data, post_params):
    X, y = circles_data
    kw = dict(optimizer=optax.adam, learning_rate=0.05)
    whole = jaxmlp.train(post_params, X, y, steps=40, **kw)
    first = jaxmlp.train(post_params, X, y, steps=20, **kw)
    second = jaxmlp.train(
        first.params, X, y, steps=20, opt_state=first.opt_state, first_step=20, **kw
    )
    np.testing.assert_array_equal(np.concatenate([first.loss, second.loss]), whole.loss)
    chex.assert_trees_all_equal(second.params, whole.params)


@pytest.mark.slow
def test_divergence_in_a_continued_run_counts_from_its_first_update(circles_data, post_params):
    X, y = circles_data
    first = jaxmlp.train(post_params, X, y, optimizer=NAN_AT_5, steps=3)
    second = jaxmlp.train(
        first.params, X, y, optimizer=NAN_AT_5, steps=10, opt_state=first.opt_state, first_step=3
    )
    assert second.diverged_at == 3  # update 5 of the run is update 2 of this call
    whole = jaxmlp.train(post_params, X, y, optimizer=NAN_AT_5, steps=13)
    np.testing.assert_array_equal(np.concatenate([first.loss, second.loss]), whole.loss)
    chex.assert_trees_all_equal(second.params, whole.params)


def test_bad_resume_and_rate_arguments_are_named(circles_data, post_params):
    X, y = circles_data
    adam_state = optax.adam(0.1).init(post_params)
    with pytest.raises(ValueError, match="opt_state does not match"):
        jaxmlp.train(post_params, X, y, optimizer=SGD, steps=2, opt_state=adam_state)
    with pytest.raises(ValueError, match="opt_state does not match"):
        jaxmlp.train(post_params, X, y, optimizer=optax.adam(0.1), steps=2, opt_state=(1.0,))
    with pytest.raises(ValueError, match="first_step"):
        jaxmlp.train(post_params, X, y, optimizer=SGD, steps=2, first_step=-1)
    with pytest.raises(TypeError, match="first_step"):
        jaxmlp.train(post_params, X, y, optimizer=SGD, steps=2, first_step=1.5)
    with pytest.raises(TypeError, match="factory"):
        jaxmlp.train(post_params, X, y, optimizer=SGD, steps=2, learning_rate=0.1)
    with pytest.raises(TypeError, match="needs learning_rate"):
        jaxmlp.train(post_params, X, y, optimizer=optax.sgd, steps=2)
    with pytest.raises(ValueError, match="learning_rate"):
        jaxmlp.train(post_params, X, y, optimizer=optax.sgd, steps=2, learning_rate=float("nan"))
    with pytest.raises(TypeError, match="learning_rate must be a number"):
        jaxmlp.train(post_params, X, y, optimizer=optax.sgd, steps=2, learning_rate="0.1")


# ------------------------------------------------------------------ regression: identity output
@functools.partial(jax.jit, static_argnums=2)
def _logits(params, X, activation):
    return jaxmlp.mlp.forward_with_intermediates(params, X, activation).s[-1]


def logits(params, X, activation):
    """(n, k) outputs of the network, as float64 NumPy."""
    return np.asarray(_logits(params, X, activation), np.float64)


def plane_data(n=64, k=1):
    """Targets linear in X (built in NumPy: no op-by-op compiles): (n,) or (n, k)."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (n, 2)).astype(np.float32)
    Y = X @ np.array([[1.5, -0.5, 0.3], [-1.0, 2.0, 0.7]], np.float32)[:, :k] + 0.25
    return X, (Y[:, 0] if k == 1 else Y)


@pytest.mark.parametrize("k", [1, 3])
def test_a_short_regression_run_reduces_the_squared_error(k):
    X, Y = plane_data(k=k)
    params = jaxmlp.init_mlp(jax.random.key(1), (2, 8, k))
    run = jaxmlp.train(
        params, X, Y, activation="tanh", optimizer=optax.adam(0.05), steps=300, output="identity"
    )
    assert run.diverged_at is None
    z = logits(run.params, X, "tanh")
    z0 = logits(params, X, "tanh")
    Y2 = Y.reshape(len(X), k)
    half_mse = lambda z: 0.5 * np.sum((z - Y2) ** 2) / len(X)  # noqa: E731
    np.testing.assert_allclose(run.loss[0], half_mse(z0), rtol=1e-5)
    assert half_mse(z) < 0.02 * half_mse(z0)
    np.testing.assert_allclose(
        jaxmlp.loss(run.params, X, Y, "tanh", output="identity"), half_mse(z), rtol=1e-4
    )


def test_regression_manual_and_autodiff_give_the_same_run():
    X, Y = plane_data()
    params = jaxmlp.init_mlp(jax.random.key(2), (2, 3, 1))  # the stacked form's size
    kw = dict(activation="sigmoid", optimizer=optax.sgd(0.1), steps=50, output="identity")
    manual = jaxmlp.train(params, X, Y, **kw)
    auto = jaxmlp.train(params, X, Y, grad="autodiff", **kw)
    np.testing.assert_allclose(manual.loss, auto.loss, rtol=1e-5)
    chex.assert_trees_all_close(manual.params, auto.params, rtol=1e-4, atol=1e-6)
    # not the classifier's run of the same numbers
    labels = (Y > 0).astype(np.int32)
    classifier = jaxmlp.train(params, X, labels, **{**kw, "output": None})
    assert not np.allclose(classifier.loss, manual.loss)


def test_regression_minibatches_continue_as_one_run():
    X, Y = plane_data(k=3)
    params = jaxmlp.init_mlp(jax.random.key(3), (2, 5, 3))
    kw = dict(optimizer=optax.adam(0.02), batch_size=16, key=jax.random.key(4), output="identity")
    whole = jaxmlp.train(params, X, Y, steps=20, **kw)
    first = jaxmlp.train(params, X, Y, steps=10, **kw)
    second = jaxmlp.train(
        first.params, X, Y, steps=10, opt_state=first.opt_state, first_step=10, **kw
    )
    np.testing.assert_array_equal(np.concatenate([first.loss, second.loss]), whole.loss)


def test_output_names_and_regression_targets_are_checked(circles_data, post_params):
    X, y = circles_data
    kw = dict(optimizer=SGD, steps=2)
    with pytest.raises(ValueError, match="output must be None .* got 'mse'"):
        jaxmlp.train(post_params, X, y, output="mse", **kw)
    with pytest.raises(ValueError, match="output 'softmax' needs two or more outputs"):
        jaxmlp.train(post_params, X, y, output="softmax", **kw)
    with pytest.raises(TypeError, match="y must hold float targets"):
        jaxmlp.train(post_params, X, y, output="identity", **kw)
    bad = np.asarray(y, np.float32).copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="y must be finite"):
        jaxmlp.train(post_params, X, bad, output="identity", **kw)
    with pytest.raises(ValueError, match=r"y must have shape \(200,\) or \(200, 1\)"):
        jaxmlp.train(post_params, X, np.zeros((200, 2), np.float32), output="identity", **kw)
    with pytest.raises(ValueError, match="finite"):  # beyond float32, the params' dtype
        jaxmlp.train(post_params, X, np.full(200, 1e300), output="identity", **kw)
    with pytest.raises(ValueError, match="backend 'pallas' trains classifiers only"):
        jaxmlp.train(
            post_params, X, np.zeros(200, np.float32), output="identity", backend="pallas", **kw
        )
    # a classifier's labels are still checked as labels
    with pytest.raises(ValueError, match="labels in"):
        jaxmlp.train(post_params, X, np.full(200, 0.5, np.float32), **kw)
    # "logistic" names the default of one output: the same run
    a = jaxmlp.train(post_params, X, y, output="logistic", **kw)
    b = jaxmlp.train(post_params, X, y, **kw)
    np.testing.assert_array_equal(a.loss, b.loss)
