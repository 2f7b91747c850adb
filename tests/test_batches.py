"""Mini-batch selection: the per-epoch Feistel shuffle and the batch of a step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import batches

# Compiled once per shape: called op by op, every call compiles its while loop again.
shuffled_positions = jax.jit(batches.shuffled_positions, static_argnums=3)
batch_indices = jax.jit(batches.batch_indices, static_argnums=(2, 3))


@pytest.mark.parametrize("n", [1, 2, 3, 12, 200, 4097])
@pytest.mark.slow
def test_shuffle_is_a_fresh_permutation_each_epoch(n):
    positions = jnp.arange(n, dtype=jnp.int32)
    key = jax.random.key(7)
    perms = [np.asarray(shuffled_positions(key, jnp.int32(e), positions, n)) for e in (0, 1)]
    for perm in perms:
        np.testing.assert_array_equal(np.sort(perm), np.arange(n))  # a bijection of 0..n-1
    again = shuffled_positions(
        key, jnp.int32(0), jax.device_put(np.arange(n, dtype=np.int32)[::-1].copy()), n
    )
    np.testing.assert_array_equal(again, perms[0][::-1])  # a function of the position only
    if n >= 12:
        assert not np.array_equal(perms[0], perms[1])
        assert np.mean(perms[0] == np.arange(n)) < 0.2  # shuffled, not the identity
        other = shuffled_positions(jax.random.key(8), jnp.int32(0), positions, n)
        assert not np.array_equal(other, perms[0])


@pytest.mark.parametrize(("n", "batch_size"), [(10, 3), (12, 4), (7, 7)])
@pytest.mark.slow
def test_each_epoch_visits_its_examples_once_and_drops_the_tail(n, batch_size):
    key = jax.random.key(3)
    per_epoch = n // batch_size
    for epoch in range(3):
        seen = np.concatenate(
            [
                np.asarray(batch_indices(jnp.int32(s), key, n, batch_size))
                for s in range(epoch * per_epoch, (epoch + 1) * per_epoch)
            ]
        )
        assert len(set(seen.tolist())) == per_epoch * batch_size  # no repeats in an epoch
        order = shuffled_positions(key, jnp.int32(epoch), jnp.arange(n), n)
        np.testing.assert_array_equal(seen, np.asarray(order)[: per_epoch * batch_size])


@pytest.mark.slow
def test_batch_at_takes_the_examples_from_either_axis():
    X = jnp.arange(20.0).reshape(10, 2)
    y = jnp.arange(10) * 10
    key = jax.random.key(0)
    step = jnp.int32(4)
    Xb, yb = batches.batch_at(step, key, X, y, batch_size=3)
    XTb, yTb = batches.batch_at(step, key, X.T, y, batch_size=3, axis=1)
    idx = np.asarray(batches.batch_indices(step, key, 10, 3))
    np.testing.assert_array_equal(Xb, np.asarray(X)[idx])
    np.testing.assert_array_equal(XTb, np.asarray(X)[idx].T)
    np.testing.assert_array_equal(yb, idx * 10)
    np.testing.assert_array_equal(yTb, yb)
    full = batches.batch_at(step, key, X, y, batch_size=None)
    assert full[0] is X and full[1] is y


@pytest.mark.slow
def test_batch_at_is_the_same_under_jit_and_scan():
    X = jax.random.normal(jax.random.key(1), (9, 2))
    y = jnp.arange(9)
    key = jax.random.key(5)

    def body(_, step):
        return None, batches.batch_at(step, key, X, y, batch_size=2)[1]

    _, scanned = jax.lax.scan(body, None, jnp.arange(8, dtype=jnp.int32))
    one_step = jax.jit(lambda step: batches.batch_at(step, key, X, y, batch_size=2)[1])
    jitted = [one_step(jnp.int32(s)) for s in range(8)]  # one program, called per step
    np.testing.assert_array_equal(scanned, np.stack(jitted))


@pytest.mark.parametrize(
    ("impl", "partitionable"), [("threefry2x32", True), ("threefry2x32", False), ("rbg", True)]
)
def test_host_round_keys_are_the_compiled_draw(impl, partitionable):
    """The estimator's fit takes its shuffles' round keys from the host: JAX's numbers, under
    JAX's PRNG settings (NumPy's Threefry for the default implementation)."""
    seeds, epochs = [0, 1, 12345, 2**31 - 1], np.array([0, 1, 7, 300, 2**32 - 1], np.uint32)
    draw = jax.jit(batches.round_keys)  # one epoch a call, as the fit's loop drew them
    with jax.default_prng_impl(impl), jax.threefry_partitionable(partitionable):
        for seed in seeds:
            key = jax.random.key(seed)
            expected = np.stack([np.asarray(draw(key, jnp.uint32(e))) for e in epochs])
            host = batches.host_round_keys(seed, epochs)
            assert host.dtype == np.uint32 and host.shape == (5, batches.SHUFFLE_ROUNDS)
            np.testing.assert_array_equal(host, expected)


@pytest.mark.parametrize("seed", [-1, 2**31, 1.5])
def test_host_round_keys_reject_a_seed_outside_int32(seed):
    with pytest.raises((ValueError, TypeError), match="seed"):
        batches.host_round_keys(seed, np.arange(3))
