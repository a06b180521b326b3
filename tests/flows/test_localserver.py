"""The local Prefect server's launcher: what it starts dies with Storyline, even under SIGKILL."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Starts a long sleeper through the launcher the Prefect server uses, prints its pid, then waits.
PARENT = """
import os, sys, tempfile, time
from flows.localserver import start_child
child = start_child([sys.executable, "-c", "import time; time.sleep(120)"], dict(os.environ), tempfile.TemporaryFile())
print(child.pid, flush=True)
time.sleep(120)
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, seconds: float) -> bool:
    """Wait (at most ``seconds``) for the process to end; it need not be our child (a pidfd says when it ends)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        select.select([pidfd], [], [], seconds)
    finally:
        os.close(pidfd)
    return not alive(pid)


def test_a_started_child_dies_when_its_parent_is_killed() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", PARENT], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert wait_gone(child, 10), f"process {child} outlived its killed parent"
    finally:
        parent.kill()
        if "child" in locals() and alive(child):
            os.kill(child, signal.SIGKILL)


def test_start_child_refuses_other_threads() -> None:
    """The kernel ties the child to the starting thread: one ending early would kill the server."""
    import threading

    from flows.localserver import start_child

    errors: list[BaseException] = []

    def start() -> None:
        try:
            start_child([sys.executable, "-c", "pass"], dict(os.environ), subprocess.DEVNULL)  # type: ignore[arg-type]
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join(30)
    assert errors and "main thread" in str(errors[0])


def children(pid: int) -> list[tuple[int, str]]:
    """The (pid, command line) of the processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append((int(entry.name), command))
    return found


@pytest.mark.slow
def test_a_killed_prefect_ingest_leaves_no_server(seeds_dir: Path, tmp_path: Path) -> None:
    """The real `storyline ingest` in Prefect mode, SIGKILLed as soon as its Prefect server starts."""
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    script = Path(sys.executable).with_name("storyline")
    command = [str(script), "ingest", "--db", str(tmp_path / "x.duckdb"), str(seeds_dir)]
    ingest = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    servers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not servers and ingest.poll() is None and time.monotonic() < deadline:
            servers = [pid for pid, cmd in children(ingest.pid) if "prefect" in cmd or "uvicorn" in cmd]
            time.sleep(0.05)
        assert servers, "the ingest started no Prefect server"
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(10)
        assert wait_gone(servers[0], 30), f"the Prefect server {servers[0]} outlived the killed ingest"
    finally:
        ingest.kill()
        for pid in servers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
