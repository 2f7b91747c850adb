"""The docs site in headless Chromium with the network cut off: served from a local folder,
its tutorial's formulas render with the MathJax that the site ships."""

from __future__ import annotations

import functools
import http.server
import json
import pathlib
import re
import shutil
import threading
import urllib.parse

import pytest
from _docs_site import docs_site  # noqa: F401  (a fixture; tests/ is on sys.path under pytest)

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RAW_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.S)  # a formula left as its TeX


def notebook_formulas() -> int:
    """How many ``$...$`` and ``$$...$$`` formulas the tutorial's Markdown cells hold."""
    cells = json.loads((ROOT / "docs" / "tutorial.ipynb").read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return len(RAW_MATH.findall(text))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  (the base class's signature)
        pass


@pytest.fixture
def served(docs_site):  # noqa: F811  (the imported fixture)
    """The built site over HTTP on 127.0.0.1; yields its base URL."""
    site, _, error = docs_site
    assert not error, error
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_notebook_holds_formulas_to_check():
    assert notebook_formulas() >= 15


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary (Debian: apt-get install -y chromium)"
)
def test_tutorial_formulas_render_with_the_network_cut_off(served):
    """Every request off 127.0.0.1 is aborted; the tutorial's formulas still render, none is
    left as raw ``$...$``, none is a TeX error, and the page loads no script from outside."""
    playwright = pytest.importorskip("playwright.sync_api", reason="the test extra: playwright")
    blocked: list[tuple[str, str]] = []  # (resource type, url)

    def local_only(route):
        request = route.request
        if urllib.parse.urlsplit(request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append((request.resource_type, request.url))
            route.abort("internetdisconnected")

    expected = notebook_formulas()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", local_only)
            page.goto(served + "tutorial/")
            rendered = "document.querySelectorAll('.jp-MarkdownOutput mjx-container').length"
            page.wait_for_function(f"{rendered} >= {expected}", timeout=60_000)
            count = page.evaluate(rendered)
            text = page.evaluate(
                "Array.from(document.querySelectorAll('.jp-MarkdownOutput'))"
                ".map(e => e.innerText).join('\\n')"
            )
            tex_errors = page.evaluate("document.querySelectorAll('mjx-merror').length")
        finally:
            browser.close()
    assert count == expected, (count, expected)
    assert not RAW_MATH.findall(text), RAW_MATH.findall(text)[:5]
    assert tex_errors == 0
    assert not errors, errors
    assert not [url for kind, url in blocked if kind == "script"], blocked
