"""Figures of the post, as matplotlib Figures (no pyplot state; safe headless).

Imported explicitly (``from jaxmlp import plots``) so that ``import jaxmlp``
stays free of matplotlib. Shared palette and helpers: :mod:`jaxmlp.plots.style`.
"""

from jaxmlp.plots import animation, style
from jaxmlp.plots.animation import (
    hidden_unit_maps,
    hidden_units_animation,
    network_graph,
    save_gif,
    training_animation,
)
from jaxmlp.plots.static import (
    boundary_grid,
    data_scatter,
    decision_regions,
    hidden_projection,
    linear_boundaries,
    loss_curves,
)

__all__ = [
    "animation",
    "boundary_grid",
    "data_scatter",
    "decision_regions",
    "hidden_projection",
    "hidden_unit_maps",
    "hidden_units_animation",
    "linear_boundaries",
    "loss_curves",
    "network_graph",
    "save_gif",
    "style",
    "training_animation",
]
