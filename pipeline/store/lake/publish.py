"""Lake: the store published as a DuckLake, so analysts read without ever touching the writer's file.

The DuckDB file stays the record of truth. ``publish`` copies what changed since the last publication
into a DuckLake (a catalog in SQLite or PostgreSQL, the rows in Parquet files) in two phases:

1. *read*: open the DuckDB file read-only for a moment and copy the changed rows of each analyst table
   into local staging Parquet files, then close it (the writer's next batch only ever waits for this);
2. *write*: in one DuckLake transaction, delete the lake's old versions of those rows by key, insert the
   staged ones, and record the new high-water marks in ``_storyline_publication``. The commit is one
   snapshot: a publication killed at any point leaves the lake at its previous snapshot, marks included,
   so the next one publishes exactly the rows still missing.

Maintenance (compaction) and the agreement check with the database are in ``pipeline.store.lake.upkeep``.

Change markers, per table (what makes the incremental read cost grow with the new rows, not the store):
articles by ``seq`` and ``updated_seq`` (set when a batch rewrites a stored row); stories by ``updated_seq``
(every batch that changes a story's members rewrites its row with its last ``seq``) plus the stories merged
away since; ``story_merges`` by ``seq``; ``story_links`` by touched stories; ``runs`` by ``started_at`` plus
the runs the lake still shows running; ``rejections`` by ``last_seen``; ``alerts`` by their latest timestamp;
``revisions`` by the ``seq`` the revised article moved to.
"""

from __future__ import annotations

import fcntl
import logging
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import duckdb
import pyarrow as pa
import xxhash

from pipeline.errors import LakeError, StoreError, StorylineError
from pipeline.settings import LakeSettings, Settings
from pipeline.store.connection import OWN_SQL_ONLY
from pipeline.store.db import Store
from pipeline.store.schema import VIEWS

ALIAS = "lake"
PUBLICATION_TABLE = "_storyline_publication"
EXTENSIONS = ("parquet", "sqlite_scanner", "postgres_scanner", "ducklake")
_NULL_DEFAULT = re.compile(r"(\w+) := NULL\b")


def lake_views(views: str = VIEWS) -> str:
    """The store's views and macros as the lake can hold them.

    DuckLake cannot store a macro parameter whose default is NULL (its commit fails on the type
    "NULL"): such a parameter defaults to '' instead, and its casts treat '' as NULL.
    """
    for name in _NULL_DEFAULT.findall(views):
        views = views.replace(f"CAST({name} AS ", f"CAST(nullif(CAST({name} AS VARCHAR), '') AS ")
    return _NULL_DEFAULT.sub(r"\1 := ''", views)


logger = logging.getLogger(__name__)
VIEWS_DIGEST = xxhash.xxh64_hexdigest(lake_views().encode("utf-8"))


@dataclass(frozen=True)
class Marks:
    """How far the lake has published the store: the high-water mark of each table's change marker."""

    publication: int = 0
    article_seq: int = 0
    runs_started: datetime | None = None
    rejections_seen: datetime | None = None
    alerts_seen: datetime | None = None
    database_id: str | None = None
    views_digest: str | None = None


@dataclass(frozen=True)
class _Table:
    """One published table: its row key, which rows changed since the marks, which lake rows they replace."""

    name: str
    key: str
    changed: str
    """SQL predicate over the store's rows; ``{seq}``, ``{runs}``, ``{rejections}``, ``{alerts}`` are the marks."""
    replaced: str = ""
    """Extra SQL predicate over the lake's rows deleted before the insert (beyond the staged keys)."""


_TOUCHED = "(SELECT story_id FROM _touched)"
# A row a batch rewrote has its updated_seq; rows of a database from before that column (null) are published
# when their story changed, as all were before it.
_ARTICLES_CHANGED = f"seq > {{seq}} OR updated_seq > {{seq}} OR (updated_seq IS NULL AND story_id IN {_TOUCHED})"
_ARTICLES_CHANGED_BEFORE_V4 = f"seq > {{seq}} OR story_id IN {_TOUCHED}"
TABLES: tuple[_Table, ...] = (
    _Table("articles", "article_id", _ARTICLES_CHANGED),
    _Table("stories", "story_id", f"story_id IN {_TOUCHED}", replaced=f"story_id IN {_TOUCHED}"),
    _Table("story_merges", "merged_story_id", "seq > {seq}"),
    _Table(
        "story_links",
        "story_id || chr(31) || related_story_id",
        f"story_id IN {_TOUCHED} OR related_story_id IN {_TOUCHED}",
        replaced=f"story_id IN {_TOUCHED} OR related_story_id IN {_TOUCHED}",
    ),
    # A run the lake shows running may have finished, been marked interrupted, or (an idle tick) deleted.
    _Table(
        "runs",
        "run_id",
        "started_at >= {runs} OR run_id IN (SELECT run_id FROM _lake_running)",
        replaced="status = 'running'",
    ),
    _Table("rejections", "source_uri || chr(31) || reason", "last_seen >= {rejections}"),
    _Table("alerts", "alert_id", "greatest(created_at, last_attempt_at, delivered_at) >= {alerts}"),
    # A replaced version is written with the seq its article moves to, so it is new past the seq mark.
    _Table("revisions", "article_id || chr(31) || CAST(revision AS VARCHAR)", "replaced_seq > {seq}"),
)
PUBLISHED_TABLES = tuple(t.name for t in TABLES)


@dataclass
class PublicationReport:
    """What one ``publish`` did."""

    publication: int
    snapshot: int | None
    rows: dict[str, int] = field(default_factory=dict)
    """Rows written per table (new or changed)."""
    read_seconds: float = 0.0
    """Time the DuckDB file was held (read-only) to stage the changes."""
    write_seconds: float = 0.0
    """Time spent writing the lake (the DuckDB file closed)."""
    skipped: str = ""
    """Why nothing was published (``up to date``, ``busy``), empty when a snapshot was committed."""

    def summary(self) -> str:
        """One line for the log or the terminal."""
        if self.skipped:
            return f"lake: nothing published ({self.skipped})"
        rows = ", ".join(f"{name} {n}" for name, n in self.rows.items() if n)
        return (
            f"lake: publication {self.publication} (snapshot {self.snapshot}): {rows or 'no rows'}; "
            f"database held {self.read_seconds:.2f} s, lake written in {self.write_seconds:.2f} s"
        )


# ---- connections -------------------------------------------------------------------------------------


def extension_path(name: str) -> Path:
    """The extension file shipped by the ``duckdb-extension-NAME`` package (``INSTALL`` needs the internet)."""
    package = f"duckdb_extension_{name}"
    try:
        module = __import__(package)
    except ImportError as exc:
        raise LakeError(
            f"the DuckDB {name} extension is not installed: pip install duckdb-extension-"
            f"{name.replace('_', '-')}=={duckdb.__version__}"
        ) from exc
    return Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"


def load_extensions(con: duckdb.DuckDBPyConnection, url: str) -> None:
    """Load the extensions a DuckLake at ``url`` needs from their local packages."""
    wanted = ["parquet", "postgres_scanner" if ":postgres:" in url else "sqlite_scanner", "ducklake"]
    for name in wanted:
        path = extension_path(name)
        try:
            con.execute(f"LOAD {_quote(str(path))}")
        except duckdb.Error as exc:
            raise LakeError(f"cannot load the DuckDB {name} extension from {path}: {_one_line(exc)}") from exc


def resolve(lake: LakeSettings) -> tuple[str, str | None]:
    """The catalog URL with a SQLite path made absolute, and the data path (default: beside a SQLite catalog).

    Absolute, because DuckLake records the data path in the catalog and readers start elsewhere.
    """
    if not lake.url:
        raise LakeError("no lake configured: pass --lake ducklake:sqlite:PATH or set [lake] url in the settings")
    url, data = lake.url, lake.data_path
    if url.startswith("ducklake:sqlite:"):
        catalog = Path(url.removeprefix("ducklake:sqlite:")).expanduser().resolve()
        url = f"ducklake:sqlite:{catalog}"
        data = data or f"{catalog}.files"
    if data and "://" not in data:
        data = str(Path(data).expanduser().resolve())
    return url, data


def connect(lake: LakeSettings, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB session with the lake attached as ``lake`` (and in use: the macros need it)."""
    url, data = resolve(lake)
    con = duckdb.connect(config={} if read_only else OWN_SQL_ONLY)  # a publisher runs Storyline's SQL only
    try:
        con.execute("SET python_enable_replacements = false")
        con.execute("SET enable_progress_bar = false")
        load_extensions(con, url)
        options = ["READ_ONLY"] if read_only else []
        if data and not read_only:
            if "://" not in data:
                Path(data).mkdir(parents=True, exist_ok=True)
            options.append(f"DATA_PATH {_quote(data.rstrip('/') + '/')}")
        if not read_only and url.startswith("ducklake:sqlite:"):
            _write_ahead_log(Path(url.removeprefix("ducklake:sqlite:")))
        if read_only and url.startswith("ducklake:sqlite:") and not Path(url.removeprefix("ducklake:sqlite:")).exists():
            raise LakeError(f"no lake at {url} (run `storyline publish` first)")
        suffix = f" ({', '.join(options)})" if options else ""
        con.execute(f"ATTACH {_quote(url)} AS {ALIAS}{suffix}")
        con.execute(f"USE {ALIAS}")
    except duckdb.Error as exc:
        con.close()
        raise LakeError(f"cannot attach the lake {url}: {_one_line(exc)}") from exc
    except BaseException:
        con.close()
        raise
    return con


def lake_store(lake: LakeSettings) -> Store:
    """A read-only ``Store`` over the lake (its views and macros in use), for the read commands' ``--lake``."""
    return Store(connect(lake, read_only=True), resolve(lake)[0], read_only=True)


def _write_ahead_log(catalog: Path) -> None:
    """Put a SQLite catalog in WAL mode (it stays so): readers then never hold up a publication's commit.

    In SQLite's default mode a reader's open transaction (a dashboard's query, a ``BEGIN`` ... ``COMMIT``)
    blocks the writer's commit until it ends: a reader holding one for 3 s held the commit 3 s.

    A catalog already in WAL mode is left alone, told by its file header, not by opening it: closing a
    Python ``sqlite3`` handle drops every POSIX lock this process holds on the file, those of a lake
    session's own SQLite (in DuckDB's extension) included. So only a new catalog, or one another tool
    made, is opened here, once.
    """
    catalog.parent.mkdir(parents=True, exist_ok=True)
    if _in_wal_mode(catalog):
        return
    con = sqlite3.connect(catalog, timeout=30)
    try:
        if con.execute("PRAGMA journal_mode").fetchall()[0][0] != "wal":
            con.execute("PRAGMA journal_mode=WAL").fetchall()
    except sqlite3.OperationalError as exc:  # readers on it now: WAL is set on a later publication
        logger.info("could not put the lake catalog %s in WAL mode yet: %s", catalog, exc)
    finally:
        con.close()


def _in_wal_mode(catalog: Path) -> bool:
    """Whether a SQLite file is in WAL mode: its header's read and write versions (bytes 18, 19) are 2."""
    try:
        with catalog.open("rb") as file:
            header = file.read(20)
    except FileNotFoundError:
        return False
    return header.startswith(b"SQLite format 3\x00") and header[18:20] == b"\x02\x02"


def read_marks(con: duckdb.DuckDBPyConnection) -> Marks:
    """The marks of the lake's latest publication (zero marks for a new lake)."""
    return _latest_marks(con) if lake_has_table(con, PUBLICATION_TABLE) else Marks()


def _latest_marks(con: duckdb.DuckDBPyConnection) -> Marks:
    rows = con.execute(
        f"SELECT publication, article_seq, runs_started, rejections_seen, alerts_seen, database_id, views_digest "
        f"FROM {ALIAS}.{PUBLICATION_TABLE} ORDER BY publication DESC LIMIT 1"
    ).fetchall()
    return Marks(*rows[0]) if rows else Marks()


# ---- publishing ----------------------------------------------------------------------------------


def publish(
    db: str,
    lake: LakeSettings,
    wait_seconds: float = 30.0,
    wait_for_lock: bool = True,
    con: duckdb.DuckDBPyConnection | None = None,
) -> PublicationReport:
    """Publish what changed in the store at ``db`` since the lake's last publication, as one lake snapshot.

    One publisher at a time per database (a lock file beside it); with ``wait_for_lock=False`` a busy
    publisher makes this return at once, skipped, rather than wait. ``con``: a writable ``connect(lake)``
    to reuse (loading the extensions costs ~0.3 s of CPU a connection); by default one of its own.
    """
    with publisher_lock(db, wait_for_lock) as locked:
        if not locked:
            return PublicationReport(0, None, skipped="another publication is running")
        own = con is None
        lake_con = connect(lake, read_only=False) if con is None else con
        try:
            with tempfile.TemporaryDirectory(prefix="storyline-publish-") as staging:
                return _publish(lake_con, db, Path(staging), wait_seconds)
        except duckdb.Error as exc:  # the lake's previous snapshot stands; the next publication catches up
            raise LakeError(f"publishing {db} to {lake.url} failed: {_one_line(exc)}") from exc
        finally:
            if own:
                lake_con.close()


def _publish(con: duckdb.DuckDBPyConnection, db: str, staging: Path, wait_seconds: float) -> PublicationReport:
    columns = _lake_columns(con)  # one catalog read (each costs ~15 ms) for the marks, tables and columns
    marks = _latest_marks(con) if PUBLICATION_TABLE in columns else Marks()
    tables = set(columns)
    running = [r[0] for r in con.execute(f"SELECT run_id FROM {ALIAS}.runs WHERE status = 'running'").fetchall()] \
        if "runs" in tables else []  # fmt: skip
    started = time.monotonic()
    staged, new_marks = _stage(db, marks, running, staging, wait_seconds)
    read_seconds = time.monotonic() - started
    changed = {name: rows for name, (_, rows) in staged.items()}
    # Unchanged marks re-select only the rows at the marks (already published), unless a run was running.
    if marks.publication and new_marks == marks and not running and not changed.get("stories") \
            and not changed.get("articles"):  # fmt: skip
        return PublicationReport(marks.publication, None, read_seconds=read_seconds, skipped="up to date")
    if marks.database_id not in (None, new_marks.database_id):
        raise LakeError(
            f"the lake holds database {marks.database_id}, not {new_marks.database_id} ({db}): "
            "publish each database to its own lake"
        )
    started = time.monotonic()
    number = marks.publication + 1
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"CALL {ALIAS}.set_commit_message('storyline', ?)",
            [f"publication {number}: " + ", ".join(f"{n} {r}" for n, r in changed.items())],
        )
        touched = staging / "_touched.parquet"
        for table in TABLES:
            if table.name in staged:
                path, rows = staged[table.name]
                _write_table(con, table, path, rows, touched, columns.get(table.name), full=not marks.publication)
        if marks.views_digest != VIEWS_DIGEST:
            con.execute(lake_views())  # the lake is in use (USE lake): the views and macros are created in it
        _record(con, number, new_marks, changed)
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)
        raise
    snapshot = con.execute(f"SELECT id FROM {ALIAS}.current_snapshot()").fetchall()[0][0]
    return PublicationReport(number, snapshot, changed, read_seconds, time.monotonic() - started)


def _stage(
    db: str, marks: Marks, running: list[str], staging: Path, wait_seconds: float
) -> tuple[dict[str, tuple[Path, int]], Marks]:
    """Copy the rows changed since ``marks`` into Parquet files under ``staging``, holding ``db`` read-only briefly."""
    try:
        store = Store.open(db, read_only=True, wait_seconds=wait_seconds)
    except StoreError as exc:
        raise LakeError(f"cannot read {db} to publish it: {exc}") from exc
    with store:
        con = store._con
        full = not marks.publication
        values = {
            "seq": -1 if full else int(marks.article_seq),
            "runs": _timestamp(None if full else marks.runs_started),
            "rejections": _timestamp(None if full else marks.rejections_seen),
            "alerts": _timestamp(None if full else marks.alerts_seen),
        }
        con.execute(
            "CREATE TEMP TABLE _touched AS SELECT story_id FROM stories WHERE updated_seq > $seq OR $full "
            "UNION SELECT merged_story_id FROM story_merges WHERE seq > $seq",
            {"seq": values["seq"], "full": full},
        )
        _copy(con, "SELECT story_id FROM _touched", staging / "_touched.parquet")
        con.register("_lake_running", pa.table({"run_id": pa.array(running, pa.string())}))
        present = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()}
        staged = {}
        for table in TABLES:
            if table.name not in present:  # an old file opened read-only may lack newer tables
                continue
            path = staging / f"{table.name}.parquet"
            changed = table.changed
            if table.name == "articles" and not store.has_column("articles", "updated_seq"):
                changed = _ARTICLES_CHANGED_BEFORE_V4  # read-only, an older database is not migrated
            predicate = "TRUE" if full else changed.format(**values)
            select = f"SELECT * FROM {table.name} WHERE {predicate}"
            if table.name == "articles" and not full:
                select = _articles_by_seq(con, predicate)
            staged[table.name] = (path, _copy(con, select, path))
        new_marks = Marks(
            publication=marks.publication,
            article_seq=max(marks.article_seq, _scalar(con, "SELECT coalesce(max(seq), 0) FROM articles")),
            runs_started=_newest(marks.runs_started, _scalar(con, "SELECT max(started_at) FROM runs")),
            rejections_seen=_newest(marks.rejections_seen, _scalar(con, "SELECT max(last_seen) FROM rejections")),
            alerts_seen=_newest(
                marks.alerts_seen,
                _scalar(con, "SELECT max(greatest(created_at, last_attempt_at, delivered_at)) FROM alerts")
                if "alerts" in present
                else None,
            ),
            database_id=store.database_id(),
            views_digest=VIEWS_DIGEST,
        )
    return staged, new_marks


def _articles_by_seq(con: duckdb.DuckDBPyConnection, predicate: str) -> str:
    """A SELECT of the changed articles by their seqs, found on the narrow columns first.

    Copying ``SELECT * ... WHERE seq > n OR story_id IN (...)`` read every column of every row group
    (1.2 s at a million articles for 2,000 rows). The seqs are found in 40 ms; then each run of nearby
    seqs is read by a ``seq BETWEEN`` range, which the scan's zone maps narrow to the vectors holding
    them (0.05 s; one ``seq IN (...)`` list spanning the table took 0.2-0.3 s).
    """
    seqs = [int(r[0]) for r in con.execute(f"SELECT seq FROM articles WHERE {predicate} ORDER BY seq").fetchall()]
    if not seqs:
        return "SELECT * FROM articles WHERE FALSE"
    parts = []
    for lo, hi in _runs(seqs):
        listed = ", ".join(map(str, seqs[lo:hi]))
        parts.append(f"SELECT * FROM articles WHERE seq BETWEEN {seqs[lo]} AND {seqs[hi - 1]} AND seq IN ({listed})")
    return " UNION ALL ".join(parts)


def _runs(seqs: list[int], gap: int = 2048, most: int = 64) -> list[tuple[int, int]]:
    """Index ranges of sorted ``seqs`` split where two are more than ``gap`` apart (a vector of rows),
    at the ``most - 1`` widest such gaps."""
    widest = sorted(range(1, len(seqs)), key=lambda i: seqs[i] - seqs[i - 1], reverse=True)[: most - 1]
    cuts = sorted(i for i in widest if seqs[i] - seqs[i - 1] > gap)
    bounds = [0, *cuts, len(seqs)]
    return list(pairwise(bounds))


def _write_table(
    con: duckdb.DuckDBPyConnection, table: _Table, path: Path, rows: int, touched: Path, have: set[str] | None,
    full: bool,
) -> None:  # fmt: skip
    """Replace the lake's versions of the staged rows (by key, and by ``table.replaced``) with the staged rows.

    ``have``: the lake table's columns (None: no such table yet).
    """
    staged = f"read_parquet({_quote(str(path))})"
    target = f"{ALIAS}.{table.name}"
    if have is None:
        con.execute(f"CREATE TABLE {target} AS SELECT * FROM {staged} LIMIT 0")
    elif rows:  # columns the store gained since the lake table was created are added to it
        for column, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {staged}").fetchall():
            if column not in have:
                con.execute(f'ALTER TABLE {target} ADD COLUMN "{column}" {kind}')
    if not full and (rows or table.replaced):
        if table.replaced:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _touched AS SELECT * FROM read_parquet({_quote(str(touched))})")
        replaced = f" OR {table.replaced}" if table.replaced else ""
        con.execute(f"DELETE FROM {target} WHERE {table.key} IN (SELECT {table.key} FROM {staged}){replaced}")
    if rows:
        con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {staged}")


def _lake_columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """The columns of each lake table."""
    columns: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ?", [ALIAS]
    ).fetchall():
        columns.setdefault(table, set()).add(column)
    return columns


def _record(con: duckdb.DuckDBPyConnection, number: int, marks: Marks, rows: dict[str, int]) -> None:
    """Append this publication's marks to the lake, in the publication's own transaction."""
    con.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {ALIAS}.{PUBLICATION_TABLE} (
            publication BIGINT, published_at TIMESTAMP, article_seq BIGINT, runs_started TIMESTAMP,
            rejections_seen TIMESTAMP, alerts_seen TIMESTAMP, database_id VARCHAR, views_digest VARCHAR,
            rows MAP(VARCHAR, BIGINT)
        )
        """
    )
    con.execute(
        f"INSERT INTO {ALIAS}.{PUBLICATION_TABLE} VALUES (?, localtimestamp, ?, ?, ?, ?, ?, ?, MAP(?, ?))",
        [number, marks.article_seq, marks.runs_started, marks.rejections_seen, marks.alerts_seen,
         marks.database_id, marks.views_digest, list(rows), list(rows.values())],
    )  # fmt: skip


@contextmanager
def publisher_lock(db: str, wait: bool) -> Iterator[bool]:
    """An exclusive lock on ``DB.publish.lock``: two publishers would stage the same changes twice.

    The kernel drops it when its process dies, so a killed publication never blocks the next one.
    """
    path = Path(f"{db}.publish.lock")
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---- publishing from a run ----------------------------------------------------------------------


class RunPublisher:
    """Publishes a run on the ``[lake]`` policy: between batches every N batches or seconds, and at its end.

    Every publication of the run goes through one lake connection: a child process cost ~1.5 s of CPU a
    publication (start-up, imports, extensions), more than the publication itself (0.3-0.6 s, of which
    the database is held ~0.1 s), and a new connection ~0.2 s to load the extensions. A mid-run
    publication waits for the next batch (``between_batches``): one due after the last batch would only
    precede the end-of-run one (``finish``). A failed one is logged and the run goes on: the next
    publication catches up.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.batches = 0
        self.last = time.monotonic()
        self.con: duckdb.DuckDBPyConnection | None = None

    def between_batches(self) -> None:
        """Count the batch just committed (the database closed, another batch to come); publish if due."""
        lake = self.settings.lake
        if not lake.url:
            return
        self.batches += 1
        due = (lake.every_batches and self.batches >= lake.every_batches) or (
            lake.every_seconds and time.monotonic() - self.last >= lake.every_seconds
        )
        if due:
            self._publish(wait_for_lock=False, what="mid-run")

    def finish(self) -> PublicationReport | None:
        """The end-of-run publication (when ``[lake]`` is set), then the connection closed; never raises.

        The run has committed whatever happens here: a lake that cannot be written now catches up at the
        next publication, which publishes everything since the last one that committed.
        """
        try:
            return self._publish(wait_for_lock=True, what="at the end of the run") if self.settings.lake.url else None
        finally:
            self.close()

    def _publish(self, wait_for_lock: bool, what: str) -> PublicationReport | None:
        self.batches, self.last = 0, time.monotonic()
        settings = self.settings
        try:
            if self.con is None:
                self.con = connect(settings.lake, read_only=False)
            report = publish(settings.db, settings.lake, settings.read_wait_seconds, wait_for_lock, con=self.con)
        except (StorylineError, OSError) as exc:
            logger.warning("the lake was not published %s: %s", what, exc)
            self.close()  # a fresh connection for the next one
            return None
        logger.info("%s", report.summary())
        return report

    def close(self) -> None:
        """Close the run's lake connection."""
        if self.con is not None:
            self.con.close()
            self.con = None


# ---- helpers -------------------------------------------------------------------------------------


def _copy(con: duckdb.DuckDBPyConnection, select: str, path: Path) -> int:
    """Write a query's rows to a Parquet file; returns how many."""
    return int(con.execute(f"COPY ({select}) TO {_quote(str(path))} (FORMAT parquet)").fetchall()[0][0])


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if a failed COMMIT left one (it usually ends it)."""
    with suppress(duckdb.TransactionException):
        con.execute("ROLLBACK")


def lake_has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the attached lake has this table."""
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?", [ALIAS, name]
        ).fetchall()[0][0]
    )


def _scalar(con: duckdb.DuckDBPyConnection, sql: str):  # type: ignore[no-untyped-def]
    return con.execute(sql).fetchall()[0][0]


def _newest(old: datetime | None, new: datetime | None) -> datetime | None:
    return new if old is None else old if new is None else max(old, new)


def _timestamp(value: datetime | None) -> str:
    """A mark as a SQL literal (ours, never user text)."""
    return "TIMESTAMP '-infinity'" if value is None else f"TIMESTAMP '{value.isoformat(sep=' ')}'"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


__all__ = ["Marks", "PublicationReport", "RunPublisher", "connect", "publish", "read_marks"]
