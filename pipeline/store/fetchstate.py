"""Fetch state in the store: stored and rejected URLs, listing validators (``fetch_state``), page checks
(``page_state``).

``pipeline.sources.fetchstate`` decides what is done and what is due; this module is the SQL it runs.
Every question is asked for a whole listing at once, never one URL at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pipeline.store.db import Store

ValidatorRow = tuple[str, str | None, str | None]
"""(url, etag, last_modified)."""


def done_urls(store: Store, urls: Iterable[str], transient: Iterable[str], give_up_after: int) -> set[str]:
    """The URLs among ``urls`` stored (as ``url``, ``canonical_url`` or ``source_uri``) or finally rejected:
    for a reason not in ``transient``, or seen in ``give_up_after`` runs."""
    urls = sorted(set(urls))
    if not urls:
        return set()
    transient = sorted(transient)
    marks = ", ".join("?" * len(transient))
    with store._table("_wanted", url=urls):
        rows = store._con.execute(
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
    return {r[0] for r in rows}


def listing_validators(store: Store, source: str) -> list[ValidatorRow]:
    """The stored validators of a source's feeds and sitemaps, sitemap indexes left out."""
    return store._con.execute(
        "SELECT url, etag, last_modified FROM fetch_state WHERE source = ? AND listing <> 'sitemapindex'",
        [source],
    ).fetchall()


def save_listings(store: Store, source: str, run_id: str, listings: Sequence[tuple[Any, ...]]) -> None:
    """Upsert the listings read in full, each (url, listing, etag, last_modified, status), in one transaction."""
    with store.transaction():
        for url, listing, etag, last_modified, status in listings:
            store._con.execute(
                """
                INSERT INTO fetch_state VALUES (?, ?, ?, ?, ?, ?, now(), ?)
                ON CONFLICT (url) DO UPDATE SET source = excluded.source, listing = excluded.listing,
                    etag = excluded.etag, last_modified = excluded.last_modified, status = excluded.status,
                    fetched_at = excluded.fetched_at, run_id = excluded.run_id
                """,
                [url, source, listing, etag, last_modified, status, run_id],
            )


def pages_due(
    store: Store, outlet: str, after: int, within: int, limit: int, now: datetime
) -> list[tuple[str, str | None, str | None, str | None]]:
    """(source_uri, url, etag, last_modified) of an outlet's stored web pages last fetched at least ``after``
    seconds before ``now`` and first stored within ``within`` seconds of it (0: any time), longest
    unchecked first, at most ``limit``."""
    return store._con.execute(
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


def write_page_checks(
    store: Store,
    source: str,
    run_id: str,
    checks: Sequence[tuple[str, str | None, str | None, int | None]],
    now: datetime,
) -> None:
    """Replace the ``page_state`` rows of the pages checked, each (url, etag, last_modified, status), checked
    at ``now``, in one transaction."""
    columns = {
        "url": [c[0] for c in checks],
        "source": [source] * len(checks),
        "etag": [c[1] for c in checks],
        "last_modified": [c[2] for c in checks],
        "status": [c[3] for c in checks],
        "checked_at": [now] * len(checks),
        "run_id": [run_id] * len(checks),
    }
    with store.transaction(), store._table("_checks", **columns):
        store._con.execute("DELETE FROM page_state WHERE url IN (SELECT url FROM _checks)")
        store._con.execute(f"INSERT INTO page_state ({', '.join(columns)}) SELECT {', '.join(columns)} FROM _checks")
