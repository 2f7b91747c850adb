"""Options shared by the Pallas kernels: precision, interpret mode, argument checks, Triton.

Each public kernel checks its options here before anything is traced, so a bad
value gets a ValueError/TypeError naming the argument instead of a Triton or
XLA traceback.
"""

from __future__ import annotations

import jax
from jax import lax
from jax.experimental.pallas import triton as pltriton

PRECISIONS = {"highest": lax.Precision.HIGHEST, "default": lax.Precision.DEFAULT}
NUM_WARPS = 4  # GPU warps per program (Triton's default)


def resolve_interpret(interpret: bool | None) -> bool:
    """``interpret`` as given, or True exactly when the default backend is the CPU.

    >>> resolve_interpret(False)
    False
    """
    if interpret is None:
        return jax.default_backend() == "cpu"
    if not isinstance(interpret, bool):
        raise TypeError(f"interpret must be a bool or None, got {type(interpret).__name__}")
    return interpret


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return precision


def check_pow2(value, name: str, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or None, got {type(value).__name__}")
    if value < minimum or value & (value - 1):
        raise ValueError(f"{name} must be a power of two >= {minimum}, got {value}")
    return value


def check_warps(num_warps) -> int:
    if num_warps not in (1, 2, 4, 8, 16) or isinstance(num_warps, bool):
        raise ValueError(f"num_warps must be one of 1, 2, 4, 8, 16, got {num_warps!r}")
    return int(num_warps)


def triton_params(num_warps: int = NUM_WARPS):
    """Triton compiler parameters; passing them also selects the Triton backend
    (jax >= 0.10 otherwise defaults ``pallas_call`` on GPU to Mosaic GPU)."""
    return pltriton.CompilerParams(num_warps=num_warps, num_stages=1)
