"""The SQL a user gives ``storyline sql``: run on a store opened read-only, the last statement's rows returned.

The one place Storyline runs SQL it did not write. The store is opened read-only (or is the lake's
read-only attachment), so a statement that would change data fails with a message saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from pipeline.errors import QueryError
from pipeline.store.db import Store

READ_ONLY_MARKER = "read-only mode"


@dataclass(frozen=True)
class QueryResult:
    """The column names and rows of one statement."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def run_statements(store: Store, sql: str) -> QueryResult | None:
    """Run each ``;``-separated statement in order; return the last one's rows (None if it has none).

    The whole text is parsed first, so a syntax error anywhere runs nothing.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(_one_line(exc)) from exc
    if not statements:
        raise QueryError("no SQL statement given")
    con = store._con
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
