"""Shared test configuration: strict broadcasting, shared data, jit/no-jit, experiment loading."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import sys

import jax
import matplotlib
import pytest

matplotlib.use("Agg")
jax.config.update("jax_numpy_rank_promotion", "raise")

if os.environ.get("JAX_ENABLE_X64"):
    jax.config.update("jax_enable_x64", True)

# Experiment scripts turn on JAX's persistent compilation cache in main(); tests
# call main() in-process and in subprocesses, and must neither change jax.config
# halfway through a session nor write to the user's cache directory.
os.environ.setdefault("JAXMLP_NO_CACHE", "1")

EXPERIMENTS = pathlib.Path(__file__).resolve().parents[1] / "experiments"


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


@pytest.fixture(scope="session")
def load_experiment():
    """``load_experiment(name)`` imports ``experiments/<name>.py`` as a module.

    The scripts import their shared helpers (``experiments/_common.py``), so the
    folder is on ``sys.path`` for the session; each module is registered in
    ``sys.modules`` while loaded (dataclasses look their module up there).
    """
    added = str(EXPERIMENTS) not in sys.path
    if added:
        sys.path.insert(0, str(EXPERIMENTS))
    names = []

    def load(name: str):
        spec = importlib.util.spec_from_file_location(
            f"experiments_{name}", EXPERIMENTS / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        names.append(spec.name)
        return module

    yield load
    for name in names:
        sys.modules.pop(name, None)
    if added:
        sys.path.remove(str(EXPERIMENTS))
