"""``import jaxmlp`` and ``import jaxmlp.sklearn`` load only what they need (a fresh Python)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# loaded on first use only: plotting, progress bars, the GPU kernels, the playground
NEVER = ["matplotlib", "tqdm", "jaxmlp.plots", "jaxmlp.playground", "jaxmlp.kernels.fused_mlp",
         "jax.experimental.pallas", "jaxmlp.cli", "jaxmlp.io"]  # fmt: skip


def imported_after(statement: str) -> dict:
    code = (
        f"import sys; {statement}\n"
        "from jax._src import xla_bridge\n"
        "import json; print(json.dumps({'modules': sorted(sys.modules),"
        " 'backends': len(xla_bridge._backends)}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def loaded(modules: list[str], names: list[str]) -> list[str]:
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


@pytest.mark.slow
def test_import_jaxmlp_loads_neither_plots_nor_scipy_nor_a_backend():
    got = imported_after("import jaxmlp")
    assert loaded(got["modules"], [*NEVER, "scipy", "sklearn", "pandas"]) == []
    assert got["backends"] == 0  # no device touched before the first call


@pytest.mark.slow
def test_import_jaxmlp_sklearn_loads_scikit_learn_but_no_plots():
    got = imported_after("import jaxmlp.sklearn")
    assert "sklearn.base" in got["modules"]
    assert loaded(got["modules"], [*NEVER, "sklearn.model_selection"]) == []
    assert got["backends"] == 0
