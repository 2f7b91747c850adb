"""The same seed gives bit-identical parameters on the CPU in two separate processes."""

import os
import subprocess
import sys

SCRIPT = """
import hashlib, jax, numpy as np, optax, jaxmlp
X, y = jaxmlp.datasets.circles(jax.random.key(0), 128)
params = jaxmlp.init_mlp(jax.random.key(7), (2, 8, 8, 1))
r = jaxmlp.train(params, X, y, activation="tanh", optimizer=optax.adam(0.01), steps=60,
                 batch_size=32, key=jax.random.key(1))
def digest(tree):
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        h.update(np.asarray(leaf).tobytes())
    return h.hexdigest()
print(digest(r.params), digest(params), float(r.loss[0]), float(r.loss[-1]))
"""


def _run():
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_same_seed_bit_identical_params_across_processes():
    first, second = _run(), _run()
    assert first == second  # sha256 of every parameter's bytes, and the losses
    assert first[0] != first[1]  # the trained params differ from the init ...
    assert float(first[3]) < float(first[2])  # ... and the loss went down
