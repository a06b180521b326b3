"""Cluster: assign each new article to a story, incrementally, against everything stored.

Candidates come from the ``CandidateIndex`` (LSH band keys and story term postings, loaded once
and refreshed per batch), never from a scan of the stories. For one batch the candidates'
signatures and centroids are fetched in a few set-based queries; the batch is then assigned
article by article, so later articles of a batch see what earlier ones changed.

An article relates to its story in one of three ways, tested in this order:

* ``exact``: its normalised content hash equals a stored article's;
* ``near_duplicate``: MinHash estimated Jaccard with a stored article reaches
  ``near_duplicate_threshold`` (candidates: LSH band hits, plus the distinct variants of its
  best candidate stories, which catches heavily edited copies that banding misses);
* ``rewrite``: the cosine of its salient-term vector with a story centroid (with ``corpus``
  evidence: its mean cosine with the story's variants, its terms weighed by the stored corpus first,
  ``weighed``) reaches ``rewrite_threshold`` and, when both are dated, it falls within
  ``window_days`` of the story;

otherwise it founds a new story (``new_story``), linked to an older story it matches outside
the time window. An article that bridges two stories whose centroids are close
(``merge_threshold``) merges them. After the batch, its stories get a second look
(``pipeline.repair``): a story whose latest variants are two look-alike events is split, and a
small story that now matches a larger one is folded into it.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import numpy as np

from .evidence import weigh
from .fingerprint import estimate_jaccard, top_shared_terms
from .index import CandidateIndex
from .models import Article, Assignment, Fingerprint
from .outlet import outlet_of
from .revisions import plan_batch, revise_batch_articles, revise_stored_articles
from .settings import Settings
from .store import ArticleRef, NewArticle, Store, StoryLink, StoryMerge, StoryState, StoryVariant
from .words import word_count

MEMBERS_PER_STORY = 50  # distinct variants of a candidate story checked for near-duplicates


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
    """Stored articles re-stored under a new seq with a new version's text (``pipeline.revisions``)."""
    revisions: list[dict] = field(default_factory=list)
    """Rows of ``revisions``: the versions replaced, one per revising document."""
    revised_uris: list[str] = field(default_factory=list)
    """The ``source_uri`` of each revising document (for per-source reports)."""
    revised_stories: set[str] = field(default_factory=set)
    """Stories whose members were revised: saved again (canonical, relations), not counted as grown."""


@dataclass
class _Candidates:
    """What one article is compared with: candidate stories (with their stored-centroid cosine) and LSH hits."""

    query: dict[str, float]
    """The article's top terms, as ``query_terms`` picks them (computed once, read by every scoring)."""
    stories: set[str]
    band_hits: set[int]
    scores: dict[str, float] = field(default_factory=dict)


class _Batch:
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
        # batch adds (``_grow``), which keeps the candidates per article bounded.
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

    def scored_stories(self, fp: Fingerprint, candidates: _Candidates) -> list[tuple[float, str]]:
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


def query_terms(terms: dict[str, float], n: int) -> dict[str, float]:
    """An article's top-n terms: what candidate stories are looked up by."""
    return dict(sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


def in_window(story: StoryState, published: date | None, days: int) -> bool:
    """Whether a dated article is close enough in time to a dated story to join it."""
    return _extents_meet((story.first_published, story.last_published), (published, published), days)


def stories_overlap(a: StoryState, b: StoryState, days: int) -> bool:
    """Whether two stories' dated extents lie within the time window of each other (undated: yes)."""
    return _extents_meet((a.first_published, a.last_published), (b.first_published, b.last_published), days)


def _extents_meet(a: tuple[date | None, date | None], b: tuple[date | None, date | None], days: int) -> bool:
    """Whether two (first, last) date extents come within ``days`` of each other; undated ones always do."""
    if a[1] is None or b[1] is None:
        return True
    # Day numbers, not date - timedelta: that overflows near date.min/date.max (a stored 0001-01-01).
    a_first, a_last = (a[0] or a[1]).toordinal(), a[1].toordinal()
    b_first, b_last = (b[0] or b[1]).toordinal(), b[1].toordinal()
    return a_first - days <= b_last and b_first - days <= a_last


def assign_batch(
    store: Store,
    index: CandidateIndex,
    items: Sequence[tuple[Article, Fingerprint]],
    settings: Settings,
    run_id: str,
) -> BatchAssignment:
    """Assign a batch of fingerprinted articles to stories (reads the store, writes nothing).

    Documents already stored unchanged add nothing; new versions of stored ones are revisions
    (``pipeline.revisions``): applied first, so the batch's new articles compare with their new text.
    """
    out = BatchAssignment()
    plan = plan_batch(store, items)
    out.unchanged = plan.unchanged
    if not plan.new and not plan.steps:
        return out
    index.refresh(store)
    batch = _Batch(settings, index, store)
    now = datetime.now()
    seq = revise_stored_articles(batch, out, plan.stored_steps(), store.max_seq() + 1, run_id, now)
    candidates, fresh = _prefetch(batch, plan.new)
    for i, (article, fp) in enumerate(fresh):
        assignment = _assign_one(batch, article, fp, seq + i, candidates[i], out)
        out.assignments.append(assignment)
        out.articles.append(_row(article, fp, assignment, seq + i, run_id, now))
    from .repair import repair_batch  # repair builds on this module's batch state; imported here, not circularly

    repair_batch(batch, out)
    revise_batch_articles(batch, out, plan.batch_steps(), run_id, now)
    # Saved in ingestion order: the index numbers stories in the order they are first posted (``_Batch.rank``).
    saved = out.created | out.grown | {batch.resolve(s) for s in out.revised_stories}
    out.stories = {sid: batch.stories[sid] for sid in sorted(saved, key=batch.rank) if sid in batch.stories}
    out.created &= out.stories.keys()
    out.grown = (out.grown & out.stories.keys()) - out.created
    return out


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


def _prefetch(
    batch: _Batch, fresh: Sequence[tuple[Article, Fingerprint]]
) -> tuple[list[_Candidates], list[tuple[Article, Fingerprint]]]:
    """Weigh the batch's vectors and fetch every stored candidate it needs, in a few set-based queries.

    Candidate stories are scored from the index's arrays; only those an article could join (score at the
    rewrite threshold or above) and those its copies belong to are loaded whole.
    """
    store, index, settings = batch.store, batch.index, batch.settings
    stored = store.articles_by_hash(fp.content_hash for _, fp in fresh)
    # A revised article's old text is gone; its new text (already in ``by_hash``) is what copies follow.
    batch.by_hash = {h: ref for h, ref in stored.items() if ref.article_id not in batch.revised} | batch.by_hash
    fresh = weighed(index, fresh, set(batch.by_hash))
    candidates: list[_Candidates] = []
    copies = set(batch.by_hash)
    for _, fp in fresh:
        query = query_terms(fp.terms, settings.cluster.query_terms)
        if fp.content_hash in copies:  # an exact copy (of a stored article or an earlier one here) follows it
            candidates.append(_Candidates(query, stories=set(), band_hits=set()))
            continue
        copies.add(fp.content_hash)
        candidates.append(
            _Candidates(
                query,
                stories={index.resolve(s) for s in index.candidate_stories(query, settings.cluster.max_candidates)},
                band_hits=index.near_duplicate_candidates(fp.band_keys),
            )
        )
    for seq, (signature, ref) in index.signatures(store, {s for c in candidates for s in c.band_hits}).items():
        batch.add_signature(seq, signature, ref)
    scores = index.story_scores(
        [fp.terms for _, fp in fresh],
        ((i, s) for i, c in enumerate(candidates) for s in c.stories),
        settings.cluster.evidence == "corpus",
    )
    for i, cand in enumerate(candidates):
        cand.scores = {s: scores[i, s] for s in cand.stories if (i, s) in scores}
    threshold = settings.cluster.rewrite_threshold
    story_ids = {s for cand in candidates for s, score in cand.scores.items() if score >= threshold}
    story_ids |= {ref.story_id for ref in batch.by_hash.values()}
    story_ids |= {ref.story_id for _, ref in batch.signatures.values()}
    for story in index.load_stories({index.resolve(s) for s in story_ids}, settings.cluster.posting_terms).values():
        batch.add_story(story)
    top: set[str] = set()
    for (_, fp), cand in zip(fresh, candidates, strict=True):
        top |= {s for _, s in batch.scored_stories(fp, cand)[: settings.cluster.member_checks]}
    for seq, (signature, ref) in index.signatures(store, store.member_seqs(top, MEMBERS_PER_STORY)).items():
        batch.add_signature(seq, signature, ref)
        batch.members[index.resolve(ref.story_id)].add(seq)
    return candidates, fresh


def _assign_one(
    batch: _Batch,
    article: Article,
    fp: Fingerprint,
    seq: int,
    candidates: _Candidates,
    out: BatchAssignment,
) -> Assignment:
    settings = batch.settings.cluster
    article_id = make_id("a", article.source_uri, fp.content_hash)
    exact = batch.by_hash.get(fp.content_hash)
    if exact:
        exact = ArticleRef(exact.article_id, batch.resolve(exact.story_id), exact.variant_group)
    # An exact copy needs no story scoring: it follows its original.
    scored = [] if exact else batch.scored_stories(fp, candidates)
    near = (
        None
        if exact
        else batch.near_duplicate(fp, candidates.band_hits, [s for _, s in scored[: settings.member_checks]])
    )
    jaccard: float | None = None
    matched: str | None = None
    if exact or near:
        ref, jaccard = (exact, 1.0) if exact else near  # type: ignore[misc]
        story = batch.story(ref.story_id)
        relation, matched, group = ("exact" if exact else "near_duplicate"), ref.article_id, ref.variant_group
        story_similarity: float | None = story.similarity(fp.terms, batch.average)
    else:
        group = "v" + article_id[1:]
        joinable = [
            (score, batch.story(s))
            for score, s in scored
            if score >= settings.rewrite_threshold
            and in_window(batch.story(s), article.published_at, settings.window_days)
        ]
        if joinable:
            story_similarity, story = joinable[0]
            relation = "rewrite"
            story = _merge_bridged(batch, story, joinable[1:], article_id, seq, out)
        else:
            story = StoryState("s" + article_id[1:], {}, 0, is_new=True)
            batch.found(story)
            story_similarity, relation = None, "new_story"
            out.created.add(story.story_id)
            older = [(score, s) for score, s in scored if score >= settings.rewrite_threshold]
            if older:
                out.links.append(StoryLink(story.story_id, older[0][1], older[0][0], article_id))
    shared = top_shared_terms(fp.terms, story.centroid) if story.centroid else ()
    if relation in ("rewrite", "new_story"):
        _grow(batch, story, fp.terms)
        batch.members[story.story_id].add(seq)
        batch.variants.append(StoryVariant(seq, article_id, story.story_id, group, fp.terms))
    if story.story_id not in out.created:
        out.grown.add(story.story_id)
    _extend(story, article.published_at)
    story.size += 1
    ref = ArticleRef(article_id, story.story_id, group)
    batch.by_hash.setdefault(fp.content_hash, ref)
    batch.add_signature(seq, np.asarray(fp.signature, dtype=np.uint32), ref, fp.band_keys)
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


def _merge_bridged(
    batch: _Batch,
    story: StoryState,
    others: Sequence[tuple[float, StoryState]],
    article_id: str,
    seq: int,
    out: BatchAssignment,
) -> StoryState:
    """Merge the other stories this article also joins into one, when their members agree as a join needs."""
    threshold = batch.settings.cluster.merge_threshold
    for _, other in others:
        if other.story_id == story.story_id or other.story_id not in batch.stories:
            continue
        similarity = story.similarity(other.query(batch.average), batch.average)
        if similarity < threshold or not stories_overlap(story, other, batch.settings.cluster.window_days):
            continue
        # The larger survives; of two the same size, the older (ids would make the outcome depend on the path).
        keep, drop = sorted((story, other), key=lambda s: (-s.size, batch.rank(s.story_id)))
        fold_story(batch, keep, drop, StoryMerge(drop.story_id, keep.story_id, article_id, seq, similarity), out)
        story = keep
    return story


def fold_story(batch: _Batch, keep: StoryState, drop: StoryState, merge: StoryMerge, out: BatchAssignment) -> None:
    """Fold story ``drop`` into ``keep``: centroid, size, extent, members; its id redirects to ``keep``."""
    keep.add(drop.centroid)
    batch.changed.add(keep.story_id)
    batch.post(keep, drop.centroid)
    keep.size += drop.size
    keep.variants += drop.variants
    keep.posted |= drop.posted
    for day in (drop.first_published, drop.last_published):
        _extend(keep, day)
    batch.members[keep.story_id] |= batch.members.pop(drop.story_id, set())
    batch.redirects[drop.story_id] = keep.story_id
    del batch.stories[drop.story_id]
    out.merges.append(merge)
    out.grown.add(keep.story_id)


def _grow(batch: _Batch, story: StoryState, terms: dict[str, float]) -> None:
    """Add a distinct variant's vector to its story's centroid (copies do not re-weight a story)."""
    story.add(terms)
    story.variants += 1
    batch.changed.add(story.story_id)
    batch.post(story, terms)


def _extend(story: StoryState, day: date | None) -> None:
    if day is None:
        return
    if story.first_published is None or day < story.first_published:
        story.first_published = day
    if story.last_published is None or day > story.last_published:
        story.last_published = day


def _row(article: Article, fp: Fingerprint, a: Assignment, seq: int, run_id: str, now: datetime) -> NewArticle:
    row = {
        "article_id": a.article_id,
        "seq": seq,
        "source_uri": article.source_uri,
        "external_id": article.external_id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "source": outlet_of(article),
        "title": article.title,
        "text": article.text,
        "published_at": article.published_at,
        "published_ts": article.published_ts,
        "author": article.author,
        "sitename": article.sitename,
        "language": article.language,
        "content_hash": fp.content_hash,
        "word_count": word_count(article.text),
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
        # Every column a revision sets (``pipeline.revisions``), so a batch's rows share one set of columns.
        "is_canonical": False,
        "canonical_similarity": None,
        "revision": 1,
        "revised_at": None,
        "revised_run": None,
    }
    signature = np.asarray(fp.signature, dtype=np.uint32).tobytes()
    return NewArticle(row=row, signature=signature, band_keys=fp.band_keys, terms=fp.terms)


def make_id(prefix: str, *parts: str) -> str:
    """A short deterministic id: the same input always gets the same id."""
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8"), digest_size=8).hexdigest()
    return f"{prefix}{digest}"
