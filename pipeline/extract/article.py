"""Extract: raw documents become clean articles (text plus metadata), or rejections.

HTML goes through trafilatura (text, title, date, author, site name, canonical URL); plain-text
page dumps go through ``textclean.clean_dump``. Both lose their subscription, consent and template
sentences (``paywall.strip_boilerplate``): what is left must be long enough to be an article, and a
page that is too short once its paywall is gone is rejected as ``paywalled``. Language is
identified from the clean text.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from typing import TypeVar

from pipeline.errors import ConfigError, EnvironmentFailure, is_environment_error
from pipeline.extract.html import Page, extractor
from pipeline.extract.paywall import strip_boilerplate
from pipeline.extract.textclean import clean_dump, strip_unsafe_characters
from pipeline.models import Article, RawDocument, Rejection
from pipeline.settings import ExtractSettings
from pipeline.sources.files import parse_timestamp, plausible_time
from pipeline.words import word_count

# trafilatura logs every page it finds too short or empty (WARNING, ERROR); those become rejections here.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
logging.getLogger("htmldate").setLevel(logging.ERROR)


def extract(raw: RawDocument, settings: ExtractSettings | None = None) -> Article | Rejection:
    """Turn one raw document into an article, or say why it cannot be one."""
    return extract_many([raw], settings)[0]


def extract_many(raws: Sequence[RawDocument], settings: ExtractSettings | None = None) -> list[Article | Rejection]:
    """Extract a batch, in order: every HTML page through the engine first, then each one finished.

    A page finished (paywall sentences, language, word count) right after trafilatura read it finds
    what finishing reads evicted from the CPU caches by trafilatura's work (py3langid's 28 MB model, for
    one). In a preparation worker's share of 2,000 html-eval pages, its language took 1.1-1.3 ms a page
    and its paywall sentences 0.35-0.4 ms that way, 0.75-0.95 ms and ~0.2 ms with the batch's pages
    finished one after another (CPU time, at load 8-10). The results are the same either way.
    """
    settings = settings or ExtractSettings()
    pages = [_engine_page(raw, settings) for raw in raws]
    return [_finish(raw, page, settings) for raw, page in zip(raws, pages, strict=True)]


def _engine_page(raw: RawDocument, settings: ExtractSettings) -> Page | Rejection | None:
    """The HTML engine's page of a document (None for plain text), or the rejection it already ends in."""
    size = (
        len(raw.content) if len(raw.content) * 4 <= settings.max_bytes else len(raw.content.encode("utf-8", "replace"))
    )
    if size > settings.max_bytes:
        return Rejection(raw.source_uri, "too_large", f"{size:,} bytes of text, the limit is {settings.max_bytes:,}")
    if raw.kind != "html":
        return None
    require_html_extraction()  # outside the guard below: a broken install is not a bad page
    page = _guarded(raw, lambda: extractor(settings.fast_html)(raw.content, raw.url))
    return _no_content(raw) if page is None else page


def _finish(raw: RawDocument, page: Page | Rejection | None, settings: ExtractSettings) -> Article | Rejection:
    """The article of a document from the engine's page (or of its text), or why it cannot be one."""
    if isinstance(page, Rejection):
        return page
    extracted = _guarded(raw, lambda: _extract_text(raw) if page is None else _page_article(raw, page))
    if isinstance(extracted, Rejection):
        return extracted
    article, paywall = _without_unsafe_characters(extracted[0]), extracted[1]
    words = word_count(article.text)
    minimum = settings.min_words_html if raw.kind == "html" else settings.min_words
    if words < minimum:
        return _too_short(raw.source_uri, words, minimum, paywall)
    return article


_T = TypeVar("_T")


def _guarded(raw: RawDocument, step: Callable[[], _T]) -> _T | Rejection:
    """The step's result; a rejection if it raised (a parser bug on one hostile page must not end the run)."""
    try:
        return step()
    except Exception as exc:
        if is_environment_error(exc):  # ... but a full disk or no memory is no verdict on the page
            raise EnvironmentFailure(exc, f"extracting {raw.source_uri}") from exc
        return Rejection(raw.source_uri, "extract_failed", f"{type(exc).__name__}: {exc}"[:300])


def _without_unsafe_characters(article: Article) -> Article:
    """The article with terminal controls and bidi overrides gone from what is shown: stored once, printed often."""
    fields = {"text": article.text, "title": article.title, "author": article.author, "sitename": article.sitename}
    clean = {name: value and strip_unsafe_characters(value) for name, value in fields.items()}
    if clean == fields:
        return article
    clean["title"] = (clean["title"] or "").strip() or None  # a title that was only controls is no title
    return dataclasses.replace(article, **clean)


def _too_short(source_uri: str, words: int, minimum: int, paywall: int) -> Rejection:
    """Too little article text: a paywalled teaser when subscription sentences were removed, else too short."""
    if paywall:
        return Rejection(
            source_uri,
            "paywalled",
            f"only {words} word(s) of article text besides {paywall} subscription or paywall sentence(s)"
            f" (minimum {minimum})",
        )
    return Rejection(
        source_uri, "too_short", f"only {words} word(s) of article text after cleaning (minimum {minimum})"
    )


# What HTML extraction imports, in dependency order, each with the distribution that provides it.
# lxml 6 moved lxml.html.clean (which justext imports) to lxml_html_clean; Python 3.11's bundled pip 23.2
# drops the lxml[html_clean] extra with only a warning, and every page then failed on its own.
_HTML_MODULES = (
    ("lxml.html", "lxml"),
    ("lxml_html_clean", "lxml_html_clean"),
    ("lxml.html.clean", "lxml_html_clean"),
    ("justext", "jusText"),
    ("trafilatura", "trafilatura"),
)


def require_html_extraction() -> None:
    """Raise ConfigError naming the package to install when HTML extraction cannot import what it needs."""
    for module, package in _HTML_MODULES:
        try:
            importlib.import_module(module)  # a dictionary look-up once imported
        except ImportError as exc:
            detail = " ".join(str(exc).split())
            raise ConfigError(
                f"HTML extraction cannot run: the package {package} is missing or broken ({detail}); "
                f"install it with: {sys.executable} -m pip install {package}"
            ) from exc


def _extract_text(raw: RawDocument) -> tuple[Article, int]:
    """The article of a text dump, and how many paywall sentences were removed from it."""
    # Before the cleaner: it would take a gate line above the headline for the title, and drop a last gate
    # line without a full stop ("Subscribe to continue reading") as a link, hiding that the page was paywalled.
    stripped = strip_boilerplate(raw.content)
    cleaned = clean_dump(stripped.text)
    text = cleaned.text
    if raw.title and cleaned.title and cleaned.title != raw.title and cleaned.title not in text:
        # The record names its own title: the line the cleaner took for a headline is article text.
        text = f"{cleaned.title}\n\n{text}" if text else cleaned.title
    article = Article(
        source_uri=raw.source_uri,
        text=text,
        title=raw.title or cleaned.title,
        published_ts=_published(raw.published_ts, _midnight(cleaned.published_at)),
        author=cleaned.author,
        sitename=raw.source or cleaned.sitename,
        language=detect_language(cleaned.text),
        url=raw.url,
        canonical_url=raw.url,
        external_id=raw.external_id,
        source=raw.source,
    )
    return article, stripped.paywall


def _page_article(raw: RawDocument, page: Page) -> tuple[Article, int]:
    """The article of an HTML page the engine read, and how many paywall sentences were removed from it."""
    stripped = strip_boilerplate(page.text)
    text = "\n\n".join(p.strip() for p in stripped.text.split("\n") if p.strip())
    article = Article(
        source_uri=raw.source_uri,
        text=text,
        title=raw.title or page.title,
        published_ts=_published(raw.published_ts, _to_time(page.date)),
        author=page.author,
        sitename=raw.source or page.sitename or page.hostname,
        language=detect_language(text),
        url=raw.url or page.url,
        canonical_url=page.url or raw.url,
        external_id=raw.external_id,
        source=raw.source,
    )
    return article, stripped.paywall


def _published(*candidates: datetime | None) -> datetime | None:
    """The first plausible publication time (UTC): the record's or listing's own, else the page's.

    Every source (JSONL, text, HTML, feeds, sitemaps) becomes an article here, so this is the one place
    where an implausible date (``plausible_date``) is dropped rather than stored.
    """
    return next((moment for moment in map(plausible_time, candidates) if moment is not None), None)


def _midnight(day: date | None) -> datetime | None:
    """A bare date as a time: midnight, taken as UTC like every time without an offset."""
    return None if day is None else datetime.combine(day, time())


def _no_content(raw: RawDocument) -> Rejection:
    return Rejection(raw.source_uri, "no_content", "no article text found in the HTML page")


def warm_up() -> None:
    """Import and set up what HTML extraction and language identification load on first use."""
    page = "<html><head><title>Warm-up</title></head><body><article>{}</article></body></html>"
    text = "A short paragraph of text, long enough for the extractor to keep it as the article body. "
    extract(RawDocument("warm-up", "html", page.format(f"<p>{text * 4}</p>" * 3)), ExtractSettings())


LANGUAGE_SAMPLE = 500
"""Characters of a text (its first) that language detection reads."""


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language (None for too little text)."""
    if len(text) < 20:
        return None
    import py3langid

    # The first 500 characters decide (py3langid walks its input byte by byte in Python: ~0.65 us a
    # character). Against the first 1,000 they name the same language on all 8,565 ECB+ and allsides dev
    # articles and on 987 of 990 html-eval pages in 12 languages (the 3: a Papiamento page, a script
    # dump, an English preface of a German page), at about half the cost (0.36 ms, not 0.65).
    lang, _score = py3langid.classify(text[:LANGUAGE_SAMPLE])
    return str(lang)


def _to_time(value: object) -> datetime | None:
    return parse_timestamp(value) if isinstance(value, str) else None
