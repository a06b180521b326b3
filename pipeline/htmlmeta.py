"""HTML metadata: a page's title, author, date, site name and URL, and nothing Storyline does not store.

trafilatura's ``extract_metadata`` also searches the whole page for categories, tags and a licence,
which cost ~40% of its time on news pages (5 ms of 13 ms measured on html-eval) and are never stored
here. ``page_metadata`` is its sequence for the five fields Storyline keeps, built from the same
trafilatura functions in the same order, so the values are the same. In fast mode the whole-page
author search (trafilatura's fallback when neither meta tags nor JSON-LD name an author, another
~5 ms a page) is skipped too.

``load_html`` parses a page as trafilatura's does, into a tree whose elements cost less to touch.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from html import unescape
from typing import Any

from courlan import extract_domain
from htmldate import find_date
from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HTMLParser, HtmlProcessingInstruction, fromstring
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.utils import (
    DOCTYPE_TAG,
    FAULTY_HTML,
    INVALID_XML_CHARS,
    decode_file,
    is_dubious_html,
    line_processing,
)

from . import fastxpath

fastxpath.install()  # trafilatura's title and author searches select with the rewritten expressions


def _parser() -> HTMLParser:
    """trafilatura's parser settings, with element classes chosen in C rather than by a Python callback.

    ``lxml.html`` picks each element's class with a Python method, called every time Python code
    touches an element it has not touched yet: 2.5 million calls on 990 html-eval pages, ~5% of
    extraction. The only classes that lookup adds are form-control ones (``FormElement``,
    ``InputElement``...), whose extra properties trafilatura and htmldate never use; every other
    element is an ``HtmlElement`` either way, and the extracted text and metadata are the same
    (``test_parsed_tree_extracts_as_trafilaturas_own``). Copies of a tree keep its parser, so
    trafilatura's working copies get the cheap lookup too.
    """
    parser = HTMLParser(
        collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
    )
    parser.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
        )
    )
    return parser


_PARSER = _parser()


def load_html(html: str) -> HtmlElement | None:
    """A page's tree, or None when it is not HTML: trafilatura's ``load_html`` steps for a string."""
    html = decode_file(html)
    beginning = html[:50].lower()
    dubious = is_dubious_html(beginning)
    html = _repair_faulty_html(html, beginning)
    tree, as_bytes = None, False
    try:
        tree = fromstring(html, parser=_PARSER)
    except ValueError:  # "Unicode strings with encoding declaration are not supported."
        tree, as_bytes = _from_bytes(html), True
    except Exception:  # trafilatura's guard: libxml2 refuses some inputs that it takes as bytes
        tree = None
    if (tree is None or len(tree) < 1) and not as_bytes:
        tree = _from_bytes(html)
    if tree is not None and dubious and len(tree) < 2:
        return None  # one block and no <html> anywhere near the start: not a page
    return tree


# The characters INVALID_XML_CHARS removes (libxml2 refuses them), one by one.
_INVALID_XML_CHARS = tuple(chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF))


def _repair_faulty_html(html: str, beginning: str) -> str:
    """trafilatura's ``repair_faulty_html``, which first strips characters libxml2 refuses.

    Its regular expression scans the whole page (~0.8 ms for a 150 KB page) to find characters
    hardly any page has; looking for each of them with ``in`` (a memchr) takes a quarter of that, and
    only a page that has one is scanned by the expression.
    """
    if any(char in html for char in _INVALID_XML_CHARS):
        html = INVALID_XML_CHARS.sub("", html)
    if "doctype" in beginning:  # libxml2/lxml issue: https://bugs.launchpad.net/lxml/+bug/1955915
        firstline, _, rest = html.partition("\n")
        html = DOCTYPE_TAG.sub("", firstline, count=1) + "\n" + rest
    for line in html[:4096].splitlines()[:4]:  # a self-closing <html/> in the first lines
        if "<html" in line and line.endswith("/>"):
            html = FAULTY_HTML.sub(r"\1>", html, count=1)
            break
    return html


def _from_bytes(html: str) -> HtmlElement | None:
    try:
        return fromstring(html.encode("utf-8", "surrogatepass"), parser=_PARSER)
    except Exception:  # trafilatura's guard too: libxml2 refuses some inputs outright
        return None


@dataclass(frozen=True)
class PageMetadata:
    """What a page says about itself."""

    title: str | None
    author: str | None
    date: str | None  # ISO date (or time, as the format asked of htmldate) the page gives
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


__all__ = ["PageMetadata", "load_html", "page_metadata"]
