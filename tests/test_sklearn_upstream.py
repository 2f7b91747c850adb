"""scikit-learn's own ``neural_network/tests/test_mlp.py``, run against jaxmlp's estimators.

The installed test module's source is executed with one change: its import of
``MLPClassifier, MLPRegressor`` from ``sklearn.neural_network`` is replaced by
jaxmlp's. So a scikit-learn upgrade brings its new tests along. Tests that call
scikit-learn's private internals are skipped with the reason (listed in
docs/sklearn.md too).
"""

from __future__ import annotations

import importlib.util
import pathlib
import types

import pytest

pytest.importorskip("sklearn")

UPSTREAM_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
OUR_IMPORT = "from jaxmlp.sklearn import MLPClassifier, MLPRegressor"

# test name -> why it cannot run against another implementation
PRIVATE = {
    "test_gradient": "calls scikit-learn's private _loss_grad_lbfgs (jaxmlp's gradients are "
    "checked against jax.grad in tests/test_sklearn_backprop.py)",
    "test_mlp_loading_from_joblib_partial_fit": "reads a fitted estimator back from a pickle "
    "file (joblib); jaxmlp never reads pickle files: save est.network_params() with "
    "jaxmlp.io.save_params (tests/test_sklearn.py)",
}


def _upstream_module() -> types.ModuleType:
    spec = importlib.util.find_spec("sklearn.neural_network.tests.test_mlp")
    if spec is None or spec.origin is None:
        pytest.skip("scikit-learn's tests are not installed", allow_module_level=True)
    source = pathlib.Path(spec.origin).read_text()
    if UPSTREAM_IMPORT not in source:
        raise RuntimeError(f"{spec.origin}: the import to swap changed: {UPSTREAM_IMPORT!r}")
    module = types.ModuleType("sklearn_test_mlp_on_jaxmlp")
    module.__file__ = spec.origin
    code = compile(source.replace(UPSTREAM_IMPORT, OUR_IMPORT), spec.origin, "exec")
    exec(code, module.__dict__)  # noqa: S102 - scikit-learn's installed test source
    return module


_upstream = _upstream_module()


def _not_run(reason: str):
    """A skipped stand-in: the upstream body (e.g. its ``joblib.load`` of a pickle file) is
    dropped, not merely skipped, so nothing in this suite can read a pickle file."""

    @pytest.mark.skip(reason=reason)
    def stand_in():
        raise AssertionError("never runs")

    return stand_in


for _name, _test in vars(_upstream).items():
    if _name.startswith("test_") and callable(_test):
        if _name in PRIVATE:
            _test = _not_run(PRIVATE[_name])
        globals()[_name] = pytest.mark.slow(_test)


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture (its conftest), with its default seed."""
    return 42
