"""Fetch state in the store: which article URLs are done, and the validators of feeds and sitemaps.

An article URL is done when it is stored (as ``url``, ``canonical_url`` or ``source_uri``) or when
its rejection is final: a non-transient reason, or transient failures in ``give_up_after`` runs.
Both questions are asked for a whole listing at once, never one URL at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from .fetch import TRANSIENT_REASONS, Validators
from .store import Store

__all__ = ["ListingState", "known_urls", "load_validators", "save_validators"]


@dataclass(frozen=True)
class ListingState:
    """The version of one feed or sitemap a run read in full."""

    url: str
    listing: str  # feed | urlset | sitemapindex
    status: int
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
