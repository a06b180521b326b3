"""Raw documents, articles, fingerprints, assignments, rejections and reports: what flows between stages."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class RawDocument:
    """One input document as read from a source, before extraction."""

    source_uri: str
    kind: str  # "text" | "html"
    content: str
    external_id: str | None = None
    url: str | None = None
    title: str | None = None
    published_ts: datetime | None = None
    """When the record or listing says it was published, in UTC (naive; see ``sources.parse_timestamp``)."""
    source: str | None = None


@dataclass(frozen=True)
class Rejection:
    """An input that could not become an article, and why."""

    source_uri: str
    reason: str  # short machine code: empty, binary, encoding, too_large, malformed_jsonl, ...
    detail: str  # one human sentence

    def __str__(self) -> str:
        return f"{self.source_uri}: {self.reason}: {self.detail}"


@dataclass(frozen=True)
class Article:
    """Clean text and metadata of one document, ready to fingerprint."""

    source_uri: str
    text: str
    title: str | None = None
    published_ts: datetime | None = None
    """When it was published, in UTC (naive). An input that gave a bare date is at midnight; one that
    gave a time without an offset is taken as UTC as written."""
    author: str | None = None
    sitename: str | None = None
    language: str | None = None
    url: str | None = None
    canonical_url: str | None = None
    external_id: str | None = None
    source: str | None = None

    @property
    def published_at(self) -> date | None:
        """The UTC date it was published: what story time windows compare (``articles.published_at``)."""
        return None if self.published_ts is None else self.published_ts.date()


@dataclass(frozen=True)
class Fingerprint:
    """What clustering needs of an article: exact hash, MinHash signature, weighted story terms."""

    content_hash: str
    signature: tuple[int, ...]
    band_keys: tuple[int, ...]
    terms: dict[str, float] = field(hash=False)
    """L2-normalised term vector. Prepared with the language prior alone; clustering re-weighs it by the
    stored corpus's document frequencies (``pipeline.fingerprint.evidence``) before comparing or storing it."""
    evidence: dict[str, float] = field(default_factory=dict, hash=False)
    """Term -> (1 + log tf) x name boost: what ``terms`` is weighed from (empty: ``terms`` is final)."""
    chances: dict[str, float] = field(default_factory=dict, hash=False)
    """Term -> chance that a document of the language holds it (the idf prior)."""


@dataclass(frozen=True)
class Assignment:
    """Where clustering put one article, and why."""

    article_id: str
    story_id: str
    variant_group: str
    relation: str  # exact | near_duplicate | rewrite | new_story
    near_duplicate_similarity: float | None  # estimated Jaccard to the variant it copies
    story_similarity: float | None  # cosine to the story's term centroid when it joined
    matched_article_id: str | None
    shared_terms: tuple[str, ...] = ()


@dataclass
class IngestReport:
    """Counts of what a run (or one batch of it) did."""

    read: int = 0
    new: int = 0
    unchanged: int = 0
    revised: int = 0
    """Documents that were a new version of a stored one: the article's text was replaced (``revisions``)."""
    exact: int = 0
    near_duplicate: int = 0
    rewrite: int = 0
    rejected: int = 0
    stories_created: int = 0
    stories_grown: int = 0
    stories_merged: int = 0
    rejections: list[Rejection] = field(default_factory=list)  # the first KEPT_REJECTIONS, as examples
    created_story_ids: list[str] = field(default_factory=list)
    """Stories this run founded (for reports and Prefect events)."""
    grown_story_ids: list[str] = field(default_factory=list)
    """Stories that existed before this run and gained articles in it."""
    alerts_fired: int = 0
    """Alerts recorded by this run (pending delivery)."""
    alerts_delivered: int = 0
    """Alerts (of this or earlier runs) delivered at the end of this run."""
    alerts_failed: int = 0
    """Alerts whose delivery failed at the end of this run (retried by later runs, or abandoned)."""
    by_source: dict[str, IngestReport] = field(default_factory=dict)
    """The same counts split by source (the document's ``source``, else its file)."""

    def add(self, other: IngestReport) -> None:
        """Fold another report's counts into this one (keeping at most KEPT_REJECTIONS examples)."""
        for name in COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        # A long stream must not grow in memory with its bad records: all are counted in `rejected`
        # and stored in the rejections table; the report keeps a few for messages.
        self.rejections.extend(other.rejections[: max(0, KEPT_REJECTIONS - len(self.rejections))])
        self.alerts_fired += other.alerts_fired
        self.alerts_delivered += other.alerts_delivered
        self.alerts_failed += other.alerts_failed
        self.created_story_ids = _union(self.created_story_ids, other.created_story_ids)
        # A story founded earlier in this run and grown by a later batch is still "created" by the run.
        created = set(self.created_story_ids)
        self.grown_story_ids = [s for s in _union(self.grown_story_ids, other.grown_story_ids) if s not in created]
        for key, part in other.by_source.items():
            self.by_source.setdefault(key, IngestReport()).add(part)

    def counts(self) -> dict[str, int]:
        """The counters as a plain dict (for logs, artifacts and JSON)."""
        return {name: getattr(self, name) for name in COUNT_FIELDS}


def _union(first: list[str], second: list[str]) -> list[str]:
    """Items of both lists, once each, in first-seen order."""
    return list(dict.fromkeys([*first, *second]))


KEPT_REJECTIONS = 100
"""Rejections an ``IngestReport`` keeps as examples; the rest are only counted (and stored)."""

COUNT_FIELDS = (
    "read",
    "new",
    "unchanged",
    "revised",
    "exact",
    "near_duplicate",
    "rewrite",
    "rejected",
    "stories_created",
    "stories_grown",
    "stories_merged",
)


def make_id(prefix: str, *parts: str) -> str:
    """A short deterministic id: the same input always gets the same id."""
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8"), digest_size=8).hexdigest()
    return f"{prefix}{digest}"
