"""Outlet identity: which publisher an article counts as, decided once at ingest.

The outlet is, in order: the record's ``source``; the page's site name; the registered domain of its
URL or canonical URL (``news.bbc.co.uk`` and ``www.bbc.co.uk`` are both ``bbc.co.uk``); else the input
it came from, one outlet per file (named by file name, so a copied folder is the same outlets) or per
feed (named by its host's registered domain). It is stored in ``articles.source``, and every count of
sources (``stories.source_count``, the SQL views, the ``spreading`` alert) reads that column
(``pipeline.store.schema.OUTLET_SQL``).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import unquote, urlparse

from tld import get_fld

from pipeline.models import Article

__all__ = ["input_name", "input_outlet", "outlet_of", "registered_domain"]

# Fallback when the public-suffix list does not know a host's suffix (``tld`` ships a snapshot of it
# and never fetches it): these second-level labels are suffixes under a country code, so keep three.
_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gov", "net", "org", "ne", "or", "go"})


def registered_domain(host: str) -> str:
    """The registrable domain of a host (``news.bbc.co.uk`` -> ``bbc.co.uk``); IPs and bare names as given."""
    host = host.strip().strip(".").lower()
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host
    except ValueError:
        pass
    found = get_fld(host, fix_protocol=True, fail_silently=True)
    if isinstance(found, str) and found:
        return found
    labels = host.split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])


def outlet_of(article: Article) -> str:
    """The outlet an article counts as: source, else site name, else URL's domain, else its file or feed."""
    for name in (article.source, article.sitename):
        name = (name or "").strip()
        if name:
            # A site name that is a bare host (trafilatura falls back to one) is a domain like any URL's.
            return registered_domain(name) if _looks_like_host(name) else name
    for url in (article.url, article.canonical_url):
        host = _web_host(url)
        if host:
            return registered_domain(host)
    return input_outlet(article.source_uri)


def input_outlet(source_uri: str) -> str:
    """The outlet of an input with no outlet metadata: a feed's domain, else the input file's name."""
    host = _web_host(source_uri)
    return registered_domain(host) if host else input_name(source_uri.split("#", 1)[0])


def input_name(source_uri: str) -> str:
    """An input's name without its folder: a file's name and record (``wire.jsonl#id=7``); a URL whole."""
    if _web_host(source_uri):
        return source_uri
    path, _, record = source_uri.partition("#")
    name = unquote(urlparse(path).path).rstrip("/").rsplit("/", 1)[-1] or path
    return f"{name}#{record}" if record else name


def _web_host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        parsed = urlparse(url.strip())
        host = parsed.hostname
    except ValueError:
        return None
    return host if parsed.scheme in ("http", "https") and host else None


def _looks_like_host(name: str) -> bool:
    return "." in name and not any(c.isspace() for c in name) and "/" not in name
