"""A hardened reader of the ``.npz`` files that jaxmlp 0.1 wrote (``format_version`` 1).

Those files are zip archives written by ``np.savez``: every member stored, not
compressed, one ``.npy`` array each, plus ``__jaxmlp__.npy`` (the UTF-8 bytes
of a JSON header listing the other members). This reader trusts none of it:

* the archive may hold at most :data:`MAX_ARCHIVE_MEMBERS` members;
* every member must be stored (``ZIP_STORED``), its declared size equal to its
  stored size and inside the file: nothing is ever inflated, so a zip bomb
  cannot cost more than the file's own size;
* only the header and the members the header lists are read, and the header
  member is at most :data:`jaxmlp._safetensors.MAX_HEADER_BYTES` long;
* each ``.npy`` header must declare a plain numeric dtype (no object, no
  pickle) whose size times the shape equals the member's remaining bytes.

Anything else raises :class:`~jaxmlp._safetensors.FileFormatError` naming the file.
"""

from __future__ import annotations

import json
import math
import os
import zipfile

import numpy as np

from jaxmlp._regular_files import open_for_reading
from jaxmlp._safetensors import MAX_HEADER_BYTES, MAX_NDIM, FileFormatError

MAGIC = b"PK\x03\x04"
HEADER = "__jaxmlp__"
MAX_ARCHIVE_MEMBERS = 4096


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with zf.open(info) as fp:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unknown .npy version {version}")
        if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
            raise ValueError(f"member {info.filename!r} has dtype {dtype}, not a numeric one")
        if len(shape) > MAX_NDIM or not all(type(s) is int and s >= 0 for s in shape):
            raise ValueError(f"member {info.filename!r} has a bad shape {shape!r}")
        size = math.prod(shape) * dtype.itemsize
        if size != info.file_size - fp.tell():
            raise ValueError(f"member {info.filename!r}: shape {shape} does not match its size")
        data = fp.read(size)
        if len(data) != size or fp.read(1):
            raise ValueError(f"member {info.filename!r} is truncated")
    return np.frombuffer(bytearray(data), dtype).reshape(shape, order="F" if fortran else "C")


def _members(zf: zipfile.ZipFile, file_size: int) -> dict[str, zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > MAX_ARCHIVE_MEMBERS:
        raise ValueError(
            f"{len(infos)} members; archives are limited to MAX_ARCHIVE_MEMBERS = "
            f"{MAX_ARCHIVE_MEMBERS}"
        )
    members = {}
    for info in infos:
        if (
            info.compress_type != zipfile.ZIP_STORED
            or info.file_size != info.compress_size
            or info.header_offset + info.compress_size > file_size
        ):
            raise ValueError(
                f"member {info.filename!r} is compressed or larger than the file "
                "(jaxmlp never wrote such members)"
            )
        if not info.filename.endswith(".npy") or info.filename[:-4] in members:
            raise ValueError(f"unexpected or duplicate member {info.filename!r}")
        members[info.filename[:-4]] = info
    return members


def read(path: str) -> tuple[dict[str, np.ndarray], dict]:
    """Reads a jaxmlp 0.1 ``.npz`` file: ``(name -> array, header dict)``.

    The header dict has ``format``, ``format_version``, ``jaxmlp_version``,
    ``keys`` and ``metadata``; the arrays are those ``keys`` name, in order.
    """
    with open_for_reading(path) as f:
        try:
            header, arrays = _read_archive(f, path)
        except FileFormatError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure to parse untrusted bytes: a bad file
            raise FileFormatError(
                f"{path!r} is not a readable jaxmlp .npz file: {type(e).__name__}: {e}"
            ) from None
    return arrays, header


def _read_archive(f, path: str) -> tuple[dict, dict[str, np.ndarray]]:
    with zipfile.ZipFile(f) as zf:
        members = _members(zf, os.fstat(f.fileno()).st_size)
        info = members.get(HEADER)
        if info is None:
            raise FileFormatError(f"{path!r} is an .npz file but not a jaxmlp file")
        if info.file_size > MAX_HEADER_BYTES:
            raise ValueError(f"header member of {info.file_size} bytes")
        raw = _member(zf, info)
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"header has dtype {raw.dtype} and shape {raw.shape}")
        header = json.loads(raw.tobytes().decode("utf-8"))
        keys = header.get("keys") if isinstance(header, dict) else None
        if not (
            isinstance(keys, list)
            and all(isinstance(k, str) and k != HEADER for k in keys)
            and isinstance(header.get("metadata"), dict)
        ):
            raise ValueError("the header is not a JSON object with keys and metadata")
        missing = sorted(set(keys) - set(members))
        if missing:
            raise ValueError(f"missing entries {missing[:5]}")
        arrays = {k: _member(zf, members[k]) for k in keys}
    return header, arrays
