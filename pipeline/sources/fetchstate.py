"""Fetch state: which article URLs are done, and the validators of feeds and sitemaps.

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
from datetime import datetime

from pipeline.settings import FetchSettings
from pipeline.sources.fetch import TRANSIENT_REASONS, Validators
from pipeline.store import Store
from pipeline.store.fetchstate import done_urls, listing_validators, pages_due, save_listings, write_page_checks

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
    return done_urls(store, urls, TRANSIENT_REASONS, give_up_after)


def load_validators(store: Store, source: str) -> dict[str, Validators]:
    """The stored validators of a source's feeds and sitemaps (sitemap indexes are always re-read,
    because their children can change while the index does not)."""
    rows = listing_validators(store, source)
    return {url: Validators(etag, modified) for url, etag, modified in rows if etag or modified}


def save_validators(store: Store, source: str, run_id: str, states: Sequence[ListingState]) -> None:
    """Record the versions of a source's listings that were read in full (idempotent upsert)."""
    listings = [(s.url, s.listing, s.validators.etag, s.validators.last_modified, s.status) for s in states]
    save_listings(store, source, run_id, listings)


def due_pages(
    store: Store, outlet: str, limits: FetchSettings, limit: int, now: datetime | None = None
) -> list[DuePage]:
    """A source's stored pages due to be fetched again under the refetch policy, longest unchecked first."""
    after, within = int(limits.refetch_after), int(limits.refetch_within)
    if not after or limit <= 0:
        return []
    now = now or datetime.now()  # local time, as ``ingested_at`` is stored
    rows = pages_due(store, outlet, after, within, limit, now)
    return [DuePage(url, stored, Validators(etag, modified)) for url, stored, etag, modified in rows]


def save_page_checks(
    store: Store, source: str, run_id: str, checks: Sequence[PageCheck], now: datetime | None = None
) -> None:
    """Record when article pages were last fetched, and their validators (one transaction; idempotent)."""
    latest = {check.url: check for check in checks}
    if not latest:
        return
    now = now or datetime.now()
    found = [(c.url, c.validators.etag, c.validators.last_modified, c.status) for c in latest.values()]
    write_page_checks(store, source, run_id, found, now)
