"""The documentation: every public name has a docstring, the site builds with every link and
image resolving, and the tutorial notebook runs top to bottom."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import os
import pathlib
import re
import subprocess
import sys
import tomllib
import types
import urllib.parse
from html.parser import HTMLParser
from typing import NamedTuple

import pytest
from _docs_site import docs_site  # noqa: F401  (a fixture; tests/ is on sys.path under pytest)

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TUTORIAL = DOCS / "tutorial.ipynb"

# Every public module, with its API reference page (docs/api/<page>.md).
PUBLIC_MODULES = {
    "jaxmlp": "jaxmlp",
    "jaxmlp.activations": "activations",
    "jaxmlp.mlp": "mlp",
    "jaxmlp.losses": "losses",
    "jaxmlp.backprop": "backprop",
    "jaxmlp.training": "training",
    "jaxmlp.batches": "batches",
    "jaxmlp.guard": "guard",
    "jaxmlp.optimizers": "optimizers",
    "jaxmlp.compilation_cache": "compilation_cache",
    "jaxmlp.compile_options": "compile_options",
    "jaxmlp.datasets": "datasets",
    "jaxmlp.baselines": "baselines",
    "jaxmlp.io": "io",
    "jaxmlp.plots": "plots",
    "jaxmlp.kernels": "kernels",
    "jaxmlp.sklearn": "sklearn",
    "jaxmlp.playground": "playground",
    "jaxmlp.cli": "cli",
}
OPTIONAL = {"jaxmlp.sklearn": "sklearn"}  # module -> the optional package it needs


def _import(name: str) -> types.ModuleType:
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    return importlib.import_module(name)


def _generated_doc(obj: type) -> bool:
    """True for the docstring that namedtuple/dataclass write when a class has none."""
    doc = (obj.__dict__.get("__doc__") or "").strip()
    return not doc or re.fullmatch(rf"{re.escape(obj.__name__)}\(.*\)", doc) is not None


def _attribute_docstring(module: types.ModuleType, name: str, depth: int = 0) -> str | None:
    """The string literal right after ``name = ...`` in ``module``'s source, following
    ``from X import name`` re-exports (how mkdocstrings documents a module constant)."""
    tree = ast.parse(inspect.getsource(module))
    body = tree.body
    for i, node in enumerate(body):
        targets = []
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target.id]
        if name in targets:
            after = body[i + 1] if i + 1 < len(body) else None
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                return str(after.value.value)
            return None
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and depth < 3:
            if any((alias.asname or alias.name) == name for alias in node.names):
                source = importlib.import_module(node.module)
                return _attribute_docstring(source, name, depth + 1)
    return None


def docstring_of(module: types.ModuleType, name: str) -> str | None:
    obj = getattr(module, name)
    if inspect.isclass(obj):
        return None if _generated_doc(obj) else obj.__doc__
    if inspect.ismodule(obj) or inspect.isroutine(obj) or isinstance(obj, types.FunctionType):
        return obj.__doc__
    if callable(obj) and hasattr(obj, "__wrapped__"):  # functools.cache and friends
        return obj.__doc__
    return _attribute_docstring(module, name)


@pytest.mark.parametrize("module_name", sorted(PUBLIC_MODULES))
def test_every_public_name_has_a_docstring(module_name):
    module = _import(module_name)
    assert module.__doc__ and module.__doc__.strip(), f"{module_name} has no module docstring"
    names = getattr(module, "__all__", None)
    assert names, f"{module_name} has no __all__"
    missing = [n for n in names if not (docstring_of(module, n) or "").strip()]
    assert not missing, f"{module_name}: public names without a docstring: {missing}"


def test_the_docstring_check_catches_a_missing_docstring():
    module = types.ModuleType("fake", "A module.")

    def documented():
        """Has one."""

    def bare():
        pass

    class Bare(tuple):
        pass

    class Pair(NamedTuple):  # namedtuple writes "Pair(a, b)" as its docstring
        a: int
        b: int

    module.documented, module.bare, module.Bare, module.Pair = documented, bare, Bare, Pair
    assert docstring_of(module, "documented")
    assert not docstring_of(module, "bare")
    assert not docstring_of(module, "Bare")
    assert not docstring_of(module, "Pair")


@pytest.mark.parametrize("module_name", sorted(PUBLIC_MODULES))
def test_every_public_module_has_an_api_page_covering_its_names(module_name):
    page = DOCS / "api" / f"{PUBLIC_MODULES[module_name]}.md"
    assert page.is_file(), f"no API page {page}"
    text = page.read_text()
    assert re.search(rf"^::: {re.escape(module_name)}\b", text, re.M), page


# --- the built site ----------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        if tag == "a" and attrs.get("href"):
            self.links.append((tag, attrs["href"]))
        if tag == "img" and attrs.get("src"):
            self.links.append((tag, attrs["src"]))
        if tag == "link" and attrs.get("href") and attrs.get("rel") != ["canonical"]:
            self.links.append((tag, attrs["href"]))
        if tag == "script" and attrs.get("src"):
            self.links.append((tag, attrs["src"]))


def broken_links(site: pathlib.Path) -> tuple[list[str], int, int]:
    """Internal links, anchors and images of the built site that do not resolve.

    Returns (problems, pages checked, images checked). External (http) links are not
    followed; ``data:`` images (the notebook's figures) must decode to something.
    """
    site = site.resolve()  # targets are resolved paths; so must the keys of `parsed` be
    parsed = {}
    for page in site.rglob("*.html"):
        if page.name == "404.html":  # absolute links, resolved against the server's root
            continue
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        parsed[page] = parser
    problems, images = [], 0
    for page, parser in parsed.items():
        for tag, url in parser.links:
            if tag == "img":
                images += 1
            if url.startswith("data:"):
                if len(url) < 100:
                    problems.append(f"{page.relative_to(site)}: empty data URI image")
                continue
            split = urllib.parse.urlsplit(url)
            if split.scheme or url.startswith("//") or url.startswith("mailto:"):
                continue
            path = urllib.parse.unquote(split.path)
            target = page if not path else (page.parent / path).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{page.relative_to(site)}: {tag} {url} -> missing {target}")
                continue
            if split.fragment and target.suffix == ".html" and tag == "a":
                ids = parsed[target].ids if target in parsed else set()
                if urllib.parse.unquote(split.fragment) not in ids:
                    problems.append(f"{page.relative_to(site)}: anchor {url} not found")
    return problems, len(parsed), images


def undocumented_names(site: pathlib.Path) -> list[str]:
    """Names in a public module's ``__all__`` with no entry (an anchor ``module.name``, or for a
    re-export ``<defining module>.name``) on the built API pages."""
    ids = set()
    for page in (site / "api").rglob("index.html"):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        ids |= parser.ids
    missing = []
    for module_name in PUBLIC_MODULES:
        if module_name in OPTIONAL and importlib.util.find_spec(OPTIONAL[module_name]) is None:
            continue
        module = importlib.import_module(module_name)
        for name in module.__all__:
            if f"{module_name}.{name}" in ids or any(i.endswith(f".{name}") for i in ids):
                continue
            missing.append(f"{module_name}.{name}")
    return missing


def test_the_link_check_finds_a_broken_link(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text(
        '<h1 id="top">x</h1><a href="../b/">b</a><a href="#top">t</a><a href="#nope">n</a>'
        '<img src="missing.png"><a href="https://example.org">e</a>'
    )
    problems, pages, images = broken_links(tmp_path)
    assert pages == 1 and images == 1
    assert len(problems) == 3, problems  # ../b/, #nope, missing.png


@pytest.mark.slow
def test_site_builds_strict_with_every_link_and_image_resolving(docs_site):  # noqa: F811
    """Builds the site with ``mkdocs build --strict`` and checks its links, images and API
    entries. ``nox -s docs`` runs this on the site it built with the tutorial executed
    (``JAXMLP_DOCS_SITE=site``), which also checks the tutorial's figures; built here, the
    tutorial is not executed (``tests/test_docs.py::test_tutorial_runs_top_to_bottom`` runs it)
    unless ``DOCS_EXECUTE_NOTEBOOK=true``."""
    site, executed, error = docs_site
    assert not error, error
    problems, pages, images = broken_links(site)
    assert not problems, "\n".join(problems)
    assert pages >= 20
    assert not undocumented_names(site)
    tutorial = (site / "tutorial" / "index.html").read_text(encoding="utf-8")
    assert "plots.hidden_projection" in tutorial
    if executed:
        figures = tutorial.count('src="data:image/png;base64,')
        assert figures >= 12, f"the rendered tutorial shows {figures} figures"
        assert images >= figures + 4


# --- the tutorial ------------------------------------------------------------------------------


def tutorial_code() -> str:
    """The notebook's code cells, in order, as one script; IPython magics (``%...``, only
    ``%matplotlib inline``) are dropped."""
    cells = json.loads(TUTORIAL.read_text())["cells"]
    code = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return "\n".join(line for line in code.split("\n") if not line.startswith("%"))


def test_tutorial_is_stored_without_outputs():
    cells = json.loads(TUTORIAL.read_text())["cells"]
    assert sum(c["cell_type"] == "code" for c in cells) >= 15
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")


def tutorial_xla_flags(flags: str) -> str:
    """``XLA_FLAGS`` for the tutorial's process: the suite's (tests/conftest.py), with LLVM
    at -O1 where the suite compiles at -O0.

    The suite runs many small programs briefly; the tutorial runs a few long ones (its
    sweep trains 36 networks for 1000 steps). At -O0 that sweep's run took 11.5 s against
    1.4 s at -O1 and two thirds of the tutorial's time; -O1 compiles slower, but in all the
    tutorial's process used 23.6 s of CPU at -O1 against 27.4 s at -O0 (means of four
    alternating runs each; 2-core VM under load 4-7, 2026-11-29, jax 0.10.2). The
    tutorial's checks hold at any optimization level.
    """
    return flags.replace("--xla_backend_optimization_level=0", "--xla_backend_optimization_level=1")


def test_tutorial_xla_flags_raise_only_the_suites_optimization_level():
    fast = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
    assert tutorial_xla_flags(fast) == (
        "--xla_backend_optimization_level=1 --xla_cpu_use_fusion_emitters=false"
    )
    assert tutorial_xla_flags("") == ""  # XLA's defaults stay the defaults
    assert tutorial_xla_flags("--xla_dump_to=x") == "--xla_dump_to=x"


@pytest.mark.slow
def test_tutorial_runs_top_to_bottom(tmp_path):
    """Runs every code cell in one fresh Python (what CI installs is enough: no Jupyter)."""
    script = tmp_path / "tutorial.py"
    script.write_text(tutorial_code())
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    if env.get("XLA_FLAGS"):
        env["XLA_FLAGS"] = tutorial_xla_flags(env["XLA_FLAGS"])
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "circles: accuracy 0.5" in out  # logistic regression fails on the circles
    assert re.search(r"training accuracy 1\.000", out)  # the 2-3-1 network does not
    assert re.search(r"identity network: accuracy 0\.5", out)


# --- the README --------------------------------------------------------------------------------

README = ROOT / "README.md"
TEST_COMMAND = 'python -m pip install -e ".[test,sklearn]" && python -m pytest'


def test_readme_is_short_and_opens_with_the_two_commands():
    lines = README.read_text().splitlines()
    assert len(lines) <= 260, len(lines)
    first_block = "\n".join(lines[:6])
    assert "python experiments/blog.py --out out/blog" in first_block
    assert TEST_COMMAND in first_block


CHANGELOG = ROOT / "CHANGELOG.md"
RELEASE = re.compile(r"^## \[(\d+)\.(\d+)\.(\d+)\] - \d{4}-\d{2}-\d{2}$", re.M)


def test_the_version_is_defined_once_and_is_the_changelogs_newest():
    """pyproject.toml reads jaxmlp.__version__; CHANGELOG.md's newest release is that version,
    so the files jaxmlp writes (``jaxmlp_version``) and ``jaxmlp --version`` tell the truth."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "jaxmlp.__version__"}
    releases = RELEASE.findall(CHANGELOG.read_text())
    assert releases, "CHANGELOG.md has no '## [X.Y.Z] - YYYY-MM-DD' release"
    assert ".".join(releases[0]) == _import("jaxmlp").__version__
    assert releases == sorted(releases, key=lambda r: tuple(map(int, r)), reverse=True)


# "jaxmlp 0.1", "jaxmlp 0.1's", "jaxmlp 0.1.0"; not a measured "jaxmlp 0.053 s" or "0.9488"
VERSION_NAMED = re.compile(r"\bjaxmlp (\d+)\.([1-9]\d?|0)(?:\.\d+)?(?!\d)")


def test_every_jaxmlp_version_the_docs_name_is_a_release():
    """Each "jaxmlp 0.1" (the .npz files) or "jaxmlp 0.2" of the docs, the README and the
    command's help names a release of CHANGELOG.md, none after the package's own version."""
    current = tuple(map(int, _import("jaxmlp").__version__.split(".")))
    released = {tuple(map(int, r))[:2] for r in RELEASE.findall(CHANGELOG.read_text())}
    pages = [README, *DOCS.glob("*.md"), *(ROOT / "jaxmlp").rglob("*.py")]
    named = {
        (page.relative_to(ROOT), tuple(map(int, v)))
        for page in pages
        for v in VERSION_NAMED.findall(page.read_text())
    }
    assert named, "no page names a jaxmlp version"
    wrong = [(page, v) for page, v in named if v not in released or v > current[:2]]
    assert not wrong, wrong


def test_readme_table_names_every_parameter():
    """Each function of the README's Usage table is listed with all its parameters (a row
    ending in ``...`` names some only, each of them real)."""
    jaxmlp = _import("jaxmlp")
    rows = re.findall(r"^\| `(\w+)\((.*?)\)` \|", README.read_text(), re.M)
    assert len(rows) >= 8, rows
    for name, args in rows:
        listed = {a.split("=")[0].strip() for a in args.split(",")} - {"*", "..."}
        parameters = set(inspect.signature(getattr(jaxmlp, name)).parameters)
        assert listed <= parameters, (name, sorted(listed - parameters))
        if not args.endswith("..."):
            assert listed == parameters, (name, sorted(parameters - listed))


def test_readme_has_a_quick_start_before_usage():
    text = README.read_text()
    assert 0 < text.index("\n## Quick start\n") < text.index("\n## Usage\n")
    block = text.split("\n## Quick start\n")[1].split("```")[1]
    assert len(block.strip().splitlines()) == 6, block  # "bash" and five lines
    assert "jaxmlp train" in block and "pip install" in block


def test_the_docs_extra_holds_what_the_documented_docs_commands_run():
    """docs/contributing.md: ``pip install -e ".[docs]"`` and then ``nox -s docs``."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~\[; ]", r)[0] for r in extras["optional-dependencies"]["docs"]}
    assert {"nox", "mkdocs", "django-static-mathjax"} <= names, names
    text = (DOCS / "contributing.md").read_text()
    assert re.search(r'pip install -e "\.\[docs\]"\nnox -s docs ', text)


def test_ci_runs_the_readmes_test_command():
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text()


def test_readme_cites_the_post_and_its_authors_notebooks():
    text = README.read_text()
    assert (
        "*Introduction to Multilayer\nPerceptron*" in text
        or "Introduction to Multilayer Perceptron" in text
    )
    assert "https://github.com/colonialjelly/multilayer-perceptron" in text


def test_readme_links_resolve():
    links = re.findall(r"\]\(([^)\s]+)\)|src=\"([^\"]+)\"", README.read_text())
    missing = []
    for link in (a or b for a, b in links):
        if urllib.parse.urlsplit(link).scheme or link.startswith("#"):
            continue  # external, or an anchor
        target = (ROOT / urllib.parse.unquote(link.split("#")[0])).resolve()
        if not target.is_relative_to(ROOT) or not target.exists():
            missing.append(link)  # missing, or outside the repository
    assert not missing, missing


STALE = re.compile(
    r"\btoday\b|this session|last session|previous session|this VM\b|this run\b|"
    r"the issue's|this machine\b",
    re.IGNORECASE,
)


def test_no_wording_relative_to_a_session_or_a_date():
    """Docs speak to users: measurements carry a date, a machine and versions instead."""
    pages = [README, TUTORIAL, *DOCS.rglob("*.md")]
    found = [
        f"{page.relative_to(ROOT)}:{i + 1}: {line.strip()[:80]}"
        for page in pages
        for i, line in enumerate(page.read_text().splitlines())
        if STALE.search(line)
    ]
    assert not found, "\n".join(found)
