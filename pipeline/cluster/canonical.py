"""The canonical member: which article stands for its story, and how every other member relates to it.

Canonical rule: the earliest published member by UTC time (``published_ts``; undated members last),
then the longest text, then the first ingested. Each member's relation is then derived from it:
``canonical``; ``exact`` (same content hash); ``near_duplicate`` (same variant group); otherwise
``rewrite``. Clustering decides both here, from the members the store reads; the store only writes
the result (``Store.write_stories``). Only members whose values change are updated: rewriting old
rows is what would make a write cost grow with the corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from pipeline.models import MemberUpdate, StoryMember, StoryRecord, StoryState
from pipeline.models.vectors import dot
from pipeline.store import Store

Vectors = Callable[[Iterable[int]], dict[int, dict[str, float]]]
"""Term vectors of stored articles by seq."""


def save_stories(
    store: Store,
    stories: Sequence[StoryState],
    run_id: str,
    keep_terms: int,
    posting_terms: int,
    seq: int,
    vectors: Vectors | None = None,
) -> None:
    """Decide and write the given stories: centroid (top terms), new postings, canonical, extent, member relations.

    ``vectors`` gives stored articles' term vectors by seq (the candidate index's; by default the
    store's own, a scan). ``seq`` is the batch's last article: the rows written say so.
    """
    if not stories:
        return
    postings = new_postings(stories, keep_terms, posting_terms)
    members = store.story_members([s.story_id for s in stories])
    updates, records = decide_members(members, vectors or store.vectors)
    store.write_stories(stories, postings, updates, records, run_id, seq)


def new_postings(stories: Sequence[StoryState], keep_terms: int, posting_terms: int) -> list[tuple[str, str]]:
    """Truncate each centroid to its ``keep_terms`` heaviest terms; the (term, story id) postings of its top
    ``posting_terms`` terms not posted yet (each is marked posted)."""
    postings = []
    for story in stories:
        story.truncate(keep_terms)
        for term in story.top_terms(posting_terms):
            if term not in story.posted:
                story.posted.add(term)
                postings.append((term, story.story_id))
    return postings


def canonical_member(members: Sequence[StoryMember]) -> StoryMember:
    """The member that stands for its story: earliest published (undated last), then longest, then first stored."""
    return min(members, key=lambda m: (m.published_ts is None, m.published_ts or datetime.min, -m.word_count, m.seq))


def relation_to(member: StoryMember, canonical: StoryMember) -> str:
    """How a member relates to its story's canonical: canonical, exact, near_duplicate or rewrite."""
    if member is canonical:
        return "canonical"
    if member.content_hash == canonical.content_hash:
        return "exact"
    if member.variant_group == canonical.variant_group:
        return "near_duplicate"
    return "rewrite"


def decide_members(
    members: dict[str, list[StoryMember]], vectors_of: Vectors
) -> tuple[list[MemberUpdate], list[StoryRecord]]:
    """Per story: its canonical, each member's relation and similarity to it (where they changed), its record."""
    canonicals = {sid: canonical_member(rows) for sid, rows in members.items()}
    # Members need (re)computing when new, or when their story's canonical changed (or merged in).
    changed = {
        sid for sid, rows in members.items()
        if not canonicals[sid].is_canonical or sum(bool(r.is_canonical) for r in rows) != 1
    }  # fmt: skip
    stale = [r for sid, rows in members.items() for r in rows if sid in changed or r.canonical_similarity is None]
    vectors = vectors_of({r.seq for r in stale} | {c.seq for c in canonicals.values()})
    updates = []
    for row in stale:
        canon = canonicals[row.story_id]
        mine, theirs = vectors.get(row.seq, {}), vectors.get(canon.seq, {})
        new = MemberUpdate(row.article_id, row is canon, relation_to(row, canon), round(dot(mine, theirs), 6))
        if (new.is_canonical, new.relation, new.canonical_similarity) != (
            row.is_canonical, row.relation, row.canonical_similarity
        ):  # fmt: skip
            updates.append(new)
    return updates, [story_record(sid, rows, canonicals[sid]) for sid, rows in members.items()]


def story_record(story_id: str, members: Sequence[StoryMember], canonical: StoryMember) -> StoryRecord:
    """A story's row as its members make it: the canonical's id and title, extent in time, counts."""
    dates = [m.published_at for m in members if m.published_at is not None]
    return StoryRecord(
        story_id=story_id,
        canonical_article_id=canonical.article_id,
        title=canonical.title,
        first_seen=min(m.ingested_at for m in members),
        last_seen=max(m.ingested_at for m in members),
        first_published=min(dates) if dates else None,
        last_published=max(dates) if dates else None,
        article_count=len(members),
        source_count=len({m.outlet for m in members}),
        variant_count=len({m.variant_group for m in members}),
    )
