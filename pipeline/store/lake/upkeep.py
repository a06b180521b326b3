"""Upkeep of the lake: compaction on a policy, and whether the lake agrees with the database.

``compact`` is ``storyline publish --compact``; ``disagreements`` is ``storyline check --lake``.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipeline.settings import LakeSettings
from pipeline.store.db import Store
from pipeline.store.integrity import CHECKS
from pipeline.store.lake.publish import ALIAS, PUBLISHED_TABLES, connect, lake_has_table, publisher_lock, read_marks


@dataclass(frozen=True)
class CompactionReport:
    """What ``compact`` did."""

    snapshots_expired: int
    files_before: int
    files_after: int
    files_deleted: int


def compact(db: str, lake: LakeSettings) -> CompactionReport:
    """Rewrite files with many replaced rows, merge small files, expire snapshots older than
    ``lake.expire_after_days``, and delete the files no snapshot needs any more.

    Files of expired snapshots and orphans (Parquet written by a publication killed before its commit)
    are deleted at once: sessions still reading an expired snapshot lose it.
    """
    with publisher_lock(db, wait=True):
        con = connect(lake, read_only=False)
        try:
            # Small publications are inlined in the catalog; written out as files, they can be merged.
            con.execute(f"CALL ducklake_flush_inlined_data('{ALIAS}')")
            files_before = _file_count(con)
            con.execute(f"CALL ducklake_rewrite_data_files('{ALIAS}', delete_threshold => ?)", [lake.rewrite_deleted])
            con.execute(f"CALL ducklake_merge_adjacent_files('{ALIAS}')")
            expired = con.execute(
                f"SELECT count(*) FROM ducklake_expire_snapshots('{ALIAS}', older_than => now() - INTERVAL (?) SECOND)",
                [int(lake.expire_after_days * 86400)],
            ).fetchall()[0][0]
            files_deleted = sum(
                _scalar(con, f"SELECT count(*) FROM {function}('{ALIAS}', cleanup_all => true)")
                for function in ("ducklake_cleanup_old_files", "ducklake_delete_orphaned_files")
            )
            return CompactionReport(int(expired), files_before, _file_count(con), files_deleted)
        finally:
            con.close()


def _file_count(con: duckdb.DuckDBPyConnection) -> int:
    """Data and delete files of the lake's current snapshot."""
    total = 0
    for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'", [ALIAS]
    ).fetchall():
        total += _scalar(con, f"SELECT count(*) FROM ducklake_list_files('{ALIAS}', '{name}')")
    return total


# ---- agreement -----------------------------------------------------------------------------------


def disagreements(db: str, lake: LakeSettings, wait_seconds: float = 30.0) -> list[str]:
    """Where the lake and the store differ: rows per published table, and story membership (empty: they agree)."""
    membership = "SELECT count(*), coalesce(sum(hash(article_id, story_id)), 0) FROM articles"
    with Store.open(db, read_only=True, wait_seconds=wait_seconds) as store:
        ours = {t: _scalar(store._con, f"SELECT count(*) FROM {t}") for t in PUBLISHED_TABLES if store.has_table(t)}
        our_members = store._con.execute(membership).fetchall()[0]
        our_seq = _scalar(store._con, "SELECT coalesce(max(seq), 0) FROM articles")
        database_id = store.database_id()
    con = connect(lake)
    try:
        marks = read_marks(con)
        theirs = {t: _scalar(con, f"SELECT count(*) FROM {t}") for t in ours if lake_has_table(con, t)}
        their_members = con.execute(membership).fetchall()[0] if "articles" in theirs else (0, 0)
    finally:
        con.close()
    problems = []
    if marks.database_id not in (None, database_id):
        problems.append(f"the lake holds another database ({marks.database_id}, not {database_id})")
    for name, count in ours.items():
        if theirs.get(name) != count:
            problems.append(f"{name}: {count} row(s) in the database, {theirs.get(name, 'no table')} in the lake")
    if our_members != their_members:
        problems.append("story membership differs (article -> story) between the database and the lake")
    if problems and our_seq > marks.article_seq:
        problems.append(
            f"the database has articles up to seq {our_seq}, the lake up to {marks.article_seq}: "
            "run `storyline publish` first"
        )
    return problems


def lake_problems(store: Store) -> list[str]:
    """The lake's own broken invariants (``store``: the lake's, from ``lake_store``) as 'N <what> (in the lake)'.

    The checks of ``pipeline.store.integrity`` but those of the clustering index, which is not published.
    """
    problems = []
    for what, sql in CHECKS:
        if "article_signatures" in sql:  # the clustering index is not published
            continue
        count = int(store._con.execute(sql).fetchall()[0][0])
        if count:
            problems.append(f"{count} {what} (in the lake)")
    return problems


def lake_totals(store: Store) -> tuple[int, int]:
    """How many articles and stories the lake holds (``store``: the lake's, from ``lake_store``)."""
    articles, stories = store._con.execute(
        "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM stories)"
    ).fetchall()[0]
    return articles, stories


def _scalar(con: duckdb.DuckDBPyConnection, sql: str):  # type: ignore[no-untyped-def]
    return con.execute(sql).fetchall()[0][0]


__all__ = ["CompactionReport", "compact", "disagreements", "lake_problems", "lake_totals"]
