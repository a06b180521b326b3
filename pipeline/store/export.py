"""Export: the analyst tables as Parquet or CSV files for BI tools, one file per table.

Files are written by DuckDB (``COPY ... TO ?`` with the path bound, never pasted into SQL) into a
temporary sibling directory that then replaces the target in two renames, so a reader never sees
half an export. A directory is only replaced when it is empty or holds a previous Storyline export
(its ``_storyline_export.json`` manifest): ``export DIR`` never deletes anything else.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.store.db import Store
from pipeline.store.schema import SCHEMA_VERSION

__all__ = ["EXPORT_TABLES", "FORMATS", "JSONL_COLUMNS", "ExportReport", "article_records", "export_tables"]

MANIFEST = "_storyline_export.json"
FORMATS = ("parquet", "csv")

# name -> query. Articles carry their story assignment; variants and overview are the analyst views.
EXPORT_TABLES: dict[str, str] = {
    "articles": "SELECT * FROM articles ORDER BY seq",
    "stories": "SELECT * EXCLUDE (centroid_weights) FROM stories ORDER BY first_seen, story_id",
    "story_overview": "SELECT * FROM story_overview ORDER BY first_seen, story_id",
    "story_variants": "SELECT * FROM story_variants ORDER BY story_id, is_canonical DESC, published_at, article_id",
    "story_links": "SELECT * FROM story_links ORDER BY story_id, related_story_id",
    "story_merges": "SELECT * FROM story_merges ORDER BY seq",
    "source_activity": "SELECT * FROM source_activity ORDER BY articles DESC, source",
    "input_activity": "SELECT * FROM input_activity ORDER BY input",
    "rejections": "SELECT * FROM rejections ORDER BY last_seen, source_uri, reason",
    "runs": "SELECT * FROM runs ORDER BY started_at, run_id",
    # The replaced versions of revised articles; their term lists are the clustering index's business.
    "revisions": "SELECT * EXCLUDE (terms) FROM revisions ORDER BY replaced_at, article_id, revision",
}


# The fields of ``storyline export --format jsonl``: one record per article, with its story assignment.
JSONL_COLUMNS = (
    "article_id", "external_id", "source_uri", "url", "canonical_url", "title", "published_at", "published_ts",
    "author", "sitename", "source", "language", "story_id", "variant_group", "relation", "is_canonical", "assigned_as",
    "near_duplicate_similarity", "story_similarity", "canonical_similarity", "content_hash", "run_id",
)  # fmt: skip
JSONL_BATCH = 1000  # rows fetched at a time: the export streams, whatever the corpus size


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote: the directory, the format and rows per table."""

    directory: Path
    format: str
    rows: dict[str, int]


def export_tables(store: Store, directory: str | Path, fmt: str) -> ExportReport:
    """Write every analyst table to ``directory/<table>.<fmt>``, replacing a previous export atomically."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    target = Path(directory).expanduser().absolute()
    _check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        # A database no writer has opened since a table was added (it is read here read-only) lacks it.
        present = {name: sql for name, sql in EXPORT_TABLES.items() if store.has_table(name)}
        rows = {name: _copy(store, sql, staging / f"{name}.{fmt}", fmt) for name, sql in present.items()}
        manifest = {
            "format": fmt,
            "exported_at": datetime.now().isoformat(timespec="seconds"),
            "database": str(Path(store.path).absolute()),
            "database_id": store.database_id(),
            "schema_version": SCHEMA_VERSION,
            "tables": {name: {"file": f"{name}.{fmt}", "rows": n} for name, n in rows.items()},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportReport(target, fmt, rows)


def article_records(store: Store) -> Iterator[dict[str, Any]]:
    """Every article as a ``JSONL_COLUMNS`` record, in the order stored, read ``JSONL_BATCH`` rows at a time."""
    columns = list(JSONL_COLUMNS)
    if not store.has_column("articles", "published_ts"):  # written before it, opened read-only
        columns[columns.index("published_ts")] = "CAST(published_at AS TIMESTAMP)"
    cursor = store._con.execute(f"SELECT {', '.join(columns)} FROM articles ORDER BY seq")
    while rows := cursor.fetchmany(JSONL_BATCH):
        for row in rows:
            yield dict(zip(JSONL_COLUMNS, row, strict=True))


def _check_target(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise ConfigError(f"export target {target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise ConfigError(
            f"export target {target} is a non-empty directory that does not hold a Storyline export; "
            "choose an empty or new directory (an export replaces the whole directory)"
        )


def _copy(store: Store, sql: str, path: Path, fmt: str) -> int:
    if fmt == "csv":
        sql = _lists_as_text(store, sql)
        options = "FORMAT csv, HEADER true"
    else:
        options = "FORMAT parquet, COMPRESSION zstd"
    # COPY answers with the number of rows it wrote.
    return int(store._con.execute(f"COPY ({sql}) TO ? ({options})", [str(path)]).fetchall()[0][0])


def _lists_as_text(store: Store, sql: str) -> str:
    """CSV has no lists: join list columns with ' | ' so BI tools see plain text, not DuckDB literals."""
    columns = store._con.execute(f"DESCRIBE {sql}").fetchall()
    parts = [
        f'array_to_string("{name}", \' | \') AS "{name}"' if kind.endswith("[]") else f'"{name}"'
        for name, kind, *_ in columns
    ]
    return f"SELECT {', '.join(parts)} FROM ({sql})"


def _swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` with renames (each atomic on one filesystem)."""
    if not target.exists():
        staging.rename(target)
        return
    retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    target.rename(retired)
    try:
        staging.rename(target)
    except BaseException:
        retired.rename(target)
        raise
    shutil.rmtree(retired, ignore_errors=True)
