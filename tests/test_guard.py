"""The divergence guard's rules, for one network and for many models in one array."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import guard


def run(values_ok, *, steps_params):
    """Feeds a guard a sequence of (new params, ok) updates; returns the final guard."""
    state = guard.init(steps_params[0], jnp.int32(0))
    for step, (new, ok) in enumerate(zip(steps_params[1:], values_ok, strict=True)):
        state = guard.update(state, new, state.opt_state + 1, jnp.asarray(ok), jnp.int32(step))
    return state


def test_updates_apply_until_the_first_not_ok_and_never_after():
    params = [jnp.full(2, float(i)) for i in range(6)]
    state = run([True, True, False, True, True], steps_params=params)
    assert int(state.diverged_at) == 2
    np.testing.assert_array_equal(state.params, params[2])  # after updates 0, 1
    np.testing.assert_array_equal(state.last_good, params[1])
    assert int(state.opt_state) == 2  # the optimizer state froze with the params
    np.testing.assert_array_equal(guard.snapshot(state), params[1])


def test_a_finite_run_keeps_its_last_params():
    params = [jnp.full(2, float(i)) for i in range(4)]
    state = run([True] * 3, steps_params=params)
    assert int(state.diverged_at) == -1
    np.testing.assert_array_equal(guard.snapshot(state), params[3])
    final, at = guard.final(state, guard.all_finite(state.params), 3)
    np.testing.assert_array_equal(final, params[3])
    assert int(at) == -1


def test_non_finite_params_after_the_last_update_fall_back_and_report_steps():
    params = [jnp.zeros(2), jnp.ones(2), jnp.array([1.0, jnp.inf])]
    state = run([True, True], steps_params=params)
    assert int(state.diverged_at) == -1
    final, at = guard.final(state, guard.all_finite(state.params), 2)
    np.testing.assert_array_equal(final, params[1])
    assert int(at) == 2


def test_all_finite():
    assert bool(guard.all_finite({"a": jnp.ones(3), "b": jnp.zeros((2, 2))}))
    assert not bool(guard.all_finite({"a": jnp.ones(3), "b": jnp.array([jnp.nan])}))


def rows_select(ok, new, old):
    """A layout of K models in rows: row k follows its own flag ok[k]."""
    return jax.tree.map(lambda a, b: jnp.where(ok.reshape((-1,) + (1,) * (a.ndim - 1)), a, b),
                        new, old)  # fmt: skip


@pytest.mark.slow
def test_a_layout_of_many_models_equals_each_model_guarded_alone():
    K, steps = 4, 6
    rng = np.random.default_rng(0)
    trajectories = rng.normal(size=(steps + 1, K, 3)).astype(np.float32)
    oks = np.ones((steps, K), bool)
    oks[2, 1] = oks[4, 3] = oks[0, 2] = False
    oks[5, 1] = True  # a later ok must not revive a diverged model
    trajectories[-1, 0, 0] = np.inf  # model 0: non-finite after the last update

    @jax.jit  # compiled (op by op, each of the many small ops costs a compile)
    def in_layout(trajectories, oks):
        state = guard.init(trajectories[0], jnp.zeros(K), shape=(K,))
        for step in range(steps):
            state = guard.update(
                state, trajectories[step + 1], state.opt_state + 1, oks[step], jnp.int32(step),
                select=rows_select, select_state=lambda ok, new, old: jnp.where(ok, new, old),
            )  # fmt: skip
        finite = jnp.all(jnp.isfinite(state.params), axis=1)
        return guard.final(state, finite, steps, select=rows_select), state.opt_state

    @jax.jit
    def alone(trajectory, oks):
        state = guard.init(trajectory[0], jnp.float32(0))
        for step in range(steps):
            state = guard.update(
                state, trajectory[step + 1], state.opt_state + 1, oks[step], jnp.int32(step)
            )
        return guard.final(state, guard.all_finite(state.params), steps), state.opt_state

    (final, at), opt_state = jax.tree.map(np.asarray, in_layout(trajectories, oks))
    for k in range(K):
        (final_k, at_k), opt_state_k = alone(trajectories[:, k], oks[:, k])
        np.testing.assert_array_equal(final[k], final_k)
        assert int(at[k]) == int(at_k)
        assert float(opt_state[k]) == float(opt_state_k)
    np.testing.assert_array_equal(np.asarray(at), [6, 2, 0, 4])
