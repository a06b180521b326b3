"""HTML pages to article text and metadata, through trafilatura's public API only.

``HtmlExtractor`` is what extraction asks of an HTML engine: a page in, a ``Page`` (the article text
and the metadata Storyline stores) or None out. ``TrafilaturaExtractor`` is the engine:
``trafilatura.bare_extraction`` with an ``Extractor``, trafilatura's public options object, built once
per process and copied per page with the page's URL (building one reads trafilatura's configuration
and today's date, ~0.3 ms a page; trafilatura never changes the options it is given). Nothing here
reaches into trafilatura's modules or changes their state: another trafilatura release is another
engine behind the same protocol, and ``tests/extract/test_extract.py`` holds its output to the keyword call
``bare_extraction(html, url=..., fast=..., include_comments=False, include_tables=False,
with_metadata=True, date_extraction_params=DATE_PARAMS)``.
"""

from __future__ import annotations

import copy
import functools
import warnings
from dataclasses import dataclass
from typing import Protocol

# The wide date search reads copyright footers ("© 2021") as 1 January publication dates. The format
# keeps the time and offset a page gives (``2021-08-19T23:30:00-0500``), so the time is stored in UTC;
# htmldate picks the same dates with it as with its default date-only format (all 990 html-eval pages).
DATE_PARAMS = {"extensive_search": False, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


@dataclass(frozen=True)
class Page:
    """What an HTML engine found in one page."""

    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None  # an ISO date, or time with its offset, as the page gives it
    sitename: str | None = None
    hostname: str | None = None
    url: str | None = None  # the canonical URL the page names, else the one it was fetched from


class HtmlExtractor(Protocol):
    """An HTML engine: the page's article and metadata, or None when it holds no article text."""

    def __call__(self, html: str, url: str | None) -> Page | None: ...


class TrafilaturaExtractor:
    """trafilatura's ``bare_extraction``: main text without comments or tables, plus metadata.

    ``fast`` is trafilatura's own switch: faster heuristics and no fallback extractors.
    """

    def __init__(self, fast: bool = False):
        self.fast = fast

    def __call__(self, html: str, url: str | None) -> Page | None:
        from trafilatura import bare_extraction

        options = copy.copy(_options(self.fast))
        options.url = url
        options.source = url and url.encode("utf-8", "replace").decode("utf-8")  # as Extractor() sets it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # htmldate and justext warn about odd pages; a page is no event
            document = bare_extraction(html, options=options)
        if document is None or not (document.text or "").strip():
            return None
        return Page(
            text=document.text,
            title=document.title,
            author=document.author,
            date=document.date,
            sitename=document.sitename,
            hostname=document.hostname,
            url=document.url,
        )


@functools.cache
def _options(fast: bool):  # -> trafilatura.settings.Extractor (imported on first use: ~0.5 s)
    """This process's options template for one mode (never changed: pages get copies)."""
    from trafilatura.settings import Extractor

    return Extractor(
        output_format="python",
        fast=fast,
        comments=False,
        tables=False,
        with_metadata=True,
        date_params=dict(DATE_PARAMS),
    )


@functools.cache
def extractor(fast: bool) -> HtmlExtractor:
    """The HTML engine for a mode, one per process."""
    return TrafilaturaExtractor(fast)
