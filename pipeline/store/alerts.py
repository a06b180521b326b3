"""Alerts in the store: what the rules read of a batch, the alerts recorded, watched stories, deliveries.

The rules (``pipeline.alerts.rules``) decide which alerts fire and delivery (``pipeline.alerts.notify``)
sends them; this module is the SQL both run. Alerts are written inside the batch's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from pipeline.models import Alert
from pipeline.store.db import Store
from pipeline.store.schema import OUTLET_SQL


def batch_articles(store: Store, first_seq: int, last_seq: int) -> list[dict[str, Any]]:
    """The articles ``first_seq..last_seq`` as the rules read them: id, story, title, text, how assigned, outlet."""
    return store._query(
        f"SELECT article_id, story_id, coalesce(title, '') AS title, text, assigned_as, {OUTLET_SQL} AS outlet "
        "FROM articles WHERE seq BETWEEN ? AND ? ORDER BY seq",
        [first_seq, last_seq],
    )


def story_titles(store: Store, story_ids: Iterable[str]) -> dict[str, str]:
    """The title of each of these stories (stories without a title map to None)."""
    with store._table("_stories", story_id=sorted(story_ids)):
        rows = store._query("SELECT story_id, title FROM stories JOIN _stories USING (story_id)")
    return {r["story_id"]: r["title"] for r in rows}


def watched_story_ids(store: Store) -> set[str]:
    """The stories flagged with ``storyline watch`` (as flagged: merged ids are not resolved here)."""
    return {r["story_id"] for r in store._query("SELECT story_id FROM watched_stories")}


def spreading_stories(
    store: Store, story_ids: list[str], seqs: tuple[int, int], within_hours: int, min_sources: int
) -> list[dict[str, Any]]:
    """Stories with >= ``min_sources`` distinct outlets in some window of ``within_hours`` ending at one of its
    articles: rows of (story_id, n, outlets), by story id.

    Only windows that hold one of the articles ``seqs`` (first, last) can have changed, so anchors start at
    those articles' earliest time per story.
    """
    with store._table("_touched", story_id=story_ids):
        return store._query(
            f"""
            WITH a AS (
                SELECT story_id, seq, coalesce(published_ts, ingested_at) AS t,
                       {OUTLET_SQL} AS outlet
                FROM articles JOIN _touched USING (story_id)
            ), anchors AS (
                SELECT DISTINCT a.story_id, a.t FROM a
                JOIN (SELECT story_id, min(t) AS since FROM a WHERE seq BETWEEN ? AND ? GROUP BY story_id) b
                    ON a.story_id = b.story_id AND a.t >= b.since
            ), windows AS (
                SELECT e.story_id, count(DISTINCT o.outlet) AS n, list(DISTINCT o.outlet) AS outlets
                FROM anchors e JOIN a o ON o.story_id = e.story_id
                    AND o.t BETWEEN e.t - to_hours(CAST(? AS BIGINT)) AND e.t
                GROUP BY e.story_id, e.t
            )
            SELECT story_id, max(n) AS n, arg_max(outlets, n) AS outlets FROM windows
            GROUP BY story_id HAVING max(n) >= ? ORDER BY story_id
            """,
            [*seqs, within_hours, min_sources],
        )


def recorded_alert_ids(store: Store, alert_ids: Iterable[str]) -> set[str]:
    """Which of these alert ids are already in the alerts table."""
    with store._table("_ids", alert_id=sorted(set(alert_ids))):
        return {r["alert_id"] for r in store._query("SELECT alert_id FROM alerts JOIN _ids USING (alert_id)")}


def merged_into(store: Store, story_ids: Iterable[str]) -> dict[str, set[str]]:
    """Each story id with every story id that was (transitively) merged into it."""
    ids = sorted(set(story_ids))
    with store._table("_roots", story_id=ids):
        rows = store._query(
            """
            WITH RECURSIVE anc(root, story_id) AS (
                SELECT story_id, story_id FROM _roots
                UNION SELECT anc.root, m.merged_story_id FROM story_merges m JOIN anc ON m.into_story_id = anc.story_id
            ) SELECT root, story_id FROM anc
            """
        )
    out: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        out[r["root"]].add(r["story_id"])
    return out


def insert_alerts(store: Store, alerts: Sequence[Alert], run_id: str) -> None:
    """Insert alerts as ``pending`` (inside the caller's transaction)."""
    for a in alerts:
        store._con.execute(
            "INSERT INTO alerts (alert_id, rule, kind, story_id, condition, article_id, title, message, run_id, "
            "created_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now(), 'pending')",
            [a.alert_id, a.rule, a.kind, a.story_id, a.condition, a.article_id, a.title, a.message, run_id],
        )


def list_alerts(store: Store, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Stored alerts, newest first, optionally of one status."""
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    return store._query(
        "SELECT alert_id, created_at, rule, kind, story_id, condition, status, attempts, last_error, delivered_at "
        f"FROM alerts {where} ORDER BY created_at DESC, alert_id LIMIT ?",
        [*params, limit],
    )


def add_watch(store: Store, story_id: str, note: str | None) -> None:
    """Flag a story (by the id given: callers resolve merges) for ``watched_story`` rules, or renote it."""
    store._con.execute(
        "INSERT INTO watched_stories VALUES (?, ?, now()) ON CONFLICT (story_id) DO UPDATE SET note = excluded.note",
        [story_id, note],
    )


def remove_watch(store: Store, story_id: str) -> bool:
    """Stop watching a story (by the id given); False when it was not watched."""
    found = store._query("SELECT count(*) AS n FROM watched_stories WHERE story_id = ?", [story_id])[0]["n"]
    store._con.execute("DELETE FROM watched_stories WHERE story_id = ?", [story_id])
    return bool(found)


def due_alerts(store: Store) -> list[dict[str, Any]]:
    """Alerts to deliver (pending or failed), oldest first: id, title, message, attempts, targets done."""
    return store._query(
        "SELECT alert_id, title, message, attempts, delivered_to FROM alerts "
        "WHERE status IN ('pending', 'failed') ORDER BY created_at, alert_id"
    )


def record_delivery(store: Store, alert_id: str, status: str, delivered_to: list[str], error: str | None) -> None:
    """Record one delivery attempt of an alert: its new status, the targets that have it, the error if any."""
    store._con.execute(
        "UPDATE alerts SET status = ?, attempts = attempts + 1, delivered_to = ?, last_error = ?, "
        "last_attempt_at = now(), delivered_at = CASE WHEN ? = 'delivered' THEN now() END "
        "WHERE alert_id = ?",
        [status, delivered_to, error, status, alert_id],
    )
