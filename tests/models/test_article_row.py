"""The typed row written per article (``pipeline.models.ArticleRow``)."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime

import duckdb

from pipeline.models import ArticleRow
from pipeline.store import Store

STORED = {
    "article_id": "a1", "seq": 7, "source_uri": "feed.jsonl#3", "external_id": "3", "url": None,
    "canonical_url": None, "source": "feed", "title": "Title", "text": "Some text.", "published_at": None,
    "published_ts": None, "author": None, "sitename": None, "language": "en", "content_hash": "h",
    "word_count": 2, "story_id": "s1", "variant_group": "g1", "assigned_as": "new_story",
    "relation": "new_story", "is_canonical": True, "near_duplicate_similarity": None, "story_similarity": None,
    "canonical_similarity": None, "matched_article_id": None, "shared_terms": [], "run_id": "r1",
    "ingested_at": datetime(2026, 1, 2), "revised_at": None, "revised_run": None,
}  # fmt: skip


def test_a_stored_row_leaves_the_writers_updated_seq_out() -> None:
    row = ArticleRow.from_stored({**STORED, "revision": 2, "updated_seq": 9})
    assert row.seq == 7 and row.revision == 2 and row.is_canonical
    assert "updated_seq" not in ArticleRow.columns([row])


def test_a_row_stored_before_revisions_were_counted_is_revision_one() -> None:
    assert ArticleRow.from_stored({**STORED, "revision": None}).revision == 1


def test_the_row_has_every_articles_column_but_updated_seq(tmp_path) -> None:
    db = tmp_path / "db.duckdb"
    Store.open(db).close()  # creates the schema
    with duckdb.connect(str(db), read_only=True) as con:
        stored = {name for (name,) in con.execute("SELECT name FROM pragma_table_info('articles')").fetchall()}
    assert {f.name for f in fields(ArticleRow)} == stored - {"updated_seq"}
