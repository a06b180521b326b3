"""Fetch state in the store: which article URLs are done, and the validators of feeds and sitemaps.

An article URL is done when it is stored (as ``url``, ``canonical_url`` or ``source_uri``) or when
its rejection is final: a non-transient reason, or transient failures in ``give_up_after`` runs.
Both questions are asked for a whole listing at once, never one URL at a time.

Under a refetch policy (``fetch.refetch_after``) a stored page falls due again once that long has
passed since it was last fetched (``page_state.checked_at``, else when its text was stored), if it
was first stored within ``fetch.refetch_within``; ``page_state`` also keeps the validators it
answered with, for a conditional GET.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa

from pipeline.settings import FetchSettings
from pipeline.sources.fetch import TRANSIENT_REASONS, Validators
from pipeline.store import Store

__all__ = [
    "DuePage",
    "ListingState",
    "PageCheck",
    "due_pages",
    "known_urls",
    "load_validators",
    "save_page_checks",
    "save_validators",
]


@dataclass(frozen=True)
class ListingState:
    """The version of one feed or sitemap a run read in full."""

    url: str
    listing: str  # feed | urlset | sitemapindex
    status: int
    validators: Validators


@dataclass(frozen=True)
class DuePage:
    """A stored article page to fetch again: its listed URL, where it was found last time, and its validators."""

    url: str
    stored_url: str | None
    validators: Validators


@dataclass(frozen=True)
class PageCheck:
    """One fetch of an article page that settled it: a response (200 or 304) or a final rejection (no status)."""

    url: str
    status: int | None
    validators: Validators


def known_urls(store: Store, urls: Iterable[str], give_up_after: int) -> set[str]:
    """The URLs among ``urls`` that need no fetch: already stored or finally rejected."""
    urls = sorted(set(urls))
    if not urls:
        return set()
    transient = sorted(TRANSIENT_REASONS)
    marks = ", ".join("?" * len(transient))
    store.con.register("_wanted", pa.table({"url": urls}))
    try:
        rows = store.con.execute(
            f"""
            SELECT w.url FROM _wanted w JOIN articles a ON a.url = w.url
            UNION SELECT w.url FROM _wanted w JOIN articles a ON a.canonical_url = w.url
            UNION SELECT w.url FROM _wanted w JOIN articles a ON a.source_uri = w.url
            UNION SELECT w.url FROM _wanted w JOIN rejections r ON r.source_uri = w.url
                GROUP BY w.url
                HAVING bool_or(r.reason NOT IN ({marks})) OR sum(r.times_seen) >= ?
            """,
            [*transient, give_up_after],
        ).fetchall()
    finally:
        store.con.unregister("_wanted")
    return {r[0] for r in rows}


def load_validators(store: Store, source: str) -> dict[str, Validators]:
    """The stored validators of a source's feeds and sitemaps (sitemap indexes are always re-read,
    because their children can change while the index does not)."""
    rows = store.con.execute(
        "SELECT url, etag, last_modified FROM fetch_state WHERE source = ? AND listing <> 'sitemapindex'",
        [source],
    ).fetchall()
    return {url: Validators(etag, modified) for url, etag, modified in rows if etag or modified}


def save_validators(store: Store, source: str, run_id: str, states: Sequence[ListingState]) -> None:
    """Record the versions of a source's listings that were read in full (idempotent upsert)."""
    with store.transaction():
        for state in states:
            store.con.execute(
                """
                INSERT INTO fetch_state VALUES (?, ?, ?, ?, ?, ?, now(), ?)
                ON CONFLICT (url) DO UPDATE SET source = excluded.source, listing = excluded.listing,
                    etag = excluded.etag, last_modified = excluded.last_modified, status = excluded.status,
                    fetched_at = excluded.fetched_at, run_id = excluded.run_id
                """,
                [
                    state.url, source, state.listing, state.validators.etag, state.validators.last_modified,
                    state.status, run_id,
                ],
            )  # fmt: skip


def due_pages(
    store: Store, outlet: str, limits: FetchSettings, limit: int, now: datetime | None = None
) -> list[DuePage]:
    """A source's stored pages due to be fetched again under the refetch policy, longest unchecked first."""
    after, within = int(limits.refetch_after), int(limits.refetch_within)
    if not after or limit <= 0:
        return []
    now = now or datetime.now()  # local time, as ``ingested_at`` is stored
    rows = store.con.execute(
        """
        SELECT a.source_uri, a.url, p.etag, p.last_modified
        FROM articles a LEFT JOIN page_state p ON p.url = a.source_uri
        WHERE a.source = $outlet AND (a.source_uri LIKE 'http://%' OR a.source_uri LIKE 'https://%')
          AND ($within = 0 OR a.ingested_at >= $oldest)
          AND coalesce(p.checked_at, a.revised_at, a.ingested_at) <= $checked_before
        ORDER BY coalesce(p.checked_at, a.revised_at, a.ingested_at), a.seq
        LIMIT $limit
        """,
        {
            "outlet": outlet, "within": within, "oldest": now - timedelta(seconds=within),
            "checked_before": now - timedelta(seconds=after), "limit": limit,
        },
    ).fetchall()  # fmt: skip
    return [DuePage(url, stored, Validators(etag, modified)) for url, stored, etag, modified in rows]


def save_page_checks(
    store: Store, source: str, run_id: str, checks: Sequence[PageCheck], now: datetime | None = None
) -> None:
    """Record when article pages were last fetched, and their validators (one transaction; idempotent)."""
    latest = {check.url: check for check in checks}
    if not latest:
        return
    now = now or datetime.now()
    found = list(latest.values())
    columns = {
        "url": [c.url for c in found],
        "source": [source] * len(found),
        "etag": [c.validators.etag for c in found],
        "last_modified": [c.validators.last_modified for c in found],
        "status": [c.status for c in found],
        "checked_at": [now] * len(found),
        "run_id": [run_id] * len(found),
    }
    with store.transaction(), store.with_rows("_checks", **columns):
        store.con.execute("DELETE FROM page_state WHERE url IN (SELECT url FROM _checks)")
        store.con.execute(f"INSERT INTO page_state ({', '.join(columns)}) SELECT {', '.join(columns)} FROM _checks")
