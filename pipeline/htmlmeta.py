"""HTML metadata: a page's title, author, date, site name and URL, and nothing Storyline does not store.

trafilatura's ``extract_metadata`` also searches the whole page for categories, tags and a licence,
which cost ~40% of its time on news pages (5 ms of 13 ms measured on html-eval) and are never stored
here. ``page_metadata`` is its sequence for the five fields Storyline keeps, built from the same
trafilatura functions in the same order, so the values are the same. In fast mode the whole-page
author search (trafilatura's fallback when neither meta tags nor JSON-LD name an author, another
~5 ms a page) is skipped too.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from html import unescape
from typing import Any

from courlan import extract_domain
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.utils import line_processing


@dataclass(frozen=True)
class PageMetadata:
    """What a page says about itself."""

    title: str | None
    author: str | None
    date: str | None  # ISO date as htmldate found it
    sitename: str | None
    hostname: str | None
    url: str | None


def page_metadata(
    tree: HtmlElement, url: str | None, date_params: dict[str, Any], search_author: bool = True
) -> PageMetadata:
    """Title, author, date, site name, hostname and canonical URL of a parsed page (read-only)."""
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None  # trafilatura's rule: a one-word "author" is usually a site handle
    with contextlib.suppress(Exception):  # trafilatura's JSON-LD parser has bugs; it guards the same way
        meta = extract_meta_json(tree, meta)
    title = meta.title or extract_title(tree)
    author = meta.author or (extract_author(tree) if search_author else None)
    page_url = meta.url or extract_url(tree, url)
    date = find_date(tree, url=page_url, **date_params)
    sitename = meta.sitename or extract_sitename(tree)
    if sitename:
        sitename = sitename.lstrip("@")
        if sitename and "." not in sitename and not sitename[0].isupper():
            sitename = sitename.title()
    elif page_url and (match := META_URL.match(page_url)):
        sitename = match[1]
    hostname = extract_domain(page_url, fast=True) if page_url else None
    return PageMetadata(_trim(title), _trim(author), date, _trim(sitename), hostname, _trim(page_url))


def _trim(value: str | None) -> str | None:
    """trafilatura's ``Document.clean_and_trim`` for one field."""
    if not isinstance(value, str):
        return None
    if len(value) > 10000:
        value = value[:9999] + "…"
    return line_processing(unescape(value)) or None


__all__ = ["PageMetadata", "page_metadata"]
