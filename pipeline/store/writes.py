"""Writes of a batch: what clustering decided, written inside the batch's one transaction.

Articles are keyed by (source_uri, content_hash): the same input ingested twice adds nothing; a new
text from the same source is a revision, which replaces its article's rows (``pipeline.cluster.revisions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

from pipeline.models import ArticleRow, MemberUpdate, NewArticle, StoryLink, StoryMerge, StoryRecord, StoryState
from pipeline.store.connection import Connection
from pipeline.store.keys import id_list, term_key


class BatchWrites(Connection):
    """What a batch writes: articles and their index rows, revisions, merges, links, moves and stories."""

    def insert_articles(self, articles: Sequence[NewArticle]) -> None:
        """Insert new articles with their signatures, LSH band keys and term vectors."""
        if not articles:
            return
        columns = ArticleRow.columns([a.row for a in articles])
        ids, seqs = columns["article_id"], columns["seq"]
        self._insert_columns("articles", {**columns, "updated_seq": seqs})  # a row is written at its own seq
        self._insert_columns(
            "article_signatures", {"seq": seqs, "article_id": ids, "signature": [a.signature for a in articles]}
        )
        self._insert_columns(
            "lsh_bands",
            {
                "key": [k for a in articles for k in a.band_keys],
                "seq": [seq for seq, a in zip(seqs, articles, strict=True) for _ in a.band_keys],
            },
        )
        self._insert_columns(
            "article_vectors",
            {
                "article_id": ids,
                "terms": [list(a.terms) for a in articles],
                "weights": [list(a.terms.values()) for a in articles],
                "seq": seqs,
            },
        )

    def retire(self, seqs: Sequence[int]) -> None:
        """Delete the rows of articles re-stored under a later seq (revised): the article and its index rows."""
        if not seqs:
            return
        with self._table("_retired", seq=sorted(set(seqs))):
            for table in ("articles", "article_signatures", "article_vectors", "lsh_bands"):
                self._con.execute(f"DELETE FROM {table} WHERE seq IN (SELECT seq FROM _retired)")

    def insert_revisions(self, rows: Sequence[dict[str, Any]]) -> None:
        """Record replaced versions of articles (``revisions``)."""
        if rows:
            self._insert_columns("revisions", {k: [r[k] for r in rows] for k in rows[0]})

    def apply_merges(self, merges: Sequence[StoryMerge], run_id: str, seq: int) -> None:
        """Fold merged stories into their survivors, recording each merge so old ids still resolve (by the
        batch whose last article is ``seq``).

        Articles move and stories go in one statement each, whatever the number of merges: each merged story
        to where the batch's merges, in order, finally took it. Links are rewritten merge by merge (the
        order decides which of two equal links stays), and only when one involves a merged story.
        """
        if not merges:
            return
        final: dict[str, str] = {}
        for merge in merges:
            final = {merged: merge.into if into == merge.merged else into for merged, into in final.items()}
            final[merge.merged] = merge.into
        with self._table("_merged", merged=list(final), survivor=list(final.values())):
            self._con.execute(
                "UPDATE articles a SET story_id = m.survivor, updated_seq = ? FROM _merged m "
                "WHERE a.story_id = m.merged",
                [seq],
            )
            linked = self._con.execute(
                "SELECT count(*) FROM story_links WHERE story_id IN (SELECT merged FROM _merged) "
                "OR related_story_id IN (SELECT merged FROM _merged)"
            ).fetchall()[0][0]
            self._con.execute("DELETE FROM stories WHERE story_id IN (SELECT merged FROM _merged)")
        if linked:
            for merge in merges:
                self._merge_links(merge)  # each ends by deleting the self-links it made
        else:
            self._con.execute("DELETE FROM story_links WHERE story_id = related_story_id")
        last = {merge.merged: merge for merge in merges}  # as INSERT OR REPLACE one by one would leave them
        recorded = list(last.values())
        with self._table(
            "_merges",
            merged=[m.merged for m in recorded], survivor=[m.into for m in recorded],
            article_id=[m.article_id for m in recorded], similarity=[m.similarity for m in recorded],
            seq=[m.seq for m in recorded],
        ):  # fmt: skip
            self._con.execute(
                "INSERT OR REPLACE INTO story_merges SELECT merged, survivor, article_id, similarity, seq, ?, now() "
                "FROM _merges",
                [run_id],
            )

    def _merge_links(self, merge: StoryMerge) -> None:
        """Point a merged story's links at its survivor, unless the survivor has the same link already."""
        for column, other in (("story_id", "related_story_id"), ("related_story_id", "story_id")):
            self._con.execute(
                f"""
                UPDATE story_links l SET {column} = $into WHERE {column} = $merged AND NOT EXISTS (
                    SELECT 1 FROM story_links d WHERE d.{column} = $into AND d.{other} = l.{other})
                """,
                {"into": merge.into, "merged": merge.merged},
            )
            self._con.execute(f"DELETE FROM story_links WHERE {column} = ?", [merge.merged])
        self._con.execute("DELETE FROM story_links WHERE story_id = related_story_id")

    def insert_links(self, links: Sequence[StoryLink], run_id: str) -> None:
        """Record stories that continue older ones (same subject, outside the time window)."""
        for link in links:
            self._con.execute(
                "INSERT OR IGNORE INTO story_links VALUES (?, ?, ?, ?, ?, ?)",
                [link.story_id, link.related_story_id, link.relation, link.similarity, link.article_id, run_id],
            )

    def move_variant_groups(self, moves: dict[str, str], seq: int) -> None:
        """Move every article of each variant group to the story given for it (a split of a story), by the
        batch whose last article is ``seq``."""
        if not moves:
            return
        with self._table("_moves", variant_group=list(moves), story_id=list(moves.values())):
            self._con.execute(
                "UPDATE articles a SET story_id = m.story_id, updated_seq = ? FROM _moves m "
                "WHERE a.variant_group = m.variant_group",
                [seq],
            )

    def write_stories(
        self,
        stories: Sequence[StoryState],
        postings: Sequence[tuple[str, str]],
        updates: Sequence[MemberUpdate],
        records: Sequence[StoryRecord],
        run_id: str,
        seq: int,
    ) -> None:
        """Write what clustering decided of the given stories (``pipeline.cluster.canonical``): their new
        (term, story id) postings, their members' changed relations, and their rows (centroid from the
        state, the rest from the record), by the batch whose last article is ``seq``."""
        if not stories:
            return
        self._insert_columns(
            "story_postings",
            {
                "term_key": [term_key(term) for term, _ in postings],
                "story_id": [story_id for _, story_id in postings],
                "seq": [seq] * len(postings),
            },
        )
        if updates:
            columns = {f.name: [getattr(u, f.name) for u in updates] for f in fields(MemberUpdate)}
            with self._table("_updates", **columns):
                self._con.execute(
                    "UPDATE articles a SET is_canonical = u.is_canonical, relation = u.relation, "
                    "canonical_similarity = u.canonical_similarity, updated_seq = ? "
                    "FROM _updates u WHERE a.article_id = u.article_id",
                    [seq],
                )
        by_id = {s.story_id: s for s in stories}
        ids = list(by_id)
        previous = {
            r[0]: (r[1], r[2])
            for r in self._con.execute(
                f"SELECT story_id, first_seen, created_run FROM stories WHERE story_id IN ({id_list(ids)})"
            ).fetchall()
        }
        self._con.execute(f"DELETE FROM stories WHERE story_id IN ({id_list(ids)})")
        rows = []
        for record in records:
            row = asdict(record)
            story = by_id[record.story_id]
            first_seen, created_run = previous.get(story.story_id, (row["first_seen"], run_id))
            row.update(
                first_seen=min(first_seen, row["first_seen"]),
                created_run=created_run,
                updated_run=run_id,
                centroid_terms=list(story.centroid),
                centroid_weights=list(story.centroid.values()),
                updated_seq=seq,  # what the candidate index reads to catch up (storedrows.py)
            )
            rows.append(row)
        if rows:
            self._insert_columns("stories", {k: [r[k] for r in rows] for k in rows[0]})
