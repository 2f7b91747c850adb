"""The playground's local web server: the page, Plotly, and a small JSON API.

Python's standard ``http.server`` (one learner on this machine needs no framework),
bound to 127.0.0.1 only. It answers only its own page:

* every request's ``Host`` must be ``127.0.0.1:PORT`` or ``localhost:PORT`` (no other
  site can reach it through DNS rebinding);
* every ``/api/`` request must carry the server's token in ``X-Jaxmlp-Token``: a random
  value drawn when the server starts and written into the page it serves (another
  site cannot read that page, and a custom header cannot be sent cross-site without a
  CORS preflight, which is refused); an ``Origin`` header, if present, must be this
  page's (``http://127.0.0.1:PORT`` or ``http://localhost:PORT``; ``null`` is refused),
  and a ``Sec-Fetch-Site`` header, if present, ``same-origin`` or ``none``. A request
  without ``Origin`` (not a browser's cross-site request) is answered when its token
  is right;
* every ``POST`` must be ``Content-Type: application/json`` (no HTML form can send that).

Bodies are framed only by a ``Content-Length`` of digits up to MAX_BODY and always read
whole first; anything else (a negative or non-integer length, ``Transfer-Encoding``)
is refused and the connection closed, so a kept-alive connection never desyncs.

Routes:

* ``GET /``: the page; ``GET /static/<file>``: its script and style, and
  ``plotly.min.js`` from the ``plotly`` package (nothing is fetched from the internet);
* ``GET /api/choices``, ``/api/data``, ``/api/frame``, ``/api/gradients``,
  ``/api/reproduce``, ``/api/params`` (the params file, a download);
* ``POST /api/settings`` (a settings object), ``/api/step`` (``{"frames": k}``),
  ``/api/reset``, ``/api/compare`` (``{"axis": "widths", "values": "2,3,8"}``).

Bad input answers 400 with ``{"error": message}``; a refused origin or token 403, a
POST of another content type 415.
"""

from __future__ import annotations

import hmac
import http.server
import importlib.resources
import json
import os
import secrets
import sys
import threading
import webbrowser
from typing import Any

from jaxmlp.playground.session import Playground

HOST = "127.0.0.1"
MAX_BODY = 4_000_000
TOKEN_HEADER = "X-Jaxmlp-Token"
TOKEN_PLACEHOLDER = b"__JAXMLP_TOKEN__"  # in index.html: the server writes its token there
STATIC = {
    "playground.js": "text/javascript; charset=utf-8",
    "playground.css": "text/css; charset=utf-8",
}


def plotly_js() -> bytes:
    """plotly.min.js as shipped in the ``plotly`` Python package's data."""
    try:
        path = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    except ModuleNotFoundError:
        raise ImportError('the playground needs plotly: pip install "jaxmlp[playground]"') from None
    return path.read_bytes()


def _static(name: str) -> bytes:
    return (importlib.resources.files("jaxmlp.playground") / "static" / name).read_bytes()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: PlaygroundServer
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a connection may stall (a body, or idle between requests)
    disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms delayed ACK)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal is the user's
        pass

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")  # no other page may frame this one
        self.send_header("Content-Security-Policy", "frame-ancestors 'none'")
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        body = json.dumps(value, allow_nan=False).encode("utf-8")
        self._send(status, body, "application/json")

    def _host_ok(self) -> bool:
        port = self.server.server_address[1]
        return self.headers.get("Host") in (f"{HOST}:{port}", f"localhost:{port}")

    def _refusal(self, method: str) -> tuple[int, str] | None:
        """Why an API request is not the page's own (status, message), or None.

        Checked before anything runs: the origin (a foreign or ``null`` one is another
        site's request), the token (only the page the server served has it; a custom
        header also forces a CORS preflight, which is refused), and for a POST the
        JSON content type (an HTML form can send only form or text/plain bodies)."""
        port = self.server.server_address[1]
        origin = self.headers.get("Origin")
        own = (f"http://{HOST}:{port}", f"http://localhost:{port}")
        if origin is not None and origin not in own:
            return 403, f"cross-origin request refused: Origin {origin!r} is not this page's"
        site = self.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            return 403, f"cross-site request refused (Sec-Fetch-Site: {site})"
        token = self.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(token.encode("utf-8", "replace"), self.server.token.encode()):
            return 403, (
                f"missing or wrong {TOKEN_HEADER}: the API answers only the page this server "
                "served (reload it)"
            )
        if method == "POST":
            kind = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            if kind != "application/json":
                return 415, f"Content-Type must be application/json, got {kind or 'none'!r}"
        return None

    def _refuse_and_close(self, status: int, message: str) -> None:
        """Answers ``status`` and closes the connection: what is left of the request on
        it (an unread or partly read body) is never read as the next request."""
        self.close_connection = True
        body = json.dumps({"error": message}).encode("utf-8")
        self._send(status, body, "application/json", Connection="close")

    def _read_body(self) -> bytes | None:
        """The request's whole body, read before anything else is done with the request
        (so none of it is left on a kept-alive connection), or None once refused.

        Only a ``Content-Length`` of ASCII digits up to MAX_BODY frames a body (none
        means no body); a negative, signed, non-integer or repeated differing length
        answers 400, a longer one 413, and any ``Transfer-Encoding`` 411 (chunked) or
        501: each closes the connection, since the body's end is then unknown."""
        if "Transfer-Encoding" in self.headers:
            coding = self.headers["Transfer-Encoding"]
            if coding.strip().lower().endswith("chunked"):
                self._refuse_and_close(411, "chunked bodies are refused: send Content-Length")
            else:
                self._refuse_and_close(501, f"Transfer-Encoding {coding!r} is not supported")
            return None
        values = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if len(values) > 1:
            self._refuse_and_close(400, f"conflicting Content-Length headers {sorted(values)}")
            return None
        text = values.pop() if values else "0"
        if not (text.isascii() and text.isdigit()) or len(text) > 20:
            self._refuse_and_close(400, f"Content-Length must be a byte count, got {text!r}")
            return None
        length = int(text)
        if length > MAX_BODY:
            self._refuse_and_close(
                413, f"request body too large ({length} bytes; at most {MAX_BODY})"
            )
            return None
        try:
            body = self.rfile.read(length) if length else b""
        except OSError:  # the client went away or stalled past the socket's timeout
            body = b""
        if len(body) != length:
            self._refuse_and_close(400, f"request body ended after {len(body)} of {length} bytes")
            return None
        return body

    @staticmethod
    def _json_body(raw: bytes) -> dict:
        """The request body as a JSON object ({} if empty)."""
        if not raw:
            return {}
        try:
            value = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ValueError("request body is not UTF-8") from None
        except RecursionError:
            raise ValueError("request body nests too deeply") from None
        except ValueError as e:  # JSONDecodeError, or an integer of too many digits
            raise ValueError(f"request body is not JSON: {e}") from None
        if not isinstance(value, dict):
            raise ValueError("request body must be a JSON object")
        return value

    def _route(self, method: str) -> None:
        raw = self._read_body()
        if raw is None:
            return
        if not self._host_ok():
            self._json(403, {"error": "the playground answers only 127.0.0.1 and localhost"})
            return
        path = self.path.split("?", 1)[0]
        app = self.server.app
        if method == "OPTIONS":  # a CORS preflight: refused, with no CORS headers
            self._json(403, {"error": "cross-origin requests are refused"})
            return
        if path.startswith("/api/") and (refusal := self._refusal(method)) is not None:
            self._json(refusal[0], {"error": refusal[1]})
            return
        try:
            if method == "GET" and path in ("/", "/index.html"):
                self._send(200, self.server.page, "text/html; charset=utf-8")
            elif method == "GET" and path == "/favicon.ico":
                self._send(204, b"", "image/x-icon")
            elif method == "GET" and path == "/static/plotly.min.js":
                self._send(200, self.server.plotly, "text/javascript; charset=utf-8")
            elif method == "GET" and path.startswith("/static/") and path[8:] in STATIC:
                self._send(200, _static(path[8:]), STATIC[path[8:]])
            elif method == "GET" and path == "/api/params":
                name, content = app.params_file()
                disposition = f'attachment; filename="{name}"'
                self._send(
                    200, content, "application/octet-stream", Content_Disposition=disposition
                )
            elif (method, path) in _API:
                body = self._json_body(raw) if method == "POST" else {}  # a GET's: read, unused
                self._json(200, _API[method, path](app, body))
            else:
                self._json(404, {"error": f"no {method} {path}"})
        except (ValueError, TypeError) as e:
            self._json(400, {"error": str(e)})
        except Exception as e:  # the page shows it; the server keeps serving
            self._json(500, {"error": f"{type(e).__name__}: {e}"})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._route("OPTIONS")


def _fields(body: dict, route: str, *names: str) -> list:
    """The values of ``names`` in a request's JSON object (None if absent); a field of
    another name is refused, naming it (the page sends no other)."""
    unknown = sorted(set(body) - set(names))
    if unknown:
        raise ValueError(f"unknown fields {unknown} for {route}; known: {list(names)}")
    return [body.get(name) for name in names]


def _step(app: Playground, body: dict) -> dict:
    frames, curve_since = _fields(body, "/api/step", "frames", "curve_since")
    return app.step(1 if frames is None else frames, curve_since)


def _reset(app: Playground, body: dict) -> dict:
    _fields(body, "/api/reset")
    return app.reset()


_API = {
    ("GET", "/api/choices"): lambda app, body: app.choices(),
    ("GET", "/api/data"): lambda app, body: app.data(),
    ("GET", "/api/frame"): lambda app, body: app.frame(),
    ("GET", "/api/gradients"): lambda app, body: app.gradients(),
    ("GET", "/api/reproduce"): lambda app, body: app.reproduce(),
    ("POST", "/api/settings"): lambda app, body: app.configure(body),
    ("POST", "/api/step"): _step,
    ("POST", "/api/reset"): _reset,
    ("POST", "/api/compare"): lambda app, body: app.compare(
        *_fields(body, "/api/compare", "axis", "values")
    ),
}


class PlaygroundServer(http.server.ThreadingHTTPServer):
    """The HTTP server of one :class:`Playground`, on 127.0.0.1."""

    daemon_threads = True

    def __init__(self, port: int = 0, app: Playground | None = None):
        self.plotly = plotly_js()
        self.token = secrets.token_urlsafe(32)  # this run's; the page gets it, no other site
        self.page = _static("index.html").replace(TOKEN_PLACEHOLDER, self.token.encode())
        super().__init__((HOST, port), _Handler)
        self.app = app or Playground(warm=True)

    def handle_error(self, request, client_address) -> None:
        """A page closed mid-answer is no error; anything else is reported as usual."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def server_close(self) -> None:
        super().server_close()
        app = getattr(self, "app", None)  # None if the port could not be bound
        if app is not None:
            app.close()


def start(
    port: int = 0, app: Playground | None = None
) -> tuple[PlaygroundServer, threading.Thread]:
    """Starts a server (of ``app``, default a new one) in a background thread, for tests
    and notebooks; ``.shutdown()`` and ``.server_close()`` it.

    >>> server, thread = start()
    >>> server.url.startswith("http://127.0.0.1:")
    True
    >>> server.shutdown(); server.server_close()
    """
    server = PlaygroundServer(port, app)
    thread = threading.Thread(target=server.serve_forever, name="jaxmlp-playground", daemon=True)
    thread.start()
    return server, thread


class PortUnavailable(ValueError):
    """The port given to :func:`serve` cannot be listened on (busy, or not allowed)."""


STOP_WAIT_S = 10.0  # after Ctrl-C, how long running computations may take to finish


def serve(port: int = 8050, *, open_browser: bool = False) -> None:
    """Serves the playground on ``http://127.0.0.1:port/`` until Ctrl-C (``jaxmlp playground``).

    Prints the URL; opens it in the default browser only if ``open_browser``. Raises
    :class:`PortUnavailable` (one line naming the port) if the port is busy.
    ``port=0`` picks a free port. On Ctrl-C it waits up to ``STOP_WAIT_S`` seconds for
    the computations in progress, then ends the process; in a notebook use :func:`start`.
    """
    try:
        server = PlaygroundServer(port)
    except OSError as e:
        raise PortUnavailable(
            f"--port {port}: cannot listen on {HOST}:{port} ({e.strerror or e})"
        ) from None
    print(f"jaxmlp playground: {server.url}  (Ctrl-C stops it)", flush=True)
    # compile the first setting's programs while the page loads
    warm = threading.Thread(target=server.app.frame, name="jaxmlp-playground-warm")
    warm.start()
    if open_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("jaxmlp playground: stopping", file=sys.stderr, flush=True)
    finally:
        # JAX work still running in a thread at interpreter exit can crash it: finish the
        # computations in progress (warming stops at its next stage), but on a loaded
        # machine not for long: past STOP_WAIT_S the process ends without running them out
        # (os._exit: no interpreter shutdown, so no crash; the server keeps no files).
        def finish() -> None:
            warm.join()
            server.server_close()

        stopper = threading.Thread(target=finish)
        stopper.daemon = True
        stopper.start()
        stopper.join(STOP_WAIT_S)
        if stopper.is_alive():
            print(
                "jaxmlp playground: stopped (a computation in progress was abandoned)",
                file=sys.stderr,
                flush=True,
            )
            sys.stdout.flush()
            os._exit(0)
    print("jaxmlp playground: stopped", file=sys.stderr, flush=True)
