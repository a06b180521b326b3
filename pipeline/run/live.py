"""Live sources: read a feed, sitemap or URL list, fetch only its new articles, ingest them in batches.

One run of a source:

1. **list**: fetch the feed or sitemap (conditional GET with the stored ETag/Last-Modified; a 304
   lists nothing) and parse the article URLs it names, canonicalised;
2. **skip** every URL already stored or finally rejected (one set-based query);
3. **fetch** the rest concurrently (per-host limits), and under a refetch policy
   (``fetch.refetch_after``) the source's stored pages that are due again (conditional GETs), and
   hand pages and rejections to the ordinary batch loop (``ingest.run_batches``), which records
   both: a stored page with a changed text is a revision of its article;
4. **remember** the listing validators, only when every listed URL was settled, so a URL that
   failed transiently is listed and retried next run; and when each page was fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TypeVar

import httpx

from pipeline.cluster.candidates import CandidateIndex
from pipeline.models import Article, IngestReport, RawDocument, Rejection
from pipeline.run.ingest import Progress, recorded_run, run_batches
from pipeline.settings import Settings
from pipeline.sources.config import SourceSpec
from pipeline.sources.feeds import Entry, parse_feed, parse_sitemap
from pipeline.sources.fetch import (
    FEED_TYPES,
    TRANSIENT_REASONS,
    AddressPolicy,
    Fetched,
    Fetcher,
    FetchProgress,
    Validators,
)
from pipeline.sources.fetchstate import (
    DuePage,
    ListingState,
    PageCheck,
    due_pages,
    known_urls,
    load_validators,
    save_page_checks,
    save_validators,
)
from pipeline.sources.files import decode, is_blank
from pipeline.sources.outlet import outlet_of
from pipeline.sources.urls import canonical_url
from pipeline.store import Store

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
    refetched: int = 0
    """Stored pages fetched again under the refetch policy (besides ``fetched``)."""

    def summary(self) -> str:
        """One line for logs and the command line."""
        c = self.ingest
        again = f"{self.refetched} fetched again, " if self.refetched else ""
        return (
            f"{self.source} ({self.kind}): {self.listings_read} listing(s) read, {self.listings_unchanged} "
            f"unchanged (304); {self.listed} URL(s) listed, {self.already_known} already known, "
            f"{self.fetched} fetched, {again}{self.deferred} deferred; new {c.new}, unchanged {c.unchanged}, "
            f"revised {c.revised}, rejected {c.rejected}"
        )


def ingest_sources(
    specs: Sequence[SourceSpec],
    settings: Settings,
    progress: Progress | None = None,
    transport: httpx.BaseTransport | None = None,
    waiting: Waiting | None = None,
) -> list[SourceReport]:
    """Run every source once, in one recorded run, without Prefect."""
    reports: list[SourceReport] = []
    with recorded_run(settings, [spec.label for spec in specs], keep_empty=False) as run:
        run.delivered = IngestReport()  # delivery counts are the run's, not a source's
        for spec in specs:
            reports.append(ingest_source(spec, settings, run.run_id, run.index, progress, transport, waiting))
            run.report = total_report(reports)
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
    """List one source, fetch its new articles (and its stored pages due again) and ingest them into an
    open run (safe to retry).

    New URLs come first; stored pages due again under ``fetch.refetch_after`` fill what is left of
    ``fetch.max_urls``, whether the listing still names them or not (a 304 listing names nothing).
    """
    policy = AddressPolicy(spec.allow_private, spec.allow_networks)
    limits = settings.fetch
    with Fetcher(limits, policy, spec.rate_limit, transport) as fetcher:
        with Store.open(settings.db) as store:
            validators = load_validators(store, spec.name)
        listing = list_source(spec, fetcher, settings, validators)
        unique = list({e.url: e for e in listing.entries}.values())
        with Store.open(settings.db) as store:
            known = known_urls(store, [e.url for e in unique], limits.give_up_after)
            new = [e for e in unique if e.url not in known]
            todo, deferred = new[: limits.max_urls], new[limits.max_urls :]
            due = due_pages(store, source_outlet(spec), limits, limits.max_urls - len(todo))
        listed = {e.url: e for e in unique}
        again = {page.url: page for page in due}
        unsettled: list[Rejection] = []
        checks: list[PageCheck] | None = [] if limits.refetch_after else None

        def stored(url: str) -> bool:
            with Store.open(settings.db) as store:
                return bool(known_urls(store, [url], limits.give_up_after))

        entries = todo + [listed.get(url, Entry(url)) for url in again]
        fetched = fetch_documents(spec, entries, fetcher, unsettled, stored, waiting, again, checks)
        documents = chain(listing.rejections, fetched)
        report = run_batches(documents, settings, run_id, index, progress, len(entries))
    if checks:  # after the batches: a crash before this fetches those pages again, which adds nothing twice
        with Store.open(settings.db) as store:
            save_page_checks(store, spec.name, run_id, checks)
    if listing.states and not unsettled and not deferred:
        with Store.open(settings.db) as store:
            save_validators(store, spec.name, run_id, listing.states)
    return SourceReport(
        spec.name, spec.kind, len(listing.states), listing.unchanged, len(unique), len(known), len(todo),
        len(deferred), report, refetched=len(again),
    )  # fmt: skip


def source_outlet(spec: SourceSpec) -> str:
    """The outlet a source's articles are stored under (``articles.source``): its name, as ``outlet_of`` reads it."""
    return outlet_of(Article(source_uri=spec.url or spec.name, text="", source=spec.name))


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
    again: Mapping[str, DuePage] | None = None,
    checks: list[PageCheck] | None = None,
) -> Iterator[RawDocument | Rejection]:
    """Fetch article pages; each becomes a raw HTML document or a rejection (transient ones noted).

    A document's ``url`` is where the page was found after redirects and its ``source_uri`` the URL
    listed, so either one is known next time. A redirect to a page already stored (``stored``) or
    already fetched in this run is a ``duplicate_url`` rejection: final, so it is not fetched again.
    ``waiting`` hears every few seconds what slow fetches are waiting for.

    Stored pages fetched again (``again``) are asked for with their validators: a 304 yields nothing.
    Their transient failures are not the listing's (they are tried again when next due), and where
    they were found last time is their own URL, not a duplicate. ``checks``, when given, collects
    every page settled by a response or a final rejection (``page_state``).
    """
    again = again or {}
    conditional = {url: page.validators for url, page in again.items()}
    seen: set[str] = set()
    urls = [e.url for e in entries]
    for entry, result in zip(entries, fetcher.fetch_many(urls, on_wait=waiting, validators=conditional), strict=True):
        due = again.get(entry.url)
        if isinstance(result, Rejection):
            transient = result.reason in TRANSIENT_REASONS
            if transient and due is None:
                unsettled.append(result)
            elif not transient and checks is not None and due is not None:
                checks.append(PageCheck(entry.url, None, Validators()))
            yield result
            continue
        if checks is not None:
            answered = result.validators.etag or result.validators.last_modified
            checks.append(
                PageCheck(entry.url, result.status, result.validators if answered or not due else due.validators)
            )
        if result.not_modified:
            continue  # the page is as it was when last fetched
        final = _final_url(result)
        own = {entry.url, due.stored_url} if due else {entry.url}
        if final in seen or (final not in own and stored(final)):
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
