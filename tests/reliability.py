"""Helpers shared by the reliability tests: run the CLI in a subprocess, read a database's final state."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]


def cli_process(*args: str, stderr: int = subprocess.PIPE) -> subprocess.Popen:
    """Start ``python -m pipeline.cli ARGS`` from the repository root."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr,
        text=True,
    )  # fmt: skip


def rows(db: str, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a query on a read-only connection."""
    with duckdb.connect(db, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def article_keys(db: str) -> Counter:
    """How many times each (source_uri, content_hash) is stored."""
    return Counter(rows(db, "SELECT source_uri, content_hash FROM articles"))


def final_state(db: str) -> dict[str, list[tuple]]:
    """What ingest decided, without run ids, timestamps or counters of how often a run saw something."""
    return {
        "articles": rows(
            db,
            "SELECT article_id, seq, source_uri, content_hash, story_id, variant_group, relation, is_canonical, "
            "assigned_as, matched_article_id, round(near_duplicate_similarity, 5), round(story_similarity, 5), "
            "round(canonical_similarity, 5), shared_terms FROM articles ORDER BY seq",
        ),
        "stories": rows(
            db,
            "SELECT story_id, canonical_article_id, title, article_count, source_count, first_published, "
            "last_published, centroid_terms FROM stories ORDER BY story_id",
        ),
        "merges": rows(db, "SELECT merged_story_id, into_story_id, article_id, seq FROM story_merges ORDER BY ALL"),
        "links": rows(db, "SELECT story_id, related_story_id, article_id FROM story_links ORDER BY ALL"),
        "index": rows(db, "SELECT count(*), sum(seq), sum(hash(key)) FROM lsh_bands")
        + rows(db, "SELECT count(*), sum(seq), sum(hash(term_key, story_id)) FROM story_postings"),
        "rejections": rows(db, "SELECT source_uri, reason, detail FROM rejections ORDER BY ALL"),
    }
