"""Live sources: read a feed, sitemap or URL list, fetch only its new articles, ingest them in batches.

One run of a source:

1. **list**: fetch the feed or sitemap (conditional GET with the stored ETag/Last-Modified; a 304
   lists nothing) and parse the article URLs it names, canonicalised;
2. **skip** every URL already stored or finally rejected (one set-based query);
3. **fetch** the rest concurrently (per-host limits) and hand pages and rejections to the ordinary
   batch loop (``ingest.run_batches``), which records both;
4. **remember** the listing validators, only when every listed URL was settled, so a URL that
   failed transiently is listed and retried next run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TypeVar

import httpx

from .feeds import Entry, parse_feed, parse_sitemap
from .fetch import FEED_TYPES, TRANSIENT_REASONS, AddressPolicy, Fetched, Fetcher, FetchProgress, Validators
from .fetchstate import ListingState, known_urls, load_validators, save_validators
from .index import CandidateIndex
from .ingest import Progress, close_run, deliver_run_alerts, open_for_run, run_batches, save_index
from .models import IngestReport, RawDocument, Rejection
from .settings import Settings
from .sourceconfig import SourceSpec
from .sources import decode, is_blank
from .store import Store
from .urls import canonical_url

T = TypeVar("T")
Waiting = Callable[[FetchProgress], None]  # hears, every few seconds, what slow fetches are waiting for

__all__ = ["Listing", "SourceReport", "ingest_source", "ingest_sources", "list_source"]


@dataclass
class Listing:
    """What a source's listings named in this run, and the listing versions read."""

    entries: list[Entry] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    states: list[ListingState] = field(default_factory=list)
    unchanged: int = 0  # listings answered 304 Not Modified


@dataclass(frozen=True)
class SourceReport:
    """What one run of one source did: listing, skipping, fetching, and the ingest counts."""

    source: str
    kind: str
    listings_read: int
    listings_unchanged: int
    listed: int
    already_known: int
    fetched: int
    deferred: int
    ingest: IngestReport

    def summary(self) -> str:
        """One line for logs and the command line."""
        c = self.ingest
        return (
            f"{self.source} ({self.kind}): {self.listings_read} listing(s) read, {self.listings_unchanged} "
            f"unchanged (304); {self.listed} URL(s) listed, {self.already_known} already known, "
            f"{self.fetched} fetched, {self.deferred} deferred; new {c.new}, unchanged {c.unchanged}, "
            f"rejected {c.rejected}"
        )


def ingest_sources(
    specs: Sequence[SourceSpec],
    settings: Settings,
    progress: Progress | None = None,
    transport: httpx.BaseTransport | None = None,
    waiting: Waiting | None = None,
) -> list[SourceReport]:
    """Run every source once, in one recorded run, without Prefect."""
    run_id = open_for_run(settings, [spec.label for spec in specs])
    index = CandidateIndex.for_database(settings.db)
    reports: list[SourceReport] = []
    try:
        for spec in specs:
            reports.append(ingest_source(spec, settings, run_id, index, progress, transport, waiting))
    except BaseException as exc:
        close_run(settings, run_id, total_report(reports), exc)
        raise
    close_run(settings, run_id, total_report(reports), keep_empty=False)
    save_index(settings, index)
    deliver_run_alerts(settings, IngestReport())  # delivery counts are the run's, not a source's
    return reports


def total_report(reports: Sequence[SourceReport]) -> IngestReport:
    """The ingest counts of several sources added up."""
    total = IngestReport()
    for report in reports:
        total.add(report.ingest)
    return total


def ingest_source(
    spec: SourceSpec,
    settings: Settings,
    run_id: str,
    index: CandidateIndex,
    progress: Progress | None = None,
    transport: httpx.BaseTransport | None = None,
    waiting: Waiting | None = None,
) -> SourceReport:
    """List one source, fetch its new articles and ingest them into an open run (safe to retry)."""
    policy = AddressPolicy(spec.allow_private, spec.allow_networks)
    with Fetcher(settings.fetch, policy, spec.rate_limit, transport) as fetcher:
        with Store.open(settings.db) as store:
            validators = load_validators(store, spec.name)
        listing = list_source(spec, fetcher, settings, validators)
        unique = list({e.url: e for e in listing.entries}.values())
        with Store.open(settings.db) as store:
            known = known_urls(store, [e.url for e in unique], settings.fetch.give_up_after)
        new = [e for e in unique if e.url not in known]
        todo, deferred = new[: settings.fetch.max_urls], new[settings.fetch.max_urls :]
        unsettled: list[Rejection] = []

        def stored(url: str) -> bool:
            with Store.open(settings.db) as store:
                return bool(known_urls(store, [url], settings.fetch.give_up_after))

        fetched = fetch_documents(spec, todo, fetcher, unsettled, stored, waiting)
        documents = chain(listing.rejections, fetched)
        report = run_batches(documents, settings, run_id, index, progress, len(todo))
    if listing.states and not unsettled and not deferred:
        with Store.open(settings.db) as store:
            save_validators(store, spec.name, run_id, listing.states)
    return SourceReport(
        spec.name, spec.kind, len(listing.states), listing.unchanged, len(unique), len(known), len(todo),
        len(deferred), report,
    )  # fmt: skip


def list_source(
    spec: SourceSpec, fetcher: Fetcher, settings: Settings, validators: dict[str, Validators] | None = None
) -> Listing:
    """The article URLs a source names now (conditional GETs with the given validators)."""
    lister = _Lister(fetcher, settings, validators or {})
    if spec.kind == "urls":
        _list_urls(spec, lister.listing)
    elif spec.kind == "feed":
        assert spec.url is not None  # SourceSpec checks it
        lister.feed(canonical_url(spec.url))
    else:
        assert spec.url is not None
        lister.sitemaps(canonical_url(spec.url))
    return lister.listing


def fetch_documents(
    spec: SourceSpec,
    entries: Sequence[Entry],
    fetcher: Fetcher,
    unsettled: list[Rejection],
    stored: Callable[[str], bool] = lambda url: False,
    waiting: Waiting | None = None,
) -> Iterator[RawDocument | Rejection]:
    """Fetch article pages; each becomes a raw HTML document or a rejection (transient ones noted).

    A document's ``url`` is where the page was found after redirects and its ``source_uri`` the URL
    listed, so either one is known next time. A redirect to a page already stored (``stored``) or
    already fetched in this run is a ``duplicate_url`` rejection: final, so it is not fetched again.
    ``waiting`` hears every few seconds what slow fetches are waiting for.
    """
    seen: set[str] = set()
    for entry, result in zip(entries, fetcher.fetch_many([e.url for e in entries], on_wait=waiting), strict=True):
        if isinstance(result, Rejection):
            if result.reason in TRANSIENT_REASONS:
                unsettled.append(result)
            yield result
            continue
        final = _final_url(result)
        if final in seen or (final != entry.url and stored(final)):
            where = f"redirects to {final}, which" if final != entry.url else "it"
            yield Rejection(entry.url, "duplicate_url", f"{where} is already stored or fetched in this run")
            continue
        seen.add(final)
        text = _decode(result)
        if isinstance(text, Rejection):
            yield Rejection(entry.url, text.reason, text.detail)
            continue
        yield RawDocument(
            source_uri=entry.url,
            kind="html",
            content=text,
            url=final,
            title=entry.title,
            published_ts=entry.published_ts,
            source=spec.name,
        )


def _list_urls(spec: SourceSpec, listing: Listing) -> None:
    lines: list[tuple[str, str]] = [(f"{spec.name}#url={i}", u) for i, u in enumerate(spec.urls, 1)]
    if spec.file:
        try:
            text = Path(spec.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            listing.rejections.append(Rejection(spec.file, "unreadable", f"cannot read the URL list: {exc}"))
            return
        lines += [(f"{spec.file}#line={i}", line) for i, line in enumerate(text.splitlines(), 1)]
    for where, raw in lines:
        url = raw.split(" #", 1)[0].strip()  # a trailing " # note" is a comment; a URL fragment is not
        if not url or url.startswith("#"):
            continue
        try:
            listing.entries.append(Entry(canonical_url(url)))
        except ValueError as exc:
            listing.rejections.append(Rejection(where, "bad_url", str(exc)))


class _Lister:
    """Reads one source's listings into a ``Listing``."""

    def __init__(self, fetcher: Fetcher, settings: Settings, validators: dict[str, Validators]):
        self.fetcher = fetcher
        self.limits = settings.fetch
        self.validators = validators
        self.listing = Listing()

    def feed(self, url: str) -> None:
        """Read one RSS or Atom feed."""
        if read := self._read(url, parse_feed):
            fetched, entries = read
            _add_entries(entries, self.listing)
            self.listing.states.append(ListingState(url, "feed", fetched.status, fetched.validators))

    def sitemaps(self, root: str) -> None:
        """Breadth-first through sitemap indexes, within the depth and count caps."""
        queue, seen = [(root, 1)], {root}
        while queue:
            url, depth = queue.pop(0)
            read = self._read(url, parse_sitemap)
            if not read:
                continue
            fetched, parsed = read
            _add_entries(parsed.entries, self.listing)
            kind = "sitemapindex" if parsed.children else "urlset"
            self.listing.states.append(ListingState(url, kind, fetched.status, fetched.validators))
            for child in parsed.children:
                try:
                    child = canonical_url(child)
                except ValueError as exc:
                    self.listing.rejections.append(Rejection(url, "bad_url", f"child sitemap: {exc}"))
                    continue
                if child in seen:
                    continue
                if depth >= self.limits.sitemap_depth or len(seen) >= self.limits.max_sitemaps:
                    cap = f"depth {self.limits.sitemap_depth}, {self.limits.max_sitemaps} sitemaps"
                    self.listing.rejections.append(Rejection(child, "sitemap_limit", f"not read: over the cap ({cap})"))
                    continue
                seen.add(child)
                queue.append((child, depth + 1))

    def _read(self, url: str, parse: Callable[[bytes, str, int, int], T | Rejection]) -> tuple[Fetched, T] | None:
        """A listing's new version, parsed; None when it failed (recorded) or is unchanged (304)."""
        fetched = self.fetcher.fetch(url, FEED_TYPES, self.validators.get(url), self.limits.max_feed_bytes)
        if isinstance(fetched, Rejection):
            self.listing.rejections.append(fetched)
            return None
        if fetched.not_modified:
            self.listing.unchanged += 1
            return None
        parsed = parse(fetched.body, url, self.limits.max_feed_bytes, self.limits.max_listing_items)
        if isinstance(parsed, Rejection):
            self.listing.rejections.append(parsed)
            return None
        return fetched, parsed


def _add_entries(items: Sequence[Entry | Rejection], listing: Listing) -> None:
    for item in items:
        (listing.rejections if isinstance(item, Rejection) else listing.entries).append(item)  # type: ignore[arg-type]


def _final_url(fetched: Fetched) -> str:
    """Where the page was found, canonicalised like listed URLs (as fetched if that fails)."""
    try:
        return canonical_url(fetched.final_url)
    except ValueError:
        return fetched.final_url


def _decode(fetched: Fetched) -> str | Rejection:
    """The page's text: the charset the server declared, else what the page declares, else UTF-8."""
    if fetched.charset:
        try:
            text = fetched.body.decode(fetched.charset)
        except (LookupError, UnicodeDecodeError):
            pass
        else:
            if not is_blank(text):
                return text
    return decode(fetched.body, html=True)
