"""The playground's data: a generated set or an uploaded CSV, split as ``jaxmlp train`` does."""

from __future__ import annotations

import functools
import io
from typing import NamedTuple

import jax
import numpy as np

from jaxmlp import datasets
from jaxmlp.playground.features import input_features
from jaxmlp.playground.settings import GENERATED, MAX_POINTS, Settings, default_noise


class Problem(NamedTuple):
    """A split data set: X_* (n_*, 2) float32, y_* (n_*,) int32 in {0, 1}."""

    X_train: jax.Array
    X_test: jax.Array
    y_train: jax.Array
    y_test: jax.Array


def parse_csv(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``x1, x2, label`` (an optional header line) -> X (n, 2) float32, y (n,) int32.

    The label column may hold any two distinct numbers; the smaller is class 0.

    Raises:
      ValueError: naming the CSV and what is wrong with it.

    >>> X, y = parse_csv("x1,x2,label\\n0,0,-1\\n1,1,1\\n0,1,1\\n1,0,-1\\n")
    >>> X.shape, y.tolist()
    ((4, 2), [0, 1, 1, 0])
    """
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if lines:
        try:
            [float(v) for v in lines[0].split(",")]
        except ValueError:
            lines = lines[1:]  # a header
    try:
        table = np.loadtxt(io.StringIO("\n".join(lines)), delimiter=",", ndmin=2)
    except ValueError as e:
        raise ValueError(f"csv: every row must be three numbers x1, x2, label ({e})") from None
    if table.shape[1:] != (3,):
        raise ValueError(f"csv: rows must have three columns x1, x2, label; got {table.shape[1]}")
    if not 4 <= table.shape[0] <= MAX_POINTS:
        raise ValueError(f"csv: need 4 to {MAX_POINTS} rows, got {table.shape[0]}")
    if not np.all(np.isfinite(table)):
        raise ValueError("csv: every value must be a finite number")
    if np.max(np.abs(table[:, :2])) > np.finfo(np.float32).max:
        raise ValueError("csv: x1 and x2 must fit float32 (at most about 3.4e38 in size)")
    labels = np.unique(table[:, 2])
    if labels.size != 2:
        raise ValueError(f"csv: the label column must hold two classes, got {labels.size}")
    return table[:, :2].astype(np.float32), (table[:, 2] == labels[1]).astype(np.int32)


@functools.lru_cache(maxsize=8)
def _problem(key: tuple) -> Problem:
    dataset, n, noise, test_fraction, seed, csv_text = key
    keys = datasets.run_keys(seed)
    if dataset in GENERATED:
        spread = "std" if dataset == "blobs" else "noise"
        options = {} if noise == default_noise(dataset) else {spread: noise}
        X, y = getattr(datasets, dataset)(jax.random.key(keys.data), n, **options)
    else:
        X, y = parse_csv(csv_text)
    X_train, X_test, y_train, y_test = datasets.train_test_split(
        jax.random.key(keys.split), X, y, test_fraction=test_fraction
    )
    return Problem(X_train, X_test, y_train, y_test)


def make_problem(settings: Settings) -> Problem:
    """The data of ``settings``, drawn and split with ``datasets.run_keys`` as ``jaxmlp train``.

    Cached by the data fields, so a change of network or optimizer keeps the points.

    >>> p = make_problem(Settings(n=40))
    >>> p.X_train.shape, p.X_test.shape
    ((30, 2), (10, 2))
    """
    return _problem(settings.data_key())


@functools.lru_cache(maxsize=8)
def _inputs(key: tuple, features: tuple[str, ...]) -> Problem:
    p = _problem(key)
    return p._replace(
        X_train=input_features(p.X_train, features), X_test=input_features(p.X_test, features)
    )


def make_inputs(settings: Settings) -> Problem:
    """The data of ``settings`` as the network sees it: :func:`make_problem` with X_*
    (n_*, len(features)) the input features of its points (``features.input_features``).

    >>> make_inputs(Settings(n=40, features=("x1^2", "x2^2", "x1*x2"))).X_train.shape
    (30, 3)
    """
    return _inputs(settings.data_key(), settings.features)
