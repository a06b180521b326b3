"""Feeds and sitemaps: the article URLs (with title and date when given) a fetched listing names.

XML from the web is untrusted: before anything parses it for entries, defusedxml checks that it is
well-formed and declares no entities (billion laughs, external entities) and no external DTD, so
a hostile feed is a rejection, never a hung or exhausted process.

Listings are read as a stream (``iterparse``), each item dropped once read, and reading stops at
``max_items`` (a ``listing_limit`` rejection says so), so a feed of 230,000 items costs the memory
of its body, not of a tree over it. Small RSS and Atom feeds are then read by feedparser, which
knows their many dialects; big ones keep the streamed entries. Sitemaps (``urlset``,
``sitemapindex``, Google News extensions) are always streamed.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, TypeVar
from urllib.parse import urljoin
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from pipeline.models import Rejection
from pipeline.sources.files import parse_timestamp
from pipeline.sources.urls import canonical_url

T = TypeVar("T")

__all__ = ["MAX_ITEMS", "Entry", "SitemapListing", "parse_feed", "parse_sitemap"]

MAX_ITEMS = 50_000  # the sitemap protocol's own limit per file
# Above this many bytes a feed's streamed entries are kept: feedparser needs about 60 times a body's size.
_FEEDPARSER_MAX_BYTES = 1_000_000
_FEED_ROOTS = frozenset({"rss", "RDF", "feed"})
_FEED_ITEMS = frozenset({"item", "entry"})


@dataclass(frozen=True)
class Entry:
    """One article a listing names: its canonical URL and, when the listing says, title and time (UTC)."""

    url: str
    title: str | None = None
    published_ts: datetime | None = None  # UTC, naive (``sources.parse_timestamp``)


@dataclass(frozen=True)
class SitemapListing:
    """What one sitemap holds: article entries (``urlset``) or child sitemaps (``sitemapindex``)."""

    entries: tuple[Entry | Rejection, ...]
    children: tuple[str, ...]


def parse_feed(
    body: bytes, url: str, max_bytes: int, max_items: int = MAX_ITEMS
) -> tuple[Entry | Rejection, ...] | Rejection:
    """The entries of an RSS or Atom feed (the first ``max_items``), or a rejection for one unsafe or not a feed."""
    data = _inflate(body, url, max_bytes)
    if isinstance(data, Rejection):
        return data
    streamed = _stream(data, url, max_items, _FEED_ITEMS, _streamed_feed_entry)
    if isinstance(streamed, Rejection):
        return streamed
    root, entries = streamed
    if len(data) > _FEEDPARSER_MAX_BYTES:
        if root not in _FEED_ROOTS:
            return Rejection(url, "malformed_feed", f"not an RSS or Atom feed (root element <{root}>)")
        return entries
    import feedparser  # deferred: only live sources need it

    # The checked bytes are handed over as they are; feedparser reads them strictly as XML first.
    parsed = feedparser.parse(io.BytesIO(data), response_headers={"content-location": url})
    if not parsed.get("version") and not parsed.entries:
        return Rejection(url, "malformed_feed", f"not an RSS or Atom feed (root element <{root}>)")
    found = tuple(_feed_entry(entry, url) for entry in parsed.entries[:max_items])
    return found + _over_limit(url, len(parsed.entries), max_items)


def parse_sitemap(body: bytes, url: str, max_bytes: int, max_items: int = MAX_ITEMS) -> SitemapListing | Rejection:
    """The URLs (the first ``max_items``) or child sitemaps of a sitemap, news sitemap or sitemap index."""
    data = _inflate(body, url, max_bytes)
    if isinstance(data, Rejection):
        return data
    streamed = _stream(data, url, max_items, frozenset({"url", "sitemap"}), _streamed_sitemap_item)
    if isinstance(streamed, Rejection):
        return streamed
    kind, items = streamed
    if kind == "sitemapindex":
        children = [i for i in items if isinstance(i, str)]
        return SitemapListing((), tuple(dict.fromkeys(children)))
    if kind != "urlset":
        return Rejection(url, "malformed_feed", f"not a sitemap (root element <{kind}>, expected urlset)")
    return SitemapListing(tuple(i for i in items if not isinstance(i, str)), ())


def _streamed_sitemap_item(node: Element, url: str) -> Entry | Rejection | str | None:
    """A ``url`` entry of a urlset, or the address (a str) of a ``sitemap`` in an index."""
    if _local(node.tag) == "sitemap":
        return _text(_child(node, "loc"))
    return _sitemap_entry(node, url)


def _inflate(body: bytes, url: str, max_bytes: int) -> bytes | Rejection:
    try:
        data = _maybe_gunzip(body, max_bytes)
    except ValueError as exc:
        return Rejection(url, "too_large", str(exc))
    except (OSError, EOFError, zlib.error) as exc:
        return Rejection(url, "malformed_feed", f"corrupt gzip data: {exc}")
    if not data.strip():
        return Rejection(url, "malformed_feed", "the listing is empty")
    return data


def _stream(
    data: bytes, url: str, max_items: int, names: frozenset[str], read: Callable[[Element, str], T | None]
) -> tuple[str, tuple[T | Rejection, ...]] | Rejection:
    """The root element's name and the items (elements named ``names``) read one at a time, then dropped.

    Every element outside an item is dropped once closed too, so memory stays flat however long the
    listing. Reading stops after ``max_items`` items; a ``listing_limit`` rejection at the end says so.
    """
    found: list[T | Rejection] = []
    stack: list[Element] = []
    open_items = 0  # items being read: their children must stay until they close
    try:
        for event, node in _safe_iterparse(io.BytesIO(data)):
            is_item = _local(node.tag) in names and len(stack) > (event == "end")  # never the root
            if event == "start":
                stack.append(node)
                open_items += is_item
                continue
            stack.pop()
            if is_item:
                open_items -= 1
                if len(found) >= max_items:
                    return _local(stack[0].tag), (*found, *_over_limit(url, len(found) + 1, max_items))
                if (item := read(node, url)) is not None:
                    found.append(item)
            if stack and not open_items:
                stack[-1].remove(node)
        root = _local(node.tag)
    except DefusedXmlException as exc:
        return Rejection(url, "unsafe_xml", f"refused to parse: {exc} (entity and external references are unsafe)")
    except ParseError as exc:
        return Rejection(url, "malformed_feed", f"not well-formed XML: {exc}")
    return root, tuple(found)


def _safe_iterparse(source: IO[bytes]) -> Any:
    return SafeET.iterparse(
        source, events=("start", "end"), forbid_dtd=False, forbid_entities=True, forbid_external=True
    )


def _over_limit(url: str, count: int, max_items: int) -> tuple[Rejection, ...]:
    if count <= max_items:
        return ()
    detail = f"the listing has more than {max_items:,} items; only the first {max_items:,} were read"
    return (Rejection(url, "listing_limit", detail),)


def _streamed_feed_entry(node: Element, feed_url: str) -> Entry | Rejection:
    """An RSS ``item`` or Atom ``entry`` read without feedparser (big feeds)."""
    link = _text(_child(node, "link"))
    if not link:  # Atom: <link href=...>, the alternate one first
        links = [c for c in node if _local(c.tag) == "link" and c.get("href")]
        best = next((c for c in links if c.get("rel", "alternate") == "alternate"), links[0] if links else None)
        link = best.get("href") if best is not None else None
    if not link:
        ident = _text(_child(node, "guid")) or _text(_child(node, "id")) or _text(_child(node, "title")) or "?"
        return Rejection(f"{feed_url}#entry={ident}", "bad_url", "the feed entry has no link")
    dated = (_text(_child(node, name)) for name in ("pubDate", "published", "updated", "date"))
    published = next((d for d in map(parse_timestamp, dated) if d), None)
    return _entry(urljoin(feed_url, link.strip()), feed_url, _clean(_text(_child(node, "title"))), published)


def _maybe_gunzip(body: bytes, max_bytes: int) -> bytes:
    """Sitemaps are often served gzipped (``.xml.gz``); inflate within the size cap."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"the listing inflates to more than {max_bytes:,} bytes")
    return data


def _feed_entry(entry: Any, feed_url: str) -> Entry | Rejection:
    link = entry.get("link") or next((x.get("href") for x in entry.get("links", ()) if x.get("href")), None)
    if not link:
        where = f"{feed_url}#entry={entry.get('id') or entry.get('title') or '?'}"
        return Rejection(where, "bad_url", "the feed entry has no link")
    published = _struct_time(entry.get("published_parsed") or entry.get("updated_parsed"))
    return _entry(link, feed_url, _clean(entry.get("title")), published)


def _sitemap_entry(node: Element, sitemap_url: str) -> Entry | Rejection | None:
    loc = _text(_child(node, "loc"))
    if not loc:
        return Rejection(f"{sitemap_url}#url", "bad_url", "a sitemap <url> has no <loc>")
    news = _child(node, "news")
    title = _clean(_text(_child(news, "title"))) if news is not None else None
    published = parse_timestamp(_text(_child(news, "publication_date"))) if news is not None else None
    return _entry(loc, sitemap_url, title, published or parse_timestamp(_text(_child(node, "lastmod"))))


def _struct_time(parsed: Any) -> datetime | None:
    """feedparser's parsed date (a ``time.struct_time`` it has already converted to UTC) as naive UTC."""
    if not parsed:
        return None
    try:
        return datetime(*parsed[:5], min(parsed[5], 59))  # struct_time allows leap seconds (60, 61)
    except (TypeError, ValueError):
        return None


def _entry(link: str, listing_url: str, title: str | None, published: datetime | None) -> Entry | Rejection:
    try:
        return Entry(canonical_url(link), title, published)
    except ValueError as exc:
        return Rejection(link[:500] or listing_url, "bad_url", f"listed in {listing_url}: {exc}")


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _child(node: Element | None, name: str) -> Element | None:
    if node is None:
        return None
    return next((c for c in node if _local(c.tag) == name), None)


def _text(node: Element | None) -> str | None:
    return node.text.strip() if node is not None and node.text else None


def _clean(value: object) -> str | None:
    return " ".join(value.split()) or None if isinstance(value, str) else None
