"""Figures of the post, as matplotlib Figures (no pyplot state; safe headless).

Imported explicitly (``from jaxmlp import plots``) so that ``import jaxmlp``
stays free of matplotlib. One kind of figure per module: :mod:`~jaxmlp.plots.static`
(still figures of the post), :mod:`~jaxmlp.plots.animation` (the training
animation, GIFs), :mod:`~jaxmlp.plots.unit_maps` (per-unit maps) and
:mod:`~jaxmlp.plots.network` (the network graph). Shared palette and helpers:
:mod:`jaxmlp.plots.style`; lines and planes cut by a figure's box (NumPy only):
:mod:`jaxmlp.plots.geometry`.
"""

from jaxmlp.plots import animation, geometry, network, style, unit_maps
from jaxmlp.plots.animation import save_gif, training_animation
from jaxmlp.plots.network import network_graph
from jaxmlp.plots.static import (
    boundary_grid,
    data_scatter,
    decision_regions,
    hidden_projection,
    linear_boundaries,
    loss_curves,
)
from jaxmlp.plots.unit_maps import hidden_unit_maps, hidden_units_animation

__all__ = [
    "animation",
    "boundary_grid",
    "data_scatter",
    "decision_regions",
    "geometry",
    "hidden_projection",
    "hidden_unit_maps",
    "hidden_units_animation",
    "linear_boundaries",
    "loss_curves",
    "network",
    "network_graph",
    "save_gif",
    "style",
    "training_animation",
    "unit_maps",
]
