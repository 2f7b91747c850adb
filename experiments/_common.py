"""Helpers shared by the studies, so that no script imports another: their flags
(:func:`study_config`: ``--out``, ``--quick``, the device printed), the sweeps' grid, data and
flags, and the files they write (:func:`write_record`, :func:`write_results`). Scripts import
``jaxmlp`` and this module only; it sits beside them (on ``sys.path`` when a script runs).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import pathlib

import jax
import numpy as np

import jaxmlp
from jaxmlp import compilation_cache

# The sweep experiments' grid: 10 widths x 4 activations x 8 seeds = 320 MLPs.
GRID = {
    "widths": tuple(range(5, 51, 5)),
    "activations": ("sigmoid", "tanh", "relu", "leaky_relu"),
    "seeds": tuple(range(8)),
}

# --------------------------------------------------------------------------- flags


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
    devices = jax.devices()
    print(f"device: {jax.default_backend()}: {len(devices)} x {devices[0].device_kind}", flush=True)
    compilation_cache.enable()  # JAXMLP_NO_CACHE=1 turns it off
    return args


# --------------------------------------------------------------------------- data


def make_data(name: str, cfg):
    """``(X, X_test, y, y_test)``: ``cfg.n_points`` of circles or spirals, split.

    ``cfg`` is a script's Config with ``n_points``, ``data_seed``,
    ``split_seed`` and ``test_fraction``; the same values give the same points
    and split in every script.
    """
    ds = jaxmlp.datasets
    make, noise = (ds.circles, 0.3) if name == "circles" else (ds.spirals, 0.05)
    X, y = make(jax.random.key(cfg.data_seed), cfg.n_points, noise=noise)
    split = jax.random.key(cfg.split_seed)
    return jaxmlp.datasets.train_test_split(split, X, y, test_fraction=cfg.test_fraction)


def study_config(doc: str, argv, *, out: str, config, quick: dict, extra=None):
    """``(flags, cfg)``: :func:`study_args`' flags (and ``extra(parser)``'s) and the study's
    Config, made of ``quick``'s overrides with ``--quick``, then of every flag whose ``dest``
    is a field of ``config`` (unless None)."""
    args = study_args(doc, argv, out=out, extra=extra)
    fields = {f.name for f in dataclasses.fields(config)}
    given = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    return args, config(**((dict(quick) if args.quick else {}) | given))


def sweep_flags(parser: argparse.ArgumentParser) -> None:
    """The sweep studies' ``--steps``, ``--seeds`` (a count) and ``--progress``."""
    parser.add_argument("--steps", type=int, help="training steps")
    parser.add_argument("--seeds", type=lambda n: tuple(range(int(n))), help="a count")
    parser.add_argument("--progress", action="store_true")


# --------------------------------------------------------------------------- results

FIELDS = {"final_loss": float, "train_accuracy": float, "test_loss": float,
          "test_accuracy": float, "diverged_at": int}  # fmt: skip


def sweep_rows(r, **columns) -> list[dict]:
    """One row per model of a ``jaxmlp.sweep`` result: ``columns`` (e.g. the data set), its
    width, activation, seed (and learning rate, where the sweep has rates) and numbers."""
    axes = {"width": r.widths, "activation": r.activations, "seed": r.seeds}
    if r.learning_rates is not None:
        axes["learning_rate"] = r.learning_rates
    return [
        columns
        | {name: values[i] for (name, values), i in zip(axes.items(), index, strict=True)}
        | {field: kind(getattr(r, field)[index]) for field, kind in FIELDS.items()}
        for index in np.ndindex(*(len(values) for values in axes.values()))
    ]


def table(columns, rows) -> list[str]:
    """A Markdown table's lines: the first column and every other right-aligned."""
    lines = ["| " + " | ".join(map(str, columns)) + " |", "|" + "---:|" * len(columns)]
    return lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]


def write_record(path: pathlib.Path, cfg, results: dict) -> dict:
    """Writes ``{"config": cfg as a dict, **results}`` to ``path`` as JSON; returns it."""
    record = {"config": dataclasses.asdict(cfg), **results}
    path.write_text(json.dumps(record, indent=2, allow_nan=False))
    return record


def write_results(out, cfg, results: dict, report: list[str], rows: list[dict]) -> None:
    """A sweep study's files: ``out/results.json`` (:func:`write_record`), ``out/results.csv``
    (``rows``: one per model) and ``out/report.md`` (the lines ``report``, printed too)."""
    out = pathlib.Path(out)
    write_record(out / "results.json", cfg, results)
    write_csv(rows, out / "results.csv")
    (out / "report.md").write_text("\n".join(report))
    print("\n".join(report))


def write_csv(rows: list[dict], path: str) -> None:
    """One CSV row per dict of ``rows`` (all with the same keys, which name the columns)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
