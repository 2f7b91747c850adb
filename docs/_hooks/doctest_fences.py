"""A griffe extension for the API pages: fences the ``>>>`` examples of docstrings and
turns Sphinx roles into inline code.

The docstrings are Google style with bare doctest examples (``tests/test_docstrings.py`` runs
them); Markdown would read ``>>>`` as nested block quotes. Each run of ``>>>``/``...`` lines
and the output lines that follow it (up to a blank line) becomes a ``pycon`` code block.
"""

from __future__ import annotations

import re

import griffe

# Sphinx roles in the docstrings (:func:`train`, :class:`~jaxmlp.mlp.Dense`) as inline code.
_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|obj|exc):`~?([^`]+)`")


def plain_roles(text: str) -> str:
    """``text`` with each Sphinx cross-reference role written as inline code.

    >>> plain_roles("see :func:`train` and :class:`~jaxmlp.mlp.Dense`")
    'see `train` and `jaxmlp.mlp.Dense`'
    """
    return _ROLE.sub(lambda m: f"`{m.group(1)}`", text)


def fence_doctests(text: str) -> str:
    """``text`` with every doctest run wrapped in a fenced ``pycon`` block.

    >>> fence_doctests("Adds.\\n\\n>>> 1 + 1\\n2")
    'Adds.\\n\\n```pycon\\n>>> 1 + 1\\n2\\n```'
    """
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
                i += 1
            out += [f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Rewrites each docstring's examples as fenced code, and its Sphinx roles as inline code,
    when its object is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(plain_roles(obj.docstring.value))
