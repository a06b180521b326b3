"""A page's article text: trafilatura's extraction cascade, for the options Storyline uses.

``bare_extraction`` (trafilatura 2.3.1, pinned) runs a cascade of extractors on a copy of the page
tree. ``article_text`` runs the same cascade with the same trafilatura functions in the same order,
for text without comments, the only output Storyline stores, and gives the same text
(``tests/test_extract.py`` checks it on real pages), at ~15% less cost:

* it works on the tree it is given instead of a copy of it (the caller reads the page's metadata
  first and hands the tree over), and skips the copy of the cleaned tree that only the
  comparison with external extractors reads (not run in fast mode);
* the escalation test, "is the text found under a fifth of the page's text?", measures the page
  as trafilatura's ``html2txt`` does but in one read-only walk over the tree, where html2txt copies
  the tree, deletes the page furniture found by an XPath union whose regular expressions call back
  into Python for every element, then rewrites the text of every block element: that measure was
  ~10% of extraction, on the half of the pages whose text is under 3,000 characters, and costs
  under half of that now;
* trafilatura's XPath expressions, which pick the body and the furniture to prune, are evaluated in
  rewritten forms that select the same elements (``pipeline/fastxpath.py``: ~15% of extraction).
"""

from __future__ import annotations

import contextlib
import re
from copy import copy

from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura.baseline import _BLOCK_ELEMS, baseline
from trafilatura.core import (
    ESCALATION_ACCEPT_RATIO,
    ESCALATION_JUSTEXT_RATIO,
    ESCALATION_MAX_LENGTH,
    ESCALATION_PAGE_SHARE,
    _forum_thread_page,
    _recall_retry,
)
from trafilatura.external import compare_extraction, justext_rescue
from trafilatura.htmlprocessing import convert_tags, prune_unwanted_nodes, tree_cleaning
from trafilatura.main_extractor import extract_content
from trafilatura.settings import Extractor
from trafilatura.utils import remove_control_characters
from trafilatura.xml import xmltotxt

from . import fastxpath
from .fastxpath import FAST_RAW_TREE_PRUNE_XPATH, FAST_REMOVE_COMMENTS_AND_LISTS_XPATH, FAST_REMOVE_COMMENTS_XPATH

fastxpath.install()  # trafilatura's main extractor selects with the rewritten, equivalent expressions


def article_text(tree: HtmlElement, options: Extractor) -> str | None:
    """The article text trafilatura's ``bare_extraction(tree, options=options).text`` gives, or None.

    The tree is consumed: it is pruned and cleaned in place. ``options`` must ask for text without
    comments, in trafilatura's "python" format, with no language, duplicate or metadata filters
    (``_check_options``).
    """
    _check_options(options)
    try:
        body, text = _cascade(tree, options, options.url)
    except (TypeError, ValueError):  # bare_extraction's own guard: it gives up on the page
        return None
    if len(text) < options.min_output_size:
        return None
    return xmltotxt(body, options.formatting)


def _check_options(options: Extractor) -> None:
    unsupported = {
        "comments": options.comments,
        "output format other than python": options.format != "python",
        "target language": options.lang,
        "deduplication": options.dedup,
        "metadata": options.with_metadata,
        "max tree size": options.max_tree_size,
    }
    if any(unsupported.values()):
        raise ValueError(f"article_text does not support: {', '.join(k for k, v in unsupported.items() if v)}")


def _cascade(tree: HtmlElement, options: Extractor, url: str | None) -> tuple[HtmlElement, str]:
    """trafilatura's ``trafilatura_sequence`` with comments off: main extractor, rescue, escalation."""
    is_forum = _forum_thread_page(tree)
    tree = prune_unwanted_nodes(tree, FAST_RAW_TREE_PRUNE_XPATH)
    if options.focus == "precision" or not is_forum:
        tree = prune_unwanted_nodes(tree, FAST_REMOVE_COMMENTS_AND_LISTS_XPATH)
    cleaned = tree_cleaning(copy(tree), options)
    backup = None if options.fast else copy(cleaned)  # only the external comparison reads it
    cleaned = convert_tags(cleaned, options, url)
    if options.focus == "precision" and not is_forum:
        cleaned = prune_unwanted_nodes(cleaned, FAST_REMOVE_COMMENTS_XPATH)

    body, text = extract_content(cleaned, options)
    if not options.fast:
        body, text = compare_extraction(backup, copy(tree), body, text, options)

    # rescue: the baseline on the raw tree, taken only if it finds more
    if len(text) < options.min_extracted_size and options.focus != "precision":
        rescued_body, rescued_text, rescued_length = baseline(tree)
        if rescued_length > len(text):
            body, text = rescued_body, rescued_text

    # escalation: a short text covering little of the page is retried in recall mode
    if (
        options.focus == "balanced"
        and 0 < len(text) < ESCALATION_MAX_LENGTH
        and len(text) < ESCALATION_PAGE_SHARE * page_text_length_bound(tree)  # a tenth of the cost: often decides
        and len(text) < ESCALATION_PAGE_SHARE * page_text_length(tree)
    ):
        recall = copy(options)
        recall.focus = "recall"
        retried_text = justext_text = ""
        with contextlib.suppress(Exception):  # trafilatura's guard: a failed retry keeps the first text
            retried_body, retried_text = _recall_retry(tree, recall, url)
        if not options.fast:
            with contextlib.suppress(Exception):  # the same guard for the justext candidate
                justext_body, justext_text = justext_rescue(copy(tree), options)
        if len(justext_text) > len(retried_text) and len(justext_text) > ESCALATION_JUSTEXT_RATIO * len(text):
            body, text = justext_body, justext_text
        elif len(retried_text) >= options.min_extracted_size and len(retried_text) > ESCALATION_ACCEPT_RATIO * len(
            text
        ):
            body, text = retried_body, retried_text
    return body, text


# trafilatura's BASIC_CLEAN_XPATH, the page furniture html2txt leaves out, as tests on one element.
_FURNITURE_TAGS = frozenset({"aside", "fencedframe", "footer", "script", "style", "svg", "template"})
_COOKIE_NOTICE = re.compile(
    r"cookie[-_]?(?:banner|bar|consent|law|notice|policy|description)|notice[-_]{0,2}cookie"
    r"|consent[-_]?(?:banner|manager|sdk)|borlabs|cookiebot|cmplz|onetrust|moove[-_]?gdpr",
    re.IGNORECASE,
)


def page_text_length(tree: HtmlElement) -> int:
    """``len(trafilatura.baseline.html2txt(tree))``: the length of the page's text, furniture left out.

    html2txt copies the tree, deletes the furniture (keeping the text that follows each piece, which
    joins the text before it), puts a space at the start and the end of every block element (taking
    control characters out of their text) and joins the words of what is left. This walks the tree
    once and writes down the same text in the same order, without copying or changing the tree.
    """
    root = _measured_root(tree)
    pieces: list[str] = []
    add = pieces.append
    root_is_block = root.tag in _BLOCK_ELEMS
    if root_is_block:
        add(" ")
    if root.text:
        add(_printable(root.text) if root_is_block else root.text)
    # A frame per open element: its children, itself, whether it is a block, and whether the string
    # a deleted child's trailing text joins (its own text, or the tail of the last child kept) is a
    # block's, whose control characters go.
    stack: list[list] = [[iter(root), root, root_is_block, root_is_block]]
    while stack:
        frame = stack[-1]
        child = next(frame[0], None)
        if child is None:  # the element ends: its tail follows
            stack.pop()
            if stack:
                element, is_block = frame[1], frame[2]
                if is_block:
                    add(" ")
                if element.tail:
                    add(_printable(element.tail) if is_block else element.tail)
                stack[-1][3] = is_block
            continue
        if not isinstance(child.tag, str):  # an entity: only its tail is text
            if child.tail:
                add(child.tail)
            frame[3] = False
        elif _is_furniture(child):  # deleted, its tail joins the string before it
            if child.tail:
                add(_printable(child.tail) if frame[3] else child.tail)
        else:
            is_block = child.tag in _BLOCK_ELEMS
            if is_block:
                add(" ")
            if child.text:
                add(_printable(child.text) if is_block else child.text)
            stack.append([iter(child), child, is_block, is_block])
    return len(" ".join("".join(pieces).split()))


def page_text_length_bound(tree: HtmlElement) -> int:
    """A number ``page_text_length(tree)`` never exceeds, at a tenth of its cost (three XPath calls in C).

    The page measure is made of the text under the body, less the furniture's (script and style
    among it), with control characters taken out, whitespace runs made one space, and a space put on
    each side of every block element: so it is at most the body's text, less what scripts and styles
    hold, plus two characters an element. On 451 html-eval pages that reach the escalation test, this
    bound alone shows 190 of the 360 whose text is long enough not to be retried.
    """
    root = _measured_root(tree)
    hidden = sum(map(len, _SCRIPT_AND_STYLE_TEXT(root)))
    return int(_TEXT_LENGTH(root)) - hidden + 2 * (int(_ELEMENT_COUNT(root)) + 1)


_TEXT_LENGTH = XPath("string-length()")
_SCRIPT_AND_STYLE_TEXT = XPath(".//script/text()|.//style/text()", smart_strings=False)
_ELEMENT_COUNT = XPath("count(.//*)")


def _measured_root(tree: HtmlElement) -> HtmlElement:
    """What html2txt measures: the body, or the whole tree when there is none."""
    body = tree.find(".//body")
    return tree if body is None else body


def _printable(text: str) -> str:
    """trafilatura's ``remove_control_characters``: the text without what is neither printable nor space.

    That function looks at each character of any text that is not all printable, and line breaks
    are not printable: here a text whose words are all printable is returned as it is at once.
    """
    return text if "".join(text.split()).isprintable() else remove_control_characters(text)


def _is_furniture(element: HtmlElement) -> bool:
    """Whether BASIC_CLEAN_XPATH, evaluated under the body, selects this element."""
    tag = element.tag
    if tag in _FURNITURE_TAGS:
        return True
    css_class, element_id = element.get("class"), element.get("id")
    if tag == "div" and "footer" in _first_of(element, css_class, element_id):
        return True  # contains(@class|@id, 'footer'): the attribute that comes first
    return bool((css_class and _COOKIE_NOTICE.search(css_class)) or (element_id and _COOKIE_NOTICE.search(element_id)))


def _first_of(element: HtmlElement, css_class: str | None, element_id: str | None) -> str:
    """The string value of the node-set ``@class|@id``: the value of whichever attribute comes first."""
    if css_class is None or element_id is None:
        return css_class or element_id or ""
    for name in element.attrib:
        if name == "class":
            return css_class
        if name == "id":
            return element_id
    return ""


__all__ = ["article_text", "page_text_length", "page_text_length_bound"]
