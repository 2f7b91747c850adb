"""Structural keys of optax optimizers: equal when rebuilt, different for ANY difference."""

import enum
import gc
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxmlp import optimizers
from jaxmlp.optimizers import StaticOptimizer, fingerprint, static, structural_key

# Each entry builds an optimizer; called twice it must give equal keys.
BUILDERS = {
    "sgd": lambda: optax.sgd(2.0),
    "sgd_momentum": lambda: optax.sgd(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: optax.adam(1e-2),
    "adamw": lambda: optax.adamw(1e-3, weight_decay=1e-4),
    "adam_bf16_mu": lambda: optax.adam(1e-3, mu_dtype=jnp.bfloat16),
    "chain": lambda: optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3)),
    "injected": lambda: optax.inject_hyperparams(optax.adam)(learning_rate=0.1),
    "schedule": lambda: optax.sgd(optax.exponential_decay(0.1, 10, 0.9)),
    "warmup_cosine": lambda: optax.adam(optax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 100)),
    "decay_mask": lambda: optax.add_decayed_weights(1e-4, mask=lambda p: p),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_rebuilt_optimizers_are_equal(name):
    a, b = BUILDERS[name](), BUILDERS[name]()
    assert a is not b
    assert structural_key(a) is not None
    assert structural_key(a) == structural_key(b)
    assert hash(StaticOptimizer(a)) == hash(StaticOptimizer(b))
    assert StaticOptimizer(a) == StaticOptimizer(b)
    assert fingerprint(a) == fingerprint(b)


# Pairs that differ in exactly one thing: never equal.
DIFFERENT = {
    "sgd_rate": (lambda: optax.sgd(2.0), lambda: optax.sgd(2.5)),
    "sgd_vs_adam": (lambda: optax.sgd(0.1), lambda: optax.adam(0.1)),
    "int_vs_float": (lambda: optax.sgd(2), lambda: optax.sgd(2.0)),
    "zero_sign": (lambda: optax.sgd(0.0), lambda: optax.sgd(-0.0)),
    "momentum": (lambda: optax.sgd(0.1, momentum=0.9), lambda: optax.sgd(0.1, momentum=0.8)),
    "nesterov": (
        lambda: optax.sgd(0.1, momentum=0.9),
        lambda: optax.sgd(0.1, momentum=0.9, nesterov=True),
    ),
    "adam_b2": (lambda: optax.adam(1e-2), lambda: optax.adam(1e-2, b2=0.99)),
    "mu_dtype": (lambda: optax.adam(1e-2), lambda: optax.adam(1e-2, mu_dtype=jnp.bfloat16)),
    "deep_in_chain": (
        lambda: optax.chain(optax.clip(1.0), optax.chain(optax.scale_by_adam(eps=1e-8))),
        lambda: optax.chain(optax.clip(1.0), optax.chain(optax.scale_by_adam(eps=1e-7))),
    ),
    "chain_order": (
        lambda: optax.chain(optax.clip(1.0), optax.scale(-0.1)),
        lambda: optax.chain(optax.scale(-0.1), optax.clip(1.0)),
    ),
    "injected_rate": (
        lambda: optax.inject_hyperparams(optax.adam)(learning_rate=0.1),
        lambda: optax.inject_hyperparams(optax.adam)(learning_rate=0.2),
    ),
    "schedule_rate": (
        lambda: optax.sgd(optax.exponential_decay(0.1, 10, 0.9)),
        lambda: optax.sgd(optax.exponential_decay(0.1, 10, 0.8)),
    ),
    "array_value": (
        lambda: optax.scale(np.array([1.0, 2.0], np.float32)),
        lambda: optax.scale(np.array([1.0, 3.0], np.float32)),
    ),
    "array_dtype": (
        lambda: optax.scale(np.array([1.0, 2.0], np.float32)),
        lambda: optax.scale(np.array([1.0, 2.0], np.float64)),
    ),
    "jax_array_value": (lambda: optax.scale(jnp.float32(0.5)), lambda: optax.scale(jnp.float32(1))),
    "mask_fn": (
        lambda: optax.add_decayed_weights(1e-4, mask=lambda p: p),
        lambda: optax.add_decayed_weights(1e-4, mask=lambda p: jax.tree.map(lambda x: x, p)),
    ),
}


@pytest.mark.parametrize("name", sorted(DIFFERENT))
def test_optimizers_differing_in_one_thing_are_not_equal(name):
    make_a, make_b = DIFFERENT[name]
    a, b = make_a(), make_b()
    assert structural_key(a) is not None and structural_key(b) is not None
    assert structural_key(a) != structural_key(b)
    assert StaticOptimizer(a) != StaticOptimizer(b)
    assert fingerprint(a) != fingerprint(b)


def test_arrays_compare_by_value():
    a = optax.scale(np.array([1.0, 2.0], np.float32))
    b = optax.scale(np.array([1.0, 2.0], np.float32))
    assert structural_key(a) == structural_key(b)
    c = optax.scale(jnp.float32(0.5))
    assert structural_key(c) == structural_key(optax.scale(jnp.float32(0.5)))


RATE = 0.1


def _rate_schedule(count):
    return RATE * jnp.ones_like(count, jnp.float32)


def _rate_via_helper(count):
    return _rate_schedule(count)  # reads RATE only through another global function


@pytest.mark.parametrize("schedule", [_rate_schedule, _rate_via_helper])
def test_a_rebound_module_global_changes_the_key(schedule, monkeypatch):
    before = structural_key(optax.sgd(schedule))
    assert before == structural_key(optax.sgd(schedule))
    monkeypatch.setattr(sys.modules[__name__], "RATE", 0.2)
    assert structural_key(optax.sgd(schedule)) != before


def test_a_closure_over_a_local_compares_its_value():
    def make(rate):
        return optax.sgd(lambda count: rate * jnp.ones_like(count, jnp.float32))

    assert structural_key(make(0.1)) == structural_key(make(0.1))
    assert structural_key(make(0.1)) != structural_key(make(0.3))


class _Config:  # compared by identity, attributes mutable
    def __init__(self, rate):
        self.rate = rate


class _Kind(enum.Enum):
    A = 1
    B = 2


def test_identity_compared_mutable_objects_are_unkeyable():
    config = _Config(0.1)

    def make():
        return optax.sgd(lambda count: config.rate * jnp.ones_like(count, jnp.float32))

    a = make()
    assert structural_key(a) is None
    config.rate = 0.5
    b = make()  # reads another rate: must not share a's program
    assert StaticOptimizer(a) != StaticOptimizer(b)
    assert StaticOptimizer(a) == StaticOptimizer(a)  # the very same object still does


def test_enums_compare_by_value():
    def make(kind):
        return optax.sgd(lambda count: (1.0 if kind is _Kind.A else 2.0) * jnp.ones(()))

    assert structural_key(make(_Kind.A)) == structural_key(make(_Kind.A))
    assert structural_key(make(_Kind.A)) != structural_key(make(_Kind.B))


def test_unhashable_and_large_values_fall_back_to_identity():
    class Box:
        __hash__ = None  # unhashable

        def __eq__(self, other):
            return True

    box = Box()
    big = np.zeros(optimizers.MAX_ARRAY_SIZE + 1, np.float32)
    for make in (
        lambda: optax.sgd(lambda count: 0.1 + 0 * len([box])),
        lambda: optax.scale(big),
    ):
        a, b = make(), make()
        assert structural_key(a) is None
        assert StaticOptimizer(a) != StaticOptimizer(b)
        assert StaticOptimizer(a) == StaticOptimizer(a)
        assert hash(StaticOptimizer(a)) == hash(StaticOptimizer(a))
        assert fingerprint(a) is None


def test_an_optimizer_built_under_jit_with_a_traced_rate_is_unkeyable():
    seen = {}

    @jax.jit
    def f(rate):
        seen["key"] = structural_key(optax.sgd(rate))
        seen["static"] = StaticOptimizer(optax.sgd(rate))
        return rate

    f(0.1)
    assert seen["key"] is None
    assert seen["static"].key is None


def test_static_memoises_the_key_per_live_object_and_never_keeps_it_alive(monkeypatch):
    walks = {"n": 0}
    walk = optimizers.structural_key

    def counting(optimizer):
        walks["n"] += 1
        return walk(optimizer)

    monkeypatch.setattr(optimizers, "structural_key", counting)
    opt = optax.adam(1e-2)
    assert static(opt) == static(opt) == static(optax.adam(1e-2))
    assert walks["n"] == 2  # opt once, the rebuilt one once
    marker = (id(opt.init), id(opt.update))
    assert marker in optimizers._KEYS
    ref = optimizers._KEYS[marker][1]
    del opt
    gc.collect()
    assert ref() is None  # the memo did not keep the optimizer alive
    assert marker not in optimizers._KEYS
    unkeyable = optax.scale(np.zeros(optimizers.MAX_ARRAY_SIZE + 1, np.float32))
    assert static(unkeyable).key is None and static(unkeyable).key is None
    assert static(unkeyable) == static(unkeyable)


def test_a_recursive_closure_is_keyed():
    def make(scale):
        def schedule(count):
            return scale if count is None else schedule(None)

        return optax.sgd(schedule)

    assert structural_key(make(0.1)) == structural_key(make(0.1))
    assert structural_key(make(0.1)) != structural_key(make(0.2))


def test_rate_injected_is_one_transformation_per_factory():
    a, name = optimizers.rate_injected(optax.adam)
    b, _ = optimizers.rate_injected(optax.adam)
    assert name == "learning_rate" and a is b
    with pytest.raises(TypeError, match="first argument"):
        optimizers.rate_injected(lambda: optax.sgd(0.1))


@pytest.mark.slow
def test_fingerprint_is_the_same_in_another_process():
    code = (
        "import optax; from jaxmlp.optimizers import fingerprint; "
        "print(fingerprint(optax.chain(optax.clip(1.0), optax.adam(0.01))))"
    )
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == fingerprint(optax.chain(optax.clip(1.0), optax.adam(0.01)))


def test_the_command_line_offers_every_named_optimizer():
    from jaxmlp import cli

    assert cli.OPTIMIZERS == optimizers.NAMES
    assert all(callable(optimizers.by_name(name)) for name in optimizers.NAMES)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        optimizers.by_name("lbfgs")
