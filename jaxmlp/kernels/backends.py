"""Choosing between the XLA implementation and the fused Pallas kernels."""

from __future__ import annotations

import jax

BACKENDS = ("auto", "xla", "pallas")
"""The accepted ``backend`` names of ``train`` and ``sweep``."""
# Platforms where "auto" picks the Pallas kernels. They are written for Pallas'
# Triton backend (GPU); Mosaic TPU wants other block shapes, so TPU stays on XLA.
PALLAS_PLATFORMS = ("gpu", "cuda", "rocm")


def resolve_backend(backend: str, *, platform: str | None = None) -> str:
    """``"xla"`` or ``"pallas"`` for a backend name.

    ``"auto"`` picks ``"pallas"`` on GPU and ``"xla"`` elsewhere: on the CPU
    Pallas kernels only run in the (slow) interpreter, and the kernels target
    Pallas' Triton (GPU) backend, not Mosaic TPU.

    Args:
      backend: ``"auto"``, ``"xla"`` or ``"pallas"``.
      platform: the platform to decide for; None: ``jax.default_backend()``.

    Raises:
      ValueError: for an unknown name.

    >>> resolve_backend("auto", platform="cpu")
    'xla'
    >>> resolve_backend("auto", platform="gpu")
    'pallas'
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend != "auto":
        return backend
    platform = jax.default_backend() if platform is None else platform
    return "pallas" if platform in PALLAS_PLATFORMS else "xla"
