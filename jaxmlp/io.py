"""Safe, atomic files for trained parameters and results.

File format (``format_version`` 2): one safetensors file (see :mod:`jaxmlp._safetensors`
and docs/files.md) holding

* for params, ``layer_{l}.W`` (out, in) and ``layer_{l}.b`` (out,) for each Dense
  layer, floating point and finite;
* for results, one entry per array (any name, numeric dtypes);
* in its ``__metadata__`` (every value JSON-encoded): ``format``
  (``"jaxmlp.params"`` | ``"jaxmlp.results"``), ``format_version``,
  ``jaxmlp_version``, ``keys`` (the array names in order) and ``metadata`` (the
  caller's dict; for params it also records ``sizes``).

Reading never runs code and never allocates more than the file's size: a
truncated, corrupted or crafted file raises :class:`FileFormatError` (a
``ValueError``) naming the file. Files of jaxmlp 0.1 (``.npz``, ``format_version``
1) still load, through a hardened reader (:mod:`jaxmlp._legacy_npz`); ``jaxmlp
convert OLD NEW`` (or :func:`convert`) rewrites one in the current format. A file
written by a newer ``format_version`` is refused. Writes are atomic
(:func:`jaxmlp.checkpoint.atomic_write`). The path's suffix does not choose the
format: ``.safetensors`` is the recommended one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jaxmlp import _legacy_npz, _safetensors, checkpoint, mlp
from jaxmlp._regular_files import open_for_reading
from jaxmlp._safetensors import FileFormatError

FORMAT_VERSION = 2
"""The file format version written; newer versions are refused on load."""
PARAMS_FORMAT = "jaxmlp.params"
RESULTS_FORMAT = "jaxmlp.results"
RESERVED_METADATA = {PARAMS_FORMAT: {"jaxmlp_version"}, RESULTS_FORMAT: {"jaxmlp_version"}}
"""Metadata names that loading fills in; ``save_params`` also sets ``sizes`` itself."""

__all__ = [
    "FORMAT_VERSION",
    "FileFormatError",
    "convert",
    "load_params",
    "load_results",
    "save_params",
    "save_results",
]


def _write(path: str | os.PathLike, kind: str, arrays: dict, metadata: Mapping) -> None:
    reserved = sorted(set(metadata) & RESERVED_METADATA[kind])
    if reserved:
        raise ValueError(
            f"metadata {reserved[0]!r} is reserved: load adds it from the file itself, so a "
            "saved value would not load back; use another name"
        )
    blob = _safetensors.jaxmlp_bytes(kind, FORMAT_VERSION, arrays, {"metadata": dict(metadata)})
    checkpoint.atomic_write(path, lambda f: f.write(blob))


def _plain_array(value, name: str) -> np.ndarray:
    array = np.asarray(value)
    if _safetensors.dtype_code(array.dtype) is None:  # bool, ints, floats, bfloat16
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    return array


# What the files are, for the message about a file that is none of them
WHAT = {PARAMS_FORMAT: "a parameters file", RESULTS_FORMAT: "a results file"}


def _start(path: str, what: str) -> bytes:
    """The first 9 bytes of the file at ``path``, checked to begin a safetensors file or a
    jaxmlp 0.1 ``.npz``; otherwise FileFormatError saying the file is not ``what``."""
    with open_for_reading(path) as f:
        start = f.read(9)
    # A safetensors file starts with its header's length (little-endian u64, at most
    # MAX_HEADER_BYTES, so bytes 3-7 are zero) and then the JSON's "{". Its first byte is
    # the length's low byte and can be anything, 0x80 (a pickle's first byte) included.
    safetensors = len(start) == 9 and start[3:8] == bytes(5) and start[8:9] == b"{"
    if not safetensors and start[:1] == b"\x80":
        raise FileFormatError(
            f"{path!r} is a Python pickle, which jaxmlp never loads (it could run code)"
        )
    if start[:4] != _legacy_npz.MAGIC and start[8:9] != b"{":  # no JSON header follows
        found = (
            "it is empty"
            if not start
            else f"it has only {len(start)} bytes"
            if len(start) < 9
            else f"it starts with {start[:8]!r}"
        )
        raise FileFormatError(
            f"{path!r} is not {what} (neither safetensors nor jaxmlp 0.1's .npz): {found}"
        )
    return start


def _read(path: str | os.PathLike, kind: str) -> tuple[dict[str, np.ndarray], dict]:
    path = os.fspath(path)
    start = _start(path, WHAT[kind])
    if start[:4] == _legacy_npz.MAGIC:
        arrays, header = _legacy_npz.read(path)
        version = header.get("format_version")
        if header.get("format") != kind or version != 1:
            raise FileFormatError(
                f"{path!r} holds {header.get('format')!r} format_version {version!r}, "
                f"expected {kind!r} format_version 1"
            )
    else:
        arrays, header = _safetensors.read_jaxmlp(path, kind, FORMAT_VERSION)
    if not isinstance(header.get("metadata"), dict):
        raise FileFormatError(f"{path!r} has no metadata object")
    metadata = dict(header["metadata"])
    metadata["jaxmlp_version"] = header.get("jaxmlp_version")
    return arrays, metadata


def save_params(path: str | os.PathLike, params: mlp.Params, **metadata: Any) -> None:
    """Writes a network's parameters atomically to a safetensors file.

    Args:
      path: destination (``.safetensors`` recommended); parent directories are created.
      params: tuple of Dense layers, W (out, in) and b (out,), floating point and finite.
      **metadata: JSON-serialisable extras, e.g. ``activation="tanh"``; ``sizes``
        is added.

    >>> import tempfile, os
    >>> params = mlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> path = os.path.join(tempfile.mkdtemp(), "p.safetensors")
    >>> save_params(path, params, activation="sigmoid")
    >>> load_params(path)[1]["sizes"]
    [2, 3, 1]
    """
    from jaxmlp import validation

    sizes = validation.check_params(params)
    arrays: dict[str, np.ndarray] = {}
    for i, layer in enumerate(params):
        arrays[f"layer_{i}.W"] = _plain_array(jax.device_get(layer.W), f"params[{i}].W")
        arrays[f"layer_{i}.b"] = _plain_array(jax.device_get(layer.b), f"params[{i}].b")
    _write(path, PARAMS_FORMAT, arrays, {**metadata, "sizes": list(sizes)})


def _layers(path: str, arrays: dict[str, np.ndarray]) -> mlp.Params:
    n = len(arrays) // 2
    expected = [f"layer_{i}.{p}" for i in range(n) for p in "Wb"]
    if not n or sorted(arrays) != sorted(expected):
        raise FileFormatError(
            f"{path!r} must hold layer_0.W, layer_0.b, ... layer_(L-1).b, got {sorted(arrays)[:6]}"
        )
    for name, array in arrays.items():
        if array.dtype.kind != "f" and _safetensors.dtype_code(array.dtype) != "BF16":
            raise FileFormatError(f"{path!r}: {name} has dtype {array.dtype}, not floating point")
        if not np.isfinite(array.astype(np.float64)).all():
            raise FileFormatError(f"{path!r}: {name} holds NaN or inf")
    layers = [(arrays[f"layer_{i}.W"], arrays[f"layer_{i}.b"]) for i in range(n)]
    shapes_ok = all(
        W.ndim == 2 and min(W.shape) > 0 and b.shape == (W.shape[0],) for W, b in layers
    ) and all(layers[i + 1][0].shape[1] == layers[i][0].shape[0] for i in range(n - 1))
    if not shapes_ok:
        raise FileFormatError(
            f"{path!r} has inconsistent layer shapes: {[W.shape for W, _ in layers]}"
        )
    return tuple(mlp.Dense(W=jax.numpy.asarray(W), b=jax.numpy.asarray(b)) for W, b in layers)


def load_params(path: str | os.PathLike) -> tuple[mlp.Params, dict]:
    """Reads a file written by :func:`save_params` (or jaxmlp 0.1's ``.npz``), running no code.

    Returns:
      ``(params, metadata)``: params as a tuple of Dense of jax arrays (the saved
      dtypes), metadata the saved dict plus ``sizes`` and ``jaxmlp_version`` (the
      writer's version).

    Raises:
      FileNotFoundError: no file at ``path``.
      FileFormatError: a pickle, a truncated/corrupted/crafted/foreign file, missing
        entries, inconsistent shapes, non-float or non-finite weights, or a newer
        format version.
    """
    path = os.fspath(path)
    arrays, metadata = _read(path, PARAMS_FORMAT)
    params = _layers(path, arrays)
    sizes = [int(params[0].W.shape[1])] + [int(layer.W.shape[0]) for layer in params]
    if metadata.get("sizes") != sizes:
        raise FileFormatError(
            f"{path!r} has inconsistent layer shapes: metadata sizes "
            f"{metadata.get('sizes')}, arrays {sizes}"
        )
    return params, metadata


def save_results(path: str | os.PathLike, arrays: Mapping[str, Any], **metadata: Any) -> None:
    """Writes a dict of numeric arrays plus JSON metadata atomically to a safetensors file.

    Args:
      path: destination (``.safetensors`` recommended).
      arrays: name -> numeric array (any shape); names are non-empty str not
        starting with ``__`` (any other name, ``"allow_pickle"`` included, is fine).
      **metadata: JSON-serialisable extras (settings, seeds, ...).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "r.safetensors")
    >>> save_results(path, {"loss": np.array([0.7, 0.1])}, steps=2)
    >>> arrays, meta = load_results(path); arrays["loss"].tolist(), meta["steps"]
    ([0.7, 0.1], 2)
    """
    if not isinstance(arrays, Mapping):
        raise TypeError(f"arrays must be a mapping of name -> array, got {type(arrays).__name__}")
    out = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name or name.startswith("__"):
            raise ValueError(f"array names must be non-empty str not starting with '__': {name!r}")
        out[name] = _plain_array(jax.device_get(value), f"arrays[{name!r}]")
    _write(path, RESULTS_FORMAT, out, metadata)


def load_results(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Reads a file written by :func:`save_results` (or jaxmlp 0.1's ``.npz``).

    Returns:
      ``(arrays, metadata)``: a dict of NumPy arrays and the saved metadata plus
      ``jaxmlp_version``.

    Raises:
      FileNotFoundError, FileFormatError: as :func:`load_params`.
    """
    return _read(path, RESULTS_FORMAT)


def convert(source: str | os.PathLike, destination: str | os.PathLike) -> str:
    """Rewrites a params or results file (e.g. jaxmlp 0.1's ``.npz``) in the current format.

    Returns:
      The kind converted, ``"jaxmlp.params"`` or ``"jaxmlp.results"``.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> save_results(os.path.join(d, "a.safetensors"), {"x": np.ones(2)})
    >>> convert(os.path.join(d, "a.safetensors"), os.path.join(d, "b.safetensors"))
    'jaxmlp.results'
    """
    _start(os.fspath(source), "a parameters or results file")
    try:
        params, metadata = load_params(source)
    except FileFormatError as params_error:
        try:
            arrays, metadata = load_results(source)
        except FileFormatError:
            raise params_error from None
        metadata.pop("jaxmlp_version", None)
        save_results(destination, arrays, **metadata)
        return RESULTS_FORMAT
    metadata.pop("jaxmlp_version", None)
    metadata.pop("sizes", None)
    save_params(destination, params, **metadata)
    return PARAMS_FORMAT
