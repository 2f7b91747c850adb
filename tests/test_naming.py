"""The one naming rule: unchecked public building blocks say so; ``_names`` stay in their module."""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "jaxmlp"

# The modules of formulas, where a public function either checks its arguments (through
# jaxmlp.validation or a checked function) or is a building block for traced code.
FORMULA_MODULES = ("jaxmlp.mlp", "jaxmlp.losses", "jaxmlp.backprop", "jaxmlp.kernels.fused_mlp")
CHECKED_BY_A_CALLEE = {"jaxmlp.mlp.predict": "predict_proba"}


def _public_functions(name: str):
    module = importlib.import_module(name)
    for attr, value in vars(module).items():
        fn = inspect.unwrap(value) if callable(value) else value
        if attr.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != name:
            continue
        yield f"{name}.{attr}", fn


@pytest.mark.parametrize("module", FORMULA_MODULES)
def test_a_public_function_checks_its_input_or_says_it_does_not(module):
    for name, fn in _public_functions(module):
        source = inspect.getsource(fn)
        checked = "validation." in source or CHECKED_BY_A_CALLEE.get(name, "\0") in source
        assert checked or "No input checks" in (fn.__doc__ or ""), name


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _private_names_taken_from_other_modules(path: pathlib.Path) -> list[str]:
    """``from jaxmlp.x import _name`` and ``x._name`` where ``x`` is a module of jaxmlp.

    A private module imported whole (``from jaxmlp import _steps``) is fine.
    """
    tree = ast.parse(path.read_text())
    modules: dict[str, str] = {}  # local name -> dotted module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jaxmlp"):
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if _is_module(dotted):
                    modules[alias.asname or alias.name] = dotted
                elif alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.name}:{node.lineno} {dotted}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("jaxmlp"):
                    local = alias.asname or alias.name.split(".")[0]
                    modules[local] = alias.name if alias.asname else "jaxmlp"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not _is_module(f"{modules[node.value.id]}.{node.attr}")
        ):
            found.append(f"{path.name}:{node.lineno} {modules[node.value.id]}.{node.attr}")
    return found


def test_no_module_imports_a_private_name_of_another():
    found = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        for hit in _private_names_taken_from_other_modules(path)
    ]
    assert not found, found
