"""Helpers shared by the experiment scripts, so that no script imports another.

* Flags: :func:`study_args`, every study's ``--out`` and ``--quick``; it prints the
  device JAX runs on (CPU, GPU or TPU: whatever JAX sees; ``JAX_PLATFORMS`` picks).
* Timing: :func:`time_calls` and :func:`interleaved` (alternating rounds, fair
  on a shared machine), and :func:`machine`, what the numbers were measured on.
* Data and grid: :data:`GRID`, the 320-model width x activation x seed grid of
  the sweep experiments, :func:`make_data`, their train/test split of
  circles or spirals, and :func:`write_csv` for their per-model results.

Scripts import ``jaxmlp`` and this module only; it sits beside them in
``experiments/`` (on ``sys.path`` when a script runs).
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import os
import pathlib
import platform
import statistics
import time
from collections.abc import Callable

import jax

import jaxmlp
from jaxmlp import compilation_cache

# The sweep experiments' grid: 10 widths x 4 activations x 8 seeds = 320 MLPs.
GRID = {
    "widths": tuple(range(5, 51, 5)),
    "activations": ("sigmoid", "tanh", "relu", "leaky_relu"),
    "seeds": tuple(range(8)),
}

# --------------------------------------------------------------------------- flags


def device() -> str:
    """The backend and devices JAX runs on, in words."""
    devices = jax.devices()
    return f"{jax.default_backend()}: {len(devices)} x {devices[0].device_kind}"


def study_args(doc: str, argv, *, out: str, extra=None) -> argparse.Namespace:
    """Parses a study's flags: ``--out`` (default ``out``), ``--quick``, and ``extra(parser)``'s.

    Prints the device, turns on the persistent compilation cache (``JAXMLP_NO_CACHE=1``:
    off) and returns the flags, ``args.out`` a ``pathlib.Path``.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(out))
    parser.add_argument("--quick", action="store_true", help="reduced settings (smoke tests)")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    print(f"device: {device()}", flush=True)
    compilation_cache.enable()  # JAXMLP_NO_CACHE=1 turns it off
    return args


# --------------------------------------------------------------------------- data


def make_data(name: str, cfg):
    """``(X, X_test, y, y_test)``: ``cfg.n_points`` of circles or spirals, split.

    ``cfg`` is a script's Config with ``n_points``, ``data_seed``,
    ``split_seed`` and ``test_fraction``; the same values give the same points
    and split in every script.
    """
    key = jax.random.key(cfg.data_seed)
    if name == "circles":
        X, y = jaxmlp.datasets.circles(key, cfg.n_points, noise=0.3)
    else:
        X, y = jaxmlp.datasets.spirals(key, cfg.n_points, noise=0.05)
    return jaxmlp.datasets.train_test_split(
        jax.random.key(cfg.split_seed), X, y, test_fraction=cfg.test_fraction
    )


def write_csv(rows: list[dict], path: str) -> None:
    """One CSV row per dict of ``rows`` (all with the same keys, which name the columns)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# --------------------------------------------------------------------------- timing


def time_calls(fn: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """First call's wall time (compile included) and ``repeats`` later ones, in seconds."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return first, times


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, warm: int = 0
) -> dict[str, dict]:
    """First-call times, then ``repeats`` rounds that call every fn in turn (fair under load).

    In each round every fn is first called ``warm`` times untimed, then once timed:
    a steady-state time of back-to-back calls rather than of a call right after
    another library's (measured on the post's problem: ~9% faster for jaxmlp's
    3 ms run, within noise for the others).
    """
    out = {}
    for name, fn in fns.items():
        start = time.perf_counter()
        fn()
        out[name] = {"first_call_s": time.perf_counter() - start, "times_s": []}
    for _ in range(repeats):
        for name, fn in fns.items():
            for _ in range(warm):
                fn()
            start = time.perf_counter()
            fn()
            out[name]["times_s"].append(time.perf_counter() - start)
    for row in out.values():
        row["median_s"] = statistics.median(row["times_s"])
    return out


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or "unknown"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "versions": {
            p: _version(p) for p in ("jax", "jaxlib", "numpy", "optax", "scikit-learn", "torch")
        },
    }
