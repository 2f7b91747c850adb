"""The suite's compile settings: those users get (no XLA flags of its own); the map guard."""

import os

import pytest
from _plugins.memory_maps import memory_maps, release_programs_near_the_map_limit


def test_the_suite_sets_no_xla_flags():
    """The programs compile with jaxmlp's own per-program choices, as users' do."""
    assert "JAXMLP_TEST_XLA" not in os.environ
    for flag in ("--xla_backend_optimization_level", "--xla_cpu_use_fusion_emitters"):
        assert flag not in os.environ.get("XLA_FLAGS", "")


def test_compiled_programs_are_released_near_the_map_limit():
    counts = memory_maps()
    if counts is None:
        pytest.skip("this system has no /proc/self/maps")
    assert 0 < counts[0] < counts[1]
    cleared = []
    assert not release_programs_near_the_map_limit(share=1.0, clear=lambda: cleared.append(1))
    assert release_programs_near_the_map_limit(share=0.0, clear=lambda: cleared.append(1))
    assert cleared == [1]  # once: over the share only
