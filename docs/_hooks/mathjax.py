"""A mkdocs hook: the site ships its own MathJax, so its formulas render without a network.

MathJax 3 comes from the docs extra's ``django-static-mathjax`` (MathJax's release files as
a Python package; Django itself is not needed: only the files are read). The hook adds the
files that the browser's ``tex-mml-chtml.js`` loads, directly or on demand, to the site under
``javascripts/mathjax/``: the component itself, TeX extensions (loaded by ``\\require`` and
by macros such as ``\\boldsymbol``), the CommonHTML fonts, the menu and its accessibility
parts, and MathJax's licence.
"""

from __future__ import annotations

from importlib import metadata

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

DISTRIBUTION = "django-static-mathjax"
PACKAGED = "mathjax/static/mathjax/"  # MathJax's release inside the distribution
SITE = "javascripts/mathjax/"  # where the pages load it from (mkdocs.yml's extra_javascript)
SHIPPED = (
    "es5/tex-mml-chtml.js",
    "es5/input/tex/extensions/",
    "es5/output/chtml/",
    "es5/a11y/",
    "es5/ui/",
    "es5/sre/",
    "LICENSE",
)


def mathjax_files() -> dict[str, str]:
    """The shipped files: path in the site (under ``javascripts/mathjax/``, ``es5/`` dropped)
    -> absolute path of the installed file."""
    try:
        files = metadata.files(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        raise PluginError(
            f"the docs' MathJax comes from the {DISTRIBUTION} package, which is not installed: "
            "python -m pip install -e '.[docs]'"
        ) from None
    shipped = {}
    for file in files:
        name = str(file)
        if not name.startswith(PACKAGED):
            continue
        inner = name[len(PACKAGED) :]
        if any(inner == s or (s.endswith("/") and inner.startswith(s)) for s in SHIPPED):
            shipped[SITE + inner.removeprefix("es5/")] = str(file.locate())
    if SITE + "tex-mml-chtml.js" not in shipped:
        raise PluginError(f"{DISTRIBUTION} has no es5/tex-mml-chtml.js: not MathJax 3?")
    return shipped


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    for uri, path in mathjax_files().items():
        files.append(File.generated(config, uri, abs_src_path=path))
    return files
