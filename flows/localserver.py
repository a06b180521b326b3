"""A Prefect server for ``storyline serve`` on a machine that has none.

Schedules need the server's scheduler service, which Prefect's temporary (ephemeral) server does not
run: served deployments would wait forever. So when ``PREFECT_API_URL`` is unset, ``storyline serve``
starts ``prefect server start`` on a free loopback port for as long as it serves, and stops it after.
This module deliberately does not import Prefect: the address must be in the environment before
Prefect reads its settings.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import httpx

from pipeline.errors import StorylineError


@contextmanager
def prefect_api(startup_seconds: float = 180.0) -> Iterator[str]:
    """The API URL to use: ``$PREFECT_API_URL`` when set, else a local server started for the duration."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    port = _free_port()
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    command = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-ui",
    ]
    url = f"http://127.0.0.1:{port}/api"
    # The log goes to a file, not a pipe: nobody reads it, and a full pipe would block the server.
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(server, url, startup_seconds, log)
            os.environ["PREFECT_API_URL"] = url
            yield url
        finally:
            os.environ.pop("PREFECT_API_URL", None)
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()


def _wait_healthy(server: subprocess.Popen[bytes], url: str, seconds: float, log: IO[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            error = log.read().decode("utf-8", "replace")[-2000:]
            raise StorylineError(f"the local Prefect server exited with code {server.returncode}: {error}")
        try:
            if httpx.get(f"{url}/health", timeout=2.0, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(0.5)
    raise StorylineError(f"the local Prefect server did not become healthy within {seconds:.0f} s")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
