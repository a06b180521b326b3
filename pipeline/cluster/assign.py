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
(``pipeline.cluster.repair``): a story whose latest variants are two look-alike events is split, and a
small story that now matches a larger one is folded into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from pipeline.cluster.batch import (
    Batch,
    BatchAssignment,
    Candidates,
    document_columns,
    extend,
    fold_story,
    grow,
    query_terms,
    stories_decay,
    time_decay,
    weighed,
)
from pipeline.cluster.candidates import CandidateIndex
from pipeline.cluster.repair import repair_batch
from pipeline.cluster.revisions import plan_batch, revise_batch_articles, revise_stored_articles
from pipeline.fingerprint.fingerprints import top_shared_terms
from pipeline.models import (
    Article,
    ArticleRef,
    ArticleRow,
    Assignment,
    Fingerprint,
    NewArticle,
    StoryLink,
    StoryMerge,
    StoryState,
    StoryVariant,
    make_id,
)
from pipeline.settings import Settings
from pipeline.store import Store

MEMBERS_PER_STORY = 50  # distinct variants of a candidate story checked for near-duplicates


def assign_batch(
    store: Store,
    index: CandidateIndex,
    items: Sequence[tuple[Article, Fingerprint]],
    settings: Settings,
    run_id: str,
) -> BatchAssignment:
    """Assign a batch of fingerprinted articles to stories (reads the store, writes nothing).

    Documents already stored unchanged add nothing; new versions of stored ones are revisions
    (``pipeline.cluster.revisions``): applied first, so the batch's new articles compare with their new text.
    """
    out = BatchAssignment()
    plan = plan_batch(store, items)
    out.unchanged = plan.unchanged
    if not plan.new and not plan.steps:
        return out
    index.refresh(store)
    batch = Batch(settings, index, store)
    now = datetime.now()
    seq = revise_stored_articles(batch, out, plan.stored_steps(), store.max_seq() + 1, run_id, now)
    candidates, fresh = _prefetch(batch, plan.new)
    for i, (article, fp) in enumerate(fresh):
        assignment = _assign_one(batch, article, fp, seq + i, candidates[i], out)
        out.assignments.append(assignment)
        out.articles.append(_row(article, fp, assignment, seq + i, run_id, now))

    repair_batch(batch, out)
    revise_batch_articles(batch, out, plan.batch_steps(), run_id, now)
    # Saved in ingestion order: the index numbers stories in the order they are first posted (``Batch.rank``).
    saved = out.created | out.grown | {batch.resolve(s) for s in out.revised_stories}
    out.stories = {sid: batch.stories[sid] for sid in sorted(saved, key=batch.rank) if sid in batch.stories}
    out.created &= out.stories.keys()
    out.grown = (out.grown & out.stories.keys()) - out.created
    return out


def _prefetch(
    batch: Batch, fresh: Sequence[tuple[Article, Fingerprint]]
) -> tuple[list[Candidates], list[tuple[Article, Fingerprint]]]:
    """Weigh the batch's vectors and fetch every stored candidate it needs, in a few set-based queries.

    Candidate stories are scored from the index's arrays; only those an article could join (score at the
    rewrite threshold or above) and those its copies belong to are loaded whole.
    """
    store, index, settings = batch.store, batch.index, batch.settings
    stored = store.articles_by_hash(fp.content_hash for _, fp in fresh)
    # A revised article's old text is gone; its new text (already in ``by_hash``) is what copies follow.
    batch.by_hash = {h: ref for h, ref in stored.items() if ref.article_id not in batch.revised} | batch.by_hash
    fresh = weighed(index, fresh, set(batch.by_hash))
    candidates: list[Candidates] = []
    copies = set(batch.by_hash)
    for _, fp in fresh:
        query = query_terms(fp.terms, settings.cluster.query_terms)
        if fp.content_hash in copies:  # an exact copy (of a stored article or an earlier one here) follows it
            candidates.append(Candidates(query, stories=set(), band_hits=set()))
            continue
        copies.add(fp.content_hash)
        candidates.append(
            Candidates(
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
    batch: Batch,
    article: Article,
    fp: Fingerprint,
    seq: int,
    candidates: Candidates,
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
        # Time is evidence too: the similarity counts less the further the article lies from the story's dates.
        threshold, days = settings.rewrite_threshold, settings.window_days
        candidates_in_reach = [(score, batch.story(s)) for score, s in scored if score >= threshold]
        timed = [(score * time_decay(story, article.published_at, days), story) for score, story in candidates_in_reach]
        joinable = sorted(
            [(score, story) for score, story in timed if score >= threshold],
            key=lambda pair: (-pair[0], batch.rank(pair[1].story_id)),
        )
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
        grow(batch, story, fp.terms)
        batch.members[story.story_id].add(seq)
        batch.variants.append(StoryVariant(seq, article_id, story.story_id, group, fp.terms))
    if story.story_id not in out.created:
        out.grown.add(story.story_id)
    extend(story, article.published_at)
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
    batch: Batch,
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
        similarity *= stories_decay(story, other, batch.settings.cluster.window_days)
        if similarity < threshold:
            continue
        # The larger survives; of two the same size, the older (ids would make the outcome depend on the path).
        keep, drop = sorted((story, other), key=lambda s: (-s.size, batch.rank(s.story_id)))
        fold_story(batch, keep, drop, StoryMerge(drop.story_id, keep.story_id, article_id, seq, similarity), out)
        story = keep
    return story


def _row(article: Article, fp: Fingerprint, a: Assignment, seq: int, run_id: str, now: datetime) -> NewArticle:
    row = ArticleRow(
        article_id=a.article_id,
        seq=seq,
        **document_columns(article, fp),
        story_id=a.story_id,
        variant_group=a.variant_group,
        assigned_as=a.relation,
        relation=a.relation,
        near_duplicate_similarity=a.near_duplicate_similarity,
        story_similarity=a.story_similarity,
        matched_article_id=a.matched_article_id,
        shared_terms=list(a.shared_terms),
        run_id=run_id,
        ingested_at=now,
    )
    signature = np.asarray(fp.signature, dtype=np.uint32).tobytes()
    return NewArticle(row=row, signature=signature, band_keys=fp.band_keys, terms=fp.terms)
