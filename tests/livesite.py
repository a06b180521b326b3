"""A real HTTP news site on 127.0.0.1 for the live-source tests: static files plus misbehaving routes.

Static files come from a folder (a copy of ``tests/fixtures/live/site``, so tests may edit them); in
``.rss``, ``.atom`` and ``.xml`` files ``{{BASE}}`` becomes the server's own address. Static files
carry an ETag and Last-Modified and answer conditional GETs with 304. Every request is logged.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",
    ".txt": "text/plain",
}
ARTICLE = (Path(__file__).parent / "fixtures" / "live" / "site" / "news" / "story-1.html").read_bytes()


@dataclass(frozen=True)
class Hit:
    """One request the site received."""

    path: str
    if_none_match: str | None
    if_modified_since: str | None
    user_agent: str | None


class LiveSite:
    """A threaded HTTP server over a folder, with failure routes under ``/fail/``."""

    def __init__(self, root: Path):
        self.root = root
        self.hits: list[Hit] = []
        self.inflight = 0
        self.max_inflight = 0  # the most requests the site served at once
        self._lock = threading.Lock()
        self.server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="livesite", daemon=True)

    def __enter__(self) -> LiveSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        """The absolute URL of a path on this site."""
        return f"{self.base}{path}"

    def log(self, hit: Hit) -> None:
        """Record a request."""
        with self._lock:
            self.hits.append(hit)

    def enter(self, delta: int) -> None:
        """Count a request starting (+1) or ending (-1)."""
        with self._lock:
            self.inflight += delta
            self.max_inflight = max(self.max_inflight, self.inflight)

    def paths(self) -> list[str]:
        """Paths requested so far, in order."""
        with self._lock:
            return [h.path for h in self.hits]

    def counts(self) -> Counter[str]:
        """How often each path was requested."""
        return Counter(self.paths())

    def clear(self) -> None:
        """Forget the requests so far."""
        with self._lock:
            self.hits.clear()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up early (size caps, deadlines) are the point of several tests.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler(site: LiveSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # headers and body in one write: no Nagle / delayed-ACK stall per response

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            site.log(Hit(self.path, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since"),
                         self.headers.get("User-Agent")))  # fmt: skip
            route = FAILURES.get(path)
            site.enter(+1)
            try:
                if path.startswith("/busy/"):  # a page that takes a moment: for per-host concurrency
                    time.sleep(0.1)
                    self._send(200, ARTICLE)
                elif route:
                    route(self)
                elif path.startswith("/go/"):  # a short link, as feeds and newsletters use
                    self._redirect(f"/news/{path.rsplit('/', 1)[1]}.html")
                elif path.startswith("/fail/hop/"):
                    self._redirect(f"/fail/hop/{int(path.rsplit('/', 1)[1]) + 1}")
                else:
                    self._static(path)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up on purpose (size cap, deadline)
            finally:
                site.enter(-1)

        def _send(self, status: int, body: bytes = b"", ctype: str = "text/html", headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _redirect(self, location: str, status: int = 302) -> None:
            self._send(status, b"", headers={"Location": location})

        def _static(self, path: str) -> None:
            file = (site.root / path.lstrip("/")).resolve()
            if site.root.resolve() not in file.parents or not file.is_file():
                self._send(404, b"not found", "text/plain")
                return
            body = file.read_bytes()
            if file.suffix in (".rss", ".atom", ".xml"):
                body = body.replace(b"{{BASE}}", site.base.encode())
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            modified = formatdate(file.stat().st_mtime, usegmt=True)
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", headers={"ETag": etag, "Last-Modified": modified})
                return
            ctype = TYPES.get(file.suffix, "application/octet-stream")
            self._send(200, body, ctype, {"ETag": etag, "Last-Modified": modified})

        def trickle(self) -> None:
            """A body that arrives one byte at a time, each within the read timeout, never finishing soon."""
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(200):
                self.wfile.write(b"<")
                self.wfile.flush()
                time.sleep(0.02)

        def drip(self) -> None:
            """A byte, then a wait (well within any read timeout), over and over: for the per-URL time limit."""
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                self.wfile.write(b"<")
                self.wfile.flush()
                time.sleep(0.1)

        def endless(self) -> None:
            """An undeclared, far too large body."""
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"<p>" + b"x" * 65_536 + b"</p>"
            for _ in range(200):
                self.wfile.write(chunk)

        def stall(self) -> None:
            time.sleep(1.5)
            self._send(200, ARTICLE)

        def flaky(self) -> None:
            first = site.counts()[self.path] == 1
            self._send(503, b"busy", "text/plain") if first else self._send(200, ARTICLE)

    FAILURES = {
        "/fail/404": lambda h: h._send(404, b"gone", "text/plain"),
        "/fail/500": lambda h: h._send(500, b"boom", "text/plain"),
        "/fail/429": lambda h: h._send(429, b"slow down", "text/plain", {"Retry-After": "0"}),
        "/fail/flaky": Handler.flaky,
        "/fail/timeout": Handler.stall,
        "/fail/slow": Handler.trickle,
        "/fail/drip": Handler.drip,
        "/fail/big": Handler.endless,
        "/fail/big-declared": lambda h: h._send(200, b"x" * 300_000),
        "/fail/loop": lambda h: h._redirect("/fail/loop2"),
        "/fail/loop2": lambda h: h._redirect("/fail/loop", 301),
        "/fail/private": lambda h: h._redirect("http://10.0.0.1/news/story-1.html"),
        "/fail/metadata": lambda h: h._redirect("http://169.254.169.254/latest/meta-data/"),
        "/fail/scheme": lambda h: h._redirect("file:///etc/passwd"),
        "/fail/pdf": lambda h: h._send(200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        "/fail/bad-location": lambda h: h._redirect("http://[::1/broken"),
        "/fail/moved": lambda h: h._redirect("/news/story-2.html", 301),
    }
    return Handler
