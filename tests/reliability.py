"""Helpers shared by the reliability tests: run the CLI in a process of its own, read a database's final state."""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import weakref
from collections import Counter
from pathlib import Path
from typing import IO, Any

import duckdb

from pipeline.run.parallel import _context as worker_context

ROOT = Path(__file__).resolve().parents[1]


def cli_process(*args: str) -> CliProcess:
    """Start ``storyline ARGS`` (``python -m pipeline.cli ARGS`` from the repository root) in a process of its own."""
    return CliProcess(args)


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``storyline ARGS`` in a process of its own (``cli_process``) to its end: its exit code and outputs."""
    process = cli_process(*args)
    out, err = process.communicate(timeout)
    assert process.returncode is not None
    return subprocess.CompletedProcess(["storyline", *args], process.returncode, out, err)


def warmed_context() -> multiprocessing.context.BaseContext:
    """The context PreparePool's workers come from: its forkserver, with the library loaded
    (``pipeline.run.preload``; the first to start the forkserver decides), or spawn where there is none."""
    return worker_context()


def start_forkserver() -> None:
    """Have the forkserver ``cli_process`` forks from running, its preload loaded. Otherwise it starts with
    the first CLI process (~1 s of imports and model loading), which a test timing that process counts as
    the process's own time."""
    context = warmed_context()
    if context.get_start_method() == "forkserver":
        process = context.Process(target=int)  # forked once the forkserver has loaded its preload
        process.start()
        process.join()


class CliProcess:
    """The CLI in a process of its own, forked from a warmed-up one; the part of ``subprocess.Popen`` tests use.

    The process is forked from the forkserver preparation workers are forked from (``pipeline.run.parallel``:
    the library, trafilatura and the language model are loaded there once), so it starts in a few hundredths
    of a second of CPU instead of ~1 s of imports and model loading, which the crash tests paid on every kill.
    It is still a process of its own running ``pipeline.cli.main``: it holds the database, takes its locks,
    prints its progress and dies of a real SIGKILL like ``python -m pipeline.cli``; only the interpreter's
    start-up is not run (where there is no forkserver, it is: ``python -m pipeline.cli``).
    """

    def __init__(self, args: tuple[str, ...] | list[str]) -> None:
        self.args = list(args)
        self.returncode: int | None = None
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        self._popen: subprocess.Popen | None = None
        if "forkserver" not in multiprocessing.get_all_start_methods():
            self._popen = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", *self.args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            self.pid = self._popen.pid
            self.stdout: IO[str] = self._popen.stdout  # type: ignore[assignment]
            self.stderr: IO[str] = self._popen.stderr  # type: ignore[assignment]
            return
        context = warmed_context()
        (out, out_child), (err, err_child) = context.Pipe(duplex=False), context.Pipe(duplex=False)
        self._process = context.Process(target=_run_cli, args=(self.args, env, str(ROOT), out_child, err_child))
        self._process.start()
        _started.add(self)
        out_child.close()
        err_child.close()
        self.pid = self._process.pid
        self.stdout = _text(out)
        self.stderr = _text(err)

    def poll(self) -> int | None:
        if self._popen is not None:
            self.returncode = self._popen.poll()
        elif self.returncode is None:
            self.returncode = self._process.exitcode
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self._popen is not None:
            self.returncode = self._popen.wait(timeout)
            return self.returncode
        self._process.join(timeout)
        if self.poll() is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Read both outputs to their end (the rest of what was not read yet), then wait for the exit."""
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.append(self.stdout.read()), daemon=True)
        reader.start()
        err = self.stderr.read()
        reader.join(timeout)
        self.wait(timeout)
        self.stdout.close()
        self.stderr.close()
        return (out[0] if out else ""), err

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


# CLI processes still running when the test process exits are killed: multiprocessing would wait for them.
_started: weakref.WeakSet[CliProcess] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_started):
        process.kill()


def _text(connection: Any) -> IO[str]:
    """A text stream over the read end of a one-way ``multiprocessing`` pipe (an OS pipe on Unix)."""
    stream = open(os.dup(connection.fileno()), encoding="utf-8", errors="replace")  # noqa: SIM115
    connection.close()
    return stream


def _run_cli(args: list[str], env: dict[str, str], cwd: str, out: Any, err: Any) -> None:
    """The forked process: the environment and directory ``python -m pipeline.cli`` would have, then ``main``."""
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    out.close()
    err.close()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    from pipeline.cli import main

    sys.argv = [str(Path(cwd) / "pipeline" / "cli.py"), *args]
    sys.exit(main(args))


def rows(db: str, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a query on a read-only connection."""
    with duckdb.connect(db, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def article_keys(db: str) -> Counter:
    """How many times each (source_uri, content_hash) is stored."""
    return Counter(rows(db, "SELECT source_uri, content_hash FROM articles"))


def final_state(db: str) -> dict[str, list[tuple]]:
    """What ingest decided, without run ids, timestamps or counters of how often a run saw something."""
    return {
        "articles": rows(
            db,
            "SELECT article_id, seq, source_uri, content_hash, story_id, variant_group, relation, is_canonical, "
            "assigned_as, matched_article_id, round(near_duplicate_similarity, 5), round(story_similarity, 5), "
            "round(canonical_similarity, 5), shared_terms FROM articles ORDER BY seq",
        ),
        "stories": rows(
            db,
            "SELECT story_id, canonical_article_id, title, article_count, source_count, first_published, "
            "last_published, centroid_terms FROM stories ORDER BY story_id",
        ),
        "merges": rows(db, "SELECT merged_story_id, into_story_id, article_id, seq FROM story_merges ORDER BY ALL"),
        "links": rows(db, "SELECT story_id, related_story_id, article_id FROM story_links ORDER BY ALL"),
        "index": rows(db, "SELECT count(*), sum(seq), sum(hash(key)) FROM lsh_bands")
        + rows(db, "SELECT count(*), sum(seq), sum(hash(term_key, story_id)) FROM story_postings"),
        "rejections": rows(db, "SELECT source_uri, reason, detail FROM rejections ORDER BY ALL"),
    }
