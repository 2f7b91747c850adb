"""scikit-learn's own ``neural_network/tests/test_mlp.py``, run against jaxmlp's estimators.

The installed test module's source is executed with one change: its import of
``MLPClassifier, MLPRegressor`` from ``sklearn.neural_network`` is replaced by
jaxmlp's. So a scikit-learn upgrade brings its new tests along. The tests in
``NOT_COLLECTED`` are left out, each with the reason (listed in docs/sklearn.md too).
"""

from __future__ import annotations

import importlib.util
import pathlib
import types

import pytest

pytest.importorskip("sklearn")

UPSTREAM_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
OUR_IMPORT = "from jaxmlp.sklearn import MLPClassifier, MLPRegressor"

# test name -> why it is not collected here
NOT_COLLECTED = {
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


for _name, _test in vars(_upstream).items():
    if _name.startswith("test_") and callable(_test) and _name not in NOT_COLLECTED:
        globals()[_name] = pytest.mark.slow(_test)


def test_every_test_left_out_exists_upstream():
    """The list stays true: each name is still a test of scikit-learn's module."""
    assert all(callable(getattr(_upstream, name, None)) for name in NOT_COLLECTED)


@pytest.fixture
def global_random_seed():
    """scikit-learn's fixture (its conftest), with its default seed."""
    return 42
