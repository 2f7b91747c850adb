"""Shared test configuration: XLA flags, strict broadcasting, shared data, jit/no-jit.

The plugins in ``tests/_plugins/`` do one job each: the memory-map guard, experiment loading.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import jax
import matplotlib
import pytest

pytest_plugins = ["_plugins.memory_maps", "_plugins.scripts"]

# --- XLA's compile settings for the test run ----------------------------------------------------
# The suite compiles thousands of small programs and runs few long ones: on 2 CPU cores about
# nine tenths of its time is XLA:CPU compiling. LLVM at -O0 and the per-op emitters compile
# 2-3x faster and run the suite's programs as fast (docs/performance.md, "The test suite").
# Set before JAX starts its backend; subprocesses of tests inherit them. A test that asserts
# agreement to float32 rounding between two differently compiled programs depends on the
# optimization level users get: it is marked ``xla_defaults`` and runs in a pytest subprocess
# with XLA's defaults. ``JAXMLP_TEST_XLA=default`` runs the whole suite with the defaults.
# One LLVM module per program instead of 32 split for parallel codegen: the same code, ~10%
# less compile CPU, and two busy workers leave no core for the parallel parts anyway.
FAST_XLA_FLAGS = (
    "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
    " --xla_cpu_parallel_codegen_split_count=1"
)


def _fast_xla_flags_apply() -> bool:
    """Whether to add FAST_XLA_FLAGS: not opted out, and this XLA parses them (an unknown flag
    in XLA_FLAGS aborts the process, so a later XLA is probed once in a child)."""
    setting = os.environ.get("JAXMLP_TEST_XLA", "")
    if setting in ("default", "fast"):  # decided (a pytest worker inherits the decision)
        return setting == "fast"
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import jax.numpy as jnp; jnp.zeros(1).block_until_ready()"],
            env={**os.environ, "XLA_FLAGS": FAST_XLA_FLAGS, "JAX_PLATFORMS": "cpu"},
            capture_output=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


if _fast_xla_flags_apply():
    os.environ["JAXMLP_TEST_XLA"] = "fast"
    if FAST_XLA_FLAGS not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_XLA_FLAGS}".strip()
else:
    os.environ["JAXMLP_TEST_XLA"] = "default"


def xla_default_env() -> dict[str, str]:
    """``os.environ`` for a child that runs with XLA's default compile settings."""
    flags = os.environ.get("XLA_FLAGS", "").replace(FAST_XLA_FLAGS, "").strip()
    env = {**os.environ, "JAXMLP_TEST_XLA": "default", "XLA_FLAGS": flags}
    if not flags:
        del env["XLA_FLAGS"]
    return env


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Runs an ``xla_defaults`` test in a pytest subprocess with XLA's defaults."""
    if os.environ["JAXMLP_TEST_XLA"] != "fast" or not pyfuncitem.get_closest_marker("xla_defaults"):
        return None
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
         pyfuncitem.nodeid],
        cwd=pyfuncitem.config.rootpath,
        env=xla_default_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    if done.returncode != 0 or not re.search(r"^1 passed\b", done.stdout, re.MULTILINE):
        pytest.fail(f"with XLA's default flags:\n{done.stdout[-4000:]}{done.stderr[-2000:]}")
    return True


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
