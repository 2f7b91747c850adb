"""Multi-host sweep: two processes on localhost (CPU, 2 devices each) run one jaxmlp.sweep.

``jax.distributed.initialize`` joins the processes; ``jaxmlp.sweep`` shards the bin
axis over the 4 global devices and gathers the results on every process. Process 0
then compares them with a single-process run of the same sweep. Usage::

    python experiments/sweep_multihost.py --out out/multihost   # both processes, then the check

Writes ``multihost.safetensors`` (process 0's results) to ``--out``. Exit status 0 when
the two-process results equal the one-process ones (to 1e-6). The grid is already small:
``--quick`` changes nothing. The two processes run on the CPU, whatever JAX sees in this one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

GRID = dict(widths=(2, 3), activations=("tanh", "relu"), seeds=(0, 1, 2, 3), steps=8)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def worker(process_id: int, port: int) -> None:
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    address = f"localhost:{port}"
    jax.distributed.initialize(coordinator_address=address, num_processes=2, process_id=process_id)
    import optax

    import jaxmlp
    from jaxmlp import compilation_cache, io

    compilation_cache.enable()  # JAXMLP_NO_CACHE=1 turns it off
    X, y = jaxmlp.datasets.circles(jax.random.key(0), 40)
    r = jaxmlp.sweep(X, y, optimizer=optax.adam(0.05), **GRID)
    print(f"process {process_id}: {jax.device_count()} devices, {jax.local_device_count()} local")
    if process_id == 0:
        arrays = {"final_loss": r.final_loss, "loss": r.loss}
        io.save_results(os.environ["SWEEP_MULTIHOST_OUT"], arrays)  # safetensors, no pickle
    jax.distributed.shutdown()


def main(argv: list[str] | None = None) -> int:
    from _common import study_args

    args = study_args(__doc__, argv, out="out/multihost")
    args.out.mkdir(parents=True, exist_ok=True)
    return _run(str(args.out / "multihost.safetensors"))


def _run(out: str) -> int:
    """Starts both processes (process 0 writes its results to ``out``), then compares."""
    import numpy as np

    port = _free_port()
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2"
    # the caller's XLA flags kept: both sides compile alike
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu", SWEEP_MULTIHOST_OUT=out)
    argv = [sys.executable, __file__, "--worker"]
    procs = [subprocess.Popen([*argv, str(i), str(port)], env=env) for i in range(2)]
    codes = [p.wait(timeout=600) for p in procs]
    if any(codes):
        print("worker exit codes", codes)
        return 1
    import jax
    import optax

    import jaxmlp
    from jaxmlp import io

    X, y = jaxmlp.datasets.circles(jax.random.key(0), 40)
    single = jaxmlp.sweep(X, y, optimizer=optax.adam(0.05), **GRID)
    multi, _ = io.load_results(out)
    diff = max(float(np.abs(multi["final_loss"] - single.final_loss).max()),
               float(np.abs(multi["loss"] - single.loss).max()))  # fmt: skip
    print(f"max |two-process - one-process| = {diff:.2e}")
    return 0 if diff <= 1e-6 else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(main())
