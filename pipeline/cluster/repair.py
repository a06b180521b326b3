"""Repair: a second look at a batch's stories once the whole batch is assigned.

Assignment decides each article when it arrives, against what the stories hold then. Once the
batch is in, two kinds of early decision can be seen to be wrong, and are undone:

* a story that took in a look-alike event (the first rewrite of a second earthquake in the region
  reached the first one's story on the words they share, and the rest followed) is split in two
  (``pipeline.cluster.split`` finds the two events);
* an article that matched nothing when it arrived, because the rest of its event came after it,
  joins the story that has since grown from them.

Both read the store once per batch, and only for stories the batch touched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from pipeline.cluster.batch import Batch, BatchAssignment, fold_story, query_terms, stories_decay
from pipeline.cluster.split import two_events
from pipeline.models import StoryLink, StoryMerge, StoryState, StoryVariant, make_id

T = TypeVar("T")

SPLIT_WINDOW = 32  # latest distinct variants of a grown story bisected for a split (bounds its cost)
# A story founded in a batch with this many distinct variants or fewer gets a second look at the batch's
# end: a pair is as unsure as a single article (on ECB+ dev 1: F1 +0.007, 2: +0.010, 3: +0.009).
REHOME_VARIANTS = 2


def repair_batch(batch: Batch, out: BatchAssignment) -> None:
    """Split look-alike events out of the stories the batch grew, then rehome its small new stories."""
    if batch.settings.cluster.split_min_variants:
        split_two_events(batch, out)
    rehome_small_stories(batch, out)


def split_two_events(batch: Batch, out: BatchAssignment) -> None:
    """Split off the later of two look-alike events from each story this batch grew (one query for all).

    The latest ``SPLIT_WINDOW`` distinct variants of a story are bisected; the side without the
    earliest of them moves, with its copies (whole variant groups), to a new story.
    """
    settings = batch.settings.cluster
    grown = {s for s in out.created | out.grown if s in batch.stories}
    # Stored members of stories merged in this batch still carry the merged story's id.
    stored = grown | {old for old in batch.redirects if batch.resolve(old) in grown}
    by_story: dict[str, list[StoryVariant]] = defaultdict(list)
    latest = batch.store.latest_variants(stored, SPLIT_WINDOW)
    vectors = batch.index.vectors(batch.store, (seq for seq, _ in latest))
    stored_variants = [
        StoryVariant(seq, ref.article_id, ref.story_id, ref.variant_group, vectors.get(seq, {}))
        for seq, ref in latest
        if seq not in batch.retired  # revised in this batch: its new version is among the batch's variants
    ]
    for variant in [*stored_variants, *batch.variants]:
        by_story[batch.resolve(variant.story_id)].append(variant)
    for story_id in sorted(grown, key=batch.rank):
        variants = sorted(by_story[story_id], key=lambda v: v.seq)[-SPLIT_WINDOW:]
        bisection = two_events([v.terms for v in variants], settings.split_min_variants, settings.split_threshold)
        if bisection is None:
            continue
        moved = [v for v, side in zip(variants, bisection.side, strict=True) if not side]
        story, new = batch.stories[story_id], StoryState(make_id("s", "split", moved[0].article_id), {}, 0, is_new=True)
        for variant in moved:
            story.remove(variant.terms)
            new.add(variant.terms)
            out.moves[variant.variant_group] = new.story_id
        new.size, story.size = len(moved), max(1, story.size - len(moved))
        new.variants, story.variants = len(moved), max(1, story.variants - len(moved))
        batch.found(new)
        out.created.add(new.story_id)
        out.grown.add(story_id)
        out.links.append(StoryLink(new.story_id, story_id, bisection.ratio, moved[-1].article_id, relation="split"))
    if out.moves:
        _apply_moves(out)


def _apply_moves(out: BatchAssignment) -> None:
    """Point the batch's rows and assignments of each moved variant group at the story it moved to."""

    def moved(items: list[T], group: Callable[[T], str], move: Callable[[T, str], T]) -> list[T]:
        return [move(item, out.moves[group(item)]) if group(item) in out.moves else item for item in items]

    out.articles = moved(
        out.articles, lambda a: a.row.variant_group, lambda a, story: replace(a, row=replace(a.row, story_id=story))
    )
    out.assignments = moved(out.assignments, lambda a: a.variant_group, lambda a, story: replace(a, story_id=story))


def rehome_small_stories(batch: Batch, out: BatchAssignment) -> None:
    """Fold small stories into the larger stories they now match (one scoring query for the batch).

    An article that matched nothing when it arrived founds a story; the rest of its event may have
    arrived after it and grown a story it matches now. So, once the batch is in, a small story (at
    most ``REHOME_VARIANTS`` distinct variants) that reaches ``rewrite_threshold`` with a larger
    one, within the time window, is folded into the best such story, as a merge. Pairs are looked
    up both ways: from the small stories this batch founded to their candidates, and from the
    stories this batch grew to small stored candidates (an event whose first article came in an
    earlier batch).
    """
    settings = batch.settings.cluster
    variants: dict[str, list[StoryVariant]] = defaultdict(list)
    for variant in batch.variants:
        variants[batch.resolve(variant.story_id)].append(variant)
    touched = sorted((s for s in out.created | out.grown if s in batch.stories and variants[s]), key=batch.rank)
    is_touched = set(touched)
    small = {s for s in touched if s in out.created and len(variants[s]) <= REHOME_VARIANTS}
    queries = [batch.stories[s].query(batch.average) for s in touched]
    lookups = [query_terms(q, settings.query_terms) for q in queries]
    pairs = {
        (i, batch.resolve(c))
        for i, terms in enumerate(lookups)
        for c in batch.index.candidate_stories(terms, settings.max_candidates)
    }
    scores = batch.index.story_scores(queries, ((i, c) for i, c in pairs if c not in is_touched), batch.average)
    threshold = settings.rewrite_threshold
    matched = {c for (_, c), score in scores.items() if score >= threshold}
    for story in batch.index.load_stories(matched - batch.stories.keys(), settings.posting_terms).values():
        batch.add_story(story)
    found = [(score, touched[i], c) for (i, c), score in scores.items() if score >= threshold]
    for i, story_id in enumerate(touched):  # the batch's own stories match on their live centroids
        if story_id in small:
            others = {batch.resolve(o) for t in lookups[i] for o in batch.postings.get(t, ())} - {story_id}
            for other in sorted(others & batch.stories.keys(), key=batch.rank):
                story = batch.stories[other]
                found.append((story.similarity(queries[i], batch.average), story_id, other))
    # The same evidence as a join: the similarity counts less the further apart the two stories' dates lie.
    days = settings.window_days
    found = [
        (score * stories_decay(batch.stories[a], batch.stories[b], days), a, b)
        for score, a, b in found
        if score >= threshold and a in batch.stories and b in batch.stories
    ]
    # Ties go to the older stories: never to ids, which follow the input's path.
    for score, looked_up, candidate in sorted(found, key=lambda f: (-f[0], batch.rank(f[1]), batch.rank(f[2]))):
        a, b = batch.resolve(looked_up), batch.resolve(candidate)
        if a == b or score < threshold or a not in batch.stories or b not in batch.stories:
            continue
        # Two stories the same size are never folded (``drop.size < keep.size``): the size alone decides.
        drop, keep = sorted((batch.stories[a], batch.stories[b]), key=lambda s: s.size)
        small_now = drop.story_id in small or (drop.story_id not in is_touched and drop.size <= REHOME_VARIANTS)
        if small_now and drop.size < keep.size and stories_decay(drop, keep, days) > 0.0:
            # The article that made them meet: the newest variant the batch gave either side.
            latest = max((v for k in {looked_up, a, b} for v in variants[k]), key=lambda v: v.seq)
            merge = StoryMerge(drop.story_id, keep.story_id, latest.article_id, latest.seq, score)
            fold_story(batch, keep, drop, merge, out)
