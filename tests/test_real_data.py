"""Real data: jaxmlp's MLPClassifier at least matches scikit-learn's on digits and breast cancer."""

import importlib.util
import pathlib

import pytest

pytest.importorskip("sklearn")

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "real_data.py"


def _example():
    spec = importlib.util.spec_from_file_location("real_data_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, classes, floor", [("digits", 10, 0.95), ("breast_cancer", 2, 0.93)])
def test_accuracy_at_least_sklearn(name, classes, floor):
    example = _example()
    r = example.compare(name, example.Config())  # both estimators, same split and settings
    assert r["classes"] == classes
    ours, theirs = r["jaxmlp"]["test_accuracy"], r["sklearn"]["test_accuracy"]
    assert ours >= theirs, r
    assert ours >= floor, r
