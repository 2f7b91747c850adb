"""Atomic, pickle-free checkpoints of a pytree of arrays (used by :mod:`jaxmlp.sweep`).

A checkpoint is one ``.npz`` file holding the leaves (``leaf_0000``, ...), a
``__meta__`` entry with a JSON string (free-form metadata that must match on
load) and nothing else; it is read with ``allow_pickle=False``. A ``.json``
sidecar with the same metadata is written next to it for people to read. Each
file is written to a temporary name in the same directory and moved into
place with ``os.replace``, so a reader sees the old or the new file, never a
torn one.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import jax
import numpy as np

META = "__meta__"


def atomic_write(path: str, write) -> None:
    """Calls ``write(file)`` on a temp file beside ``path``, fsyncs it, then renames it to ``path``.

    Readers see the old file or the whole new one, never a part; on any error the
    temp file is removed.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save(path: str, tree: Any, meta: dict) -> None:
    """Writes the leaves of ``tree`` (numpy-convertible) and ``meta`` (JSON-able) atomically.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "ck.npz")
    >>> save(p, (np.ones(2), {"a": np.zeros(3)}), {"step": 5})
    >>> load(p)[1]["step"]
    5
    """
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]
    text = json.dumps(meta, sort_keys=True)
    arrays = {f"leaf_{i:04d}": leaf for i, leaf in enumerate(leaves)}
    arrays[META] = np.frombuffer(text.encode(), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]
    atomic_write(path + ".json", lambda f: f.write(text.encode()))


def load(path: str) -> tuple[list[np.ndarray], dict]:
    """Reads a checkpoint written by :func:`save`: ``(leaves, meta)``; never unpickles."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(data[META].tobytes().decode())
        n = sum(1 for name in data.files if name.startswith("leaf_"))
        leaves = [data[f"leaf_{i:04d}"] for i in range(n)]
    return leaves, meta
