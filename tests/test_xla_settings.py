"""The suite's XLA compile settings (tests/conftest.py): fast flags, defaults where marked."""

import os

import pytest
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
