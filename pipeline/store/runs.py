"""Runs: each ingest recorded with its process, its counters added batch by batch, and its rejections."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime

from pipeline.models import IngestReport, Rejection
from pipeline.store.connection import Connection


def _process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


class RunLog(Connection):
    """The ``runs`` and ``rejections`` tables."""

    def begin_run(self, inputs: Sequence[str]) -> str:
        """Record the start of a run (with this process's pid and host) and return its id."""
        run_id = f"run-{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        self._con.execute(
            "INSERT INTO runs (run_id, started_at, status, inputs, pid, host) VALUES (?, now(), 'running', ?, ?, ?)",
            [run_id, list(inputs), os.getpid(), socket.gethostname()],
        )
        return run_id

    def mark_interrupted_runs(self) -> list[str]:
        """Mark 'interrupted' the runs still 'running' whose process on this host is gone (killed, crashed)."""
        rows = self._con.execute(
            "SELECT run_id, pid FROM runs WHERE status = 'running' AND host = ? AND pid IS NOT NULL",
            [socket.gethostname()],
        ).fetchall()
        dead = [run_id for run_id, pid in rows if not _process_alive(pid)]
        for run_id in dead:
            self._con.execute("UPDATE runs SET status = 'interrupted', finished_at = now() WHERE run_id = ?", [run_id])
        return dead

    def add_to_run(self, run_id: str, report: IngestReport) -> None:
        """Add a batch's counts to its run (called inside the batch's transaction)."""
        counts = report.counts()
        sets = ", ".join(f"{name} = {name} + ?" for name in counts)
        self._con.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", [*counts.values(), run_id])

    def finish_run(self, run_id: str, status: str) -> None:
        """Mark a run finished (status: completed, failed, empty)."""
        self._con.execute("UPDATE runs SET finished_at = now(), status = ? WHERE run_id = ?", [status, run_id])

    def discard_run(self, run_id: str) -> None:
        """Delete a run that read nothing (an idle tick of a live source); a run with counts is kept."""
        self._con.execute("DELETE FROM runs WHERE run_id = ? AND read = 0", [run_id])

    def record_rejections(self, run_id: str, rejections: Sequence[Rejection]) -> None:
        """Upsert rejections: one row per (source_uri, reason), counting how often it was seen."""
        latest = {(r.source_uri, r.reason): r for r in rejections}
        for (uri, reason), rej in latest.items():
            self._con.execute(
                """
                INSERT INTO rejections VALUES (?, ?, ?, ?, ?, now(), now(), 1)
                ON CONFLICT (source_uri, reason) DO UPDATE SET
                    detail = excluded.detail, last_run = excluded.last_run,
                    last_seen = excluded.last_seen, times_seen = rejections.times_seen + 1
                """,
                [uri, reason, rej.detail, run_id, run_id],
            )
