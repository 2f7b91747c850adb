"""Every example in a docstring of the package runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import jaxmlp

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(jaxmlp.__path__, "jaxmlp.")
    if not m.name.endswith("__main__")  # importing it runs the command line
)


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.slow
def test_docstring_examples(name):
    if name.startswith("jaxmlp.sklearn"):
        pytest.importorskip("sklearn")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_examples_are_found():
    """A guard against a silently empty run: the package has examples to check."""
    finder = doctest.DocTestFinder()
    found = sum(
        len(test.examples)
        for name in ("jaxmlp.mlp", "jaxmlp.activations", "jaxmlp._sweep.plan")
        for test in finder.find(importlib.import_module(name))
    )
    assert found >= 10, found
