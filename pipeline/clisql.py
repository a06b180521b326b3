"""``storyline sql``: SQL over the database, opened read-only, and the last statement's rows printed.

Kept apart from ``cli`` so the other read commands stay readable. The views and table macros of
docs/data.md live in the database, so they work here as in any DuckDB client.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import duckdb

from pipeline.clicommon import console, shown
from pipeline.errors import QueryError

FORMATS = ("table", "csv", "jsonl")
READ_ONLY_MARKER = "read-only mode"


@dataclass(frozen=True)
class QueryResult:
    """The column names and rows of one statement."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def run_statements(con: duckdb.DuckDBPyConnection, sql: str) -> QueryResult | None:
    """Run each ``;``-separated statement in order; return the last one's rows (None if it has none).

    The whole text is parsed first, so a syntax error anywhere runs nothing.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(_one_line(exc)) from exc
    if not statements:
        raise QueryError("no SQL statement given")
    cursor = con
    for statement in statements:
        try:
            cursor = con.execute(statement)
        except duckdb.Error as exc:
            raise QueryError(_explain(exc)) from exc
    if cursor.description is None:
        return None
    columns = tuple(d[0] for d in cursor.description)
    return QueryResult(columns, cursor.fetchall())


def _explain(exc: duckdb.Error) -> str:
    """A DuckDB error as one line; a write says the database is read-only here, and how to change it."""
    message = _one_line(exc)
    if READ_ONLY_MARKER in message:
        return (
            "the database is opened read-only: `storyline sql` runs queries, it does not change data "
            f"(temporary tables and COPY ... TO a file work) [{message}]"
        )
    return message


def _one_line(exc: duckdb.Error) -> str:
    """DuckDB's message without the ``LINE n:`` excerpt and caret, which only make sense on several lines."""
    kept = []
    for line in str(exc).splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            kept.append(line.strip())
    return " ".join(kept) or type(exc).__name__


def print_result(result: QueryResult | None, fmt: str) -> None:
    """Print rows as a table (stored text shown, never taken for markup), CSV or JSON lines."""
    if result is None:
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_csv_cell(v) for v in row] for row in result.rows)
    elif fmt == "jsonl":
        for row in result.rows:
            record = dict(zip(result.columns, row, strict=True))
            sys.stdout.write(json.dumps(record, ensure_ascii=False, default=_json_value) + "\n")
    else:
        console().print(_table(result))


def _table(result: QueryResult):  # type: ignore[no-untyped-def]
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{len(result.rows)} row{'' if len(result.rows) == 1 else 's'}")
    for name in result.columns:
        table.add_column(Text(shown(name)), overflow="fold")
    for row in result.rows:
        table.add_row(*(Text("NULL", style="dim") if v is None else Text(shown(_cell(v))) for v in row))
    return table


def _cell(value: object) -> str:
    """A value as DuckDB's own shell shows it: lists as ``[a, b]``, NULL inside lists as NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return str(value)


def _csv_cell(value: object) -> object:
    """CSV has no lists: joined with ' | ', as ``storyline export --format csv`` does."""
    if isinstance(value, list | tuple):
        return " | ".join("" if v is None else str(v) for v in value)
    return value


def _json_value(value: object) -> str:
    """Dates and times as ISO 8601; anything else JSON lacks (intervals, decimals, UUIDs) as its text."""
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return str(value)
