"""Fused Pallas kernels for the MLP, with the post's explicit gradients inside.

- :func:`fused_forward`: logits, all layers fused per block of rows.
- :func:`fused_loss_and_grads`: loss and the post's gradients in one kernel.
- :func:`loss_and_fused_grads`: the same without input checks, for traced loops (as
  :func:`jaxmlp.backprop.loss_and_manual_grads`).
- :func:`fused_loss`: the mean loss whose ``jax.grad`` runs that kernel (``custom_vjp``).
- :func:`fused_train`: many small models, the whole gradient-descent loop in one kernel.
- :func:`resolve_backend`: ``"auto"`` -> ``"pallas"`` on GPU, ``"xla"`` elsewhere.

The library's one naming rule: a public function checks its arguments and raises a
ValueError/TypeError naming the bad one, unless its docstring says "No input
checks" (a building block for traced loops, named for what it computes).

On GPU the kernels compile with Pallas' Triton backend; on CPU they run in
Pallas interpret mode, which is correct but slow and meant for tests.

Pallas is imported on first use of a kernel (PEP 562 ``__getattr__``), so
``resolve_backend`` and ``import jaxmlp`` stay cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from jaxmlp.kernels.backends import BACKENDS, resolve_backend

if TYPE_CHECKING:
    from jaxmlp.kernels.fused_mlp import (
        fused_forward,
        fused_loss,
        fused_loss_and_grads,
        loss_and_fused_grads,
    )
    from jaxmlp.kernels.fused_training import FusedTrainResult, fused_train

_LAZY = {
    "fused_forward": "fused_mlp",
    "fused_loss": "fused_mlp",
    "fused_loss_and_grads": "fused_mlp",
    "loss_and_fused_grads": "fused_mlp",
    "FusedTrainResult": "fused_training",
    "fused_train": "fused_training",
}

__all__ = [
    "BACKENDS",
    "FusedTrainResult",
    "fused_forward",
    "fused_loss",
    "fused_loss_and_grads",
    "fused_train",
    "loss_and_fused_grads",
    "resolve_backend",
]


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(f"jaxmlp.kernels.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'jaxmlp.kernels' has no attribute {name!r}")
