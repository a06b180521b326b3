"""Reads for people: the story listing, one story with its members and relations, run events, evaluation.

The command line, the story page (``pipeline.storypage``), the run's story events (``pipeline.run.counts``)
and ``storyline evaluate`` read through these; each returns rows as dicts, or None where a story is
missing. Story ids given here are taken as they are: callers resolve merged ids (``Store.resolve_story``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.store.db import Store


def latest_stories(store: Store, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` stories with the latest activity, with the start of the canonical text of untitled ones.

    Latest activity: the later of the last publication date and the last ingest time, compared as
    timestamps, so undated stories rank by when they were ingested, among the dated ones. The
    canonical text is read for the untitled stories listed only (with none, no articles are scanned).
    """
    return store._query(
        """
        WITH listed AS (
            SELECT story_id, title, canonical_article_id, article_count, source_count, first_published,
                   last_published, greatest(CAST(last_published AS TIMESTAMP), last_seen) AS last_activity
            FROM stories ORDER BY last_activity DESC, story_id LIMIT ?
        ), leads AS (
            SELECT article_id, left(text, 200) AS lead FROM articles
            WHERE article_id IN (SELECT canonical_article_id FROM listed WHERE nullif(trim(title), '') IS NULL)
        )
        SELECT l.*, leads.lead FROM listed l LEFT JOIN leads ON leads.article_id = l.canonical_article_id
        ORDER BY l.last_activity DESC, l.story_id
        """,
        [limit],
    )


def last_seen_story(store: Store) -> dict[str, Any] | None:
    """The story row last seen in an ingest (None when there are no stories)."""
    rows = store._query("SELECT * FROM stories ORDER BY last_seen DESC, story_id LIMIT 1")
    return rows[0] if rows else None


def story_row(store: Store, story_id: str) -> dict[str, Any] | None:
    """A story's row in ``stories`` (None when there is no such story)."""
    rows = store._query("SELECT * FROM stories WHERE story_id = ?", [story_id])
    return rows[0] if rows else None


def has_story(store: Store, story_id: str) -> bool:
    """Whether there is a story with this id (merged-away ids are not: callers resolve them)."""
    return bool(store._query("SELECT 1 FROM stories WHERE story_id = ?", [story_id]))


def story_variants(store: Store, story_id: str) -> list[dict[str, Any]]:
    """A story's members as the ``story_variants`` view shows them (in no particular order)."""
    return store._query("SELECT * FROM story_variants WHERE story_id = ?", [story_id])


def story_articles(store: Store, story_id: str) -> list[dict[str, Any]]:
    """A story's article rows, each with its term vector (``vector_terms``, ``vector_weights``)."""
    return store._query(
        "SELECT a.*, v.terms AS vector_terms, v.weights AS vector_weights FROM articles a "
        "LEFT JOIN article_vectors v ON v.article_id = a.article_id WHERE a.story_id = ?",
        [story_id],
    )


def related_stories(store: Store, story_id: str) -> list[dict[str, Any]]:
    """Stories this one continues, is continued by, was split from, split off, or absorbed: rows of
    (how, other, similarity)."""
    return store._query(
        "SELECT CASE relation WHEN 'split' THEN 'split from' ELSE 'continues' END AS how, related_story_id AS other, "
        "similarity FROM story_links WHERE story_id = ? "
        "UNION ALL SELECT CASE relation WHEN 'split' THEN 'split off' ELSE 'continued by' END, story_id, similarity "
        "FROM story_links WHERE related_story_id = ? "
        "UNION ALL SELECT 'absorbed', merged_story_id, similarity FROM story_merges WHERE into_story_id = ? "
        "ORDER BY 1, 2",
        [story_id, story_id, story_id],
    )


def story_summaries(store: Store, story_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Title, article count and source count of each of these stories that exists, by id."""
    with store._table("_stories", story_id=sorted(set(story_ids))):
        return {
            r["story_id"]: r
            for r in store._query(
                "SELECT story_id, title, article_count, source_count FROM stories JOIN _stories USING (story_id)"
            )
        }


def placements(store: Store) -> dict[str, tuple[str, str]]:
    """Where each stored article went, by its external id: (story id, variant group)."""
    return {
        r["external_id"]: (r["story_id"], r["variant_group"])
        for r in store._query("SELECT external_id, story_id, variant_group FROM articles")
    }
