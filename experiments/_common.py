"""Helpers shared by the experiment scripts, so that no script imports another.

* Flags: :func:`study_args`, every study's ``--out`` and ``--quick``; it prints the
  device JAX runs on (CPU, GPU or TPU: whatever JAX sees; ``JAX_PLATFORMS`` picks).
* Data and grid: :data:`GRID`, the 320-model width x activation x seed grid of
  the sweep experiments, :func:`make_data`, their train/test split of
  circles or spirals, their flags (:func:`sweep_flags`, :func:`sweep_settings`) and
  :func:`write_csv` for their per-model results. The timers are the benchmarks'
  (``benchmarks/_harness.py``).

Scripts import ``jaxmlp`` and this module only; it sits beside them in
``experiments/`` (on ``sys.path`` when a script runs).
"""

from __future__ import annotations

import argparse
import csv
import pathlib

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


def sweep_flags(parser: argparse.ArgumentParser, config) -> None:
    """The sweep studies' ``--steps``, ``--seeds`` (a count) and ``--progress``."""
    parser.add_argument("--steps", type=int, help=f"default {config.steps}")
    parser.add_argument("--seeds", type=int, help=f"default {len(config.seeds)}")
    parser.add_argument("--progress", action="store_true")


def sweep_settings(args: argparse.Namespace, quick: dict) -> dict:
    """A sweep study's Config overrides: ``quick``'s with ``--quick``, then the flags'."""
    settings = dict(quick) if args.quick else {}
    if args.steps is not None:
        settings["steps"] = args.steps
    if args.seeds is not None:
        settings["seeds"] = tuple(range(args.seeds))
    return settings


def write_csv(rows: list[dict], path: str) -> None:
    """One CSV row per dict of ``rows`` (all with the same keys, which name the columns)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
