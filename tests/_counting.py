"""Counters for the compile-count tests: XLA compilations, and traces of an activation."""

import contextlib

import jax

from jaxmlp import activations

COMPILE = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def counting_compiles():
    """Counts XLA compilations (jax.monitoring events) inside the block."""
    count = {"compiles": 0}

    def listener(name, duration, **kwargs):
        if name == COMPILE:
            count["compiles"] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield count
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def counting_sigmoid():
    """A fresh sigmoid (a new static option) that counts its traces."""
    count = {"traces": 0}

    def fn(s):
        count["traces"] += 1
        return jax.nn.sigmoid(s)

    return activations.Activation("counting_sigmoid", fn, activations.sigmoid.derivative), count
