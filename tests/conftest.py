"""Shared test configuration: strict broadcasting, shared data, jit/no-jit.

The plugins in ``tests/_plugins/`` do one job each: the memory-map guard, experiment loading.
"""

from __future__ import annotations

import os

import jax
import matplotlib
import pytest

pytest_plugins = ["_plugins.memory_maps", "_plugins.scripts"]

# No XLA flags of its own: the suite compiles with the settings users get, jaxmlp's per-program
# choices (jaxmlp/compile_options.py, docs/performance.md "Compile settings").

matplotlib.use("Agg")
jax.config.update("jax_numpy_rank_promotion", "raise")

if os.environ.get("JAX_ENABLE_X64"):
    jax.config.update("jax_enable_x64", True)

# Experiment scripts turn on JAX's persistent compilation cache in main(); tests
# call main() in-process and in subprocesses, and must neither change jax.config
# halfway through a session nor write to the user's cache directory.
os.environ.setdefault("JAXMLP_NO_CACHE", "1")


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
