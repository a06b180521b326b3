"""Report: one story as a self-contained HTML page (inline CSS and SVG, no external assets).

The page shows the story's header, a timeline of which outlets ran it when, the canonical text and
every variant against the canonical. How a variant is compared depends on how much text it shares:
copies and light edits (``exact``, ``near_duplicate``, or any variant sharing most of its words in
order) get a word-level diff with insertions and deletions marked; rewrites, which share names and
quotes but little running text, get their shared passages and shared terms highlighted instead,
because a diff of two different texts is a wall of red and green that says nothing.

Every piece of stored text reaches the page through ``html.escape``.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from difflib import SequenceMatcher
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pipeline.errors import StorylineError
from pipeline.store import Store
from pipeline.store.reports import related_stories, story_articles, story_row
from pipeline.storypage.data import Comparison, StoryReport, Variant
from pipeline.storypage.html import PASSAGE_WORDS, render_page

__all__ = [
    "StoryReport",
    "Variant",
    "build_report",
    "compare_texts",
    "load_report",
    "write_report",
]

DIFF_RATIO = 0.5  # word-sequence similarity from which a diff is more telling than highlighted terms
LONG_TEXTS = 25_000_000  # product of word counts above which difflib may skip common words
CONTEXT_WORDS = 12  # unchanged words kept around each change in a diff; longer runs are folded
TOKEN = re.compile(r"\n\s*\n|\S+")
PUNCTUATION = "()[]{}\"'“”‘’.,;:!?*«»—–-"


def load_report(store: Store, story_id: str) -> StoryReport:
    """Read one story (merged-away ids resolve to the survivor) and its members from the store."""
    resolved = store.resolve_story(story_id)
    story = story_row(store, resolved)
    if story is None:
        raise StorylineError(f"no story {story_id!r} (see `storyline stories`)")
    rows = story_articles(store, resolved)
    rows.sort(key=timeline_order)
    canonical_row = next(r for r in rows if r["article_id"] == story["canonical_article_id"])
    canonical_vector = _vector(canonical_row)
    members = [_variant(r, canonical_vector) for r in rows]
    related = related_stories(store, resolved)
    return StoryReport(
        story_id=resolved,
        requested_id=story_id,
        title=story["title"],
        first_published=story["first_published"],
        last_published=story["last_published"],
        article_count=story["article_count"],
        source_count=story["source_count"],
        top_terms=tuple(story["centroid_terms"][:12]),
        canonical=next(m for m in members if m.is_canonical),
        variants=tuple(m for m in members if not m.is_canonical),
        related=tuple((r["how"], r["other"], float(r["similarity"])) for r in related),
    )


def published_time(row: dict[str, Any]) -> datetime | None:
    """An article row's publication time in UTC: ``published_ts``, else (a database written before that
    column, opened read-only) its date at midnight."""
    if row.get("published_ts") is not None:
        return row["published_ts"]
    return None if row["published_at"] is None else datetime.combine(row["published_at"], time())


def timeline_order(row: dict[str, Any]) -> tuple[bool, datetime, datetime, str]:
    """Sort key of article rows in the order the news travelled: UTC publication time (undated last), arrival."""
    published = published_time(row)
    return (published is None, published or datetime.min, row["ingested_at"], row["article_id"])


def _vector(row: dict[str, Any]) -> dict[str, float]:
    return dict(zip(row["vector_terms"] or [], row["vector_weights"] or [], strict=True))


def _variant(row: dict[str, Any], canonical_vector: dict[str, float]) -> Variant:
    mine = _vector(row)
    shared = sorted((t for t in mine if t in canonical_vector), key=lambda t: (-mine[t] * canonical_vector[t], t))
    return Variant(
        article_id=row["article_id"],
        outlet=outlet_name(row["source"], row["sitename"], row["url"] or row["canonical_url"], row["source_uri"]),
        title=row["title"],
        text=row["text"],
        relation=row["relation"],
        assigned_as=row["assigned_as"],
        is_canonical=bool(row["is_canonical"]),
        published_at=row["published_at"],
        published_ts=published_time(row),
        ingested_at=row["ingested_at"],
        url=row["canonical_url"] or row["url"],
        near_duplicate_similarity=row["near_duplicate_similarity"],
        story_similarity=row["story_similarity"],
        canonical_similarity=row["canonical_similarity"],
        why_terms=tuple(row["shared_terms"] or ()),
        shared_terms=tuple(shared[:12]),
    )


def outlet_name(source: str | None, sitename: str | None, url: str | None, source_uri: str) -> str:
    """A short human name for where an article came from: outlet, else web host, else file name."""
    if source or sitename:
        return str(source or sitename)
    for candidate in (url, source_uri):
        if not candidate:
            continue
        parsed = urlparse(candidate)
        if parsed.scheme in ("http", "https") and parsed.hostname:
            return parsed.hostname.removeprefix("www.")
    name = unquote(urlparse(source_uri).path).rsplit("/", 1)[-1] or source_uri
    return name + (f" #{source_uri.split('#id=', 1)[1]}" if "#id=" in source_uri else "")


# ---- comparing a variant with the canonical ---------------------------------------------------


def tokens(text: str) -> list[str]:
    """Words, with paragraph breaks kept as a ``\\n\\n`` token."""
    return ["\n\n" if t.isspace() else t for t in TOKEN.findall(text)]


def compare_texts(canonical: str, variant: str, relation: str, shared_terms: tuple[str, ...]) -> Comparison:
    """Render ``variant`` against ``canonical``: a word diff for copies, highlighted shared text for rewrites."""
    old, new = tokens(canonical), tokens(variant)
    if old == new:
        return Comparison("identical", _plain(new), 1.0)
    # Without autojunk, frequent words ("the") still anchor matches, which keeps diffs readable; its cost
    # grows with the product of the lengths, so very long texts fall back to difflib's heuristic.
    matcher = SequenceMatcher(None, old, new, autojunk=len(old) * len(new) > LONG_TEXTS)
    ratio = matcher.ratio()
    if relation in ("exact", "near_duplicate") or ratio >= DIFF_RATIO:
        return _diff(matcher, old, new, ratio)
    return _highlight_shared(matcher, new, shared_terms, ratio)


def _diff(matcher: SequenceMatcher[str], old: list[str], new: list[str], ratio: float) -> Comparison:
    parts: list[str] = []
    inserted = deleted = 0
    opcodes = _merge_short_equals(matcher.get_opcodes())
    for number, (op, i1, i2, j1, j2) in enumerate(opcodes):
        if op == "equal":
            parts.append(_fold(new[j1:j2], first=number == 0, last=number == len(opcodes) - 1))
            continue
        if i2 > i1:
            deleted += sum(t != "\n\n" for t in old[i1:i2])
            parts.append(f"<del>{_plain(old[i1:i2])}</del>")
        if j2 > j1:
            inserted += sum(t != "\n\n" for t in new[j1:j2])
            parts.append(f"<ins>{_plain(new[j1:j2])}</ins>")
    return Comparison("diff", " ".join(p for p in parts if p), ratio, inserted, deleted)


def _merge_short_equals(opcodes: list[tuple[str, int, int, int, int]]) -> list[tuple[str, int, int, int, int]]:
    """Absorb one- or two-word matches between changes ("the", "of") into one replacement, as a reader would."""
    merged: list[tuple[str, int, int, int, int]] = []
    for number, (op, i1, i2, j1, j2) in enumerate(opcodes):
        short = op == "equal" and 0 < number < len(opcodes) - 1 and i2 - i1 <= 2
        if op == "equal" and not short:
            merged.append((op, i1, i2, j1, j2))
        elif merged and merged[-1][0] == "replace":
            merged[-1] = ("replace", merged[-1][1], i2, merged[-1][3], j2)
        else:
            merged.append(("replace", i1, i2, j1, j2))
    return merged


def _fold(words: list[str], first: bool, last: bool) -> str:
    """Unchanged words, keeping only some context around changes so the changes stand out."""
    keep_head = 0 if first else CONTEXT_WORDS
    keep_tail = 0 if last else CONTEXT_WORDS
    if len(words) <= keep_head + keep_tail + CONTEXT_WORDS:
        return _plain(words)
    hidden = words[keep_head : len(words) - keep_tail]
    count = sum(t != "\n\n" for t in hidden)
    fold = f'<span class="fold">… {count} unchanged words …</span>'
    return " ".join(p for p in (_plain(words[:keep_head]), fold, _plain(words[len(words) - keep_tail :])) if p)


def _highlight_shared(
    matcher: SequenceMatcher[str], new: list[str], shared_terms: tuple[str, ...], ratio: float
) -> Comparison:
    in_passage = [False] * len(new)
    passages = 0
    for block in matcher.get_matching_blocks():
        if sum(t != "\n\n" for t in new[block.b : block.b + block.size]) >= PASSAGE_WORDS:
            passages += 1
            for k in range(block.b, block.b + block.size):
                in_passage[k] = True
    terms = {t.lower() for t in shared_terms}
    parts, k = [], 0
    while k < len(new):
        if in_passage[k]:
            end = k
            while end < len(new) and in_passage[end]:
                end += 1
            parts.append(f'<mark class="passage">{_plain(new[k:end], terms)}</mark>')
            k = end
        else:
            parts.append(_plain([new[k]], terms))
            k += 1
    return Comparison("terms", " ".join(parts), ratio, shared_passages=passages)


def _plain(words: list[str], terms: set[str] | None = None) -> str:
    """Escaped words; paragraph breaks become breaks, words in ``terms`` are marked."""
    out = []
    for word in words:
        if word == "\n\n":
            out.append("<br><br>")
        elif terms and (core := _core(word)) and _term_of(core) in terms:
            head, _, tail = word.partition(core)
            out.append(f'{escape(head)}<mark class="term">{escape(core)}</mark>{escape(tail)}')
        else:
            out.append(escape(word))
    return " ".join(out).replace(" <br><br> ", "<br><br>")


def _core(word: str) -> str:
    """The word without surrounding punctuation: "(DPP)," -> "DPP" (the mark should not cover the comma)."""
    return word.strip(PUNCTUATION)


def _term_of(core: str) -> str:
    # Stored terms are lower-case words; "Taiwan’s" should match "taiwan".
    return re.sub(r"[’']s$", "", core.lower())


# ---- the page -----------------------------------------------------------------------------------


def build_report(report: StoryReport) -> str:
    """The story page as one HTML string."""
    comparisons = {
        v.article_id: compare_texts(report.canonical.text, v.text, v.relation, v.shared_terms) for v in report.variants
    }
    return render_page(report, comparisons, _plain(tokens(report.canonical.text), set(report.top_terms)))


def write_report(store: Store, story_id: str, path: str | Path) -> Path:
    """Write the story page for ``story_id`` to ``path`` (UTF-8); returns the path written."""
    target = Path(path)
    if target.is_dir():
        raise StorylineError(f"{target} is a directory; give a file name such as story.html")
    html = build_report(load_report(store, story_id))
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(html, encoding="utf-8")
    temporary.replace(target)  # a browser refreshing the file never sees half a page
    return target
