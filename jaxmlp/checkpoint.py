"""Atomic writes, and pickle-free checkpoints of a pytree of arrays (used by :mod:`jaxmlp.sweep`).

A checkpoint is one safetensors file (:mod:`jaxmlp._safetensors`): the leaves as
``leaf_0000``, ``leaf_0001``, ... and, in its ``__metadata__``, the format tag
``"jaxmlp.checkpoint"`` and ``meta`` (a JSON-able dict the caller matches on
load). A ``.json`` sidecar with the same ``meta`` is written next to it for
people to read. Any damage to the file raises
:class:`~jaxmlp._safetensors.FileFormatError` naming it.

Atomic writes (:func:`atomic_write`): the new content goes to an anonymous
file in the target's directory (Linux ``O_TMPFILE``: it has no name, so a
process killed while writing leaves nothing behind), is fsynced, linked under a
temporary name ``<target>.<host>.<pid>.<random>.jaxmlp-tmp`` and renamed over
the target with ``os.replace``; readers see the old file or the whole new one.
Where ``O_TMPFILE`` is missing the temporary file is created under that name
directly. A process killed between creating and renaming such a name leaves it
behind; the next write of the same target removes those of dead processes of
this host. The new file keeps the permission bits of the file it replaces (a
new file gets ``0o666`` less the umask, as ``open`` would).
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import socket
from typing import Any

import jax
import numpy as np

from jaxmlp import _safetensors
from jaxmlp._regular_files import check_destination, open_for_reading
from jaxmlp._safetensors import FileFormatError

KIND = "jaxmlp.checkpoint"
FORMAT_VERSION = 1
TEMP_SUFFIX = ".jaxmlp-tmp"


def _temp_name(path: str) -> str:
    return f"{path}.{socket.gethostname()}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}"


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. another user's process: alive
        return False
    return False


def remove_stale_temps(path: str) -> list[str]:
    """Removes temporary files of ``path`` left by killed writers of this host; returns them.

    >>> remove_stale_temps("/nonexistent/x.safetensors")
    []
    """
    host, removed = socket.gethostname(), []
    for name in glob.glob(glob.escape(path) + ".*" + TEMP_SUFFIX):
        parts = name[len(path) + 1 : -len(TEMP_SUFFIX)].rsplit(".", 2)
        if len(parts) == 3 and parts[0] == host and parts[1].isdigit() and _dead(int(parts[1])):
            try:
                os.remove(name)
                removed.append(name)
            except FileNotFoundError:  # another writer cleaned it first
                pass
    return removed


def _mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return None


def _write_fd(fd: int, write, mode: int | None) -> None:
    with os.fdopen(fd, "wb", closefd=False) as f:
        write(f)
        f.flush()
    if mode is not None:
        os.fchmod(fd, mode)
    os.fsync(fd)


def _anonymous(directory: str) -> int | None:
    """An unnamed file in ``directory`` (Linux O_TMPFILE), or None where unsupported."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY, 0o666)
    except OSError:  # a file system without O_TMPFILE
        return None


def _link(fd: int, directory: str, name: str) -> None:
    """Gives the unnamed file ``fd`` the ``name`` (linkat with AT_SYMLINK_FOLLOW).

    ``os.link`` calls plain ``link()`` (which does not follow the /proc symlink)
    unless a dir fd is given: the directory's fd only switches it to ``linkat``.
    """
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.link(f"/proc/self/fd/{fd}", name, src_dir_fd=dir_fd, follow_symlinks=True)
    finally:
        os.close(dir_fd)


def atomic_write(path: str | os.PathLike, write) -> None:
    """Calls ``write(file)`` on a new file, fsyncs it, then renames it to ``path``.

    Raises ``ValueError`` first when ``path`` exists and is not a regular file (a
    device, FIFO, socket or directory, after symlinks): renaming over it would replace
    it.

    Readers see the old file or the whole new one, never a part; on any error,
    and on a kill while ``write`` runs, no temporary file is left (see the module
    doc for the one short window where one can be, and its clean-up).

    >>> import tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> import pathlib
    >>> atomic_write(p, lambda f: f.write(b"hi")); pathlib.Path(p).read_bytes()
    b'hi'
    """
    path = os.fspath(path)
    check_destination(path)  # os.replace would put a regular file in place of a device or FIFO
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    remove_stale_temps(path)
    mode, tmp = _mode(path), _temp_name(path)
    fd = _anonymous(directory)
    try:
        if fd is not None:
            _write_fd(fd, write, mode)
            _link(fd, directory, tmp)
        else:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            _write_fd(fd, write, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    finally:
        if fd is not None:
            os.close(fd)
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def save(path: str, tree: Any, meta: dict) -> None:
    """Writes the leaves of ``tree`` (numpy-convertible) and ``meta`` (JSON-able) atomically.

    >>> import tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "ck.safetensors")
    >>> save(p, (np.ones(2), {"a": np.zeros(3)}), {"step": 5})
    >>> load(p)[1]["step"]
    5
    """
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]
    arrays = {f"leaf_{i:04d}": leaf for i, leaf in enumerate(leaves)}
    blob = _safetensors.jaxmlp_bytes(KIND, FORMAT_VERSION, arrays, {"meta": meta})
    atomic_write(path, lambda f: f.write(blob))
    text = json.dumps(meta, sort_keys=True, allow_nan=False)
    atomic_write(path + ".json", lambda f: f.write(text.encode()))


def load(path: str) -> tuple[list[np.ndarray], dict]:
    """Reads a checkpoint written by :func:`save`: ``(leaves, meta)``; never unpickles.

    Raises:
      FileNotFoundError: no file at ``path``.
      FileFormatError: anything else wrong with the file, naming it.
    """
    path = os.fspath(path)
    with open_for_reading(path) as f:  # a FIFO is refused, not waited on
        magic = f.read(4)
    if magic == b"PK\x03\x04":
        raise FileFormatError(
            f"{path!r} is a checkpoint in jaxmlp 0.1's .npz format, which is not read "
            "any more: delete it and run the sweep again"
        )
    arrays, fields = _safetensors.read_jaxmlp(path, KIND, FORMAT_VERSION, ("meta",))
    meta = fields.get("meta")
    names = [f"leaf_{i:04d}" for i in range(len(arrays))]
    if not isinstance(meta, dict) or list(arrays) != names:
        raise FileFormatError(f"{path!r} is a damaged checkpoint (meta or leaf names)")
    return list(arrays.values()), meta
