"""Fits a search trained in one program, served to the estimators scikit-learn's loop fits.

``jaxmlp.sklearn.GridSearchCV`` trains every (candidate, split) of a search in one
compiled program (:mod:`jaxmlp.sklearn._search`), then lets scikit-learn's own
``BaseSearchCV.fit`` run its loop of ``_fit_and_score`` calls. Each of them clones the
estimator, sets the candidate's parameters and calls ``fit(X[train], y[train])``; that
``fit`` asks :func:`restore` first, which finds the fit trained for the same
parameters and the same data (a digest of ``X``, ``y`` and ``sample_weight``) and
copies its fitted attributes (and replays its warnings and ``verbose`` lines). A fit
that is not there (no search running, another estimator, data or parameters the
program did not train) runs as usual, so a miss is never wrong, only slower.

Nothing here is traced; the registry is a process-wide dict behind a lock, filled
only while a search's ``fit`` runs (:func:`serving`).
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import threading
import warnings
from collections.abc import Iterator
from numbers import Number
from typing import Any, NamedTuple

import numpy as np

_LOCK = threading.Lock()
_FITS: dict[tuple[str, str], list[Fitted]] = {}
_SESSIONS = [0]  # open serving() blocks; the registry is emptied when the last one closes


class Fitted(NamedTuple):
    """A fit's result: the fitted attributes, its warnings and its ``verbose`` output."""

    attributes: dict[str, Any]
    warnings: list[warnings.WarningMessage]
    printed: str


def _array_bytes(a) -> bytes | None:
    if a is None:
        return b"none"
    if hasattr(a, "toarray") or hasattr(a, "tocsr"):  # sparse: not served
        return None
    try:
        arr = np.asarray(a)
    except Exception:  # noqa: BLE001 - not an array: not served
        return None
    if arr.dtype == object:
        return None
    arr = np.ascontiguousarray(arr)
    return repr((arr.shape, arr.dtype.str)).encode() + arr.tobytes()


def digest(X, y, sample_weight) -> str | None:
    """A digest of a fit's data (None for data that is never served: sparse, object arrays).

    >>> digest(np.zeros((2, 1)), [0, 1], None) == digest(np.zeros((2, 1)), [0, 1], None)
    True
    """
    h = hashlib.blake2b(digest_size=20)
    for a in (X, y, sample_weight):
        b = _array_bytes(a)
        if b is None:
            return None
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def _plain(value) -> object:
    """A comparable form of a parameter value; raises TypeError for anything else."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Number):
        return (type(value).__name__, value)
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(_plain(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(_plain(k)), _plain(v)) for k, v in value.items())))
    raise TypeError(f"not a plain parameter value: {value!r}")


def params_key(params: dict) -> str | None:
    """A key of an estimator's parameters, or None if one is not a plain value (a RandomState).

    >>> params_key({"alpha": 1e-4, "hidden_layer_sizes": (3,)}) is not None
    True
    """
    try:
        return repr(sorted((name, _plain(v)) for name, v in params.items()))
    except TypeError:
        return None


def key_of(estimator, X, y, sample_weight, *, data: str | None = None) -> tuple[str, str] | None:
    """The registry's key of ``estimator.fit(X, y, sample_weight)``, or None (never served).

    ``data``: the data's :func:`digest` if the caller has it already (a search's fits
    share their split's data).
    """
    data = digest(X, y, sample_weight) if data is None else data
    params = params_key(estimator.get_params(deep=False))
    return None if data is None or params is None else (data, params)


@contextlib.contextmanager
def serving() -> Iterator[None]:
    """While open, :func:`offer` stores fits; on closing the last block they are dropped."""
    with _LOCK:
        _SESSIONS[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            _SESSIONS[0] -= 1
            if _SESSIONS[0] == 0:
                _FITS.clear()


def offer(key: tuple[str, str], fitted: Fitted) -> None:
    """Stores a fit under ``key`` (inside :func:`serving`; ignored outside)."""
    with _LOCK:
        if _SESSIONS[0]:
            _FITS.setdefault(key, []).append(fitted)


def restore(estimator, X, y, sample_weight) -> bool:
    """Gives ``estimator`` the stored fit of (its parameters, this data) if there is one.

    Called by ``fit`` first; costs one dict lookup when no search is running.
    """
    if not _FITS:
        return False
    key = key_of(estimator, X, y, sample_weight)
    if key is None:
        return False
    with _LOCK:
        found = _FITS.get(key)
        if not found:
            return False
        fitted = found.pop()
    for name, value in fitted.attributes.items():
        setattr(estimator, name, value)
    for w in fitted.warnings:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if fitted.printed:
        sys.stdout.write(fitted.printed)
    return True
