"""pipeline.fastxpath: trafilatura's XPath expressions, rewritten, select exactly what the originals do."""

from __future__ import annotations

import gzip
import warnings
from collections import Counter
from copy import copy

import pytest
from conftest import HTML_EVAL
from lxml.etree import XPath
from lxml.html import fromstring
from trafilatura import main_extractor
from trafilatura import xpaths as original

from pipeline import fastxpath, htmltext
from pipeline.extract import extract
from pipeline.htmlmeta import load_html
from pipeline.models import RawDocument
from pipeline.settings import ExtractSettings

PAGES = sorted((HTML_EVAL / "html").glob("*.html.gz"))
needs_pages = pytest.mark.skipif(not PAGES, reason=f"html-eval pages not found at {HTML_EVAL}")

OWN_LISTS = ("RAW_TREE_PRUNE_XPATH", "REMOVE_COMMENTS_AND_LISTS_XPATH", "REMOVE_COMMENTS_XPATH")


def rewritten_lists() -> dict[str, list[tuple[XPath, XPath]]]:
    """{list name: [(trafilatura's expression, its rewrite), ...]} for every list Storyline rewrites."""
    lists = {name: getattr(fastxpath, f"FAST_{name}") for name in OWN_LISTS} | fastxpath.INSTALLED
    return {name: list(zip(getattr(original, name), fast, strict=True)) for name, fast in lists.items()}


def rewritten_pairs() -> list[tuple[str, XPath, XPath]]:
    """(name, trafilatura's expression, its rewrite) for every expression Storyline rewrites."""
    return [(f"{name}[{i}]", o, f) for name, pairs in rewritten_lists().items() for i, (o, f) in enumerate(pairs)]


class Checked:
    """Evaluates both expressions on the tree it is called with, counts disagreements, returns the rewrite's result."""

    def __init__(
        self, name: str, original_expression: XPath, fast_expression: XPath, tally: dict[str, Counter]
    ) -> None:
        self.name, self.original, self.fast, self.tally = name, original_expression, fast_expression, tally

    def __call__(self, tree):
        expected, found = self.original(tree), self.fast(tree)
        self.tally["calls"][self.name] += 1
        self.tally["selected"][self.name] += bool(expected)
        self.tally["differ"][self.name] += expected != found
        return found


@needs_pages
def test_rewrites_select_what_trafilaturas_expressions_select_during_extraction(monkeypatch) -> None:
    """On every tree extraction evaluates them on (raw, cleaned, tag-converted, body candidates,
    recall retries, the title and author searches), for 200 real pages in fast mode and 50 in full
    mode, the rewritten expressions give the same elements in the same order as trafilatura's."""
    tally: dict[str, Counter] = {"calls": Counter(), "selected": Counter(), "differ": Counter()}
    for name, pairs in rewritten_lists().items():
        checked = [Checked(f"{name}[{i}]", o, f, tally) for i, (o, f) in enumerate(pairs)]
        where = (htmltext, f"FAST_{name}") if name in OWN_LISTS else (fastxpath.INSTALLED_IN[name], name)
        monkeypatch.setattr(*where, checked)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for number, path in enumerate(PAGES[::5]):
            raw = RawDocument(path.name, "html", gzip.decompress(path.read_bytes()).decode("utf-8", "replace"))
            for fast in (True, False) if number % 4 == 0 else (True,):
                extract(raw, ExtractSettings(fast_html=fast))

    assert not +tally["differ"], tally["differ"]
    # every expression the balanced cascade reads was evaluated many times, and selected elements often
    for name in (
        "BODY_XPATH[0]",
        "BODY_XPATH[2]",
        "BODY_XPATH[3]",
        "OVERALL_DISCARD_XPATH[0]",
        "OVERALL_DISCARD_XPATH[1]",
    ):
        assert tally["selected"][name] >= 20, (name, tally["selected"][name])
    sometimes = ("DISCARD_IMAGE_ELEMENTS[0]", "TEASER_DISCARD_XPATH[0]", "REMOVE_COMMENTS_AND_LISTS_XPATH[0]")
    for name in sometimes:
        assert tally["selected"][name] >= 5, (name, tally["selected"][name])
    # the title search runs on every page, the author search in full mode when no meta tag names one
    for name in ("TITLE_XPATHS[2]", "AUTHOR_XPATHS[0]", "AUTHOR_XPATHS[1]", "AUTHOR_DISCARD_XPATHS[0]"):
        assert tally["selected"][name] >= 3, (name, tally["selected"][name])
    assert tally["calls"]["RAW_TREE_PRUNE_XPATH[0]"] >= 200


@needs_pages
def test_every_rewrite_agrees_on_raw_and_converted_trees() -> None:
    """All rewrites, also those only precision mode reads, on raw pages and on the same pages after
    trafilatura's cleaning and tag conversion (where <list>, <item> and <head> appear)."""
    from trafilatura.htmlprocessing import convert_tags, tree_cleaning

    from pipeline.extract import _extractor_options

    options = _extractor_options(True, None)
    selected = Counter()
    for path in PAGES[2::10]:
        tree = load_html(gzip.decompress(path.read_bytes()).decode("utf-8", "replace"))
        if tree is None:
            continue
        converted = convert_tags(tree_cleaning(copy(tree), options), options)
        for name, original_expression, fast_expression in rewritten_pairs():
            for which, subject in (("raw", tree), ("converted", converted)):
                expected = original_expression(subject)
                assert fast_expression(subject) == expected, (name, which, path.name)
                selected[name] += bool(expected)
    assert selected["PRECISION_DISCARD_XPATH[1]"] >= 5 and selected["REMOVE_COMMENTS_XPATH[0]"] >= 5, selected


def test_rewrites_keep_attribute_order_empty_values_and_per_parent_positions() -> None:
    """Hand-made cases the semantics turn on: a union of attributes reads the first one in document
    order; empty and missing attributes; a positional [1] that counts the children of each parent."""
    page = fromstring(
        """<html><body>
        <div id="cookiez" class="plain">a</div><div class="plain" id="cookiez">b</div>
        <div class="" id="">c</div><p>d</p><span style="display:none">e</span>
        <div class="sidebar"><div class="comments">f</div></div><ol class="comment-list"><li>g</li></ol>
        <section><div class="article-body">one</div><div class="article-body">two</div></section>
        <section><div class="article-body">three</div></section>
        <div data-lp-replacement-content="">h</div><div role="Navigation">i</div>
        </body></html>"""
    )
    for name, original_expression, fast_expression in rewritten_pairs():
        assert fast_expression(page) == original_expression(page), name
    first_body = dict((name, f) for name, _, f in rewritten_pairs())["BODY_XPATH[0]"]
    assert [e.text for e in first_body(page)] == ["one", "three"]  # the first match under each parent
    discarded = {e.text for e in dict((name, f) for name, _, f in rewritten_pairs())["OVERALL_DISCARD_XPATH[0]"](page)}
    assert {"a", "h", "i"} <= discarded and "b" not in discarded  # @id|@class reads the first in the page


def test_rewrite_shapes_and_refusals() -> None:
    assert fastxpath.rewrite(".//*[self::div or self::p][re:test(@class, 'ad')]") == (
        "(.//div|.//p)[@class][contains(@class, 'ad')]"
    )
    # a positional predicate after the name test keeps the per-parent walk
    assert fastxpath.rewrite(".//*[self::div][@id='x'][1]") == ".//*[self::div][@id][@id='x'][1]"
    # a predicate true on an element without attributes gets no attribute filter
    assert fastxpath.rewrite(".//*[not(@id)]") == ".//*[not(@id)]"
    assert fastxpath.rewrite(".//*[self::div][not(.//h1) or @id]") == "(.//div)[not(.//h1) or @id]"
    # a predicate that could be a number (a position) keeps the walk too
    assert fastxpath.rewrite(".//*[self::div][count(p)]") == ".//*[self::div][count(p)]"
    with pytest.raises(ValueError, match="matches ''"):
        fastxpath.rewrite(".//*[re:test(@class, 'a*')]")


def test_install_is_idempotent_and_refuses_someone_elses_replacement(monkeypatch) -> None:
    fastxpath.install()
    fastxpath.install()
    assert main_extractor.BODY_XPATH is fastxpath.INSTALLED["BODY_XPATH"]
    monkeypatch.setattr(main_extractor, "BODY_XPATH", list(original.BODY_XPATH))
    with pytest.raises(RuntimeError, match="replaced by someone else"):
        fastxpath.install()


PREDICATES = (
    "@id",
    "@id|@class",
    "contains(@id|@class, 'ad')",
    "starts-with(@id|@class, 'ad')",
    "@class='ad' or @id!='ad'",
    "@id|@class = 'ad'",
    "@id|@class != 'ad'",
    "'ad' = @class",
    "not(@class) and @id",
    "string(@id|@style) = ''",
    "contains(translate(@class, 'ADA', 'adX'), 'ad')",
    "contains(translate(@class, 'AD', 'a'), 'ab')",
    "((@class) and re:test(string(@class), '^ad|[Bb]ar(?!t)'))",
    "re:test(string(@id|@class), 'AD', 'i')",
    "(@id = 'x') = (@class = 'ad')",
    "contains(@data-x, '') and not(contains(@style, 'display: none'))",
    "contains(@id, string(@class)) or starts-with(@class, @id)",
)


def test_compiled_predicates_equal_xpath_on_attribute_cases() -> None:
    """Each predicate, compiled to Python, gives XPath's answer on elements covering attribute order,
    empty and missing attributes, case and unions (lxml's own evaluation is the reference)."""
    elements = fromstring(
        """<div>
        <p id="ad" class="x">1</p><p class="x" id="ad">2</p><p class="ad-slot">3</p><p id="">4</p><p class="">5</p>
        <p>6</p><p class="AD Bar">7</p><p class="bart" style="display: none">8</p><p data-x="" id="x" class="ad">9</p>
        <p style="" id="q">10</p><p class="ABad">11</p>
        </div>"""
    ).findall("p")
    for predicate in PREDICATES:
        test = fastxpath.compile_predicate(predicate)
        reference = XPath(f"self::*[{predicate}]", namespaces=fastxpath.REGEXP_NS)
        for element in elements:
            assert test(element) == bool(reference(element)), (predicate, element.text)


@pytest.mark.parametrize(
    "predicate",
    [
        "1",
        "position() = 1",
        ".//h1",
        "count(@id)",
        "@id = @class",
        "text()",
        "contains(@id, 'a'",
        "translate(@id, @class, 'x')",
    ],
)
def test_predicates_outside_the_subset_are_refused(predicate: str) -> None:
    with pytest.raises(fastxpath.Unsupported):
        fastxpath.compile_predicate(predicate)


def test_attribute_filtered_selectors_are_used_only_for_one_path_ending_in_an_attribute_regex_test() -> None:
    selected = fastxpath.faster([XPath(".//*[@class][re:test(@class, 'a|b')]", namespaces=fastxpath.REGEXP_NS)])
    assert isinstance(selected[0], fastxpath.AttributeFiltered)
    refused = (
        ".//*[re:test(@class, 'a|b')]|//author",
        ".//*[re:test(@class, 'a|b')][1]",
        ".//*[contains(@class, 'a')]",
        ".//*[re:test(text(), 'a|b')]",
        ".//*[@class][re:test(@class, 'a|b') and .//h1]",
    )
    for path in refused:
        assert isinstance(fastxpath.faster([XPath(path, namespaces=fastxpath.REGEXP_NS)])[0], XPath), path
    # trafilatura's furniture expressions, the costliest, are among them
    assert all(isinstance(s, fastxpath.AttributeFiltered) for s in fastxpath.INSTALLED["OVERALL_DISCARD_XPATH"])
