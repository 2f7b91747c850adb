"""Safe, atomic files for trained parameters and results.

File format (``format_version`` 1): one ``.npz`` (a zip of ``.npy`` arrays) holding

* ``__jaxmlp__``: a uint8 array, the UTF-8 bytes of a JSON object
  ``{"format": "jaxmlp.params" | "jaxmlp.results", "format_version": 1,
  "jaxmlp_version": ..., "keys": [...], "metadata": {...}}``;
* for params, ``layer_{l}.W`` (out, in) and ``layer_{l}.b`` (out,) for each Dense layer
  (``metadata`` then also records ``sizes``); for results, one entry per array.

Files are read with ``allow_pickle=False`` only, so no object arrays and no code
execution; a pickle, a truncated or corrupted file, a foreign ``.npz`` or missing
entries raise :class:`FileFormatError` (a ``ValueError``) with the path in the
message. A file written by a newer ``format_version`` is refused; a file written by
another jaxmlp version with the same ``format_version`` loads (the writer's version is
kept in the returned metadata as ``jaxmlp_version``). Writes go to a temporary file
in the same directory, then ``os.replace``: readers see the old file or the new one,
never a torn one.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jaxmlp import checkpoint, mlp

__all__ = [
    "FORMAT_VERSION",
    "FileFormatError",
    "load_params",
    "load_results",
    "save_params",
    "save_results",
]

FORMAT_VERSION = 1
"""The file format version written; newer versions are refused on load."""
HEADER = "__jaxmlp__"
PARAMS_FORMAT = "jaxmlp.params"
RESULTS_FORMAT = "jaxmlp.results"


class FileFormatError(ValueError):
    """A file that is not a readable jaxmlp file of the expected kind."""


def _library_version() -> str:
    from jaxmlp import __version__

    return __version__


def _atomic_savez(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"path must end with .npz, got {path!r}")
    checkpoint.atomic_write(path, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]


def _header(kind: str, keys: list[str], metadata: Mapping[str, Any]) -> np.ndarray:
    try:
        text = json.dumps(
            {
                "format": kind,
                "format_version": FORMAT_VERSION,
                "jaxmlp_version": _library_version(),
                "keys": keys,
                "metadata": dict(metadata),
            },
            allow_nan=False,
        )
    except (TypeError, ValueError) as e:
        raise TypeError(f"metadata must be JSON-serialisable (finite numbers): {e}") from None
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _plain_array(value, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    return array


def _read(path: str | os.PathLike, kind: str) -> tuple[dict[str, np.ndarray], dict]:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path!r}")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:1] == b"\x80":
        raise FileFormatError(
            f"{path!r} is a Python pickle, which jaxmlp never loads (it could run code)"
        )
    if magic != b"PK\x03\x04":
        raise FileFormatError(f"{path!r} is not a jaxmlp .npz file (not a zip archive)")
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise FileFormatError(f"{path!r} is truncated or corrupted: {e}") from None
    if HEADER not in arrays:
        raise FileFormatError(f"{path!r} is an .npz file but not a jaxmlp file (no {HEADER})")
    raw = arrays.pop(HEADER)
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"header has dtype {raw.dtype} and shape {raw.shape}")
        header = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(header, dict) or not isinstance(header.get("metadata"), dict):
            raise ValueError("header is not a JSON object with metadata")
    except (ValueError, UnicodeDecodeError) as e:
        raise FileFormatError(f"{path!r} has an unreadable jaxmlp header: {e}") from None
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise FileFormatError(
            f"{path!r} has format_version {version!r}; this jaxmlp "
            f"({_library_version()}) reads format_version <= {FORMAT_VERSION}: upgrade jaxmlp"
        )
    if header.get("format") != kind:
        raise FileFormatError(f"{path!r} holds {header.get('format')!r}, expected {kind!r}")
    keys = header.get("keys")
    missing = sorted(set(keys or ()) - set(arrays))
    if not isinstance(keys, list) or missing:
        raise FileFormatError(f"{path!r} is missing entries {missing}")
    metadata = dict(header["metadata"])
    metadata["jaxmlp_version"] = header.get("jaxmlp_version")
    return {k: arrays[k] for k in keys}, metadata


def save_params(path: str | os.PathLike, params: mlp.Params, **metadata: Any) -> None:
    """Writes a network's parameters atomically to an ``.npz`` file.

    Args:
      path: destination ending in ``.npz``; parent directories are created.
      params: tuple of Dense layers, W (out, in) and b (out,).
      **metadata: JSON-serialisable extras, e.g. ``activation="tanh"``; ``sizes``
        is added.

    >>> import tempfile, os
    >>> params = mlp.init_mlp(jax.random.key(0), (2, 3, 1))
    >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
    >>> save_params(path, params, activation="sigmoid")
    >>> load_params(path)[1]["sizes"]
    [2, 3, 1]
    """
    if not isinstance(params, (tuple, list)) or not all(
        isinstance(layer, mlp.Dense) for layer in params
    ):
        raise TypeError(f"params must be a tuple of Dense layers, got {type(params).__name__}")
    arrays: dict[str, np.ndarray] = {}
    for i, layer in enumerate(params):
        arrays[f"layer_{i}.W"] = _plain_array(jax.device_get(layer.W), f"params[{i}].W")
        arrays[f"layer_{i}.b"] = _plain_array(jax.device_get(layer.b), f"params[{i}].b")
    sizes = [int(params[0].W.shape[1])] + [int(layer.W.shape[0]) for layer in params]
    meta = {**metadata, "sizes": sizes}
    arrays[HEADER] = _header(PARAMS_FORMAT, [k for k in arrays], meta)
    _atomic_savez(path, arrays)


def load_params(path: str | os.PathLike) -> tuple[mlp.Params, dict]:
    """Reads a file written by :func:`save_params`, never unpickling anything.

    Returns:
      ``(params, metadata)``: params as a tuple of Dense of jax arrays (the saved
      dtypes), metadata the saved dict plus ``sizes`` and ``jaxmlp_version`` (the
      writer's version).

    Raises:
      FileNotFoundError: no file at ``path``.
      FileFormatError: a pickle, a truncated/corrupted/foreign file, missing
        entries, inconsistent shapes or a newer format version.
    """
    arrays, metadata = _read(path, PARAMS_FORMAT)
    layers = []
    for i in range(len(arrays) // 2):
        try:
            W, b = arrays[f"layer_{i}.W"], arrays[f"layer_{i}.b"]
        except KeyError:
            raise FileFormatError(f"{os.fspath(path)!r} is missing layer {i}") from None
        layers.append(mlp.Dense(W=jax.numpy.asarray(W), b=jax.numpy.asarray(b)))
    sizes = [int(layers[0].W.shape[1])] + [int(layer.W.shape[0]) for layer in layers]
    shapes_ok = all(
        layer.W.ndim == 2 and layer.b.shape == (layer.W.shape[0],) for layer in layers
    ) and all(layers[i + 1].W.shape[1] == layers[i].W.shape[0] for i in range(len(layers) - 1))
    if not layers or not shapes_ok or metadata.get("sizes") != sizes:
        raise FileFormatError(
            f"{os.fspath(path)!r} has inconsistent layer shapes: metadata sizes "
            f"{metadata.get('sizes')}, arrays {[tuple(layer.W.shape) for layer in layers]}"
        )
    return tuple(layers), metadata


def save_results(path: str | os.PathLike, arrays: Mapping[str, Any], **metadata: Any) -> None:
    """Writes a dict of numeric arrays plus JSON metadata atomically to an ``.npz`` file.

    Args:
      path: destination ending in ``.npz``.
      arrays: name -> numeric array (any shape); names must not start with ``__``.
      **metadata: JSON-serialisable extras (settings, seeds, ...).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "r.npz")
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
    out[HEADER] = _header(RESULTS_FORMAT, list(arrays), metadata)
    _atomic_savez(path, out)


def load_results(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Reads a file written by :func:`save_results`.

    Returns:
      ``(arrays, metadata)``: a dict of NumPy arrays and the saved metadata plus
      ``jaxmlp_version``.

    Raises:
      FileNotFoundError, FileFormatError: as :func:`load_params`.
    """
    return _read(path, RESULTS_FORMAT)
