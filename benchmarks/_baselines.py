"""The post's training loop in NumPy: the baseline that bench.py and bench_latency.py time."""

from __future__ import annotations

import numpy as np


def numpy_loop(params, X, y, *, learning_rate: float, steps: int) -> np.ndarray:
    """The post's formulas (P1-P4) in batch matrix form, one NumPy step per iteration.

    Args:
      params: ((W1 (h, d), b1 (h,)), (W2 (1, h), b2 (1,))) as float32 NumPy arrays.
      X: (n, d) float32; y: (n,) in {0, 1}.

    Returns:
      (steps,) the loss before each update, as ``jaxmlp.train`` reports it.
    """
    (W1, b1), (W2, b2) = [(np.array(W), np.array(b)) for W, b in params]
    X = np.asarray(X, np.float32)
    y = np.asarray(y, np.float32)
    n = X.shape[0]
    losses = np.empty(steps, np.float32)
    for i in range(steps):
        h = 1.0 / (1.0 + np.exp(-(X @ W1.T + b1)))  # hidden layer
        s2 = (h @ W2.T + b2)[:, 0]
        y_hat = 1.0 / (1.0 + np.exp(-s2))
        losses[i] = np.mean(np.logaddexp(0.0, s2) - y * s2)  # BCE, stably
        delta2 = (y_hat - y)[:, None]  # (P1)
        dW2, db2 = delta2.T @ h / n, delta2.mean(axis=0)  # (P2)
        delta1 = (delta2 @ W2) * (1.0 - h) * h  # (P3)
        dW1, db1 = delta1.T @ X / n, delta1.mean(axis=0)  # (P4)
        W1 -= learning_rate * dW1
        b1 -= learning_rate * db1
        W2 -= learning_rate * dW2
        b2 -= learning_rate * db2
    return losses
