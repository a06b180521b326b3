"""``storyline sql``: SQL over the database, opened read-only, and the last statement's rows printed.

The store runs the user's SQL (``pipeline.store.usersql``); this module prints what it returns. Kept
apart from ``cli`` so the other read commands stay readable. The views and table macros of
docs/data.md live in the database, so they work here as in any DuckDB client.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, datetime, time

from pipeline.cli.common import console, shown
from pipeline.store.usersql import QueryResult

FORMATS = ("table", "csv", "jsonl")


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
