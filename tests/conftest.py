"""Shared test configuration: strict broadcasting, shared data, jit/no-jit fixture."""

from __future__ import annotations

import os

import jax
import matplotlib
import pytest

matplotlib.use("Agg")
jax.config.update("jax_numpy_rank_promotion", "raise")

if os.environ.get("JAX_ENABLE_X64"):
    jax.config.update("jax_enable_x64", True)


@pytest.fixture(scope="session")
def circles_data():
    """The post's data set: 200 points, radii 3 and 1, noise 0.05."""
    import jaxmlp

    return jaxmlp.datasets.circles(jax.random.key(0), 200)


@pytest.fixture(params=["jit", "nojit"])
def maybe_jit(request):
    """Wraps a function in ``jax.jit`` or leaves it as is."""
    if request.param == "jit":
        return jax.jit
    return lambda f, **kwargs: f
