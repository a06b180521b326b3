"""Feeds and sitemaps: the article URLs (with title and date when given) a fetched listing names.

XML from the web is untrusted: before anything parses it for entries, defusedxml checks that it is
well-formed and declares no entities (billion laughs, external entities) and no external DTD, so
a hostile feed is a rejection, never a hung or exhausted process. RSS and Atom are then read by
feedparser; sitemaps (``urlset``, ``sitemapindex``, Google News extensions) by ElementTree.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass
from datetime import date
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from .models import Rejection
from .sources import parse_date
from .urls import canonical_url

__all__ = ["Entry", "SitemapListing", "parse_feed", "parse_sitemap"]


@dataclass(frozen=True)
class Entry:
    """One article a listing names: its canonical URL and, when the listing says, title and date."""

    url: str
    title: str | None = None
    published_at: date | None = None


@dataclass(frozen=True)
class SitemapListing:
    """What one sitemap holds: article entries (``urlset``) or child sitemaps (``sitemapindex``)."""

    entries: tuple[Entry | Rejection, ...]
    children: tuple[str, ...]


def parse_feed(body: bytes, url: str, max_bytes: int) -> tuple[Entry | Rejection, ...] | Rejection:
    """The entries of an RSS or Atom feed, or a rejection for a feed that is unsafe or not a feed."""
    root = _safe_root(body, url, max_bytes)
    if isinstance(root, Rejection):
        return root
    import feedparser  # deferred: only live sources need it

    # The checked bytes are handed over as they are; feedparser reads them strictly as XML first.
    parsed = feedparser.parse(io.BytesIO(_maybe_gunzip(body, max_bytes)), response_headers={"content-location": url})
    if not parsed.get("version") and not parsed.entries:
        name = _local(root.tag)
        return Rejection(url, "malformed_feed", f"not an RSS or Atom feed (root element <{name}>)")
    return tuple(_feed_entry(entry, url) for entry in parsed.entries)


def parse_sitemap(body: bytes, url: str, max_bytes: int) -> SitemapListing | Rejection:
    """The URLs (or child sitemaps) of a sitemap, news sitemap or sitemap index."""
    root = _safe_root(body, url, max_bytes)
    if isinstance(root, Rejection):
        return root
    kind = _local(root.tag)
    if kind == "sitemapindex":
        children = [_text(_child(node, "loc")) for node in root if _local(node.tag) == "sitemap"]
        return SitemapListing((), tuple(dict.fromkeys(c for c in children if c)))
    if kind != "urlset":
        return Rejection(url, "malformed_feed", f"not a sitemap (root element <{kind}>, expected urlset)")
    entries = [_sitemap_entry(node, url) for node in root if _local(node.tag) == "url"]
    return SitemapListing(tuple(e for e in entries if e is not None), ())


def _safe_root(body: bytes, url: str, max_bytes: int) -> Element | Rejection:
    try:
        data = _maybe_gunzip(body, max_bytes)
    except ValueError as exc:
        return Rejection(url, "too_large", str(exc))
    except (OSError, EOFError, zlib.error) as exc:
        return Rejection(url, "malformed_feed", f"corrupt gzip data: {exc}")
    if not data.strip():
        return Rejection(url, "malformed_feed", "the listing is empty")
    try:
        return SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        return Rejection(url, "unsafe_xml", f"refused to parse: {exc} (entity and external references are unsafe)")
    except ParseError as exc:
        return Rejection(url, "malformed_feed", f"not well-formed XML: {exc}")


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
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    published = date(*parsed[:3]) if parsed else None
    return _entry(link, feed_url, _clean(entry.get("title")), published)


def _sitemap_entry(node: Element, sitemap_url: str) -> Entry | Rejection | None:
    loc = _text(_child(node, "loc"))
    if not loc:
        return Rejection(f"{sitemap_url}#url", "bad_url", "a sitemap <url> has no <loc>")
    news = _child(node, "news")
    title = _clean(_text(_child(news, "title"))) if news is not None else None
    published = parse_date(_text(_child(news, "publication_date"))) if news is not None else None
    return _entry(loc, sitemap_url, title, published or parse_date(_text(_child(node, "lastmod"))))


def _entry(link: str, listing_url: str, title: str | None, published: date | None) -> Entry | Rejection:
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
