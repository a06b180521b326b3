"""The connection: opening the database (waiting politely for its lock), its schema and parameters, transactions.

One ``Store`` wraps one connection. Writers open it for one batch at a time (short write-lock
windows); every batch is written in a single transaction, so a crash loses at most the batch in
flight and never leaves half of one.

The connection (``_con``) and the helpers over it are the store package's own: its modules use
``_query`` (rows as dicts), ``_table`` (Python columns exposed to SQL) and ``_insert_columns``
(columns appended to a table); code outside the package goes through their functions and methods.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import duckdb
import pyarrow as pa
import xxhash

from pipeline.errors import EnvironmentFailure, ParameterMismatchError, StoreBusyError, StoreError
from pipeline.settings import CANDIDATE_BREADTH, PARAMETER_DEFAULTS
from pipeline.store.schema import SCHEMA_VERSION, TABLES, VIEWS

LOCK_MESSAGE = "lock"
_LOCK_HOLDER = re.compile(r"lock is held in (?P<program>.*?)\s*\(PID (?P<pid>\d+)\)")
LOCK_POLL_MAX = 0.1  # seconds between attempts to take a busy lock, at most
INVALID_FILE_MESSAGE = "not a valid duckdb database file"
CREATING_SECONDS = 2.0
"""A database file written this recently that DuckDB finds invalid is taken to be one another process is
creating: two ingests started at once on a new path race, and the second can open the file after the first
created it but before it wrote DuckDB's header. It is waited for like a busy lock; an older one is invalid."""
# Every open (the writer's, once a batch, and every reader's) replays the write-ahead log, holding the
# lock meanwhile. With 64 MB, reads during a 5,000-article ingest fell to 91% within a 1 s wait and the
# ingest took 115 s; with 8 MB, 99.6% and 50 s (bench/read_during_ingest.py).
WAL_CHECKPOINT_THRESHOLD = "8MB"
OWN_SQL_ONLY = {"allow_unsigned_extensions": "true"}
"""DuckDB config of the connections that run Storyline's own SQL only: writers and lake publishers.

They load extensions (fts, ducklake, sqlite_scanner, parquet) from the pinned ``duckdb-extension-*`` pip
packages only, files as trusted as the Python code imported from the same site-packages. DuckDB's check
of an extension's signature reads and verifies the whole file on every LOAD, so on every connection:
~50 ms of CPU for the 12 MB fts extension, twice a run, against 0.7 ms for the load itself. Connections
that may run a user's SQL (``storyline sql``, read-only stores and lakes) keep the check, so no SQL a
user writes can load an unsigned extension."""
OTHER_CONFIGURATION = "different configuration than existing connections"  # DuckDB's words: file open otherwise


def _lock_holder(error: str) -> str:
    """The process DuckDB's lock error names ("Conflicting lock is held in PROGRAM (PID 1234)"), or ''."""
    found = _LOCK_HOLDER.search(error)
    if found is None:
        return ""
    program, pid = found.group("program").strip(), found.group("pid")
    return f"{program} (PID {pid})" if program else f"PID {pid}"


def _busy_message(path: str, read_only: bool, waited: float, error: str = "") -> str:
    """Why an open gave up, who holds the lock (when DuckDB says), and what to do about it."""
    if read_only:
        return (
            f"{path} is being written by a Storyline ingest (waited {waited:.1f} s for a gap between its "
            "batches); try again in a moment, raise read_wait_seconds, or read a snapshot "
            "(see docs/reading-during-ingest.md)"
        )
    holder = _lock_holder(error)
    # Any process can hold it: most often an analyst's DuckDB CLI, notebook or BI session, whose
    # read-only connection blocks writers for as long as it stays open.
    return (
        f"{path} is locked by another process{': ' + holder if holder else ''} (waited {waited:.1f} s); "
        "if it is a Storyline ingest, try again when it has finished its batch; if it is a session "
        "reading the database (DuckDB CLI, notebook, BI tool), close it, and run long queries on a "
        "snapshot (`snapshot = ...` in the config) or with `storyline sql` "
        "(see docs/reading-during-ingest.md)"
    )


def _unwritable(path: str) -> str | None:
    """What a writer would fail to write: the database, its write-ahead log, or the folder the log goes in."""
    if path == ":memory:":
        return None
    database, log = Path(path), Path(path + ".wal")
    for needed in (database, log):
        if needed.exists() and not os.access(needed, os.W_OK):
            return str(needed)
    # DuckDB opens a read-only log or folder without complaint and fails at the first commit, in a
    # TransactionException far from the open; check here, where the file can be named.
    folder = database.parent
    if folder.exists() and not log.exists() and not os.access(folder, os.W_OK | os.X_OK):
        return str(folder)
    return None


def _being_created(path: str, message: str) -> bool:
    """Whether DuckDB refused the file as invalid while another process may still be creating it."""
    if INVALID_FILE_MESSAGE not in message.lower():
        return False
    try:
        return time.time() - os.stat(path).st_mtime < CREATING_SECONDS
    except OSError:  # gone again: whoever was creating it gave up; the next attempt creates it anew
        return True


def _connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to the file: a writer's with ``OWN_SQL_ONLY``, a reader's with DuckDB's defaults.

    DuckDB shares one open database per file and process, with the configuration it was opened with. When
    this process already has the file open with its defaults (a notebook's own ``duckdb.connect``), a
    writer joins that database as before, with the signature checks it has.
    """
    if read_only:
        return duckdb.connect(path, read_only=True)
    try:
        return duckdb.connect(path, config=OWN_SQL_ONLY)
    except duckdb.ConnectionException as exc:
        if OTHER_CONFIGURATION not in str(exc):
            raise
        return duckdb.connect(path)


def _one_line(exc: BaseException) -> str:
    """DuckDB's message without its context lines."""
    return " ".join(str(exc).split())


def _write_failed(path: str, exc: duckdb.Error) -> StoreError | EnvironmentFailure:
    """A DuckDB error on writing ``path`` as one line naming the file and the cause."""
    detail = _one_line(exc)
    if "permission denied" in detail.lower():
        return EnvironmentFailure(PermissionError(errno.EACCES, detail), f"writing {path}")
    return StoreError(f"cannot write {path}: {detail}")


class Connection:
    """One DuckDB connection to a Storyline database, opened for reading or for writing."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, read_only: bool):
        self._con = con
        self.path = path
        self.read_only = read_only

    @classmethod
    def open(
        cls, path: str | Path, read_only: bool = False, wait_seconds: float = 30.0, threads: int | None = None
    ) -> Self:
        """Open (and for writers, create or migrate) the database; wait politely for a busy lock.

        ``threads`` caps DuckDB's threads for this connection (default: one per core).
        """
        path = str(path)
        if read_only and path != ":memory:" and not Path(path).exists():
            raise StoreError(f"no Storyline database at {path} (run `storyline ingest` first)")
        if not read_only and (blocked := _unwritable(path)) is not None:
            denied = PermissionError(errno.EACCES, "Permission denied (DuckDB writes its log beside the database)")
            denied.filename = blocked
            raise EnvironmentFailure(denied, f"opening {path} for writing")
        started = time.monotonic()
        deadline = started + wait_seconds
        delay = 0.02
        while True:
            try:
                con = _connect(path, read_only)
                break
            except duckdb.IOException as exc:
                creating = _being_created(path, str(exc))
                if LOCK_MESSAGE not in str(exc).lower() and not creating:
                    raise StoreError(f"cannot open {path}: {_one_line(exc)}") from exc
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if creating:
                        raise StoreError(f"cannot open {path}: {_one_line(exc)}") from exc
                    waited = time.monotonic() - started
                    raise StoreBusyError(_busy_message(path, read_only, waited, str(exc))) from exc
                # A writer frees the lock between batches, often for well under a second: poll often
                # (a failed open costs ~5 ms), with jitter so two waiting processes do not collide in step.
                time.sleep(min(remaining, delay * random.uniform(0.5, 1.5)))
                delay = min(delay * 2, LOCK_POLL_MAX)
            except duckdb.Error as exc:
                raise StoreError(f"cannot open {path}: {_one_line(exc)}") from exc
        # Tables are passed in with register(); name lookups in Python frames (replacement scans)
        # cost ~100 failed imports per statement.
        con.execute("SET python_enable_replacements = false")
        # DuckDB draws a progress bar on the terminal for statements over 2 s (an index build, a big
        # checkpoint); in a command that reports its own progress, or a log, it is noise.
        con.execute("SET enable_progress_bar = false")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if not read_only:
            # A checkpoint rewrites every row group a batch touched (0.3-0.5 s at a million articles,
            # once the stories ART index, rewritten whole, was gone). Batches close without one and
            # leave their commits in the write-ahead log (replayed on the next open, which is
            # DuckDB's crash recovery anyway); a run checkpoints once at its end, or when the log
            # grows past the threshold.
            con.execute("PRAGMA disable_checkpoint_on_shutdown")
            con.execute(f"SET checkpoint_threshold = '{WAL_CHECKPOINT_THRESHOLD}'")
        store = cls(con, path, read_only)
        if not read_only:
            store._ensure_schema()
        elif not store._has_table("meta"):  # e.g. the first ingest was killed before its first commit
            con.close()
            raise StoreError(f"{path} holds no Storyline data yet (no ingest has committed a batch to it)")
        return store

    def close(self) -> None:
        """Close the connection (releases the write lock)."""
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> _Transaction:
        """A context manager: BEGIN, then COMMIT on success or ROLLBACK on any error."""
        return _Transaction(self._con, self.path)

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file (once a run, not once a batch)."""
        self._con.execute("CHECKPOINT")

    def _ensure_schema(self) -> None:
        version = self._meta("schema_version") if self._has_table("meta") else None
        if version is not None and int(version) > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema v{version}; this Storyline reads up to v{SCHEMA_VERSION}")
        # Writers open once per batch: skip the DDL (a write, and a catalog checkpoint on close) when the
        # database already has exactly this schema text, which keeps the write-lock window short.
        digest = xxhash.xxh64_hexdigest((TABLES + VIEWS).encode("utf-8"))
        if version is not None and int(version) == SCHEMA_VERSION and self._meta("schema_digest") == digest:
            return
        self._con.execute("BEGIN")
        self._con.execute(TABLES)
        self._con.execute(VIEWS)
        self._con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        self._con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_digest', ?)", [digest])
        # Names this database (copies keep it), so caches built from it can tell it from another.
        self._con.execute("INSERT OR IGNORE INTO meta VALUES ('database_id', ?)", [uuid.uuid4().hex])
        self._con.execute("COMMIT")

    def check_parameters(self, parameters: dict[str, Any]) -> None:
        """Record the clustering parameters on first use; refuse a run with different ones."""
        stored = self._meta("parameters")
        if stored is None:
            if not self.read_only:
                self._con.execute("INSERT INTO meta VALUES ('parameters', ?)", [json.dumps(parameters, sort_keys=True)])
            return
        old = {k: v for k, v in json.loads(stored).items() if k not in CANDIDATE_BREADTH}  # older databases stored them
        old = {**{k: v for k, v in PARAMETER_DEFAULTS.items() if k in parameters}, **old}
        diff = {k: (old.get(k), v) for k, v in parameters.items() if old.get(k) != v}
        diff.update({k: (v, None) for k, v in old.items() if k not in parameters})
        if diff:
            raise ParameterMismatchError(diff)

    def stored_parameters(self) -> dict[str, Any] | None:
        """The parameters this database was built with (None for a new database)."""
        stored = self._meta("parameters")
        return None if stored is None else json.loads(stored)

    def database_id(self) -> str | None:
        """A random id given to this database when it was created."""
        return self._meta("database_id")

    def _meta(self, key: str) -> str | None:
        rows = self._con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else None

    def has_table(self, name: str) -> bool:
        """Whether the database has this table (an old file opened read-only may lack newer tables)."""
        return self._has_table(name)

    def has_column(self, table: str, column: str) -> bool:
        """Whether the table has this column (an old file opened read-only may lack newer columns)."""
        rows = self._con.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?", [table, column]
        ).fetchall()
        return rows[0][0] > 0

    def _has_table(self, name: str) -> bool:
        rows = self._con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()
        return rows[0][0] > 0

    @contextmanager
    def _table(self, name: str, **columns: list[Any]) -> Iterator[None]:
        """Expose Python columns to SQL as a table (via Arrow: far faster than list parameters)."""
        self._con.register(name, pa.table(columns))
        try:
            yield
        finally:
            self._con.unregister(name)

    def _insert_columns(self, table: str, columns: dict[str, list[Any]]) -> None:
        names = list(columns)
        if not columns[names[0]]:
            return
        with self._table("_rows", **columns):
            self._con.execute(f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(names)} FROM _rows")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read query and return rows as dicts."""
        cursor = self._con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class _Transaction:
    def __init__(self, con: duckdb.DuckDBPyConnection, path: str):
        self.con = con
        self.path = path

    def __enter__(self) -> None:
        self.con.execute("BEGIN TRANSACTION")

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            self.con.execute("ROLLBACK")
            return
        try:
            self.con.execute("COMMIT")
        except duckdb.Error as exc:  # the write-ahead log cannot be written: disk full, permissions
            raise _write_failed(self.path, exc) from exc
