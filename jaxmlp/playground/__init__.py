"""``jaxmlp playground``: the post's experiment, live in the browser.

A local page (Python's standard HTTP server, Plotly for the drawing) on which a
learner changes the data, the network and the optimizer and watches jaxmlp train it.
Needs the optional extra: ``pip install "jaxmlp[playground]"``. Not imported by
``import jaxmlp``.
"""

from jaxmlp.playground.session import Playground
from jaxmlp.playground.settings import Settings, parse_settings

__all__ = ["Playground", "Settings", "parse_settings", "serve"]


def __getattr__(name: str):
    if name == "serve":
        from jaxmlp.playground.server import serve

        return serve
    raise AttributeError(name)
