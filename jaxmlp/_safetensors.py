"""A small, strict reader and writer of the safetensors format, with NumPy arrays.

The format (https://huggingface.co/docs/safetensors): 8 bytes, the little-endian
length ``N`` of a JSON header; ``N`` bytes of UTF-8 JSON
``{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
"__metadata__": {str: str}}``; then the raw little-endian bytes of every array,
back to back, no compression. Files written here load with the ``safetensors``
package and the other way round (tests/test_io.py checks both ways).

Why not the ``safetensors`` package itself: the whole format is the ~150 lines
below, which also give jaxmlp's errors (:class:`FileFormatError` naming the
file); the package is a compiled extension jaxmlp would depend on for that.

What the reader refuses before it reads any array byte: a file whose 9th byte (the
header's first) is not ``{`` (not a safetensors file: a text file, say), a header longer
than :data:`MAX_HEADER_BYTES` or longer than the file, JSON that is not an object of
well-formed entries (duplicate names, unknown dtypes, negative or non-int
shapes or offsets, more than :data:`MAX_NDIM` dimensions), offsets that do not
tile the data section exactly, and a byte count that does not match the shape.
Memory use is bounded by the file's size: nothing is inflated.

Integrity: jaxmlp writes a CRC-32 of the whole file (computed with the
checksum's own digits as zeros) into ``__metadata__["crc32"]``; the reader
checks it when present, so a flipped bit anywhere (header, metadata or data) is
refused instead of loading as other numbers. Files without it (written by the
safetensors package) load unchecked.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

MAX_HEADER_BYTES = 2**23  # 8 MiB of JSON: ~100 000 arrays; the safetensors package allows 100 MB
MAX_NDIM = 32  # NumPy's own limit on dimensions (64 since NumPy 2; 32 is plenty here)
_MAX_ARRAY_BYTES = int(np.iinfo(np.intp).max)  # NumPy's bound on shape x itemsize
METADATA = "__metadata__"
CRC = "crc32"
_CRC_ZERO = json.dumps("0" * 8)


def _crc_field(value: str) -> bytes:
    """The bytes of the checksum entry in the header: ``"crc32":"\\"1a2b3c4d\\""``."""
    return json.dumps({CRC: value}, separators=(",", ":")).encode()[1:-1]


DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype("<u1"),
    "I8": np.dtype("<i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype(jnp.bfloat16),  # ml_dtypes' bfloat16, as JAX uses it
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
_NAMES = {(dtype.kind, dtype.itemsize, dtype.name): code for code, dtype in DTYPES.items()}


class FileFormatError(ValueError):
    """A file that is not a readable jaxmlp file of the expected kind."""


def dtype_code(dtype: np.dtype) -> str | None:
    """The safetensors name of a NumPy dtype (``"F32"``), or None if it has none.

    >>> dtype_code(np.dtype(np.float32)), dtype_code(np.dtype(np.complex64))
    ('F32', None)
    """
    dtype = np.dtype(dtype)
    return _NAMES.get((dtype.kind, dtype.itemsize, dtype.newbyteorder("=").name))


def encode(
    arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str], *, checksum: bool = False
) -> bytes:
    """The bytes of a safetensors file holding ``arrays`` (in order) and ``metadata``.

    Args:
      arrays: name -> array of a dtype :func:`dtype_code` knows.
      metadata: str -> str, stored as ``__metadata__``.
      checksum: also store the file's CRC-32 as ``metadata["crc32"]``.

    >>> blob = encode({"a": np.arange(3, dtype=np.int32)}, {"kind": "demo"})
    >>> n = int.from_bytes(blob[:8], "little")
    >>> decode_header(blob[8 : 8 + n], len(blob) - 8 - n, "x")[0]
    {'a': (dtype('int32'), (3,), 0, 12)}
    """
    header: dict[str, object] = {METADATA: {**metadata, **({CRC: _CRC_ZERO} if checksum else {})}}
    chunks, offset = [], 0
    for name, array in arrays.items():
        code = dtype_code(array.dtype)
        if code is None:
            raise TypeError(
                f"arrays[{name!r}] has dtype {array.dtype}, which has no safetensors code"
            )
        if array.ndim > MAX_NDIM:
            raise ValueError(
                f"arrays[{name!r}] has {array.ndim} dimensions; files hold at most "
                f"MAX_NDIM = {MAX_NDIM}"
            )
        data = np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()
        header[name] = {
            "dtype": code,
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data section 8-byte aligned, as the package does
    if len(text) > MAX_HEADER_BYTES:  # what the reader refuses, the writer refuses first
        raise ValueError(
            f"the arrays' names and the metadata make a header of {len(text)} bytes; files are "
            f"limited to MAX_HEADER_BYTES = {MAX_HEADER_BYTES}: use fewer arrays or less metadata"
        )
    blob = struct.pack("<Q", len(text)) + text + b"".join(chunks)
    if checksum:
        crc = json.dumps(f"{zlib.crc32(blob):08x}")
        blob = blob.replace(_crc_field(_CRC_ZERO), _crc_field(crc), 1)
    return blob


def _check_crc(path: str, prefix: bytes, raw: bytes, data: bytearray, value: str) -> None:
    field = _crc_field(value)
    try:
        text = json.loads(value)
        expected = int(text, 16)
    except (ValueError, TypeError):
        expected = None
    # exactly the digits jaxmlp writes: "1C45c3b1" (a flipped case bit) is damage too
    if expected is None or text != f"{expected:08x}" or raw.count(field) != 1:
        raise FileFormatError(f"{path!r} has a damaged checksum entry")
    crc = zlib.crc32(
        data, zlib.crc32(raw.replace(field, _crc_field(_CRC_ZERO)), zlib.crc32(prefix))
    )
    if crc != expected:
        raise FileFormatError(
            f"{path!r} is corrupted: its CRC-32 is {crc:08x}, the file says {expected:08x}"
        )


def _entry(name: str, value: object, data_size: int) -> tuple[np.dtype, tuple[int, ...], int, int]:
    if not isinstance(value, dict) or set(value) != {"dtype", "shape", "data_offsets"}:
        raise ValueError(f"entry {name!r} must have exactly dtype, shape and data_offsets")
    dtype = DTYPES.get(value["dtype"]) if isinstance(value["dtype"], str) else None
    if dtype is None:
        raise ValueError(f"entry {name!r} has unknown dtype {value['dtype']!r}")
    shape, offsets = value["shape"], value["data_offsets"]
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(type(s) is int and s >= 0 for s in shape)
        or math.prod(max(s, 1) for s in shape) * dtype.itemsize > _MAX_ARRAY_BYTES
    ):  # NumPy refuses such a shape even when a zero makes it empty
        raise ValueError(f"entry {name!r} has a bad shape {shape!r}")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(type(o) is int for o in offsets)
        and 0 <= offsets[0] <= offsets[1] <= data_size
    ):
        raise ValueError(f"entry {name!r} has offsets {offsets!r} outside the data ({data_size} B)")
    if math.prod(shape) * dtype.itemsize != offsets[1] - offsets[0]:
        raise ValueError(
            f"entry {name!r}: shape {shape} of {value['dtype']} needs "
            f"{math.prod(shape) * dtype.itemsize} bytes, offsets span {offsets[1] - offsets[0]}"
        )
    return dtype, tuple(shape), offsets[0], offsets[1]


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate names in the header: {sorted(keys)[:5]}")
    return dict(pairs)


def decode_header(
    raw: bytes, data_size: int, path: str
) -> tuple[dict[str, tuple[np.dtype, tuple[int, ...], int, int]], dict[str, str]]:
    """Parses and checks a header: ``({name: (dtype, shape, begin, end)}, metadata)``.

    Raises FileFormatError naming ``path`` unless the entries tile ``data_size`` bytes.
    """
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        metadata = header.pop(METADATA, {})
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise ValueError("__metadata__ must map strings to strings")
        entries = {name: _entry(name, value, data_size) for name, value in header.items()}
        end = 0
        for name, (_, _, begin, stop) in sorted(entries.items(), key=lambda e: e[1][2:]):
            if begin != end:
                raise ValueError(f"entry {name!r} starts at {begin}, expected {end}")
            end = stop
        if end != data_size:
            raise ValueError(f"the entries cover {end} of the {data_size} data bytes")
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise FileFormatError(f"{path!r} has a corrupted safetensors header: {e}") from None
    return entries, metadata


def read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Reads a safetensors file: ``(name -> NumPy array, metadata)``; never runs code.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.safetensors"
    >>> _ = p.write_bytes(encode({"a": np.ones(2, np.float32)}, {"k": "v"}, checksum=True))
    >>> read(p)
    ({'a': array([1., 1.], dtype=float32)}, {'k': 'v'})

    Raises:
      FileFormatError: the file is not a well-formed safetensors file (see module doc).
    """
    from jaxmlp._regular_files import open_for_reading  # it imports FileFormatError from here

    path = os.fspath(path)
    with open_for_reading(path) as f:
        file_size = os.fstat(f.fileno()).st_size
        prefix = f.read(8)
        if len(prefix) < 8:
            raise FileFormatError(f"{path!r} is truncated: {file_size} bytes, no header")
        (n,) = struct.unpack("<Q", prefix)
        first = f.read(1)
        if first != b"{":  # the format's JSON header "MUST begin with a {"
            found = f"it ends after {file_size} bytes" if not first else f"byte 8 is {first!r}"
            raise FileFormatError(
                f"{path!r} is not a safetensors file: no JSON header after the 8-byte length "
                f"({found}, not '{{')"
            )
        if n < 2:  # '{}' is the shortest header
            raise FileFormatError(f"{path!r} declares a header of {n} bytes, too short for JSON")
        if n > MAX_HEADER_BYTES:
            raise FileFormatError(
                f"{path!r} declares a header of {n} bytes; headers are limited to "
                f"MAX_HEADER_BYTES = {MAX_HEADER_BYTES}"
            )
        if 8 + n > file_size:
            raise FileFormatError(
                f"{path!r} is truncated: its header declares {n} bytes, the file has "
                f"{file_size} bytes"
            )
        raw = first + f.read(n - 1)
        entries, metadata = decode_header(raw, file_size - 8 - n, path)
        data = bytearray(file_size - 8 - n)
        if f.readinto(data) != len(data):
            raise FileFormatError(f"{path!r} changed size while being read")
    if CRC in metadata:
        _check_crc(path, prefix, raw, data, metadata.pop(CRC))
    arrays = {
        name: np.frombuffer(data, dtype, math.prod(shape), begin).reshape(shape)
        for name, (dtype, shape, begin, _) in entries.items()
    }
    return arrays, metadata


def _library_version() -> str:
    from jaxmlp import __version__

    return __version__


def check_json_value(value: object, where: str) -> None:
    """Raises TypeError unless ``value`` reads back equal after a JSON round trip.

    JSON values only: ``None``, ``bool``, ``int``, finite ``float``, ``str``, ``list``
    and ``dict`` with ``str`` keys. A tuple would load back as a list and an int key
    as a str, so they are refused here rather than changed silently.

    >>> check_json_value({"sizes": [2, 3, 1], "lr": 0.5}, "metadata")
    >>> check_json_value({"a": (1, 2)}, "metadata")
    Traceback (most recent call last):
    ...
    TypeError: metadata['a'] is a tuple, which would load back as a list: pass a list
    """
    if value is None or isinstance(value, bool | str) or type(value) is int:
        return
    if type(value) is float:
        if not math.isfinite(value):
            raise TypeError(f"{where} is {value}: not JSON-serialisable (finite numbers only)")
        return
    if type(value) is list:
        for i, item in enumerate(value):
            check_json_value(item, f"{where}[{i}]")
        return
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(
                    f"{where} has the key {key!r} ({type(key).__name__}), which would load back "
                    "as a str: use str keys"
                )
            check_json_value(item, f"{where}[{key!r}]")
        return
    if type(value) is tuple:
        raise TypeError(f"{where} is a tuple, which would load back as a list: pass a list")
    raise TypeError(
        f"{where} is of type {type(value).__name__}, which is not JSON-serialisable: use None, "
        "bool, int, float, str, list or dict (NumPy scalars: call .item())"
    )


def jaxmlp_bytes(
    kind: str, version: int, arrays: Mapping[str, np.ndarray], fields: Mapping[str, object]
) -> bytes:
    """A safetensors file of one jaxmlp kind: its ``__metadata__`` holds, JSON-encoded,
    ``format`` (``kind``), ``format_version``, ``jaxmlp_version``, ``keys`` (the array
    names in order) and every entry of ``fields``.

    >>> blob = jaxmlp_bytes("demo", 1, {"a": np.zeros(2)}, {"metadata": {"x": 1}})
    >>> blob[8:40].startswith(b'{"__metadata__"')
    True
    """
    header = {
        "format": kind,
        "format_version": version,
        "jaxmlp_version": _library_version(),
        "keys": list(arrays),
        **fields,
    }
    for name, value in fields.items():
        check_json_value(value, name)
    metadata = {k: json.dumps(v, allow_nan=False) for k, v in header.items()}
    return encode(arrays, metadata, checksum=True)


def read_jaxmlp(
    path: str, kind: str, version: int, extra: tuple[str, ...] = ("metadata",)
) -> tuple[dict[str, np.ndarray], dict]:
    """Reads a file of :func:`jaxmlp_bytes`: ``(arrays in order, decoded metadata fields)``.

    Raises:
      FileFormatError: not a safetensors file of ``kind`` with ``format_version <=
        version`` whose ``keys`` name exactly its arrays, or metadata entries other
        than the standard ones and ``extra`` (a flipped bit in a name, say).
    """
    arrays, raw = read(path)
    try:
        fields = {k: json.loads(v) for k, v in raw.items()}
    except (ValueError, RecursionError) as e:
        raise FileFormatError(f"{path!r} has unreadable metadata: {e}") from None
    found = fields.get("format")
    if found != kind:
        what = "no jaxmlp format" if found is None else f"{found!r}"
        raise FileFormatError(f"{path!r} holds {what}, expected {kind!r}")
    found_version = fields.get("format_version")
    if type(found_version) is not int or not 1 <= found_version <= version:
        raise FileFormatError(
            f"{path!r} has format_version {found_version!r}; this jaxmlp "
            f"({_library_version()}) reads {kind} format_version <= {version}: upgrade jaxmlp"
        )
    unexpected = sorted(set(raw) - {"format", "format_version", "jaxmlp_version", "keys", *extra})
    if unexpected:
        raise FileFormatError(f"{path!r} has unexpected metadata entries {unexpected[:5]}")
    keys = fields.get("keys")
    if (
        not isinstance(keys, list)
        or not all(isinstance(k, str) for k in keys)
        or sorted(keys) != sorted(arrays)
    ):
        raise FileFormatError(f"{path!r}: its key list does not match its arrays")
    return {k: arrays[k] for k in keys}, fields
