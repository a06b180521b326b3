"""Store: DuckDB as the record of truth.

One ``Store`` wraps one connection. Writers open it for one batch at a time (short write-lock
windows); every batch is written in a single transaction, so a crash loses at most the batch in
flight and never leaves half of one. Articles are keyed by (source_uri, content_hash): the same
input ingested twice adds nothing; a new text from the same source is a revision, which replaces its
article's rows (``pipeline.cluster.revisions``).
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import xxhash

from pipeline.errors import EnvironmentFailure, ParameterMismatchError, StoreBusyError, StoreError
from pipeline.fingerprint.fingerprints import dot, heaviest
from pipeline.models import IngestReport, Rejection
from pipeline.schema import SCHEMA_VERSION, TABLES, VIEWS
from pipeline.settings import PARAMETER_DEFAULTS, SEARCH_BREADTH
from pipeline.sources.outlet import OUTLET_SQL

_STORY_ID = re.compile(r"[a-z][0-9a-f]{16}")


def stored_vector(terms: dict[str, float]) -> dict[str, float]:
    """A term vector as ``article_vectors`` gives it back: its weights are stored as 32-bit FLOATs."""
    return dict(zip(terms, np.asarray(list(terms.values()), dtype=np.float32).tolist(), strict=True))


def _id_list(ids: Sequence[str]) -> str:
    """A constant IN list of story ids (filtered in the scan of the id column, before other columns are read).

    Inlined rather than bound: binding costs the Python client ~5 failed imports per value. Only
    ids of the form Storyline issues (checked here) are ever inlined; they come from the index
    and the store, never from user text.
    """
    for story_id in ids:
        if not _STORY_ID.fullmatch(story_id):
            raise StoreError(f"not a story id: {story_id!r}")
    return ", ".join(f"'{story_id}'" for story_id in ids)


def term_key(term: str) -> int:
    """The 63-bit key a term is posted under in ``story_postings``."""
    return xxhash.xxh64_intdigest(term.encode("utf-8")) >> 1


# The latest ``?`` distinct variants (articles that shaped the centroid) of each story in table ``_stories``.
_LATEST_VARIANTS = """
    SELECT seq, article_id, story_id, variant_group FROM articles JOIN _stories USING (story_id)
    WHERE assigned_as IN ('new_story', 'rewrite')
    QUALIFY row_number() OVER (PARTITION BY story_id ORDER BY seq DESC) <= ?
"""
LOCK_MESSAGE = "lock"
_LOCK_HOLDER = re.compile(r"lock is held in (?P<program>.*?)\s*\(PID (?P<pid>\d+)\)")
LOCK_POLL_MAX = 0.1  # seconds between attempts to take a busy lock, at most
# Every open (the writer's, once a batch, and every reader's) replays the write-ahead log, holding the
# lock meanwhile. With 64 MB, reads during a 5,000-article ingest fell to 91% within a 1 s wait and the
# ingest took 115 s; with 8 MB, 99.6% and 50 s (bench/read_during_ingest.py).
WAL_CHECKPOINT_THRESHOLD = "8MB"


def _process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


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


def _one_line(exc: BaseException) -> str:
    """DuckDB's message without its context lines."""
    return " ".join(str(exc).split())


def _write_failed(path: str, exc: duckdb.Error) -> StoreError | EnvironmentFailure:
    """A DuckDB error on writing ``path`` as one line naming the file and the cause."""
    detail = _one_line(exc)
    if "permission denied" in detail.lower():
        return EnvironmentFailure(PermissionError(errno.EACCES, detail), f"writing {path}")
    return StoreError(f"cannot write {path}: {detail}")


@dataclass(frozen=True)
class ArticleRef:
    """Where a stored article sits: its story and variant group."""

    article_id: str
    story_id: str
    variant_group: str


@dataclass(frozen=True)
class StoredDocument:
    """A stored article that an incoming document may be a version of."""

    seq: int
    article_id: str
    content_hash: str
    by_uri: bool
    """Found by the same ``source_uri`` (else by the same outlet and external id)."""


@dataclass(frozen=True)
class StoryVariant:
    """One distinct variant (an article that shaped its story's centroid) with its term vector."""

    seq: int
    article_id: str
    story_id: str
    variant_group: str
    terms: dict[str, float]


@dataclass
class StoryState:
    """A story as clustering sees it: a term centroid (sum of its distinct variants' vectors) and extent."""

    story_id: str
    centroid: dict[str, float]
    size: int
    first_published: date | None = None
    last_published: date | None = None
    variants: int = 0
    """Distinct variants summed in the centroid (copies follow their variant and add nothing)."""
    is_new: bool = False
    posted: set[str] = field(default_factory=set)  # terms already in story_postings
    _norm: float | None = field(default=None, repr=False, compare=False)

    @property
    def norm(self) -> float:
        """Euclidean length of the centroid (cached; ``add`` and ``truncate`` keep it current)."""
        if self._norm is None:
            self._norm = float(np.sqrt(sum(w * w for w in self.centroid.values()))) or 1.0
        return self._norm

    def similarity(self, vector: dict[str, float], average: bool) -> float:
        """How close a unit vector is to the story: its cosine with the centroid, or (``average``) its
        mean cosine with the story's variants (average link).

        A loose pile of articles that each share a little with a newcomer scores low on average link,
        where its centroid's cosine would not (a centroid's length shrinks as its members disagree).
        """
        return dot(vector, self.centroid) / (max(self.variants, 1) if average else self.norm)

    def query(self, average: bool) -> dict[str, float]:
        """The story as one vector whose ``similarity`` with another story is the stories' similarity:
        the centroid over its variant count (average link) or over its length (centroid cosine)."""
        scale = max(self.variants, 1) if average else self.norm
        return {t: w / scale for t, w in self.centroid.items()}

    def add(self, vector: dict[str, float]) -> None:
        """Add a term vector to the centroid."""
        for term, weight in vector.items():
            self.centroid[term] = self.centroid.get(term, 0.0) + weight
        self._norm = None

    def remove(self, vector: dict[str, float]) -> None:
        """Take a term vector out of the centroid (a variant moved to another story)."""
        for term, weight in vector.items():
            if term in self.centroid:
                left = self.centroid[term] - weight
                if left > 1e-9:
                    self.centroid[term] = left
                else:
                    del self.centroid[term]
        self._norm = None

    def truncate(self, keep: int) -> None:
        """Keep only the centroid's ``keep`` heaviest terms."""
        if len(self.centroid) > keep:
            self.centroid = dict(heaviest(self.centroid, keep))
            self._norm = None

    def top_terms(self, n: int) -> list[str]:
        """The centroid's n heaviest terms."""
        return [t for t, _ in heaviest(self.centroid, n)]


@dataclass(frozen=True)
class StoryMerge:
    """Story ``merged`` was folded into ``into`` because ``article_id`` bridged them."""

    merged: str
    into: str
    article_id: str
    seq: int
    similarity: float


@dataclass(frozen=True)
class StoryLink:
    """A new story related to an older one: it ``follows`` it (same subject, outside the time window) or
    was ``split`` from it (a look-alike event the older story had taken in; ``similarity`` is then the
    cohesion ratio of the two, see ``pipeline.cluster.split``)."""

    story_id: str
    related_story_id: str
    similarity: float
    article_id: str
    relation: str = "follows"


@dataclass(frozen=True)
class NewArticle:
    """One article row to insert, with its fingerprints and assignment."""

    row: dict[str, Any]
    signature: bytes
    band_keys: tuple[int, ...]
    terms: dict[str, float]


class Store:
    """A DuckDB database holding articles, stories, runs and rejections."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, read_only: bool):
        self.con = con
        self.path = path
        self.read_only = read_only

    @classmethod
    def open(
        cls, path: str | Path, read_only: bool = False, wait_seconds: float = 30.0, threads: int | None = None
    ) -> Store:
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
                con = duckdb.connect(path, read_only=read_only)
                break
            except duckdb.IOException as exc:
                if LOCK_MESSAGE not in str(exc).lower():
                    raise StoreError(f"cannot open {path}: {_one_line(exc)}") from exc
                remaining = deadline - time.monotonic()
                if remaining <= 0:
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
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- schema and parameters -------------------------------------------------------------

    def _ensure_schema(self) -> None:
        version = self._meta("schema_version") if self._has_table("meta") else None
        if version is not None and int(version) > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema v{version}; this Storyline reads up to v{SCHEMA_VERSION}")
        # Writers open once per batch: skip the DDL (a write, and a catalog checkpoint on close) when the
        # database already has exactly this schema text, which keeps the write-lock window short.
        digest = xxhash.xxh64_hexdigest((TABLES + VIEWS).encode("utf-8"))
        if version is not None and int(version) == SCHEMA_VERSION and self._meta("schema_digest") == digest:
            return
        self.con.execute("BEGIN")
        self.con.execute(TABLES)
        self.con.execute(VIEWS)
        self.con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        self.con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_digest', ?)", [digest])
        # Names this database (copies keep it), so caches built from it can tell it from another.
        self.con.execute("INSERT OR IGNORE INTO meta VALUES ('database_id', ?)", [uuid.uuid4().hex])
        self.con.execute("COMMIT")

    def check_parameters(self, parameters: dict[str, Any]) -> None:
        """Record the clustering parameters on first use; refuse a run with different ones."""
        stored = self._meta("parameters")
        if stored is None:
            if not self.read_only:
                self.con.execute("INSERT INTO meta VALUES ('parameters', ?)", [json.dumps(parameters, sort_keys=True)])
            return
        old = {k: v for k, v in json.loads(stored).items() if k not in SEARCH_BREADTH}  # older databases stored them
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
        rows = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else None

    def _has_table(self, name: str) -> bool:
        rows = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()
        return rows[0][0] > 0

    # ---- runs --------------------------------------------------------------------------------

    def begin_run(self, inputs: Sequence[str]) -> str:
        """Record the start of a run (with this process's pid and host) and return its id."""
        run_id = f"run-{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        self.con.execute(
            "INSERT INTO runs (run_id, started_at, status, inputs, pid, host) VALUES (?, now(), 'running', ?, ?, ?)",
            [run_id, list(inputs), os.getpid(), socket.gethostname()],
        )
        return run_id

    def mark_interrupted_runs(self) -> list[str]:
        """Mark 'interrupted' the runs still 'running' whose process on this host is gone (killed, crashed)."""
        rows = self.con.execute(
            "SELECT run_id, pid FROM runs WHERE status = 'running' AND host = ? AND pid IS NOT NULL",
            [socket.gethostname()],
        ).fetchall()
        dead = [run_id for run_id, pid in rows if not _process_alive(pid)]
        for run_id in dead:
            self.con.execute("UPDATE runs SET status = 'interrupted', finished_at = now() WHERE run_id = ?", [run_id])
        return dead

    def add_to_run(self, run_id: str, report: IngestReport) -> None:
        """Add a batch's counts to its run (called inside the batch's transaction)."""
        counts = report.counts()
        sets = ", ".join(f"{name} = {name} + ?" for name in counts)
        self.con.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", [*counts.values(), run_id])

    def finish_run(self, run_id: str, status: str) -> None:
        """Mark a run finished (status: completed, failed, empty)."""
        self.con.execute("UPDATE runs SET finished_at = now(), status = ? WHERE run_id = ?", [status, run_id])

    def discard_run(self, run_id: str) -> None:
        """Delete a run that read nothing (an idle tick of a live source); a run with counts is kept."""
        self.con.execute("DELETE FROM runs WHERE run_id = ? AND read = 0", [run_id])

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file (once a run, not once a batch)."""
        self.con.execute("CHECKPOINT")

    # ---- lookups for clustering --------------------------------------------------------------

    def stored_documents(self, keys: Sequence[tuple[str, str | None, str | None]]) -> dict[int, list[StoredDocument]]:
        """Stored articles a document may be a version of, by the position of its key.

        A key is (source_uri, outlet, external id): articles with that ``source_uri`` match, and, when
        the outlet is given, articles of that outlet with that external id.
        """
        if not keys:
            return {}
        columns = [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]
        sql = "SELECT k.i, a.seq, a.article_id, a.content_hash, {by_uri} FROM _keys k JOIN articles a ON {on}"
        parts = [sql.format(by_uri="true", on="a.source_uri = k.source_uri")]
        if any(columns[1]):  # the second join scans two more columns: only when some record names its source
            parts.append(sql.format(by_uri="false", on="a.source = k.outlet AND a.external_id = k.external_id"))
        found: dict[int, list[StoredDocument]] = defaultdict(list)
        with self._table(
            "_keys", i=list(range(len(keys))), source_uri=columns[0], outlet=columns[1], external_id=columns[2]
        ):
            for i, seq, article_id, content_hash, by_uri in self.con.execute(" UNION ALL ".join(parts)).fetchall():
                found[i].append(StoredDocument(seq, article_id, content_hash, by_uri))
        return dict(found)

    def article_rows(self, seqs: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Whole stored article rows, by seq."""
        wanted = sorted(set(seqs))
        if not wanted:
            return {}
        with self._table("_seqs", seq=wanted):
            found = self.query("SELECT a.* FROM articles a JOIN _seqs USING (seq)")
        return {row["seq"]: row for row in found}

    def earlier_versions(self, article_ids: Iterable[str]) -> dict[str, set[str]]:
        """The content hashes of the replaced versions of each article (``revisions``)."""
        ids = sorted(set(article_ids))
        if not ids:
            return {}
        with self._table("_ids", article_id=ids):
            rows = self.con.execute(
                "SELECT article_id, list(content_hash) FROM revisions JOIN _ids USING (article_id) GROUP BY article_id"
            ).fetchall()
        return {r[0]: set(r[1]) for r in rows}

    def retired_seqs(self, after: int, upto: int) -> list[int]:
        """The seqs whose article was re-stored under a later seq (revised) by articles ``after < seq <= upto``."""
        rows = self.con.execute(
            "SELECT seq FROM revisions WHERE seq IS NOT NULL AND replaced_seq > ? AND replaced_seq <= ?", [after, upto]
        ).fetchall()
        return [r[0] for r in rows]

    def outlet_texts(self, keys: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
        """(outlet, content_hash, source_uri) of the stored articles with these (outlet, content_hash) pairs."""
        keys = list(keys)
        if not keys:
            return []
        with self._table("_keys", source=[k[0] for k in keys], content_hash=[k[1] for k in keys]):
            rows = self.con.execute(
                "SELECT a.source, a.content_hash, a.source_uri FROM articles a "
                "JOIN _keys k USING (source, content_hash)"
            ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def articles_by_hash(self, hashes: Iterable[str]) -> dict[str, ArticleRef]:
        """The earliest stored article for each content hash."""
        hashes = sorted(set(hashes))
        if not hashes:
            return {}
        with self._table("_hashes", content_hash=hashes):
            rows = self.con.execute(
                "SELECT content_hash, arg_min(article_id, seq), arg_min(story_id, seq), arg_min(variant_group, seq) "
                "FROM articles JOIN _hashes USING (content_hash) GROUP BY content_hash"
            ).fetchall()
        return {r[0]: ArticleRef(r[1], r[2], r[3]) for r in rows}

    def max_seq(self) -> int:
        """The highest article sequence number stored (0 for an empty store)."""
        return int(self.con.execute("SELECT coalesce(max(seq), 0) FROM articles").fetchall()[0][0])

    def article_at(self, seq: int) -> str | None:
        """The id of the article stored with sequence number ``seq``, if any."""
        rows = self.con.execute("SELECT article_id FROM articles WHERE seq = ?", [seq]).fetchall()
        return rows[0][0] if rows else None

    def band_rows(self, after: int, upto: int) -> tuple[np.ndarray, np.ndarray]:
        """LSH band postings (key, seq) added by articles ``after < seq <= upto``."""
        found = self.con.execute(
            "SELECT key, seq FROM lsh_bands WHERE seq > ? AND seq <= ?", [after, upto]
        ).fetchnumpy()
        return found["key"].astype(np.uint64), found["seq"].astype(np.int64)

    def posting_rows(self, after: int, upto: int) -> tuple[np.ndarray, list[str]]:
        """Story term postings (term key, story id) added by articles ``after < seq <= upto``."""
        found = self.con.execute(
            "SELECT term_key, story_id FROM story_postings WHERE seq > ? AND seq <= ?", [after, upto]
        ).fetchnumpy()
        return found["term_key"].astype(np.uint64), [str(s) for s in found["story_id"]]

    def term_document_counts(self, after: int, upto: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Term keys with how many articles ``after < seq <= upto`` hold each, and how many articles that is.

        Exact copies are left out: a page stored again says nothing more about how common its words are.
        A version those articles replaced (a revision) that was stored at or before ``after`` is counted
        out again (negative counts), so the counts describe the articles stored now, whether they are
        read in one go or range by range.
        """
        params = {"after": after, "upto": upto}
        added = (
            "FROM article_vectors v JOIN articles a ON a.seq = v.seq WHERE v.seq > $after AND v.seq <= $upto "
            "AND a.seq > $after AND a.seq <= $upto AND a.assigned_as <> 'exact'"
        )
        replaced = (
            "FROM revisions r JOIN articles a USING (article_id) WHERE r.replaced_seq > $after "
            "AND r.replaced_seq <= $upto AND r.seq <= $after AND a.assigned_as <> 'exact'"
        )
        documents, gone = self.con.execute(
            "SELECT (SELECT count(*) FROM articles WHERE seq > $after AND seq <= $upto AND assigned_as <> 'exact'), "
            f"(SELECT count(*) {replaced})",
            params,
        ).fetchall()[0]
        if not documents and not gone:
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64), 0
        found = self.con.execute(
            f"""
            SELECT term, sum(n)::BIGINT AS n FROM (
                SELECT unnest(v.terms) AS term, 1 AS n {added}
                UNION ALL SELECT unnest(r.terms), -1 {replaced}
            ) GROUP BY term HAVING sum(n) <> 0
            """,
            params,
        ).fetchnumpy()
        terms = found["term"].tolist()
        keys = np.fromiter((term_key(t) for t in terms), dtype=np.uint64, count=len(terms))
        return keys, found["n"].astype(np.int64), int(documents - gone)

    def merges_since(self, after: int, upto: int) -> dict[str, str]:
        """Story merges recorded by articles ``after < seq <= upto``: merged id -> surviving id."""
        rows = self.con.execute(
            "SELECT merged_story_id, into_story_id FROM story_merges WHERE seq > ? AND seq <= ?", [after, upto]
        ).fetchall()
        return dict(rows)

    def signatures(self, seqs: Iterable[int]) -> dict[int, tuple[np.ndarray, ArticleRef]]:
        """MinHash signatures and placement of stored articles, by seq."""
        wanted = sorted(set(seqs))
        if not wanted:
            return {}
        with self._table("_seqs", seq=wanted):
            rows = self.con.execute(
                # joined on seq, not article_id: integer keys, and both tables are stored in seq order,
                # so the range lets zone maps skip the row groups before the first wanted seq
                "SELECT s.seq, s.signature, a.article_id, a.story_id, a.variant_group FROM _seqs "
                "JOIN article_signatures s USING (seq) JOIN articles a ON a.seq = s.seq "
                "WHERE s.seq BETWEEN $lo AND $hi AND a.seq BETWEEN $lo AND $hi",
                {"lo": wanted[0], "hi": wanted[-1]},
            ).fetchall()
        return {r[0]: (np.frombuffer(r[1], dtype=np.uint32), ArticleRef(r[2], r[3], r[4])) for r in rows}

    def member_seqs(self, story_ids: Iterable[str], per_story: int) -> list[int]:
        """Seqs of the latest ``per_story`` distinct variants of each story."""
        ids = sorted(set(story_ids))
        if not ids:
            return []
        # Found on the narrow columns: joining the signature blobs by story would scan every stored signature.
        with self._table("_stories", story_id=ids):
            members = self.con.execute(f"SELECT seq FROM ({_LATEST_VARIANTS})", [per_story]).fetchall()
        return [r[0] for r in members]

    def latest_variants(self, story_ids: Iterable[str], per_story: int) -> list[tuple[int, ArticleRef]]:
        """The latest ``per_story`` distinct variants of each story, by seq (term vectors come from the index)."""
        ids = sorted(set(story_ids))
        if not ids:
            return []
        with self._table("_stories", story_id=ids):
            rows = self.con.execute(
                f"SELECT seq, article_id, story_id, variant_group FROM ({_LATEST_VARIANTS}) ORDER BY seq", [per_story]
            ).fetchall()
        return [(r[0], ArticleRef(r[1], r[2], r[3])) for r in rows]

    def vectors(self, seqs: Sequence[int]) -> dict[int, dict[str, float]]:
        """Term vectors of stored articles by seq, read in one seq range (cheap for the newest: zone maps prune).

        A list column is not read by seq without decoding whole row groups: older articles' vectors
        are served by the candidate index's arrays (``StoredRows.vectors``).
        """
        wanted = sorted(set(seqs))
        if not wanted:
            return {}
        with self._table("_seqs", seq=wanted):
            rows = self.con.execute(
                "SELECT seq, terms, weights FROM article_vectors JOIN _seqs USING (seq) WHERE seq BETWEEN ? AND ?",
                [wanted[0], wanted[-1]],
            ).fetchall()
        return {r[0]: dict(zip(r[1], r[2], strict=True)) for r in rows}

    def move_variant_groups(self, moves: dict[str, str], seq: int) -> None:
        """Move every article of each variant group to the story given for it (a split of a story), by the
        batch whose last article is ``seq``."""
        if not moves:
            return
        with self._table("_moves", variant_group=list(moves), story_id=list(moves.values())):
            self.con.execute(
                "UPDATE articles a SET story_id = m.story_id, updated_seq = ? FROM _moves m "
                "WHERE a.variant_group = m.variant_group",
                [seq],
            )

    def split_members(self, after: int, upto: int, upto_member: int) -> dict[int, str]:
        """Story of each article ``seq <= upto_member`` now in a story split off by batches ``after < seq <= upto``.

        A split moves stored variant groups to a new story (``move_variant_groups``) without a merge
        record: this is how the candidate index learns where those articles live now.
        """
        split = self.con.execute(
            "SELECT l.story_id FROM story_links l JOIN stories s USING (story_id) "
            "WHERE l.relation = 'split' AND s.updated_seq > ? AND s.updated_seq <= ?",
            [after, upto],
        ).fetchall()
        if not split:
            return {}
        with self._table("_split", story_id=[r[0] for r in split]):
            rows = self.con.execute(
                "SELECT a.seq, a.story_id FROM articles a JOIN _split USING (story_id) WHERE a.seq <= ?", [upto_member]
            ).fetchall()
        return dict(rows)

    def stories_updated(self, after: int, upto: int) -> list[StoryState]:
        """Stories written by batches whose last article is ``after < seq <= upto`` (a read of the table's tail)."""
        rows = self.con.execute(
            "SELECT story_id, article_count, first_published, last_published, centroid_terms, centroid_weights, "
            "coalesce(variant_count, article_count) FROM stories WHERE updated_seq > ? AND updated_seq <= ?",
            [after, upto],
        ).fetchall()
        return [
            StoryState(story_id, dict(zip(terms, weights, strict=True)), size, first, last, variants)
            for story_id, size, first, last, terms, weights, variants in rows
        ]

    def resolve_story(self, story_id: str) -> str:
        """The id a story lives on as, following recorded merges."""
        for _ in range(1000):
            rows = self.con.execute(
                "SELECT into_story_id FROM story_merges WHERE merged_story_id = ?", [story_id]
            ).fetchall()
            if not rows:
                break
            story_id = rows[0][0]
        return story_id

    # ---- writes --------------------------------------------------------------------------------

    def transaction(self) -> _Transaction:
        """A context manager: BEGIN, then COMMIT on success or ROLLBACK on any error."""
        return _Transaction(self.con, self.path)

    @contextmanager
    def one_thread(self) -> Iterator[None]:
        """Run the block's statements on one DuckDB thread, then restore the connection's thread count."""
        ((threads,),) = self.con.execute("SELECT current_setting('threads')").fetchall()
        self.con.execute("SET threads = 1")
        try:
            yield
        finally:
            self.con.execute(f"SET threads = {int(threads)}")

    def insert_articles(self, articles: Sequence[NewArticle]) -> None:
        """Insert new articles with their signatures, LSH band keys and term vectors."""
        if not articles:
            return
        rows = [a.row for a in articles]
        ids = [r["article_id"] for r in rows]
        seqs = [r["seq"] for r in rows]
        # written at its own seq (a revised row's copy of the old one's updated_seq is replaced)
        self._insert_columns("articles", {**{k: [r[k] for r in rows] for k in rows[0]}, "updated_seq": seqs})
        self._insert_columns(
            "article_signatures", {"seq": seqs, "article_id": ids, "signature": [a.signature for a in articles]}
        )
        self._insert_columns(
            "lsh_bands",
            {
                "key": [k for a in articles for k in a.band_keys],
                "seq": [seq for seq, a in zip(seqs, articles, strict=True) for _ in a.band_keys],
            },
        )
        self._insert_columns(
            "article_vectors",
            {
                "article_id": ids,
                "terms": [list(a.terms) for a in articles],
                "weights": [list(a.terms.values()) for a in articles],
                "seq": seqs,
            },
        )

    def retire(self, seqs: Sequence[int]) -> None:
        """Delete the rows of articles re-stored under a later seq (revised): the article and its index rows."""
        if not seqs:
            return
        with self._table("_retired", seq=sorted(set(seqs))):
            for table in ("articles", "article_signatures", "article_vectors", "lsh_bands"):
                self.con.execute(f"DELETE FROM {table} WHERE seq IN (SELECT seq FROM _retired)")

    def insert_revisions(self, rows: Sequence[dict[str, Any]]) -> None:
        """Record replaced versions of articles (``revisions``)."""
        if rows:
            self._insert_columns("revisions", {k: [r[k] for r in rows] for k in rows[0]})

    def apply_merges(self, merges: Sequence[StoryMerge], run_id: str, seq: int) -> None:
        """Fold merged stories into their survivors, recording each merge so old ids still resolve (by the
        batch whose last article is ``seq``)."""
        for merge in merges:
            self.con.execute(
                "UPDATE articles SET story_id = ?, updated_seq = ? WHERE story_id = ?",
                [merge.into, seq, merge.merged],
            )
            for column, other in (("story_id", "related_story_id"), ("related_story_id", "story_id")):
                self.con.execute(
                    f"""
                    UPDATE story_links l SET {column} = $into WHERE {column} = $merged AND NOT EXISTS (
                        SELECT 1 FROM story_links d WHERE d.{column} = $into AND d.{other} = l.{other})
                    """,
                    {"into": merge.into, "merged": merge.merged},
                )
                self.con.execute(f"DELETE FROM story_links WHERE {column} = ?", [merge.merged])
            self.con.execute("DELETE FROM story_links WHERE story_id = related_story_id")
            self.con.execute("DELETE FROM stories WHERE story_id = ?", [merge.merged])
            self.con.execute(
                "INSERT OR REPLACE INTO story_merges VALUES (?, ?, ?, ?, ?, ?, now())",
                [merge.merged, merge.into, merge.article_id, merge.similarity, merge.seq, run_id],
            )

    def insert_links(self, links: Sequence[StoryLink], run_id: str) -> None:
        """Record stories that continue older ones (same subject, outside the time window)."""
        for link in links:
            self.con.execute(
                "INSERT OR IGNORE INTO story_links VALUES (?, ?, ?, ?, ?, ?)",
                [link.story_id, link.related_story_id, link.relation, link.similarity, link.article_id, run_id],
            )

    def save_stories(
        self,
        stories: Sequence[StoryState],
        run_id: str,
        keep_terms: int,
        posting_terms: int,
        seq: int,
        vectors: Callable[[Iterable[int]], dict[int, dict[str, float]]] | None = None,
    ) -> None:
        """Write the given stories: centroid (top terms), new postings, canonical, extent, member relations.

        Canonical rule: the earliest published member by UTC time (``published_ts``; undated members
        last), then the longest text, then the first ingested. Each member's relation is then derived from it:
        ``canonical``; ``exact`` (same content hash); ``near_duplicate`` (same variant group);
        otherwise ``rewrite``. Only member rows whose values change are updated: rewriting old
        rows is what would make a write cost grow with the corpus. ``vectors`` gives stored articles'
        term vectors by seq (the candidate index's; by default the store's own, a scan).
        """
        if not stories:
            return
        postings: dict[str, list[Any]] = {"term_key": [], "story_id": [], "seq": []}
        for story in stories:
            story.truncate(keep_terms)
            for term in story.top_terms(posting_terms):
                if term not in story.posted:
                    story.posted.add(term)
                    postings["term_key"].append(term_key(term))
                    postings["story_id"].append(story.story_id)
                    postings["seq"].append(seq)
        self._insert_columns("story_postings", postings)
        members = self._members([s.story_id for s in stories])
        updates, rows = self._member_updates(members, vectors or self.vectors)
        if updates["article_id"]:
            with self._table("_updates", **updates):
                self.con.execute(
                    "UPDATE articles a SET is_canonical = u.is_canonical, relation = u.relation, "
                    "canonical_similarity = u.canonical_similarity, updated_seq = ? "
                    "FROM _updates u WHERE a.article_id = u.article_id",
                    [seq],
                )
        by_id = {s.story_id: s for s in stories}
        ids = list(by_id)
        previous = {
            r[0]: (r[1], r[2])
            for r in self.con.execute(
                f"SELECT story_id, first_seen, created_run FROM stories WHERE story_id IN ({_id_list(ids)})"
            ).fetchall()
        }
        self.con.execute(f"DELETE FROM stories WHERE story_id IN ({_id_list(ids)})")
        for row in rows:
            story = by_id[row["story_id"]]
            first_seen, created_run = previous.get(story.story_id, (row["first_seen"], run_id))
            row.update(
                first_seen=min(first_seen, row["first_seen"]),
                created_run=created_run,
                updated_run=run_id,
                centroid_terms=list(story.centroid),
                centroid_weights=list(story.centroid.values()),
                updated_seq=seq,  # what the candidate index reads to catch up (storedrows.py)
            )
        self._insert_columns("stories", {k: [r[k] for r in rows] for k in rows[0]})

    def _members(self, story_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        with self._table("_stories", story_id=story_ids):
            found = self.query(
                "SELECT article_id, story_id, seq, published_at, published_ts, word_count, content_hash, "
                f"variant_group, title, is_canonical, relation, canonical_similarity, {OUTLET_SQL} AS outlet, "
                "ingested_at "
                "FROM articles JOIN _stories USING (story_id)"
            )
        members: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in found:
            members[row["story_id"]].append(row)
        return members

    def _member_updates(
        self, members: dict[str, list[dict[str, Any]]], vectors_of: Callable[[Iterable[int]], dict[int, dict]]
    ) -> tuple[dict[str, list[Any]], list[dict]]:
        """Per story: its canonical, each member's relation and similarity to it, and the story row."""
        canonicals = {
            sid: min(rows, key=lambda r: (r["published_ts"] is None, r["published_ts"] or datetime.min,
                                          -r["word_count"], r["seq"]))
            for sid, rows in members.items()
        }  # fmt: skip
        # Members need (re)computing when new, or when their story's canonical changed (or merged in).
        changed = {
            sid for sid, rows in members.items()
            if not canonicals[sid]["is_canonical"] or sum(bool(r["is_canonical"]) for r in rows) != 1
        }  # fmt: skip
        stale = [
            r for sid, rows in members.items() for r in rows if sid in changed or r["canonical_similarity"] is None
        ]
        vectors = vectors_of({r["seq"] for r in stale} | {c["seq"] for c in canonicals.values()})
        updates: dict[str, list[Any]] = {
            "article_id": [],
            "is_canonical": [],
            "relation": [],
            "canonical_similarity": [],
        }
        for row in stale:
            canon = canonicals[row["story_id"]]
            if row is canon:
                relation = "canonical"
            elif row["content_hash"] == canon["content_hash"]:
                relation = "exact"
            elif row["variant_group"] == canon["variant_group"]:
                relation = "near_duplicate"
            else:
                relation = "rewrite"
            mine, theirs = vectors.get(row["seq"], {}), vectors.get(canon["seq"], {})
            similarity = dot(mine, theirs)
            new = (row is canon, relation, round(similarity, 6))
            old = (row["is_canonical"], row["relation"], row["canonical_similarity"])
            if new != old:
                for key, value in zip(("article_id", "is_canonical", "relation", "canonical_similarity"),
                                      (row["article_id"], *new), strict=True):  # fmt: skip
                    updates[key].append(value)
        rows = []
        for sid, story_members in members.items():
            dates = [r["published_at"] for r in story_members if r["published_at"] is not None]
            canon = canonicals[sid]
            rows.append(
                {
                    "story_id": sid,
                    "canonical_article_id": canon["article_id"],
                    "title": canon["title"],
                    "first_seen": min(r["ingested_at"] for r in story_members),
                    "last_seen": max(r["ingested_at"] for r in story_members),
                    "first_published": min(dates) if dates else None,
                    "last_published": max(dates) if dates else None,
                    "article_count": len(story_members),
                    "source_count": len({r["outlet"] for r in story_members}),
                    "variant_count": len({r["variant_group"] for r in story_members}),
                }
            )
        return updates, rows

    def record_rejections(self, run_id: str, rejections: Sequence[Rejection]) -> None:
        """Upsert rejections: one row per (source_uri, reason), counting how often it was seen."""
        latest = {(r.source_uri, r.reason): r for r in rejections}
        for (uri, reason), rej in latest.items():
            self.con.execute(
                """
                INSERT INTO rejections VALUES (?, ?, ?, ?, ?, now(), now(), 1)
                ON CONFLICT (source_uri, reason) DO UPDATE SET
                    detail = excluded.detail, last_run = excluded.last_run,
                    last_seen = excluded.last_seen, times_seen = rejections.times_seen + 1
                """,
                [uri, reason, rej.detail, run_id, run_id],
            )

    def _insert_columns(self, table: str, columns: dict[str, list[Any]]) -> None:
        names = list(columns)
        if not columns[names[0]]:
            return
        with self._table("_rows", **columns):
            self.con.execute(f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(names)} FROM _rows")

    def with_rows(self, name: str, **columns: list[Any]) -> AbstractContextManager[None]:
        """Expose Python columns to SQL as table ``name`` inside a ``with`` block (for other stages' queries)."""
        return self._table(name, **columns)

    def has_table(self, name: str) -> bool:
        """Whether the database has this table (an old file opened read-only may lack newer tables)."""
        return self._has_table(name)

    def has_column(self, table: str, column: str) -> bool:
        """Whether the table has this column (an old file opened read-only may lack newer columns)."""
        rows = self.con.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?", [table, column]
        ).fetchall()
        return rows[0][0] > 0

    @contextmanager
    def _table(self, name: str, **columns: list[Any]) -> Iterator[None]:
        """Expose Python columns to SQL as a table (via Arrow: far faster than list parameters)."""
        self.con.register(name, pa.table(columns))
        try:
            yield
        finally:
            self.con.unregister(name)

    # ---- reads for people ------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read query and return rows as dicts."""
        cursor = self.con.execute(sql, list(params))
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
