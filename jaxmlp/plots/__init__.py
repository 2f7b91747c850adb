"""Figures of the post, as matplotlib Figures (no pyplot state; safe headless).

Imported explicitly (``from jaxmlp import plots``) so that ``import jaxmlp``
stays free of matplotlib. Shared palette and helpers: :mod:`jaxmlp.plots.style`.
"""

from jaxmlp.plots import style
from jaxmlp.plots.static import (
    boundary_grid,
    data_scatter,
    decision_regions,
    hidden_projection,
    linear_boundaries,
    loss_curves,
)

__all__ = [
    "boundary_grid",
    "data_scatter",
    "decision_regions",
    "hidden_projection",
    "linear_boundaries",
    "loss_curves",
    "style",
]
