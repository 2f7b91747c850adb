"""The suite's XLA compile settings (tests/conftest.py): fast flags, defaults where marked."""

import os

import pytest
from _plugins.memory_maps import memory_maps, release_programs_near_the_map_limit
from conftest import FAST_XLA_FLAGS


def test_the_run_has_decided_its_compile_settings():
    setting = os.environ["JAXMLP_TEST_XLA"]
    assert setting in ("fast", "default")
    assert (FAST_XLA_FLAGS in os.environ.get("XLA_FLAGS", "")) == (setting == "fast")


@pytest.mark.slow
@pytest.mark.xla_defaults
def test_a_marked_test_runs_with_xlas_defaults():
    """In a fast run this body runs in a pytest subprocess, where the flags are absent."""
    assert os.environ["JAXMLP_TEST_XLA"] == "default"
    assert "--xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", "")


def test_compiled_programs_are_released_near_the_map_limit():
    counts = memory_maps()
    if counts is None:
        pytest.skip("this system has no /proc/self/maps")
    assert 0 < counts[0] < counts[1]
    cleared = []
    assert not release_programs_near_the_map_limit(share=1.0, clear=lambda: cleared.append(1))
    assert release_programs_near_the_map_limit(share=0.0, clear=lambda: cleared.append(1))
    assert cleared == [1]  # once: over the share only
