"""Traces and compilations counted (not timed): equal optimizers and rate loops reuse programs."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _counting import counting_compiles, counting_sigmoid  # tests/ is on sys.path under pytest

import jaxmlp


@pytest.fixture(scope="module")
def data():
    X = jax.random.normal(jax.random.key(0), (40, 2), jnp.float32)  # float32 under x64 too
    y = (X[:, 0] * X[:, 1] > 0).astype(jnp.int32)
    return X, y


BUILDERS = {
    "sgd": lambda: optax.sgd(2.0),
    "adam": lambda: optax.adam(1e-2),
    "chain": lambda: optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2)),
    "injected": lambda: optax.inject_hyperparams(optax.adam)(learning_rate=1e-2),
    "schedule": lambda: optax.sgd(optax.exponential_decay(1.0, 10, 0.9)),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("sizes", [(2, 3, 1), (2, 16, 1)])  # stacked form, matrix form
@pytest.mark.slow
def test_an_equal_optimizer_built_per_call_does_not_trace_or_compile_again(data, name, sizes):
    X, y = data
    act, traces = counting_sigmoid()
    params = jaxmlp.init_mlp(jax.random.key(1), sizes)
    make = BUILDERS[name]
    first = jaxmlp.train(params, X, y, activation=act, optimizer=make(), steps=20)
    assert traces["traces"] > 0
    traced = traces["traces"]
    with counting_compiles() as count:
        again = [
            jaxmlp.train(params, X, y, activation=act, optimizer=make(), steps=20) for _ in range(3)
        ]
    assert (traces["traces"], count["compiles"]) == (traced, 0)
    for result in again:
        np.testing.assert_array_equal(result.loss, first.loss)
    # the counters can fail: another static option does trace and compile
    with counting_compiles() as count:
        jaxmlp.train(params, X, y, activation=act, optimizer=make(), steps=21)
    assert traces["traces"] > traced and count["compiles"] > 0


@pytest.mark.slow
def test_make_step_with_an_equal_optimizer_reuses_its_program(data):
    X, y = data
    params = jaxmlp.init_mlp(jax.random.key(1), (2, 3, 1))
    opt = optax.adam(0.1)
    step = jaxmlp.make_step(opt, "tanh")
    p1, s1, v1 = step(params, opt.init(params), X, y)
    with counting_compiles() as count:
        fresh = optax.adam(0.1)
        p2, s2, v2 = jaxmlp.make_step(fresh, "tanh")(params, fresh.init(params), X, y)
    assert count["compiles"] == 0
    chex.assert_trees_all_equal((p1, s1, v1), (p2, s2, v2))
    with counting_compiles() as count:
        other = optax.adam(0.2)
        p3, *_ = jaxmlp.make_step(other, "tanh")(params, other.init(params), X, y)
    assert count["compiles"] == 1
    assert not np.allclose(p3[0].W, p1[0].W)


def _deep_chain(eps: float) -> optax.GradientTransformation:
    return optax.chain(
        optax.clip_by_global_norm(10.0),
        optax.chain(optax.scale_by_adam(eps=eps), optax.scale(-0.05)),
    )


def _reference_run(params, X, y, optimizer, steps):
    """An independent program (a fresh jit closing over the optimizer): the shared-object run."""

    @jax.jit
    def run(params):
        def body(carry, _):
            p, s = carry
            value, grads = jaxmlp.backprop.loss_and_manual_grads(p, X, y, "sigmoid")
            updates, s = optimizer.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), value

        (p, _), values = jax.lax.scan(body, (params, optimizer.init(params)), None, steps)
        return p, values

    return run(params)


@pytest.mark.parametrize("sizes", [(2, 3, 1), (2, 16, 1)])
@pytest.mark.slow
def test_optimizers_differing_deep_inside_a_chain_never_share_a_program(data, sizes):
    X, y = data
    params = jaxmlp.init_mlp(jax.random.key(2), sizes)
    act, traces = counting_sigmoid()
    results = {}
    for eps in (1e-3, 1e-4, 1e-3, 1e-4):  # fresh objects each time, alternating
        with counting_compiles() as count:
            result = jaxmlp.train(
                params, X, y, activation=act, optimizer=_deep_chain(eps), steps=60
            )
        results.setdefault(eps, []).append((result, count["compiles"]))
    (a1, ca1), (a2, ca2) = results[1e-3]
    (b1, cb1), (b2, cb2) = results[1e-4]
    assert ca1 > 0 and cb1 > 0  # the second optimizer compiled its own program
    assert ca2 == 0 and cb2 == 0  # and each reused its own afterwards
    for eps, runs in results.items():
        shared = _deep_chain(eps)
        p_ref, loss_ref = _reference_run(params, X, y, shared, 60)
        for result, _ in runs:
            np.testing.assert_allclose(result.loss, loss_ref, rtol=1e-5, atol=1e-7)
            chex.assert_trees_all_close(result.params, p_ref, rtol=1e-4, atol=1e-6)
    assert not np.allclose(a1.loss[-10:], b1.loss[-10:], rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    ("factory", "rates"),
    [(optax.adam, (0.002, 0.005, 0.01, 0.02, 0.03)), (optax.sgd, (0.1, 0.3, 0.5, 1.0, 2.0))],
)
@pytest.mark.slow
def test_a_learning_rate_loop_compiles_one_program(data, factory, rates):
    X, y = data
    params = jaxmlp.init_mlp(jax.random.key(3), (2, 4, 1))
    act, traces = counting_sigmoid()
    with counting_compiles() as count:
        first = jaxmlp.train(
            params, X, y, activation=act, optimizer=factory, learning_rate=rates[0], steps=40
        )
    assert count["compiles"] >= 1
    traced = traces["traces"]
    runs = [first]
    with counting_compiles() as count:
        for rate in rates[1:]:
            runs.append(
                jaxmlp.train(
                    params, X, y, activation=act, optimizer=factory, learning_rate=rate, steps=40
                )
            )
    assert (count["compiles"], traces["traces"]) == (0, traced)
    for rate, run in zip(rates, runs, strict=True):
        direct = jaxmlp.train(params, X, y, activation=act, optimizer=factory(rate), steps=40)
        np.testing.assert_allclose(run.loss, direct.loss, rtol=1e-5, atol=1e-7)
        # the rate as a state array vs a constant folded into the program: float rounding
        chex.assert_trees_all_close(run.params, direct.params, rtol=1e-4, atol=1e-5)
        assert float(run.opt_state.hyperparams["learning_rate"]) == pytest.approx(rate)
    assert len({float(r.loss[-1]) for r in runs}) == len(rates)


def test_a_continued_run_compiles_at_most_once_more(data):
    X, y = data
    params = jaxmlp.init_mlp(jax.random.key(4), (2, 3, 1))
    act, _ = counting_sigmoid()
    opt = optax.adam(0.05)
    piece = jaxmlp.train(params, X, y, activation=act, optimizer=opt, steps=10)
    piece = jaxmlp.train(
        piece.params, X, y, activation=act, optimizer=opt, steps=10,
        opt_state=piece.opt_state, first_step=10,
    )  # fmt: skip
    with counting_compiles() as count:
        for first_step in (20, 30, 40):
            piece = jaxmlp.train(
                piece.params, X, y, activation=act, optimizer=optax.adam(0.05), steps=10,
                opt_state=piece.opt_state, first_step=first_step,
            )  # fmt: skip
    assert count["compiles"] == 0
