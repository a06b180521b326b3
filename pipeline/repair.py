"""Repair: a second look at a batch's stories once the whole batch is assigned.

Assignment decides each article when it arrives, against what the stories hold then. Once the
batch is in, two kinds of early decision can be seen to be wrong, and are undone:

* a story that took in a look-alike event (the first rewrite of a second earthquake in the region
  reached the first one's story on the words they share, and the rest followed) is split in two
  (``pipeline.split`` finds the two events);
* an article that matched nothing when it arrived, because the rest of its event came after it,
  joins the story that has since grown from them.

Both read the store once per batch, and only for stories the batch touched.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from .cluster import BatchAssignment, _Batch, fold_story, make_id, query_terms, stories_overlap
from .fingerprint import cosine
from .split import two_events
from .store import StoryLink, StoryMerge, StoryState, StoryVariant

SPLIT_WINDOW = 32  # latest distinct variants of a grown story bisected for a split (bounds its cost)
# A story founded in a batch with this many distinct variants or fewer gets a second look at the batch's
# end: a pair is as unsure as a single article (on ECB+ dev 1: F1 +0.007, 2: +0.010, 3: +0.009).
REHOME_VARIANTS = 2


def repair_batch(batch: _Batch, out: BatchAssignment) -> None:
    """Split look-alike events out of the stories the batch grew, then rehome its small new stories."""
    if batch.settings.cluster.split_min_variants:
        split_two_events(batch, out)
    rehome_small_stories(batch, out)


def split_two_events(batch: _Batch, out: BatchAssignment) -> None:
    """Split off the later of two look-alike events from each story this batch grew (one query for all).

    The latest ``SPLIT_WINDOW`` distinct variants of a story are bisected; the side without the
    earliest of them moves, with its copies (whole variant groups), to a new story.
    """
    settings = batch.settings.cluster
    grown = {s for s in out.created | out.grown if s in batch.stories}
    # Stored members of stories merged in this batch still carry the merged story's id.
    stored = grown | {old for old in batch.redirects if batch.resolve(old) in grown}
    by_story: dict[str, list[StoryVariant]] = defaultdict(list)
    for variant in [*batch.store.story_variants(stored, SPLIT_WINDOW), *batch.variants]:
        by_story[batch.resolve(variant.story_id)].append(variant)
    for story_id in sorted(grown):
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
        batch.add_story(new)
        out.created.add(new.story_id)
        out.grown.add(story_id)
        out.links.append(StoryLink(new.story_id, story_id, bisection.ratio, moved[-1].article_id, relation="split"))
    if out.moves:
        for row in out.articles:
            row.row["story_id"] = out.moves.get(row.row["variant_group"], row.row["story_id"])
        out.assignments = [
            replace(a, story_id=out.moves[a.variant_group]) if a.variant_group in out.moves else a
            for a in out.assignments
        ]


def rehome_small_stories(batch: _Batch, out: BatchAssignment) -> None:
    """Give the stories this batch founded that are still small a second look (one query for all).

    An article that matched nothing when it arrived founds a story; others on its event may have
    arrived after it, in this batch, and grown a story it now matches. A story of at most
    ``REHOME_VARIANTS`` distinct variants whose centroid reaches ``rewrite_threshold`` with a
    larger story (a candidate from the index or the batch, within the time window) is folded into
    the best such story, as a merge: an article joining once the story it belongs to has grown.
    """
    settings = batch.settings.cluster
    variants: dict[str, list[StoryVariant]] = defaultdict(list)
    for variant in batch.variants:
        variants[batch.resolve(variant.story_id)].append(variant)
    small = [s for s in sorted(out.created) if s in batch.stories and 0 < len(variants[s]) <= REHOME_VARIANTS]
    lookups = {s: query_terms(batch.stories[s].centroid, settings.query_terms) for s in small}
    wanted = {
        batch.resolve(c) for q in lookups.values() for c in batch.index.candidate_stories(q, settings.max_candidates)
    }
    for story in batch.store.load_stories(wanted - batch.stories.keys(), settings.posting_terms).values():
        batch.add_story(story)
    for story_id in small:
        story = batch.stories.get(story_id)
        if story is None or batch.resolve(story_id) != story_id:
            continue  # folded into another small story already
        candidates = set(batch.index.candidate_stories(lookups[story_id], settings.max_candidates))
        candidates |= {s for t in lookups[story_id] for s in batch.postings.get(t, ())}
        best: tuple[float, StoryState] | None = None
        for other_id in sorted({batch.resolve(c) for c in candidates} - {story_id}):
            other = batch.stories.get(other_id)
            if other is None or other.size <= story.size:
                continue
            score = cosine(story.centroid, other.centroid) / (story.norm * other.norm)
            joins = score >= settings.rewrite_threshold and stories_overlap(story, other, settings.window_days)
            if joins and (best is None or score > best[0]):
                best = (score, other)
        if best is not None:
            last, into = variants[story_id][-1], best[1]
            fold_story(batch, into, story, StoryMerge(story_id, into.story_id, last.article_id, last.seq, best[0]), out)
