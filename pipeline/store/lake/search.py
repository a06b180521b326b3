"""Search on the lake (``storyline search --lake``), never touching the writer's file.

DuckDB's full-text index lives in the database file and a DuckLake cannot hold it. So a reader keeps a
*search replica*: a small local DuckDB file (a Storyline database holding only the lake's ``articles``
and ``stories``) indexed by the code that indexes the store (``pipeline.store.search``). A search on it runs
the very SQL and the very index a search on the database runs, hence the same results for the same data.

The replica records the lake snapshot it holds. When the lake has moved on, the rows changed since
(``ducklake_table_changes``: each publication deletes a row's old version and inserts the new one)
replace theirs, and the index appends the new and revised articles, at a cost that follows the
publications, not the lake. It is copied whole when it is new, when the snapshot it holds is gone
(``publish --compact`` expired it) or when the lake now holds another database.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import xxhash

from pipeline.errors import LakeError
from pipeline.settings import LakeSettings
from pipeline.store.db import Store
from pipeline.store.lake.publish import ALIAS, load_extensions, read_marks, resolve
from pipeline.store.search import build_search_index, update_search_index

REPLICATED = (("articles", "article_id"), ("stories", "story_id"))
"""The lake tables a search reads, with their keys."""
STATE_KEY = "lake_replica"


@dataclass(frozen=True)
class ReplicaState:
    """Which lake, database and snapshot the replica holds; ``copied``: rows written by this refresh."""

    url: str
    database_id: str | None
    snapshot: int
    copied: int = 0
    whole: bool = False


def replica_path(lake: LakeSettings) -> Path:
    """Where the search replica of this lake lives: ``lake.search_cache``, or one per lake URL in the user's cache."""
    if lake.search_cache:
        return Path(lake.search_cache).expanduser()
    url = resolve(lake)[0]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "storyline" / f"lake-search-{xxhash.xxh64_hexdigest(url.encode('utf-8'))}.duckdb"


def open_search_replica(lake: LakeSettings, wait_seconds: float = 30.0) -> tuple[Store, ReplicaState]:
    """The replica brought up to the lake's current snapshot and its index up to date, open for searching.

    Writable: the index is kept in it. Two searches refreshing one replica take turns (DuckDB's file lock).
    """
    path = replica_path(lake)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = Store.open(path, wait_seconds=wait_seconds)
    try:
        state = _refresh(store, lake)
        if state.whole:
            build_search_index(store)  # the copy replaced every row: the old index covers nothing of it
        else:
            update_search_index(store)
        store.checkpoint()
    except BaseException:
        store.close()
        raise
    return store, state


def _refresh(store: Store, lake: LakeSettings) -> ReplicaState:
    url = resolve(lake)[0]
    con = store._con
    if url.startswith("ducklake:sqlite:") and not Path(url.removeprefix("ducklake:sqlite:")).exists():
        raise LakeError(f"no lake at {url} (run `storyline publish` first)")
    load_extensions(con, url)
    try:
        con.execute(f"ATTACH '{url.replace(chr(39), chr(39) * 2)}' AS {ALIAS} (READ_ONLY)")
    except duckdb.Error as exc:
        raise LakeError(f"cannot attach the lake {url}: {' '.join(str(exc).split())}") from exc
    try:
        marks = read_marks(con)
        if not marks.publication:
            raise LakeError(f"the lake {url} holds no publication yet (run `storyline publish` first)")
        snapshot = int(con.execute(f"SELECT id FROM {ALIAS}.current_snapshot()").fetchall()[0][0])
        held = _held(store)
        if held is not None and (held.url, held.database_id, held.snapshot) == (url, marks.database_id, snapshot):
            return held
        oldest = con.execute(f"SELECT min(snapshot_id) FROM {ALIAS}.snapshots()").fetchall()[0][0]
        incremental = held is not None and (held.url, held.database_id) == (url, marks.database_id) \
            and held.snapshot < snapshot and oldest <= held.snapshot  # fmt: skip
        with store.transaction():
            copied = sum(
                _apply_changes(con, table, key, held.snapshot, snapshot) if incremental and held
                else _copy_whole(con, table, snapshot)
                for table, key in REPLICATED
            )  # fmt: skip
            state = ReplicaState(url, marks.database_id, snapshot, copied, whole=not incremental)
            record = {"url": url, "database_id": marks.database_id, "snapshot": snapshot}
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [STATE_KEY, json.dumps(record)])
        return state
    finally:
        con.execute(f"DETACH {ALIAS}")


def _held(store: Store) -> ReplicaState | None:
    rows = store._con.execute("SELECT value FROM meta WHERE key = ?", [STATE_KEY]).fetchall()
    if not rows:
        return None
    held = json.loads(rows[0][0])
    return ReplicaState(held["url"], held["database_id"], int(held["snapshot"]))


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The columns the replica's table and the lake's share (either may be of an older schema)."""
    names = con.execute(
        "SELECT r.column_name FROM duckdb_columns() r JOIN duckdb_columns() l USING (table_name, column_name) "
        "WHERE r.database_name = current_database() AND l.database_name = ? AND table_name = ? ORDER BY r.column_index",
        [ALIAS, table],
    ).fetchall()
    return ", ".join(f'"{name}"' for (name,) in names)


def _copy_whole(con: duckdb.DuckDBPyConnection, table: str, snapshot: int) -> int:
    """Replace the replica's table with the lake's at ``snapshot``."""
    columns = _columns(con, table)
    con.execute(f"DELETE FROM {table}")
    inserted = con.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {ALIAS}.{table} AT (VERSION => {snapshot})"
    ).fetchall()
    return int(inserted[0][0])


def _apply_changes(con: duckdb.DuckDBPyConnection, table: str, key: str, held: int, snapshot: int) -> int:
    """Bring the replica's table from snapshot ``held`` to ``snapshot`` by the rows changed in between.

    A key's last change decides: its row as inserted then, or gone (a story merged away) when its
    last snapshot only deleted it (a publication deletes a row's old version before inserting the new).
    """
    columns = _columns(con, table)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _changes AS SELECT * FROM ducklake_table_changes(?, 'main', ?, ?, ?)",
        [ALIAS, table, held + 1, snapshot],
    )
    con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM _changes)")
    inserted = con.execute(
        f"""
        INSERT INTO {table} ({columns}) SELECT {columns} FROM _changes c
        WHERE change_type IN ('insert', 'update_postimage')
          AND snapshot_id = (SELECT max(snapshot_id) FROM _changes l WHERE l.{key} = c.{key})
        """
    ).fetchall()
    con.execute("DROP TABLE _changes")
    return int(inserted[0][0])


__all__ = ["ReplicaState", "open_search_replica", "replica_path"]
