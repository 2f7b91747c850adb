"""The training fast path: no retracing, stacked-rows gradients, the guarded fallback."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _counting import counting_sigmoid  # tests/ is on sys.path under pytest
from jax.flatten_util import ravel_pytree

import jaxmlp
from jaxmlp import _steps, activations, backprop, optimizers, training

SGD = optax.sgd(2.0)


@pytest.mark.parametrize("sizes", [(2, 3, 1), (2, 16, 1)])  # stacked path, matmul path
@pytest.mark.slow
def test_second_call_reuses_the_compiled_program(sizes):
    act, count = counting_sigmoid()
    X = jax.random.normal(jax.random.key(0), (20, 2))
    y = (X[:, 0] > 0).astype(jnp.int32)
    params = jaxmlp.init_mlp(jax.random.key(1), sizes)
    first = jaxmlp.train(params, X, y, activation=act, optimizer=SGD, steps=7)
    traced = count["traces"]
    assert traced > 0
    # same shapes and options, new values: no new trace
    X2 = X + 1.0
    params2 = jax.tree.map(lambda p: p * 0.5, params)
    second = jaxmlp.train(params2, X2, y, activation=act, optimizer=SGD, steps=7)
    jaxmlp.train(params, X, y, activation=act, optimizer=SGD, steps=7)
    assert count["traces"] == traced
    assert not np.allclose(first.loss, second.loss)  # it did run on the new values
    # a different static option does retrace (the counter works)
    jaxmlp.train(params, X, y, activation=act, optimizer=SGD, steps=8)
    assert count["traces"] > traced


@functools.partial(jax.jit, static_argnums=3)
def _three_forms(params, X, y, activation):
    """Manual, stacked-rows and autodiff loss and gradients: one compiled program per case."""
    value, grads = backprop.loss_and_manual_grads(params, X, y, activation)
    stacked = backprop.stacked_loss_and_grads(params, X.T, y, activation)
    auto = jax.grad(jaxmlp.loss)(params, X, y, activation)
    return value, ravel_pytree(grads)[0], stacked, ravel_pytree(auto)[0]


@pytest.mark.parametrize(
    ("sizes", "activation"),
    [((2, 3, 1), "sigmoid"), ((3, 4, 2, 3), "tanh"), ((2, 1), "identity"), ((1, 5, 1), "relu")],
)
@pytest.mark.slow
def test_stacked_rows_equal_the_matrix_form(sizes, activation):
    rng = np.random.default_rng(sum(sizes))  # NumPy draws: eager jax.random compiles per shape
    params = tuple(
        jaxmlp.Dense(
            jax.device_put(rng.uniform(-1.0, 1.0, (fan_out, fan_in)).astype(np.float32)),
            jax.device_put(np.full((fan_out,), 0.1, np.float32)),
        )
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True)
    )
    X = jax.device_put(rng.normal(size=(9, sizes[0])).astype(np.float32))
    y = jax.device_put(rng.integers(0, 2 if sizes[-1] == 1 else sizes[-1], 9).astype(np.int32))
    value, grads, stacked, auto = map(np.asarray, _three_forms(params, X, y, activation))
    assert stacked.shape == (1 + sum(p.size for p in jax.tree.leaves(params)),)
    np.testing.assert_allclose(stacked[0], value, rtol=1e-5)
    np.testing.assert_allclose(stacked[1:], grads, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(stacked[1:], auto, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_stacked_bce_is_within_an_ulp_of_the_stable_loss_for_any_logit():
    # one example per call, logit z = x through a (1, 1) identity network
    z = jnp.array([-1e4, -100.0, -30.0, -8.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 8.0, 30.0, 100.0, 1e4])
    params = (jaxmlp.Dense(W=jnp.ones((1, 1)), b=jnp.zeros(1)),)

    def one(x, label):
        return backprop.stacked_loss_and_grads(params, x[None, None], label[None], "identity")

    def reference(x, label):
        return jaxmlp.losses.mean_cross_entropy(x[None, None], label[None])

    # compiled as train runs them (op by op, every op compiles a program of its own)
    @jax.jit
    def forms(z, y):
        return jax.vmap(one)(z, y), jax.vmap(reference)(z, y), jax.nn.sigmoid(z)

    for label in (0, 1):
        y = jax.device_put(np.full(z.shape, label, np.int32))
        stacked, reference_values, sigmoid = map(np.asarray, forms(z, y))
        assert np.all(np.isfinite(stacked))
        np.testing.assert_allclose(stacked[:, 0], reference_values, rtol=1e-6, atol=2 * 2**-23)
        # the gradient rows are the exact (P1) delta times the input
        np.testing.assert_allclose(stacked[:, 2], sigmoid - label, rtol=1e-6)


def test_stacked_path_is_taken_only_for_tiny_networks():
    small = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
    wide = jaxmlp.init_mlp(jax.random.key(0), (2, 16, 1))
    assert _steps.use_stacked(small, "manual", 200)
    assert not _steps.use_stacked(small, "manual", 100_000)  # (1 + 13) x rows too big
    assert not _steps.use_stacked(small, "autodiff", 200)
    assert not _steps.use_stacked(wide, "manual", 200)


@pytest.mark.slow
def test_small_stacked_networks_get_the_quick_compiling_program(circles_data):
    X, y = circles_data
    small = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
    wide = jaxmlp.init_mlp(jax.random.key(0), (2, 16, 1))
    deep = jaxmlp.init_mlp(jax.random.key(0), (2, 8, 8, 1))  # stacked, but 105 parameters
    quick = training._train_fast_small
    assert training._fast_program(small, "manual", 200, "xla") is quick
    assert training._fast_program(small, "autodiff", 200, "xla") is training._train_fast
    assert training._fast_program(wide, "manual", 200, "xla") is training._train_fast
    assert training._fast_program(deep, "manual", 200, "xla") is training._train_fast
    # same program, other XLA emitters: the same numbers
    options = dict(
        activation=activations.get("sigmoid"),
        optimizer=optimizers.static(SGD),
        steps=20,
        batch_size=None,
        grad="manual",
        snapshot_every=None,
        backend="xla",
        rate_name=None,
        output=None,
    )
    args = (small, X, y, jax.random.key(0), None, np.int32(0), None)
    a = training._train_fast(*args, **options)
    b = quick(*args, **options)
    chex.assert_trees_all_close(a[:2], b[:2], rtol=1e-6)
    assert bool(a[4]) and bool(b[4])


def nan_update_at(step: int) -> optax.GradientTransformation:
    def init(params):
        return jnp.zeros((), jnp.int32)

    def update(grads, count, params=None):
        scale = jnp.where(count == step, jnp.nan, -0.5)
        return jax.tree.map(lambda g: scale * g, grads), count + 1

    return optax.GradientTransformation(init, update)


NAN_AT_130 = nan_update_at(130)


@pytest.mark.parametrize("sizes", [(2, 3, 1), (2, 16, 1)])
@pytest.mark.slow
def test_divergence_inside_a_snapshot_chunk_matches_the_guarded_loop(sizes):
    # The fast program's check fails (in the chunk of steps 100..199); the run is redone
    # with the guard: same params, losses and diverged_at as a plain guarded loop.
    X = jax.random.normal(jax.random.key(0), (30, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(jnp.int32)
    params = jaxmlp.init_mlp(jax.random.key(1), sizes)
    result = jaxmlp.train(params, X, y, optimizer=NAN_AT_130, steps=350, snapshot_every=100)
    assert result.diverged_at == 131
    step = jaxmlp.make_step(NAN_AT_130)
    p, s, expected = params, NAN_AT_130.init(params), []
    for _ in range(131):
        p_before = p
        p, s, value = step(p, s, X, y)
        expected.append(value)
    np.testing.assert_allclose(result.loss[:131], expected, rtol=1e-4)
    assert np.all(np.isnan(result.loss[131:]))
    chex.assert_trees_all_close(result.params, p_before, rtol=1e-4, atol=1e-6)
    before = jaxmlp.train(params, X, y, optimizer=NAN_AT_130, steps=100)
    snapshots = jax.tree.map(np.asarray, result.snapshots)  # NumPy: no op-by-op compiles
    chex.assert_trees_all_close(jax.tree.map(lambda a: a[1], snapshots), before.params, rtol=1e-6)
    assert all(np.all(np.isfinite(a)) for a in jax.tree.leaves(snapshots))


@pytest.mark.parametrize("sizes", [(2, 3, 1), (2, 16, 1)])
@pytest.mark.slow
def test_guarded_program_is_traced_only_when_a_run_diverges(sizes, monkeypatch):
    guarded_steps = {"traces": 0}
    update = training._update

    def counting_update(*args, **kwargs):
        guarded_steps["traces"] += 1  # runs once per trace of the guarded program
        return update(*args, **kwargs)

    monkeypatch.setattr(training, "_update", counting_update)
    act, count = counting_sigmoid()  # a fresh static option: nothing compiled for it yet
    X = jax.random.normal(jax.random.key(0), (20, 2))
    y = (X[:, 0] > 0).astype(jnp.int32)
    params = jaxmlp.init_mlp(jax.random.key(1), sizes)
    finite = jaxmlp.train(params, X, y, activation=act, optimizer=SGD, steps=9)
    assert finite.diverged_at is None and np.all(np.isfinite(finite.loss))
    assert guarded_steps["traces"] == 0
    nan_at_4 = nan_update_at(4)
    diverged = jaxmlp.train(params, X, y, activation=act, optimizer=nan_at_4, steps=9)
    assert diverged.diverged_at == 5
    assert guarded_steps["traces"] > 0
    # a second diverging call with the same shapes and options reuses both programs
    traced, guarded = count["traces"], guarded_steps["traces"]
    params2 = jax.tree.map(lambda p: p * 0.5, params)
    again = jaxmlp.train(params2, X, y, activation=act, optimizer=nan_at_4, steps=9)
    assert again.diverged_at == 5
    assert not np.allclose(again.loss[:5], diverged.loss[:5])  # it did run on the new values
    assert (count["traces"], guarded_steps["traces"]) == (traced, guarded)
