"""A real HTTP webhook receiver on 127.0.0.1 (ephemeral port) for alert delivery tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    """Collects the JSON bodies POSTed to it; answers ``status`` (set it to 500 to simulate an outage)."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[dict[str, Any]] = []  # bodies answered with 2xx
        self.refused: list[dict[str, Any]] = []  # bodies answered with an error status
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with receiver._lock:
                    status = receiver.status
                    (receiver.received if status < 300 else receiver.refused).append({"path": self.path, **body})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "hook") -> str:
        """The apprise URL that posts JSON to this receiver."""
        return f"json://127.0.0.1:{self.port}/{path}"


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """Start a receiver, yield it, stop it."""
    receiver = WebhookReceiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        receiver.thread.join(timeout=10)
