"""The records of stories as clustering sees them and the store keeps them.

Clustering reads these from the store (or the candidate index), decides, and hands the store the
records to write: ``NewArticle`` (its ``ArticleRow``, the row written per article), ``StoryMerge``, ``StoryLink``, the
changed ``StoryState``s and, per changed story, its canonical member's ``StoryRecord`` and the
``MemberUpdate``s of members whose relation to it changed. None of them knows SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

import numpy as np

from pipeline.models.vectors import dot, heaviest


@dataclass(frozen=True)
class ArticleRef:
    """Where a stored article sits: its story and variant group."""

    article_id: str
    story_id: str
    variant_group: str


@dataclass(frozen=True)
class StoredDocument:
    """A stored article that an incoming document may be a version of."""

    seq: int
    article_id: str
    content_hash: str
    by_uri: bool
    """Found by the same ``source_uri`` (else by the same outlet and external id)."""


@dataclass(frozen=True)
class StoryVariant:
    """One distinct variant (an article that shaped its story's centroid) with its term vector."""

    seq: int
    article_id: str
    story_id: str
    variant_group: str
    terms: dict[str, float]


@dataclass
class StoryState:
    """A story as clustering sees it: a term centroid (sum of its distinct variants' vectors) and extent."""

    story_id: str
    centroid: dict[str, float]
    size: int
    first_published: date | None = None
    last_published: date | None = None
    variants: int = 0
    """Distinct variants summed in the centroid (copies follow their variant and add nothing)."""
    is_new: bool = False
    posted: set[str] = field(default_factory=set)  # terms already in story_postings
    _norm: float | None = field(default=None, repr=False, compare=False)

    @property
    def norm(self) -> float:
        """Euclidean length of the centroid (cached; ``add`` and ``truncate`` keep it current)."""
        if self._norm is None:
            self._norm = float(np.sqrt(sum(w * w for w in self.centroid.values()))) or 1.0
        return self._norm

    def similarity(self, vector: dict[str, float], average: bool) -> float:
        """How close a unit vector is to the story: its cosine with the centroid, or (``average``) its
        mean cosine with the story's variants (average link).

        A loose pile of articles that each share a little with a newcomer scores low on average link,
        where its centroid's cosine would not (a centroid's length shrinks as its members disagree).
        """
        return dot(vector, self.centroid) / (max(self.variants, 1) if average else self.norm)

    def query(self, average: bool) -> dict[str, float]:
        """The story as one vector whose ``similarity`` with another story is the stories' similarity:
        the centroid over its variant count (average link) or over its length (centroid cosine)."""
        scale = max(self.variants, 1) if average else self.norm
        return {t: w / scale for t, w in self.centroid.items()}

    def add(self, vector: dict[str, float]) -> None:
        """Add a term vector to the centroid."""
        for term, weight in vector.items():
            self.centroid[term] = self.centroid.get(term, 0.0) + weight
        self._norm = None

    def remove(self, vector: dict[str, float]) -> None:
        """Take a term vector out of the centroid (a variant moved to another story)."""
        for term, weight in vector.items():
            if term in self.centroid:
                left = self.centroid[term] - weight
                if left > 1e-9:
                    self.centroid[term] = left
                else:
                    del self.centroid[term]
        self._norm = None

    def truncate(self, keep: int) -> None:
        """Keep only the centroid's ``keep`` heaviest terms."""
        if len(self.centroid) > keep:
            self.centroid = dict(heaviest(self.centroid, keep))
            self._norm = None

    def top_terms(self, n: int) -> list[str]:
        """The centroid's n heaviest terms."""
        return [t for t, _ in heaviest(self.centroid, n)]


@dataclass(frozen=True)
class StoryMerge:
    """Story ``merged`` was folded into ``into`` because ``article_id`` bridged them."""

    merged: str
    into: str
    article_id: str
    seq: int
    similarity: float


@dataclass(frozen=True)
class StoryLink:
    """A new story related to an older one: it ``follows`` it (same subject, outside the time window) or
    was ``split`` from it (a look-alike event the older story had taken in; ``similarity`` is then the
    cohesion ratio of the two, see ``pipeline.cluster.split``)."""

    story_id: str
    related_story_id: str
    similarity: float
    article_id: str
    relation: str = "follows"


@dataclass(frozen=True)
class ArticleRow:
    """One ``articles`` row as a batch writes it: the article, its fingerprint's hash and its assignment.

    Every column but ``updated_seq``, which the writer sets (a row is written at its own seq). A revision
    (``pipeline.cluster.revisions``) is a copy with new text under a later seq, made with ``dataclasses.replace``.
    """

    article_id: str
    seq: int
    source_uri: str
    external_id: str | None
    url: str | None
    canonical_url: str | None
    source: str | None
    title: str | None
    text: str
    published_at: date | None
    published_ts: datetime | None
    author: str | None
    sitename: str | None
    language: str | None
    content_hash: str
    word_count: int
    story_id: str
    variant_group: str
    assigned_as: str
    relation: str
    near_duplicate_similarity: float | None
    story_similarity: float | None
    matched_article_id: str | None
    shared_terms: list[str]
    run_id: str
    ingested_at: datetime
    # What saving the story decides (``pipeline.cluster.canonical``): not canonical, no similarity yet.
    is_canonical: bool = False
    canonical_similarity: float | None = None
    revision: int = 1
    revised_at: datetime | None = None
    revised_run: str | None = None

    @classmethod
    def from_stored(cls, row: Mapping[str, Any]) -> ArticleRow:
        """The row of a stored article (``SELECT * FROM articles``): the writer's ``updated_seq`` left out,
        and a row stored before revisions were counted taken as revision 1."""
        values = {name: row[name] for name in _ARTICLE_COLUMNS if name in row}
        values["revision"] = values.get("revision") or 1
        return cls(**values)

    @staticmethod
    def columns(rows: Sequence[ArticleRow]) -> dict[str, list[Any]]:
        """The rows as columns, by name (what the store inserts)."""
        return {name: [getattr(row, name) for row in rows] for name in _ARTICLE_COLUMNS}


_ARTICLE_COLUMNS = tuple(f.name for f in fields(ArticleRow))


@dataclass(frozen=True)
class NewArticle:
    """One article row to insert, with its fingerprints and assignment."""

    row: ArticleRow
    signature: bytes
    band_keys: tuple[int, ...]
    terms: dict[str, float]


@dataclass(frozen=True)
class StoryMember:
    """A stored article as the canonical rule reads it (``pipeline.cluster.canonical``), with its outlet."""

    article_id: str
    story_id: str
    seq: int
    published_at: date | None
    published_ts: datetime | None
    word_count: int
    content_hash: str
    variant_group: str
    title: str | None
    is_canonical: bool
    relation: str
    canonical_similarity: float | None
    outlet: str
    ingested_at: datetime


@dataclass(frozen=True)
class MemberUpdate:
    """A member's new place in its story: canonical or not, its relation and similarity to the canonical."""

    article_id: str
    is_canonical: bool
    relation: str
    canonical_similarity: float


@dataclass(frozen=True)
class StoryRecord:
    """What clustering decided of a story's row: its canonical article and title, extent and counts.

    The store adds the rest when it writes the row: the centroid, when the story was first seen and
    by which run, and which run and batch wrote it last.
    """

    story_id: str
    canonical_article_id: str
    title: str | None
    first_seen: datetime
    last_seen: datetime
    first_published: date | None
    last_published: date | None
    article_count: int
    source_count: int
    variant_count: int
