"""The working set of one batch under story assignment, shared by the stages that change it.

``cluster.assign_batch`` fills a ``Batch`` (prefetched stored candidates plus what the batch adds) and
a ``BatchAssignment`` (what it decided); ``repair`` (the post-batch second look) and ``revisions`` (new
versions of stored documents) work on the same two, so they build on this module, never on ``cluster``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np

from pipeline.cluster.candidates import CandidateIndex
from pipeline.fingerprint.evidence import weigh
from pipeline.fingerprint.fingerprints import estimate_jaccard
from pipeline.models import (
    Article,
    ArticleRef,
    Assignment,
    Fingerprint,
    NewArticle,
    StoryLink,
    StoryMerge,
    StoryState,
    StoryVariant,
)
from pipeline.models.vectors import heaviest
from pipeline.settings import Settings
from pipeline.sources.outlet import outlet_of
from pipeline.store import Store
from pipeline.words import word_count


@dataclass
class BatchAssignment:
    """What clustering decided for one batch: rows to insert, stories to save, merges and links."""

    articles: list[NewArticle] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    stories: dict[str, StoryState] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    grown: set[str] = field(default_factory=set)
    merges: list[StoryMerge] = field(default_factory=list)
    links: list[StoryLink] = field(default_factory=list)
    moves: dict[str, str] = field(default_factory=dict)
    """Variant group -> the story split off that it moves to (stored members included)."""
    unchanged: int = 0
    revised: list[NewArticle] = field(default_factory=list)
    """Stored articles re-stored under a new seq with a new version's text (``pipeline.cluster.revisions``)."""
    revisions: list[dict] = field(default_factory=list)
    """Rows of ``revisions``: the versions replaced, one per revising document."""
    revised_uris: list[str] = field(default_factory=list)
    """The ``source_uri`` of each revising document (for per-source reports)."""
    revised_stories: set[str] = field(default_factory=set)
    """Stories whose members were revised: saved again (canonical, relations), not counted as grown."""


@dataclass
class Candidates:
    """What one article is compared with: candidate stories (with their stored-centroid cosine) and LSH hits."""

    query: dict[str, float]
    """The article's top terms, as ``query_terms`` picks them (computed once, read by every scoring)."""
    stories: set[str]
    band_hits: set[int]
    scores: dict[str, float] = field(default_factory=dict)


class Batch:
    """The working set of one batch: prefetched stored candidates plus what the batch adds."""

    def __init__(self, settings: Settings, index: CandidateIndex, store: Store):
        self.settings = settings
        self.index = index
        self.store = store
        self.changed: set[str] = set()  # stories whose centroid this batch changed (scored live)
        self.by_hash: dict[str, ArticleRef] = {}
        self.signatures: dict[int, tuple[np.ndarray, ArticleRef]] = {}
        self.buckets: dict[int, list[int]] = defaultdict(list)
        self.stories: dict[str, StoryState] = {}
        self.postings: dict[str, set[str]] = defaultdict(set)
        self.members: dict[str, set[int]] = defaultdict(set)
        self.redirects: dict[str, str] = {}
        self.variants: list[StoryVariant] = []  # distinct variants this batch added, for the split check
        self.average = settings.cluster.evidence == "corpus"  # stories scored by average link, not centroid
        self.founded: dict[str, int] = {}  # stories this batch founded -> rank, in the order founded
        self.retired: set[int] = set()  # seqs of stored articles this batch revises: their old text matches nothing
        self.revised: set[str] = set()  # ids of the articles this batch revises

    def rank(self, story_id: str) -> tuple[int, int]:
        """A story's place in ingestion order (older first): what ties between stories are broken by.

        Never the id: ids derive from the input's path, and the same records must make the same
        stories wherever they are read from. Stored stories rank by when they were first posted
        (``CandidateIndex.story_rank``), this batch's after them in the order founded; they are
        saved in that order, so they keep it once stored. A stored story never posted (an empty
        centroid) ranks last.
        """
        if story_id in self.founded:
            return (1, self.founded[story_id])
        stored = self.index.story_rank(story_id)
        return (0, stored) if stored is not None else (2, 0)

    def found(self, story: StoryState) -> None:
        """Add a story this batch founds (a new event, or one split off), ranked after all before it."""
        self.founded[story.story_id] = len(self.founded)
        self.add_story(story)

    def resolve(self, story_id: str) -> str:
        story_id = self.index.resolve(story_id)
        while story_id in self.redirects:
            story_id = self.index.resolve(self.redirects[story_id])
        return story_id

    def add_story(self, story: StoryState) -> None:
        # Stored stories are found through the index; the batch's own postings only need what the
        # batch adds (``grow``), which keeps the candidates per article bounded.
        self.stories[story.story_id] = story

    def story(self, story_id: str) -> StoryState:
        """A story's full state, loaded from the store on first need."""
        story_id = self.resolve(story_id)
        if story_id not in self.stories:
            for story in self.index.load_stories([story_id], self.settings.cluster.posting_terms).values():
                self.add_story(story)
        return self.stories[story_id]

    def post(self, story: StoryState, terms: dict[str, float]) -> None:
        for term in terms:
            self.postings[term].add(story.story_id)

    def add_signature(self, seq: int, signature: np.ndarray, ref: ArticleRef, keys: Sequence[int] = ()) -> None:
        self.signatures[seq] = (signature, ref)
        for key in keys:
            self.buckets[key].append(seq)

    def scored_stories(self, fp: Fingerprint, candidates: Candidates) -> list[tuple[float, str]]:
        """Candidate story ids with their score (``StoryState.similarity``: centroid cosine, or average
        link with ``corpus`` evidence), best first.

        A stored story the batch has not changed keeps the score computed from the index at
        prefetch; one the batch created, grew or merged is scored against its live centroid.
        """
        ids = {self.resolve(s) for s in candidates.stories}
        for term in candidates.query:
            ids |= {self.resolve(s) for s in self.postings.get(term, ())}
        scored = []
        for story_id in ids:
            score = None if story_id in self.changed else candidates.scores.get(story_id)
            if score is None:
                story = self.stories.get(story_id)
                if story is None:
                    continue
                score = story.similarity(fp.terms, self.average)
            scored.append((score, story_id))
        return sorted(scored, key=lambda pair: (-pair[0], self.rank(pair[1])))

    def near_duplicate(
        self, fp: Fingerprint, band_hits: set[int], top_stories: Sequence[str]
    ) -> tuple[ArticleRef, float] | None:
        """The closest stored or batch article by estimated Jaccard, if it reaches the threshold."""
        seqs = set(band_hits)
        for key in fp.band_keys:
            seqs.update(self.buckets.get(key, ()))
        for story_id in top_stories:
            seqs |= self.members.get(story_id, set())
        seqs -= self.retired
        signature = np.asarray(fp.signature, dtype=np.uint32)
        best: tuple[float, int] | None = None
        for seq in sorted(seqs):
            if seq not in self.signatures:
                continue
            similarity = estimate_jaccard(signature, self.signatures[seq][0])
            if best is None or similarity > best[0]:
                best = (similarity, seq)
        if best is None or best[0] < self.settings.fingerprint.near_duplicate_threshold:
            return None
        ref = self.signatures[best[1]][1]
        return ArticleRef(ref.article_id, self.resolve(ref.story_id), ref.variant_group), best[0]


def document_columns(article: Article, fp: Fingerprint) -> dict[str, Any]:
    """The ``ArticleRow`` columns a document's own version sets: where it came from, its text and metadata.

    A new article and a new version of a stored one (``pipeline.cluster.revisions``) both take these from
    the document; the columns clustering decides (story, relation, similarities) are set by each caller.
    """
    return {
        "source_uri": article.source_uri, "external_id": article.external_id, "url": article.url,
        "canonical_url": article.canonical_url, "source": outlet_of(article), "title": article.title,
        "text": article.text, "published_at": article.published_at, "published_ts": article.published_ts,
        "author": article.author, "sitename": article.sitename, "language": article.language,
        "content_hash": fp.content_hash, "word_count": word_count(article.text),
    }  # fmt: skip


def query_terms(terms: dict[str, float], n: int) -> dict[str, float]:
    """An article's top-n terms: what candidate stories are looked up by."""
    return dict(heaviest(terms, n))


def time_decay(story: StoryState, published: date | None, days: int) -> float:
    """What a dated article's similarity to a dated story counts for, by the days between them (``decay``)."""
    return decay(_gap((story.first_published, story.last_published), (published, published)), days)


def stories_decay(a: StoryState, b: StoryState, days: int) -> float:
    """What two stories' similarity counts for, by the days between their dated extents (``decay``)."""
    return decay(_gap((a.first_published, a.last_published), (b.first_published, b.last_published)), days)


def decay(gap: int | None, days: int) -> float:
    """Time as evidence: 1 for a gap of 0 days, halving every ``days`` days, 0 past ``days``; 1 when undated.

    A story grows one day's coverage at a time, and each new member extends its dated extent: a
    window that admits everything within ``days`` of that extent at full weight lets a running subject
    chain its successive events (a committee announced, created, staffed, voted on: one pile over ten
    days). So a similarity counts less the further apart the dates lie, ``0.5 ** (gap / days)``, an
    exponential time decay as in on-line event detection (Yang, Pierce and Carbonell 1998 penalise
    similarity by distance in time; this is its smooth form): a same-day article joins at
    ``rewrite_threshold``, one three days past the story's latest needs 1.35 times that (``days`` 7),
    one at the window's edge twice that, one past the window cannot join.
    """
    if gap is None:
        return 1.0
    return 0.5 ** (gap / days) if gap <= days else 0.0


def _gap(a: tuple[date | None, date | None], b: tuple[date | None, date | None]) -> int | None:
    """Days between two (first, last) date extents (0 when they overlap); None when either is undated."""
    if a[1] is None or b[1] is None:
        return None
    # Day numbers, not date - timedelta: that overflows near date.min/date.max (a stored 0001-01-01).
    a_first, a_last = (a[0] or a[1]).toordinal(), a[1].toordinal()
    b_first, b_last = (b[0] or b[1]).toordinal(), b[1].toordinal()
    return max(0, a_first - b_last, b_first - a_last)


def weighed(
    index: CandidateIndex, items: Sequence[tuple[Article, Fingerprint]], stored_hashes: set[str]
) -> list[tuple[Article, Fingerprint]]:
    """The batch's fingerprints with term vectors weighed by the corpus: stored articles, then the batch's earlier ones.

    Each article's terms are weighed by the document frequencies of everything before it (exact
    copies aside), so the weights do not depend on how the input is cut into batches.
    """
    if not any(fp.evidence for _, fp in items):
        return list(items)  # ``language`` evidence: the vectors are final as prepared
    terms = sorted({t for _, fp in items for t in fp.evidence})
    df = Counter(index.document_frequencies(terms))
    documents = index.documents
    seen = set(stored_hashes)
    out = []
    for article, fp in items:
        if fp.evidence:
            fp = replace(fp, terms=weigh(fp.evidence, fp.chances, df, documents), evidence={}, chances={})
        if fp.content_hash not in seen:
            seen.add(fp.content_hash)
            df.update(fp.terms.keys())
            documents += 1
        out.append((article, fp))
    return out


def fold_story(batch: Batch, keep: StoryState, drop: StoryState, merge: StoryMerge, out: BatchAssignment) -> None:
    """Fold story ``drop`` into ``keep``: centroid, size, extent, members; its id redirects to ``keep``."""
    keep.add(drop.centroid)
    batch.changed.add(keep.story_id)
    batch.post(keep, drop.centroid)
    keep.size += drop.size
    keep.variants += drop.variants
    keep.posted |= drop.posted
    for day in (drop.first_published, drop.last_published):
        extend(keep, day)
    batch.members[keep.story_id] |= batch.members.pop(drop.story_id, set())
    batch.redirects[drop.story_id] = keep.story_id
    del batch.stories[drop.story_id]
    out.merges.append(merge)
    out.grown.add(keep.story_id)


def grow(batch: Batch, story: StoryState, terms: dict[str, float]) -> None:
    """Add a distinct variant's vector to its story's centroid (copies do not re-weight a story)."""
    story.add(terms)
    story.variants += 1
    batch.changed.add(story.story_id)
    batch.post(story, terms)


def extend(story: StoryState, day: date | None) -> None:
    if day is None:
        return
    if story.first_published is None or day < story.first_published:
        story.first_published = day
    if story.last_published is None or day > story.last_published:
        story.last_published = day
