"""One temporary Prefect server for a whole test run, however many pytest-xdist workers share it.

The process pytest was started in (the xdist controller, or the only process without xdist) owns the
server: ``RunServer`` starts it the first time a test process asks for it and stops it when the run ends,
so a run whose selected tests need no Prefect starts none. Test processes ask at the end of collection
when a selected test needs the server (``prepare``: it starts while other tests run) and again when the
first such test runs (``url``: waits until it answers). xdist workers ask the controller over a Unix
socket (``Broker``, ``Remote``); its address and key reach them in ``workerinput``.

The server is the one ``prefect.testing.utilities.prefect_test_harness`` starts (uvicorn with Prefect's
app, the ephemeral-server settings, SQLite in a temporary folder), started from a thread that lives until
the run ends and tied to it with ``PR_SET_PDEATHSIG``: killing pytest, even with SIGKILL, kills the server.
This module does not import Prefect: the controller never needs it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from multiprocessing.connection import Client, Listener
from pathlib import Path

from flows.localserver import _pdeathsig_setter

STARTUP_SECONDS = 180.0


class RunServer:
    """The run's Prefect server, owned by this process: started on the first ``prepare`` or ``url``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._url: str | None = None
        self._error: str | None = None
        self._broker: Broker | None = None
        self.starts = 0  # servers started (one per run; a restart after a port clash counts)

    def prepare(self) -> None:
        """Start the server in the background, unless it is already up or starting."""
        with self._lock:
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(target=self._own, name="prefect-server", daemon=True)
                self._thread.start()

    def url(self) -> str:
        """The server's API URL, once it answers (started now if nothing asked before)."""
        self.prepare()
        self._ready.wait()
        if self._url is None:
            raise RuntimeError(self._error or "the test Prefect server was stopped")
        return self._url

    def broker(self) -> Broker:
        """The socket xdist workers ask this server's URL on (opened on first use)."""
        with self._lock:
            if self._broker is None:
                self._broker = Broker(self)
            return self._broker

    def stop(self) -> None:
        """Stop the server (if one was started) and the broker; the server is never left running."""
        with self._lock:
            self._stopping.set()
            thread, broker = self._thread, self._broker
        if broker is not None:
            broker.close()
        if thread is not None:
            thread.join()

    def _own(self) -> None:
        """The thread the server lives on: start it, then hold it until ``stop``."""
        home = Path(tempfile.mkdtemp(prefix="storyline-prefect-server-"))
        server: subprocess.Popen[bytes] | None = None
        try:
            try:
                server, self._url = self._start(home)
            except Exception as exc:  # handed to every test that needs the server
                self._error = f"the test Prefect server did not start: {exc}"
            finally:
                self._ready.set()
            self._stopping.wait()
        finally:
            if server is not None:
                server.terminate()
                try:
                    server.wait(30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
            shutil.rmtree(home, ignore_errors=True)

    def _start(self, home: Path) -> tuple[subprocess.Popen[bytes], str]:
        spec = importlib.util.find_spec("prefect")
        assert spec is not None and spec.submodule_search_locations
        app_dir = str(Path(next(iter(spec.submodule_search_locations))).parent)
        env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect-test.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        env.pop("PREFECT_API_URL", None)
        deadline = time.monotonic() + STARTUP_SECONDS
        with open(home / "server.log", "wb") as log:
            while True:
                port = _free_port()
                command = [
                    sys.executable, "-m", "uvicorn", "--app-dir", app_dir, "--factory",
                    "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
                    "--log-level", "error", "--lifespan", "on",
                ]  # fmt: skip
                self.starts += 1
                server = subprocess.Popen(
                    command, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with(os.getpid())
                )
                url = f"http://127.0.0.1:{port}/api"
                while server.poll() is None and time.monotonic() < deadline and not self._stopping.is_set():
                    if _healthy(url):
                        return server, url
                    time.sleep(0.1)  # the server process is starting: nothing to wait on but its port
                if server.poll() == 3 and time.monotonic() < deadline:  # uvicorn: the port was taken meanwhile
                    continue
                server.kill()
                server.wait()
                tail = (home / "server.log").read_bytes()[-2000:].decode("utf-8", "replace")
                raise RuntimeError(f"exit code {server.returncode} after {STARTUP_SECONDS:.0f} s at most: {tail}")


class Broker:
    """Answers xdist workers' ``prepare`` and ``url`` requests for the run's server on a Unix socket."""

    def __init__(self, server: RunServer) -> None:
        self._server = server
        self._folder = tempfile.mkdtemp(prefix="storyline-prefect-")  # short: socket paths are limited
        self.address = os.path.join(self._folder, "broker.sock")
        self.authkey = secrets.token_bytes(16)
        self._listener = Listener(self.address, "AF_UNIX", authkey=self.authkey)
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="prefect-broker", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection = self._listener.accept()
            except OSError:  # closed, or a client that failed the handshake
                if self._closed:
                    return
                continue
            if self._closed:
                connection.close()
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection) -> None:
        with connection:
            request = connection.recv()
            try:
                if request == "prepare":
                    self._server.prepare()
                    connection.send(("ok", None))
                else:
                    connection.send(("ok", self._server.url()))
            except Exception as exc:
                connection.send(("error", str(exc)))

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):  # wake the accepting thread
            Client(self.address, "AF_UNIX", authkey=self.authkey).close()
        self._thread.join(10)
        self._listener.close()
        shutil.rmtree(self._folder, ignore_errors=True)


class Remote:
    """An xdist worker's view of the controller's ``RunServer``."""

    def __init__(self, address: str, authkey: bytes) -> None:
        self.address, self.authkey = address, authkey

    def _ask(self, request: str) -> str | None:
        with Client(self.address, "AF_UNIX", authkey=self.authkey) as connection:
            connection.send(request)
            status, value = connection.recv()
        if status != "ok":
            raise RuntimeError(value)
        return value

    def prepare(self) -> None:
        self._ask("prepare")

    def url(self) -> str:
        url = self._ask("url")
        assert url is not None
        return url

    def stop(self) -> None:
        """The controller stops the server when the whole run ends."""


def _die_with(parent: int):
    """What the server runs between fork and exec: SIGTERM when the thread that started it ends (the
    library's own setter, ``flows.localserver``); nothing off Linux."""
    return _pdeathsig_setter(parent) if sys.platform.startswith("linux") else None


def _healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
