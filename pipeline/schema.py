"""The DuckDB schema: tables, indexes and analyst views. See docs/data.md for every column."""

from __future__ import annotations

SCHEMA_VERSION = 1

TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,
    inputs VARCHAR[],
    read INTEGER DEFAULT 0, new INTEGER DEFAULT 0, unchanged INTEGER DEFAULT 0,
    exact INTEGER DEFAULT 0, near_duplicate INTEGER DEFAULT 0, rewrite INTEGER DEFAULT 0,
    rejected INTEGER DEFAULT 0, stories_created INTEGER DEFAULT 0, stories_grown INTEGER DEFAULT 0,
    stories_merged INTEGER DEFAULT 0
);
-- No PRIMARY KEY / UNIQUE on the big tables: DuckDB rewrites a whole ART index at each checkpoint,
-- which made every batch's commit cost grow with the corpus. Uniqueness of (source_uri, content_hash)
-- and of ids is kept by the single writer (the file lock) checking before it inserts.
CREATE TABLE IF NOT EXISTS articles (
    article_id VARCHAR NOT NULL,
    seq BIGINT NOT NULL,
    source_uri VARCHAR NOT NULL,
    external_id VARCHAR,
    url VARCHAR,
    canonical_url VARCHAR,
    source VARCHAR,
    title VARCHAR,
    text VARCHAR NOT NULL,
    published_at DATE,
    author VARCHAR,
    sitename VARCHAR,
    language VARCHAR,
    content_hash VARCHAR NOT NULL,
    word_count INTEGER NOT NULL,
    story_id VARCHAR NOT NULL,
    variant_group VARCHAR NOT NULL,
    assigned_as VARCHAR NOT NULL,
    relation VARCHAR NOT NULL,
    is_canonical BOOLEAN NOT NULL DEFAULT FALSE,
    near_duplicate_similarity DOUBLE,
    story_similarity DOUBLE,
    canonical_similarity DOUBLE,
    matched_article_id VARCHAR,
    shared_terms VARCHAR[],
    run_id VARCHAR NOT NULL,
    ingested_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS article_signatures (
    seq BIGINT NOT NULL,
    article_id VARCHAR NOT NULL,
    signature BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS lsh_bands (
    key UBIGINT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS article_vectors (
    article_id VARCHAR NOT NULL,
    terms VARCHAR[] NOT NULL,
    weights FLOAT[] NOT NULL
);
CREATE TABLE IF NOT EXISTS stories (
    story_id VARCHAR NOT NULL,
    canonical_article_id VARCHAR NOT NULL,
    title VARCHAR,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    first_published DATE,
    last_published DATE,
    article_count INTEGER NOT NULL,
    source_count INTEGER NOT NULL,
    created_run VARCHAR NOT NULL,
    updated_run VARCHAR NOT NULL,
    centroid_terms VARCHAR[] NOT NULL,
    centroid_weights DOUBLE[] NOT NULL
);
CREATE TABLE IF NOT EXISTS story_postings (
    term_key UBIGINT NOT NULL,
    story_id VARCHAR NOT NULL,
    seq BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS story_merges (
    merged_story_id VARCHAR PRIMARY KEY,
    into_story_id VARCHAR NOT NULL,
    article_id VARCHAR NOT NULL,
    similarity DOUBLE NOT NULL,
    seq BIGINT NOT NULL,
    run_id VARCHAR NOT NULL,
    merged_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS story_links (
    story_id VARCHAR NOT NULL,
    related_story_id VARCHAR NOT NULL,
    relation VARCHAR NOT NULL,
    similarity DOUBLE NOT NULL,
    article_id VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    PRIMARY KEY (story_id, related_story_id)
);
CREATE TABLE IF NOT EXISTS rejections (
    source_uri VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    detail VARCHAR NOT NULL,
    first_run VARCHAR NOT NULL,
    last_run VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    times_seen INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (source_uri, reason)
);
-- The process running each run, so a later run can tell a killed run (marked 'interrupted') from a live one.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS pid INTEGER;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS host VARCHAR;
"""

VIEWS = """
CREATE OR REPLACE VIEW story_overview AS
SELECT s.story_id, s.title, s.article_count, s.source_count, s.first_published, s.last_published,
       s.first_seen, s.last_seen, s.canonical_article_id, c.source_uri AS canonical_source_uri
FROM stories s JOIN articles c ON c.article_id = s.canonical_article_id;

CREATE OR REPLACE VIEW story_variants AS
SELECT a.story_id, a.article_id, a.is_canonical, a.relation, a.variant_group, a.assigned_as,
       a.title, a.source, a.sitename, a.published_at, a.source_uri, a.external_id,
       a.near_duplicate_similarity, a.story_similarity, a.canonical_similarity, a.shared_terms, a.ingested_at
FROM articles a;
"""
