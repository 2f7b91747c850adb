"""jaxmlp.sweep sharded over 4 (forced host) CPU devices equals the 1-device run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp import io

pytestmark = pytest.mark.slow  # subprocesses, ~25 s

SCRIPT = textwrap.dedent(
    """
    import sys, jax, optax, jaxmlp
    from jaxmlp import io
    assert jax.device_count() == 4, jax.devices()
    X, y = jaxmlp.datasets.circles(jax.random.key(0), 40)
    r = jaxmlp.sweep(X, y, widths=(2, 3), activations=("tanh", "relu"), seeds=(0, 1, 2),
                     steps=8, optimizer=optax.adam(0.05))
    deep = jaxmlp.sweep(X, y, widths=(2, 3), activations=("tanh",), seeds=(0, 1), steps=4,
                        optimizer=optax.adam(0.05), depth=2)
    io.save_results(sys.argv[1], dict(
        final_loss=r.final_loss, loss=r.loss, acc=r.train_accuracy,
        W1=r.params(3, "relu", 2)[0].W, deep_loss=deep.loss,
        deep_W2=deep.params(3, "tanh", 1)[1].W))
    """
)


def test_four_devices_equal_one_device(tmp_path):
    out = str(tmp_path / "sharded.safetensors")
    # the parent's compile settings (tests/conftest.py) too: both sides compile alike
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4"
    env = dict(os.environ, XLA_FLAGS=flags.strip(), JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, out], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    X, y = jaxmlp.datasets.circles(jax.random.key(0), 40)
    r = jaxmlp.sweep(
        X, y, widths=(2, 3), activations=("tanh", "relu"), seeds=(0, 1, 2), steps=8,
        optimizer=optax.adam(0.05),
    )  # fmt: skip
    sharded, _ = io.load_results(out)
    np.testing.assert_allclose(sharded["final_loss"], r.final_loss, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sharded["loss"], r.loss, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(sharded["acc"], r.train_accuracy)
    np.testing.assert_allclose(sharded["W1"], r.params(3, "relu", 2)[0].W, rtol=1e-6)
    deep = jaxmlp.sweep(
        X, y, widths=(2, 3), activations=("tanh",), seeds=(0, 1), steps=4,
        optimizer=optax.adam(0.05), depth=2,
    )  # fmt: skip
    np.testing.assert_allclose(sharded["deep_loss"], deep.loss, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        sharded["deep_W2"], deep.params(3, "tanh", 1)[1].W, rtol=1e-6, atol=1e-7
    )


def test_two_processes_on_localhost_equal_one_process(load_experiment, capfd, tmp_path):
    """jax.distributed with two CPU processes (2 devices each): experiments/sweep_multihost.py.

    Its ``main`` runs here: it starts the two processes and compares their results with
    the same sweep run in this one (a third Python would only import JAX once more)."""
    code = load_experiment("sweep_multihost").main(["--out", str(tmp_path)])
    out, err = capfd.readouterr()
    assert code == 0, out[-2000:] + err[-2000:]
    assert "max |two-process - one-process|" in out
