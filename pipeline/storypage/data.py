"""What a story page shows: the story, its variants and how each compares with the canonical.

``pipeline.storypage.build`` builds these from the store; ``pipeline.storypage.html`` renders them as HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class Variant:
    """One article of the story, as the page shows it."""

    article_id: str
    outlet: str
    title: str | None
    text: str
    relation: str
    assigned_as: str
    is_canonical: bool
    published_at: date | None
    published_ts: datetime | None  # UTC
    ingested_at: datetime
    url: str | None
    near_duplicate_similarity: float | None
    story_similarity: float | None
    canonical_similarity: float | None
    why_terms: tuple[str, ...]  # stored: the terms that weighed most when it joined the story
    shared_terms: tuple[str, ...]  # computed: the heaviest terms it shares with the canonical


@dataclass(frozen=True)
class StoryReport:
    """Everything the page needs about one story."""

    story_id: str
    requested_id: str
    title: str | None
    first_published: date | None
    last_published: date | None
    article_count: int
    source_count: int
    top_terms: tuple[str, ...]
    canonical: Variant
    variants: tuple[Variant, ...]  # every member except the canonical, in timeline order
    related: tuple[tuple[str, str, float], ...]  # (how, other story id, similarity)


@dataclass(frozen=True)
class Comparison:
    """A variant's text rendered against the canonical: ``mode`` is ``identical``, ``diff`` or ``terms``."""

    mode: str
    html: str
    ratio: float  # share of words the two texts have in common, in order (SequenceMatcher ratio)
    inserted: int = 0
    deleted: int = 0
    shared_passages: int = 0
