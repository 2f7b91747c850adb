"""The ``load_experiment`` fixture: a script of ``experiments/`` imported as a module."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

EXPERIMENTS = pathlib.Path(__file__).resolve().parents[2] / "experiments"


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
