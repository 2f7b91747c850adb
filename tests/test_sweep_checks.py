"""jaxmlp.sweep's argument checks (validation.check_grid, check_sweep_data, ...): every
refusal a ValueError/TypeError naming the argument, before anything compiles; and equal
optimizers sharing the compiled programs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _counting import counting_compiles  # tests/ is on sys.path under pytest

import jaxmlp
from jaxmlp import validation
from jaxmlp._sweep import programs

OPT = optax.adam(0.05)


@pytest.fixture(scope="module")
def data():
    return jaxmlp.datasets.circles(jax.random.key(0), 24)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"widths": (3, 3)}, ValueError, "widths must not repeat"),
        ({"widths": (0,)}, ValueError, "widths entries must be a positive int"),
        ({"widths": (2.5,)}, TypeError, "widths must hold ints"),
        ({"widths": 3}, TypeError, "widths must be a sequence"),
        ({"activations": ("nope",)}, ValueError, "activation must be one of"),
        ({"seeds": ()}, ValueError, "seeds must not be empty"),
        ({"seeds": (2**31,)}, ValueError, "seeds must lie in"),
        ({"seeds": (-(2**31) - 1,)}, ValueError, "seeds must lie in"),
        ({"steps": 0}, ValueError, "steps must be a positive int"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be an optax"),
        ({"X_test": jnp.ones((3, 2))}, ValueError, "given together"),
        ({"batch_size": 4}, ValueError, "key must be given"),
        ({"batch_size": 4, "key": 0}, TypeError, "key must be a JAX PRNG key"),
        ({"key": 0}, TypeError, "key must be a JAX PRNG key"),
        (
            {"key": jax.random.split(jax.random.key(0))},
            TypeError,
            "key must be a JAX PRNG key.*shape \\(2,\\)",
        ),
        ({"scheme": "zeros"}, ValueError, "scheme must be one of"),
        ({"depth": 0}, ValueError, "depth must be a positive int"),
        ({"depth": 2.0}, TypeError, "depth must be a positive int"),
        ({"checkpoint": 3}, TypeError, "checkpoint must be a file path"),
        ({"on_chunk": 3}, TypeError, "on_chunk must be callable"),
        ({"devices": ()}, ValueError, "devices must hold at least one device"),
        ({"devices": ("cpu",)}, TypeError, "devices must hold jax devices"),
        ({"n_outputs": validation.MAX_CLASSES + 1}, ValueError, "n_outputs must be at most"),
        ({"optimizer": optax.adam}, TypeError, "needs learning_rates"),
        ({"learning_rates": (0.1,)}, TypeError, "must be a factory"),
        ({"optimizer": optax.adam, "learning_rates": (0.1, -1.0)}, ValueError, "positive"),
        ({"optimizer": optax.adam, "learning_rates": (0.1, 0.1)}, ValueError, "not repeat"),
        ({"optimizer": optax.adam, "learning_rates": ("0.1",)}, TypeError, "hold numbers"),
    ],
)
@pytest.mark.slow
def test_bad_input_is_rejected(data, kwargs, error, match):
    X, y = data
    args = dict(widths=(2,), activations=("tanh",), seeds=(0,), steps=2, optimizer=OPT)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        jaxmlp.sweep(X, y, **args)


@pytest.mark.parametrize(
    "labels, error, match",
    [
        (np.array(["a", "b"] * 12), TypeError, "y must hold integer class labels"),
        (
            np.array([0.0, np.nan] * 12),
            ValueError,
            "y must hold class labels 0, 1, 2, ..., got nan",
        ),
        (np.array([0, -1] * 12), ValueError, "got -1"),
        (np.array([0, 1.5] * 12), ValueError, "got 1.5"),
        (np.array([0, 1] * 11 + [0, 100_000]), ValueError, "label 100000.*MAX_CLASSES = 10000"),
        ([0, 1] * 12, TypeError, "y must be an array"),
    ],
)
def test_bad_labels_are_refused_before_anything_compiles(data, labels, error, match):
    X, _ = data
    before = programs.programs.cache_info()
    with pytest.raises(error, match=match):
        jaxmlp.sweep(X, labels, widths=(2,), activations=("tanh",), seeds=(0,), steps=2,
                     optimizer=OPT)  # fmt: skip
    after = programs.programs.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)


def test_bad_test_labels_are_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="y_test"):
        jaxmlp.sweep(X, y, widths=(2,), activations=("tanh",), seeds=(0,), steps=2,
                     optimizer=OPT, X_test=X[:3], y_test=jnp.array([0, 1, 2]))  # fmt: skip


def test_check_grid_returns_the_axes():
    grid = validation.check_grid(
        widths=[3, np.int64(2)], activations=["relu", jaxmlp.activations.get("tanh")],
        seeds=range(3), learning_rates=[1, 0.5], optimizer=optax.sgd,
    )  # fmt: skip
    assert grid.widths == (3, 2) and grid.seeds == (0, 1, 2)
    assert [a.name for a in grid.activations] == ["relu", "tanh"]
    assert grid.learning_rates == (1.0, 0.5)
    with pytest.raises(ValueError, match="activations must not repeat"):
        validation.check_grid(
            widths=(2,), activations=("relu", jaxmlp.activations.get("relu")), seeds=(0,),
            learning_rates=None, optimizer=OPT,
        )  # fmt: skip


def test_check_n_outputs():
    assert validation.check_n_outputs(np.array([0, 1, 1]), None) == 1
    assert validation.check_n_outputs(np.array([True, False]), None) == 1
    assert validation.check_n_outputs(np.array([0.0, 3.0]), None) == 4
    assert validation.check_n_outputs(np.array([0, 1]), 5) == 5
    with pytest.raises(ValueError, match="MAX_CLASSES"):
        validation.check_n_outputs(np.array([validation.MAX_CLASSES]), None)


@pytest.mark.slow
def test_seeds_at_the_ends_of_the_range_equal_init_mlp():
    """A negative seed (32-bit) starts from init_mlp(key(seed)), as train would."""
    X, y = jnp.ones((4, 2)), jnp.array([0, 1, 0, 1])
    low = validation.SEED_RANGE[0]
    r = jaxmlp.sweep(X, y, widths=(2,), activations=("tanh",), seeds=(low, -3), steps=1,
                     optimizer=optax.sgd(0.0))  # fmt: skip
    for s in (low, -3):
        want = jaxmlp.init_mlp(jax.random.key(s), (2, 2, 1))
        for got, ref in zip(jax.tree.leaves(r.params(2, "tanh", s)), jax.tree.leaves(want),
                            strict=True):  # fmt: skip
            np.testing.assert_array_equal(got, ref)


@pytest.mark.slow
def test_equal_optimizers_reuse_the_compiled_programs():
    """adam(0.01) built twice shares the programs; adam(0.02) compiles its own three."""
    X, y = jnp.ones((6, 2)), jnp.array([0, 1, 0, 1, 1, 0])
    grid = dict(widths=(2, 3), activations=("relu",), seeds=(0,), steps=2)

    def misses(optimizer):
        before = programs.programs.cache_info().misses
        jaxmlp.sweep(X, y, optimizer=optimizer, **grid)
        return programs.programs.cache_info().misses - before

    first = misses(optax.adam(0.01))
    with counting_compiles() as repeat:
        again = misses(optax.adam(0.01))  # equal, a new object
    assert (first, again, repeat["compiles"]) == (1, 0, 0)
    with counting_compiles() as other:
        assert misses(optax.adam(0.02)) == 1  # never shared with another hyperparameter
    # init, the chunk and the finish program; the parts (one per core) split on the host
    assert other["compiles"] == 3


@pytest.mark.slow
def test_new_learning_rates_reuse_the_compiled_programs():
    """A rate axis with other values (same length) is a value: no new program, each rate kept."""
    X, y = jnp.ones((6, 2)), jnp.array([0, 1, 0, 1, 1, 0])
    grid = dict(widths=(2, 3), activations=("relu",), seeds=(0,), steps=3, optimizer=optax.sgd)

    def run(rates):
        before = programs.programs.cache_info().misses
        result = jaxmlp.sweep(X, y, learning_rates=rates, **grid)
        return result, programs.programs.cache_info().misses - before

    (a, first), (b, again) = run((0.1, 0.5)), run((0.2, 0.05))
    assert (first, again) == (1, 0)
    assert b.learning_rates == (0.2, 0.05)
    for m, rate in enumerate(b.learning_rates):  # each model trained with its own new rate
        want = jaxmlp.train(
            jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1)), X, y, activation="relu",
            optimizer=optax.inject_hyperparams(optax.sgd)(rate), steps=3,
        )  # fmt: skip
        np.testing.assert_allclose(b.loss[1, 0, 0, m], want.loss, rtol=1e-5, atol=1e-6)
    assert not np.allclose(a.loss[1, 0, 0], b.loss[1, 0, 0])
    assert run((0.1, 0.5, 1.0))[1] == 1  # another number of rates is another program
