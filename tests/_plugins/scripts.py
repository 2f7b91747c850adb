"""Fixtures that import a script of ``experiments/`` or ``benchmarks/`` as a module."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _loader(folder: pathlib.Path):
    """``load(name)`` imports ``folder/<name>.py``; the folder is on ``sys.path`` meanwhile.

    The scripts import their folder's helpers (``_common.py``, ``_harness.py``), so the
    folder is on ``sys.path`` for the session; each module is registered in
    ``sys.modules`` while loaded (dataclasses look their module up there).
    """
    added = str(folder) not in sys.path
    if added:
        sys.path.insert(0, str(folder))
    names = []

    def load(name: str):
        spec = importlib.util.spec_from_file_location(
            f"{folder.name}_{name}", folder / f"{name}.py"
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
        sys.path.remove(str(folder))


@pytest.fixture(scope="session")
def load_experiment():
    """``load_experiment(name)`` imports ``experiments/<name>.py`` as a module."""
    yield from _loader(ROOT / "experiments")


@pytest.fixture(scope="session")
def load_benchmark():
    """``load_benchmark(name)`` imports ``benchmarks/<name>.py`` as a module."""
    yield from _loader(ROOT / "benchmarks")
