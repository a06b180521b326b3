"""Cluster: assign each new article to a story, incrementally, against everything stored.

For one batch, candidates are fetched from the store with a few set-based queries (content
hashes, LSH band keys, story term postings); the batch is then assigned article by article
against those candidates plus what the batch itself added, so later articles of a batch see
the earlier ones. Nothing scans the whole corpus and nothing is re-clustered.

An article relates to its story in one of three ways (tested in this order):

* ``exact``: its normalised content hash equals a stored article's;
* ``near_duplicate``: its MinHash estimated Jaccard with a stored article (found through LSH
  band keys) reaches ``near_duplicate_threshold``; it joins that article's variant group;
* ``rewrite``: its salient-term vector's cosine with a story centroid reaches
  ``rewrite_threshold`` (another outlet's telling of the same story);

otherwise it founds a new story (``new_story``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from .fingerprint import band_keys, cosine, estimate_jaccard, top_shared_terms
from .models import Article, Assignment, Fingerprint
from .settings import Settings
from .store import ArticleRef, NewArticle, Store, StoryState


@dataclass
class BatchAssignment:
    """What clustering decided for one batch: rows to insert and stories to update."""

    articles: list[NewArticle] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    stories: dict[str, StoryState] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    grown: set[str] = field(default_factory=set)
    unchanged: int = 0


class _WorkingIndex:
    """Candidates for one batch: prefetched stored items plus the batch's own new ones."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.by_hash: dict[str, ArticleRef] = {}
        self.buckets: dict[tuple[int, int], list[str]] = defaultdict(list)
        self.signatures: dict[str, tuple[np.ndarray, ArticleRef]] = {}
        self.stories: dict[str, StoryState] = {}
        self.postings: dict[str, set[str]] = defaultdict(set)

    def add_signature(self, ref: ArticleRef, signature: np.ndarray, keys: Sequence[int]) -> None:
        self.signatures[ref.article_id] = (signature, ref)
        for band, key in enumerate(keys):
            self.buckets[(band, key)].append(ref.article_id)

    def add_story(self, story: StoryState) -> None:
        self.stories[story.story_id] = story
        self.index_terms(story, story.centroid)

    def index_terms(self, story: StoryState, terms: dict[str, float]) -> None:
        for term in terms:
            self.postings[term].add(story.story_id)

    def near_duplicate(self, fp: Fingerprint) -> tuple[ArticleRef, float] | None:
        seen: set[str] = set()
        best: tuple[float, str] | None = None
        signature = np.asarray(fp.signature, dtype=np.uint32)
        for band, key in enumerate(fp.band_keys):
            for article_id in self.buckets.get((band, key), ()):
                if article_id in seen:
                    continue
                seen.add(article_id)
                similarity = estimate_jaccard(signature, self.signatures[article_id][0])
                if best is None or similarity > best[0] or (similarity == best[0] and article_id < best[1]):
                    best = (similarity, article_id)
        if best is None or best[0] < self.settings.fingerprint.near_duplicate_threshold:
            return None
        return self.signatures[best[1]][1], best[0]

    def best_story(self, terms: dict[str, float], prefetched: Sequence[str]) -> tuple[StoryState, float] | None:
        candidates = set(prefetched)
        for term in query_terms(terms, self.settings.cluster.query_terms):
            candidates |= self.postings.get(term, set())
        best: tuple[float, str] | None = None
        for story_id in sorted(candidates):
            story = self.stories.get(story_id)
            if story is None:
                continue
            score = cosine(terms, story.centroid, story.norm)
            if best is None or score > best[0]:
                best = (score, story_id)
        if best is None:
            return None
        return self.stories[best[1]], best[0]


def query_terms(terms: dict[str, float], n: int) -> dict[str, float]:
    """An article's top-n terms: what candidate stories are looked up by."""
    return dict(sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


def assign_batch(
    store: Store,
    items: Sequence[tuple[Article, Fingerprint]],
    settings: Settings,
    run_id: str,
) -> BatchAssignment:
    """Assign a batch of fingerprinted articles to stories (reads the store, writes nothing)."""
    out = BatchAssignment()
    known = store.known_inputs((a.source_uri, fp.content_hash) for a, fp in items)
    fresh: list[tuple[Article, Fingerprint]] = []
    for article, fp in items:
        key = (article.source_uri, fp.content_hash)
        if key in known:
            out.unchanged += 1
        else:
            known.add(key)
            fresh.append((article, fp))
    if not fresh:
        return out

    index = _prefetch(store, fresh, settings)
    prefetched = store.story_candidates(
        {i: query_terms(fp.terms, settings.cluster.query_terms) for i, (_, fp) in enumerate(fresh)},
        settings.cluster.max_candidates,
    )
    for story in store.load_stories({s for ids in prefetched.values() for s in ids} - index.stories.keys()).values():
        index.add_story(story)

    seq = store.next_seq()
    now = datetime.now()
    for i, (article, fp) in enumerate(fresh):
        assignment = _assign_one(index, article, fp, prefetched.get(i, ()), settings, out)
        out.assignments.append(assignment)
        out.articles.append(_row(article, fp, assignment, seq + i, run_id, now))
    out.stories = {sid: index.stories[sid] for sid in out.created | out.grown}
    return out


def _prefetch(store: Store, fresh: Sequence[tuple[Article, Fingerprint]], settings: Settings) -> _WorkingIndex:
    index = _WorkingIndex(settings)
    index.by_hash = store.articles_by_hash(fp.content_hash for _, fp in fresh)
    keys = {(band, key) for _, fp in fresh for band, key in enumerate(fp.band_keys)}
    stored = store.signatures(store.band_candidates(sorted(keys)))
    for signature, ref in stored.values():
        index.add_signature(ref, signature, band_keys(signature, settings.fingerprint))
    story_ids = {ref.story_id for ref in index.by_hash.values()} | {ref.story_id for _, ref in stored.values()}
    for story in store.load_stories(story_ids).values():
        index.add_story(story)
    return index


def _assign_one(
    index: _WorkingIndex,
    article: Article,
    fp: Fingerprint,
    prefetched: Sequence[str],
    settings: Settings,
    out: BatchAssignment,
) -> Assignment:
    article_id = make_id("a", article.source_uri, fp.content_hash)
    signature = np.asarray(fp.signature, dtype=np.uint32)
    exact = index.by_hash.get(fp.content_hash)
    near = None if exact else index.near_duplicate(fp)
    if exact or near:
        ref, jaccard = (exact, 1.0) if exact else near  # type: ignore[misc]
        story = index.stories[ref.story_id]
        relation, matched, group = ("exact" if exact else "near_duplicate"), ref.article_id, ref.variant_group
        story_similarity = cosine(fp.terms, story.centroid, story.norm)
    else:
        found = index.best_story(fp.terms, prefetched)
        jaccard, matched, group = None, None, "v" + article_id[1:]
        if found and found[1] >= settings.cluster.rewrite_threshold:
            story, story_similarity = found
            relation = "rewrite"
        else:
            story = StoryState("s" + article_id[1:], {}, 0, None, is_new=True)
            index.add_story(story)
            story_similarity, relation = None, "new_story"
            out.created.add(story.story_id)
    shared = top_shared_terms(fp.terms, story.centroid) if story.centroid else ()
    if relation in ("rewrite", "new_story"):
        _grow(index, story, fp.terms)
    if story.story_id not in out.created:
        out.grown.add(story.story_id)
    story.size += 1
    if article.published_at and (story.last_published is None or article.published_at > story.last_published):
        story.last_published = article.published_at
    ref = ArticleRef(article_id, story.story_id, group)
    index.by_hash.setdefault(fp.content_hash, ref)
    index.add_signature(ref, signature, fp.band_keys)
    return Assignment(
        article_id=article_id,
        story_id=story.story_id,
        variant_group=group,
        relation=relation,
        near_duplicate_similarity=jaccard,
        story_similarity=story_similarity,
        matched_article_id=matched,
        shared_terms=shared,
    )


def _grow(index: _WorkingIndex, story: StoryState, terms: dict[str, float]) -> None:
    """Add a distinct variant's vector to its story's centroid (copies do not re-weight a story)."""
    for term, weight in terms.items():
        story.centroid[term] = story.centroid.get(term, 0.0) + weight
    index.index_terms(story, terms)


def _row(article: Article, fp: Fingerprint, a: Assignment, seq: int, run_id: str, now: datetime) -> NewArticle:
    row = {
        "article_id": a.article_id,
        "seq": seq,
        "source_uri": article.source_uri,
        "external_id": article.external_id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "source": article.source or article.sitename,
        "title": article.title,
        "text": article.text,
        "published_at": article.published_at,
        "author": article.author,
        "sitename": article.sitename,
        "language": article.language,
        "content_hash": fp.content_hash,
        "word_count": len(article.text.split()),
        "story_id": a.story_id,
        "variant_group": a.variant_group,
        "assigned_as": a.relation,
        "relation": a.relation,
        "near_duplicate_similarity": a.near_duplicate_similarity,
        "story_similarity": a.story_similarity,
        "matched_article_id": a.matched_article_id,
        "shared_terms": list(a.shared_terms),
        "run_id": run_id,
        "ingested_at": now,
    }
    signature = np.asarray(fp.signature, dtype=np.uint32).tobytes()
    return NewArticle(row=row, signature=signature, band_keys=fp.band_keys, terms=fp.terms)


def make_id(prefix: str, *parts: str) -> str:
    """A short deterministic id: the same input always gets the same id."""
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8"), digest_size=8).hexdigest()
    return f"{prefix}{digest}"
