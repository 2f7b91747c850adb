"""Where lines and planes of the network meet the box a figure shows (NumPy only).

A unit ``w . x + b = 0`` of the first layer is a line across the input plane; the
output unit of a 3-unit hidden layer is a plane through the hidden cube. The still
figures, the animations and the playground all draw them with these functions.
"""

from __future__ import annotations

import numpy as np

from jaxmlp import activations as _activations


def line_through_box(w, b: float, limits) -> tuple[np.ndarray, np.ndarray]:
    """The two end points of the line ``w . x + b = 0`` across a box.

    Solves for the steeper coordinate, so a near-vertical line stays finite.

    Args:
      w: (2,) the unit's weights (not both zero).
      b: its bias.
      limits: ``((x0, x1), (y0, y1))`` of the box.

    Returns:
      ``(xs, ys)``, each (2,).

    >>> xs, ys = line_through_box(np.array([1.0, 1.0]), -1.5, ((0, 1), (0, 1)))
    >>> xs.tolist(), ys.tolist()
    ([0, 1], [1.5, 0.5])
    """
    (x0, x1), (y0, y1) = limits
    if abs(w[1]) >= abs(w[0]):
        xs = np.array([x0, x1])
        return xs, -(w[0] * xs + b) / w[1]
    ys = np.array([y0, y1])
    return -(w[1] * ys + b) / w[0], ys


def plane_in_box(w, b: float, lo, hi) -> np.ndarray:
    """The polygon where the plane ``w . h + b = 0`` cuts the box ``[lo, hi]``.

    Args:
      w: (3,) the output unit's weights (not all zero).
      b: its bias.
      lo, hi: (3,) the box's lower and upper corners.

    Returns:
      The polygon's vertices (k, 3) in order around it, k in 3..6; (0, 3) when the
      plane misses the box.

    >>> plane_in_box(np.ones(3), -1.5, np.zeros(3), np.ones(3)).shape
    (6, 3)
    >>> plane_in_box(np.ones(3), 10.0, np.zeros(3), np.ones(3)).shape
    (0, 3)
    """
    w = np.asarray(w, dtype=np.float64)
    corners = np.array(
        [
            [
                lo[0] if i & 1 == 0 else hi[0],
                lo[1] if i & 2 == 0 else hi[1],
                lo[2] if i & 4 == 0 else hi[2],
            ]
            for i in range(8)
        ]
    )
    values = corners @ w + b
    points = []
    for i in range(8):
        for bit in (1, 2, 4):
            j = i | bit
            if j == i:
                continue
            vi, vj = values[i], values[j]
            if (vi < 0) != (vj < 0) or vi == 0:
                t = vi / (vi - vj) if vi != vj else 0.0
                points.append(corners[i] + t * (corners[j] - corners[i]))
    if len(points) < 3:
        return np.zeros((0, 3))
    vertices = np.unique(np.round(np.array(points), 12), axis=0)
    centre = vertices.mean(axis=0)
    normal = w / np.linalg.norm(w)
    u = np.cross(normal, [1.0, 0.0, 0.0])
    if np.linalg.norm(u) < 1e-6:
        u = np.cross(normal, [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    rel = vertices - centre
    return vertices[np.argsort(np.arctan2(rel @ v, rel @ u))]


def hidden_box(H, activation: str | _activations.Activation) -> tuple[tuple, tuple]:
    """A fixed box for the hidden space: the unit cube for sigmoid, else the data's range.

    Args:
      H: (..., k) hidden activations (any leading axes: frames, points).
      activation: the hidden layer's activation (a name or an Activation).

    Returns:
      ``(lo, hi)``, each k floats (padded by 4% of the widest range).

    >>> hidden_box(np.zeros((5, 3)), "sigmoid")
    ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    >>> lo, hi = hidden_box(np.array([[0.0, 0.0], [1.0, 2.0]]), "relu")
    >>> [round(v, 2) for v in lo], [round(v, 2) for v in hi]
    ([-0.08, -0.08], [1.08, 2.08])
    """
    if _activations.get(activation).name == "sigmoid":
        k = np.shape(H)[-1]
        return (0.0,) * k, (1.0,) * k
    H = np.asarray(H)
    axes = tuple(range(H.ndim - 1))
    lo, hi = H.min(axis=axes), H.max(axis=axes)
    pad = 0.04 * max(float((hi - lo).max()), 1e-6)
    return tuple(float(v) for v in lo - pad), tuple(float(v) for v in hi + pad)
