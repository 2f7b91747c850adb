"""The docs site, built once for the tests that read it (tests/test_docs.py checks its links,
tests/test_docs_browser.py opens it in Chromium): one ``mkdocs build --strict`` per test run,
shared by pytest-xdist's workers through a lock file."""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import subprocess
import sys
from typing import NamedTuple

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS_PACKAGES = ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_jupyter")


class Site(NamedTuple):
    path: pathlib.Path
    executed: bool  # the tutorial ran while building (its figures are on the page)
    error: str  # mkdocs's output when the build failed, else ""


def build(dest: pathlib.Path, *, executed: bool) -> str:
    """Builds the site into ``dest`` with ``mkdocs build --strict``; returns "" or, when the
    build fails, its output."""
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(dest)],
        cwd=ROOT,
        env={**os.environ, "DOCS_EXECUTE_NOTEBOOK": "true" if executed else "false"},
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if done.returncode == 0 else done.stdout + done.stderr or "mkdocs failed"


@pytest.fixture(scope="session")
def docs_site(tmp_path_factory) -> Site:
    """The built site. ``nox -s docs`` passes the one it built, with the tutorial executed, as
    ``JAXMLP_DOCS_SITE=site``; otherwise it is built here, the tutorial not executed unless
    ``DOCS_EXECUTE_NOTEBOOK=true`` (``test_tutorial_runs_top_to_bottom`` runs it)."""
    prebuilt = os.environ.get("JAXMLP_DOCS_SITE")
    if prebuilt:
        return Site(pathlib.Path(prebuilt), True, "")
    for package in DOCS_PACKAGES:
        pytest.importorskip(package, reason="the docs extra: pip install -e '.[docs]'")
    executed = os.environ.get("DOCS_EXECUTE_NOTEBOOK", "").lower() == "true"
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    record = shared / "docs-site.json"
    with open(shared / "docs-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first worker builds; the others wait, then read
        if not record.exists():
            path = shared / "docs-site"
            record.write_text(json.dumps([str(path), build(path, executed=executed)]))
    path, error = json.loads(record.read_text())
    return Site(pathlib.Path(path), executed, error)
