"""jaxmlp._sweep.init: every model starts from init_mlp(key(seed), sizes, scheme), bit for bit.

Called directly (no sweep is compiled): the grid's draws, and their places in the bins
read back as the result reads them.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp import compile_options, optimizers
from jaxmlp._sweep import init, plan, result

# compiled as the sweep compiles its draws (jaxmlp._sweep.programs): its program's settings
SWEEP_INIT = {"compiler_options": compile_options.chosen("sweep_init") or None}


def _plan(widths, n_seeds, *, scheme, depth, n_features=3, n_outputs=3, rates=None):
    per_width = n_seeds * (1 if rates is None else len(rates))
    optimizer, rate_name = (optax.sgd(0.0), None)
    if rates is not None:
        optimizer, rate_name = optimizers.rate_injected(optax.adam)
    return plan.Plan(
        widths=widths,
        activations=(jaxmlp.activations.get("tanh"),),
        models_per_width=per_width,
        n_features=n_features,
        n_outputs=n_outputs,
        optimizer=optimizers.static(optimizer),
        scheme=scheme,
        batch_size=None,
        n_examples=12,
        packing=plan.pack(widths, per_width, rows=12, max_slots=1 if depth > 1 else 4),
        depth=depth,
        learning_rates=rates,
        rate_name=rate_name,
    )


def assert_each_is_init_mlp(models, seeds, sizes, scheme, err_msg=""):
    """Model ``i`` of ``models`` (leaves (S, ...), host arrays) is, bit for bit,
    ``init_mlp(key(seeds[i]), sizes, scheme)``."""
    for i, s in enumerate(seeds):
        want = jaxmlp.init_mlp(jax.random.key(s), sizes, scheme)
        got = jax.tree.map(lambda a, i=i: a[i], models)
        for leaf, ref in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_array_equal(leaf, ref, err_msg=err_msg)


def assert_init_models_equal_init_mlp(scheme, depth):
    widths, seeds = (4, 1, 7), (2, 9)
    p = _plan(widths, len(seeds), scheme=scheme, depth=depth)
    draws = jax.jit(jax.vmap(functools.partial(init.init_models, plan=p)), **SWEEP_INIT)
    models = draws(np.asarray(seeds, init.seed_dtype()))  # per width, leaves (S, ...)
    models = jax.tree.map(np.asarray, models)  # sliced in NumPy: eager slices compile
    for w, group in zip(widths, models, strict=True):
        assert_each_is_init_mlp(group, seeds, p.sizes(w), scheme, f"{scheme} depth {depth}")


@pytest.mark.parametrize(
    "scheme, depth", [("glorot_uniform", 1), ("uniform01", 1), ("uniform01", 2)]
)
def test_init_models_equal_init_mlp(scheme, depth):
    assert_init_models_equal_init_mlp(scheme, depth)


@pytest.mark.slow
@pytest.mark.xla_defaults  # he_normal's draws of other lengths differ by 1 ulp at LLVM -O0
def test_he_normal_init_models_equal_init_mlp():
    """Both depths in one test: an ``xla_defaults`` test costs a pytest subprocess."""
    for depth in (1, 3):
        assert_init_models_equal_init_mlp("he_normal", depth)


def initial_bins(widths, seeds, scheme, depth):
    """The plan and init_state's first bin group (host arrays) for these widths and seeds."""
    p = _plan(widths, len(seeds), scheme=scheme, depth=depth)
    rates = np.zeros((p.packing.n_bins, p.packing.slots), np.float32)  # no rate axis: unused
    state = jax.jit(functools.partial(init.init_state, p), **SWEEP_INIT)(
        np.asarray(seeds, init.seed_dtype()), np.zeros(2, np.uint32), rates
    )
    return p, jax.tree.map(np.asarray, state.bins[0])


def assert_bins_hold_init_mlp(p, bins, seeds, scheme):
    """Each model, read back per width as the result reads it, is init_mlp(key(seed), ...)."""
    for ix, w in zip(plan.indices(p.packing, p.widths), p.widths, strict=True):
        assert_each_is_init_mlp(result.model_params(bins.params, ix), seeds, p.sizes(w), scheme)


@pytest.mark.slow
def test_initial_state_holds_each_model_in_its_place(scheme="uniform01", depth=2):
    seeds = (2, -9)
    p, bins = initial_bins((4, 1, 7), seeds, scheme, depth)
    np.testing.assert_array_equal(bins.diverged_at, -1)
    assert_bins_hold_init_mlp(p, bins, seeds, scheme)


@pytest.mark.slow
def test_each_slot_gets_its_learning_rate():
    rates = (0.01, 0.2)
    p = _plan((2, 3), 1, scheme="glorot_uniform", depth=1, rates=rates)
    slots = plan.slot_rates(p.packing, rates)  # (B, K): model column j has rates[j % 2]
    assert sorted(np.unique(slots).tolist()) == sorted(np.float32(rates).tolist())
    state = jax.jit(functools.partial(init.init_state, p), **SWEEP_INIT)(
        jnp.zeros(2, init.seed_dtype()), jnp.zeros(2, jnp.uint32), slots
    )
    got = np.asarray(state.bins[0].opt_state.hyperparams["learning_rate"])
    np.testing.assert_array_equal(got, slots)


def test_a_rate_axis_needs_a_factory_taking_the_rate():
    X, y = np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1])
    with pytest.raises(TypeError, match="learning rate as its first argument.*learning_rates="):
        jaxmlp.sweep(X, y, widths=(2,), activations=("tanh",), seeds=(0,), steps=1,
                     optimizer=lambda: optax.sgd(0.1), learning_rates=(0.1,))  # fmt: skip


def test_with_64_bit_floats_the_state_is_float32_and_negative_seeds_key_as_init_mlp():
    """Under ``jax_enable_x64`` the bins stay float32 and a seed keys as a Python int does
    there (int64: ``key(-9)`` differs from ``key(int32(-9))``), so model (w, s) is still
    ``init_mlp(key(s), ...)``."""
    seeds = (-9, 4)
    with jax.enable_x64(True):
        p, bins = initial_bins((2, 3), seeds, "uniform01", depth=1)
        assert {leaf.dtype for leaf in jax.tree.leaves(bins.params)} == {np.dtype(np.float32)}
        assert_bins_hold_init_mlp(p, bins, seeds, "uniform01")
