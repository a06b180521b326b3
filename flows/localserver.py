"""A Prefect server for ``storyline serve`` and ``storyline ingest`` on a machine that has none.

Schedules need the server's scheduler service, which Prefect's temporary (ephemeral) server does not
run: served deployments would wait forever. So when ``PREFECT_API_URL`` is unset, ``storyline serve``
starts ``prefect server start`` on a free loopback port for as long as it serves, and stops it after.
A Prefect-mode ``storyline ingest`` starts one without services, instead of Prefect's ephemeral
server: that one is stopped only by an ``atexit`` hook, so a killed ingest left it running.

The server is started by ``start_child``, which makes it die with its parent even when the parent is
killed with SIGKILL (Linux ``PR_SET_PDEATHSIG``). This module deliberately does not import Prefect:
the address must be in the environment before Prefect reads its settings (it only uses Prefect once
something else loaded it, to send the logs still queued before stopping the server).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO

import httpx

from pipeline.errors import StorylineError

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@contextmanager
def prefect_api(startup_seconds: float = 180.0, services: bool = True) -> Iterator[str]:
    """The API URL to use: ``$PREFECT_API_URL`` when set, else a local server started for the duration.

    ``services=False`` runs the API alone (no scheduler): enough for flows run in this process.
    Call it from the main thread: the server is tied to the thread that starts it (see ``start_child``).
    """
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
    if not services:
        command.append("--no-services")
    url = f"http://127.0.0.1:{port}/api"
    # The log goes to a file, not a pipe: nobody reads it, and a full pipe would block the server.
    with tempfile.TemporaryFile() as log:
        server = start_child(command, env, log)
        try:
            _wait_healthy(server, url, startup_seconds, log)
            os.environ["PREFECT_API_URL"] = url
            yield url
        finally:
            _send_queued_logs()
            os.environ.pop("PREFECT_API_URL", None)
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()


def start_child(command: Sequence[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start a helper process that dies with this one, even when this one is killed with SIGKILL.

    On Linux the child asks the kernel for SIGTERM when its parent goes (``PR_SET_PDEATHSIG``).
    The kernel means the parent *thread*, so call this from a thread that lives as long as the child
    should (the main thread). Elsewhere the child is only stopped by the caller's cleanup.
    """
    die_with_parent = _pdeathsig_setter(os.getpid()) if sys.platform.startswith("linux") else None
    if die_with_parent and threading.current_thread() is not threading.main_thread():
        raise RuntimeError("start_child must run in the main thread: the child dies with the thread that starts it")
    return subprocess.Popen(list(command), env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)


def _pdeathsig_setter(parent: int) -> Callable[[], None]:
    """What the child runs between fork and exec: SIGTERM me when my parent dies (already died: now)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def die_with_parent() -> None:
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return die_with_parent


def _send_queued_logs() -> None:
    """Send the log records Prefect still queues for the API while the server is up.

    Prefect sends them in batches from a background worker and, at the latest, at exit: after this
    server is gone, which printed "--- Error logging to API --- All connection attempts failed".
    """
    handlers = sys.modules.get("prefect.logging.handlers")  # Prefect loaded: a flow or serve ran
    if handlers is not None:
        handlers.APILogHandler().flush()  # blocks until sent (at most 5 s)


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
