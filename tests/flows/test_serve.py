"""`storyline serve` on one machine: the real command, its own Prefect server, scheduled runs."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
NEW_ITEM = "<item><title>Later news</title><link>{{BASE}}/news/story-4.html</link></item>\n  </channel>"

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def completed_runs(db: Path) -> list[tuple[str, int]]:
    """(status, new) of the finished runs; [] while the file is missing or a run holds the lock."""
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute(
                "SELECT status, new FROM runs WHERE finished_at IS NOT NULL ORDER BY started_at"
            ).fetchall()
    except duckdb.Error:
        return []


def test_serve_runs_sources_on_schedule_and_ingests_only_new_items(live_site, tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "world"\nkind = "feed"\nurl = "{live_site.url("/feeds/world.rss")}"\n'
        'interval = "5s"\nallow_private = true\n',
        encoding="utf-8",
    )
    db = tmp_path / "serve.duckdb"
    # No PREFECT_API_URL: serve must start its own server. Its scheduler and serve's runner look for work
    # every 2 s (not 60 s and 10 s), so that runs are scheduled and started soon after they are due.
    serve = ServeProcess(
        ["--sources", str(sources), "--db", str(db)], None, tmp_path / "prefect",
        {"PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2", "PREFECT_RUNNER_POLL_FREQUENCY": "2"},
    )  # fmt: skip
    try:
        assert serve.wait_until(serve.run_ended(lambda: len(completed_runs(db)) >= 1), 300), (
            "no scheduled run completed"
        )
        assert completed_runs(db)[0] == ("completed", 3)
        feed = live_site.root / "feeds" / "world.rss"
        feed.write_text(feed.read_text().replace("  </channel>", NEW_ITEM), encoding="utf-8")
        ingested = serve.wait_until(serve.run_ended(lambda: any(new == 1 for _, new in completed_runs(db))), 120)
        assert ingested, "the new item was not ingested"
    finally:
        code = serve.exit_code(signal.SIGINT)  # Ctrl-C (SIGTERM, systemd's stop: the test below)
    output = serve.text
    assert code == 0, output[-4000:]
    assert "never awaited" not in output and "Traceback" not in output, output[-4000:]
    runs = completed_runs(db)
    assert sum(new for _, new in runs) == 4, output[-3000:]  # each article ingested exactly once
    assert [p for p in live_site.paths() if p.startswith("/news/")].count("/news/story-1.html") == 1
    assert "serving feed world every 5 s" in output
    assert "Error logging to API" not in output  # logs still queued are sent before serve stops its server


def write_sources(tmp_path: Path, site, interval: str = "1h") -> Path:
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "world"\nkind = "feed"\nurl = "{site.url("/feeds/world.rss")}"\n'
        f'interval = "{interval}"\nallow_private = true\n',
        encoding="utf-8",
    )
    return sources


class ServeProcess:
    """`storyline serve` in a subprocess, on the run's Prefect server (``api_url``) or, with None, on the one
    it starts itself; its output is read as it comes."""

    def __init__(self, args: list[str], api_url: str | None, home: Path, env: dict[str, str] | None = None) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PREFECT_API_URL": api_url or "",
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            **(env or {}),
        }
        if api_url is None:
            del env["PREFECT_API_URL"]
        command = [sys.executable, "-m", "pipeline.cli", "serve", *args]
        self.process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    @property
    def text(self) -> str:
        return "".join(self.output)

    def run_ended(self, check: Callable[[], bool]) -> Callable[[], bool]:
        """The check, made whenever serve has just logged that a run ended (after its batches committed)."""
        return lambda: bool(self.output) and "Finished in state" in self.output[-1] and check()

    def finished(self, run_name: str) -> bool:
        """The flow run of that name logged its final state."""
        return any(f"'{run_name}' - Finished in state" in line for line in self.output)

    def wait_until(self, condition: Callable[[], bool], seconds: float) -> bool:
        """Check the condition on every line of output until it holds (a deadline against hanging)."""
        deadline = time.monotonic() + seconds
        while not condition():
            if self.closed:
                return False
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False
            if line is None:
                self.closed = True
            else:
                self.output.append(line)
        return True

    def exit_code(self, signum: int | None = None, seconds: float = 60) -> int | None:
        """Send the signal (if any), read the output to its end and wait for the exit; None if it did not exit."""
        if signum is not None and self.process.poll() is None:
            self.process.send_signal(signum)
        if not self.wait_until(lambda: self.closed, seconds):
            self.process.kill()
            self.process.wait(30)
            return None
        return self.process.wait(30)


def due_run(deployment, name: str, **parameters) -> str:
    """Register the deployment and give it a run that is due now, as Prefect's scheduler would; the run's id."""
    from prefect import get_client
    from prefect.states import Scheduled

    deployment_id = deployment.apply()
    with get_client(sync_client=True) as client:
        run = client.create_flow_run_from_deployment(
            deployment_id, parameters=parameters or None, name=name, state=Scheduled()
        )
    return str(run.id)


def run_state(run_id: str):
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state


@pytest.mark.prefect
def test_serve_runs_only_the_runs_made_for_the_database_it_was_started_with(
    live_site, tmp_path: Path, prefect_api_url: str
) -> None:
    """`serve --db A`, killed, then `serve --db B`: A's due runs must not write into A from B's serve."""
    from flows.sources import build_deployments

    sources = write_sources(tmp_path, live_site)
    a, b, c = (tmp_path / f"{name}.duckdb" for name in "abc")
    # What the killed `serve --db A` left in Prefect's database: its deployment and a run now due.
    for_a = due_run(build_deployments(sources, db=str(a))[0], "made-for-a")
    # Serve B registers its deployment when it starts; a run of it is due, and one was started by hand for C.
    for_b = due_run(build_deployments(sources, db=str(b))[0], "made-for-b")
    by_hand = due_run(build_deployments(sources, db=str(b))[0], "by-hand-for-c", db=str(c))

    serve = ServeProcess(["--sources", str(sources), "--db", str(b), "--limit", "3"], prefect_api_url, tmp_path)
    try:
        done = serve.wait_until(lambda: serve.finished("made-for-b") and serve.finished("by-hand-for-c"), 240)
    finally:
        code = serve.exit_code(signal.SIGTERM)  # systemd's stop (SIGINT: the test above)
    assert done, serve.text[-4000:]
    assert code == 0, serve.text[-4000:]
    assert "never awaited" not in serve.text, serve.text[-4000:]
    assert deployment_paused(build_deployments(sources, db=str(b))[0])  # stopped through Prefect's public API
    assert run_state(for_b).is_completed()
    assert completed_runs(b) == [("completed", 3)]
    assert run_state(for_a).is_scheduled(), serve.text[-4000:]  # left for a serve of A
    assert not a.exists()
    skipped = run_state(by_hand)
    assert skipped.name == "Skipped" and f"made for db {c}, but" in str(skipped.message)
    assert f"not run: this run was made for db {c}, but this storyline serve was started with db {b}" in serve.text
    assert not c.exists()
    assert "Traceback" not in serve.text, serve.text[-4000:]


def deployment_paused(deployment) -> bool:
    """Whether the deployment's schedules are paused on the run's Prefect server."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_deployment_by_name(f"storyline-sources/{deployment.name}").paused


@pytest.mark.prefect
def test_serve_with_a_bad_db_fails_in_one_line(live_site, tmp_path: Path, prefect_api_url: str) -> None:
    sources = write_sources(tmp_path, live_site, interval="5s")
    serve = ServeProcess(["--sources", str(sources), "--db", "/nonexistent/dir/x.duckdb"], prefect_api_url, tmp_path)
    assert serve.exit_code() == 1, serve.text[-4000:]  # None: it served on, its runs failing with tracebacks
    assert serve.output == [
        'storyline: cannot open /nonexistent/dir/x.duckdb: IO Error: Cannot open file "/nonexistent/dir/x.duckdb": '
        "No such file or directory\n"
    ]
