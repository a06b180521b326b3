"""The DuckDB schema: tables, indexes and analyst views. See docs/data.md for every column."""

from __future__ import annotations

# What SQL counts as an article's outlet (``pipeline.sources.outlet`` decides it at ingest): the stored outlet;
# ``source_uri`` only for rows stored before outlets were assigned at ingest (they had no ``source`` when the
# record and page had none).
OUTLET_SQL = "coalesce(source, source_uri)"

SCHEMA_VERSION = 4
"""2: ``articles.published_ts`` (UTC) and ``published_at`` as its UTC date. 3: revisions (``articles.revision``,
``revisions``, ``page_state``). 4: ``articles.updated_seq`` (which rows a batch rewrote: an older writer would
rewrite rows without it, and the lake would miss them). A Storyline that reads up to an older version refuses
to write a newer database (v1 would store rows without the time, in local dates; v2 would store a changed document as a
second article)."""

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
-- No index on story_id: candidates are read from the index snapshot (storedrows.py), and DuckDB
-- rewrote the whole ART index at every checkpoint (seconds at a million articles). Dropped first:
-- DuckDB refuses some ALTERs of an indexed table.
DROP INDEX IF EXISTS stories_story_id;
-- The last article of the batch that wrote the row: the candidate index catches up on the stories
-- written since its snapshot by this column (rewritten rows sit at the table's tail: zone maps prune).
ALTER TABLE stories ADD COLUMN IF NOT EXISTS updated_seq BIGINT;
-- Distinct variants (variant groups) of the story: a story is scored by its members' average similarity,
-- its centroid (the sum of their vectors) over this count. Filled in once for older databases.
ALTER TABLE stories ADD COLUMN IF NOT EXISTS variant_count INTEGER;
UPDATE stories s SET variant_count = c.n
FROM (SELECT story_id, count(DISTINCT variant_group) AS n FROM articles GROUP BY story_id) c
WHERE s.variant_count IS NULL AND c.story_id = s.story_id;
-- The article's seq: the candidate index reads term vectors by it (storedrows.py). Filled in once for
-- databases from before the column (this text runs only when the schema changes).
ALTER TABLE article_vectors ADD COLUMN IF NOT EXISTS seq BIGINT;
UPDATE article_vectors v SET seq = a.seq FROM articles a WHERE v.seq IS NULL AND a.article_id = v.article_id;
-- Revisions (pipeline/cluster/revisions.py): a new version of a stored document replaces the article's text in
-- place and the replaced version is kept in `revisions`. `revision` numbers the text stored (1: the first
-- version; the default fills in older rows); `revised_at` and `revised_run` say when and by which run the
-- current text replaced an earlier one (null: never revised).
ALTER TABLE articles ADD COLUMN IF NOT EXISTS revision INTEGER DEFAULT 1;
ALTER TABLE articles ADD COLUMN IF NOT EXISTS revised_at TIMESTAMP;
ALTER TABLE articles ADD COLUMN IF NOT EXISTS revised_run VARCHAR;
-- DuckDB refuses to alter a table a transaction has already updated: every ALTER of articles comes first.
-- When the article was published, in UTC (published_at is its date): filled in below.
ALTER TABLE articles ADD COLUMN IF NOT EXISTS published_ts TIMESTAMP;
-- The seq a row was last written at: its own when stored, the batch's last seq when a later batch rewrote it
-- (moved it to another story, changed its relation, canonical or similarity). A publication to the lake reads
-- the rows changed since its mark by it (pipeline/lake.py). Null in older rows until they change.
ALTER TABLE articles ADD COLUMN IF NOT EXISTS updated_seq BIGINT;
-- Rows from before published_ts keep the date they were stored with (the date as the input wrote it, in its
-- own time zone) at midnight.
UPDATE articles SET published_ts = CAST(published_at AS TIMESTAMP)
WHERE published_ts IS NULL AND published_at IS NOT NULL;
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
-- Alerts fire once per (rule, story_id, condition): the key makes re-running input fire nothing new.
CREATE TABLE IF NOT EXISTS alerts (
    alert_id VARCHAR PRIMARY KEY,
    rule VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    story_id VARCHAR NOT NULL,
    condition VARCHAR NOT NULL,
    article_id VARCHAR,
    title VARCHAR,
    message VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered_to VARCHAR[] NOT NULL DEFAULT [],
    last_error VARCHAR,
    last_attempt_at TIMESTAMP,
    delivered_at TIMESTAMP,
    UNIQUE (rule, story_id, condition)
);
CREATE TABLE IF NOT EXISTS watched_stories (
    story_id VARCHAR PRIMARY KEY,
    note VARCHAR,
    watched_at TIMESTAMP NOT NULL
);
-- Conditional-GET state of live listings (feeds, sitemaps): the validators of the last version whose
-- articles were all settled. Article URLs need no table of their own: a URL is done once it is in
-- articles or has a final rejection (see pipeline/sources/fetchstate.py).
CREATE TABLE IF NOT EXISTS fetch_state (
    url VARCHAR PRIMARY KEY,
    source VARCHAR NOT NULL,
    listing VARCHAR NOT NULL,
    etag VARCHAR,
    last_modified VARCHAR,
    status INTEGER NOT NULL,
    fetched_at TIMESTAMP NOT NULL,
    run_id VARCHAR NOT NULL
);
-- Article pages of live sources under a refetch policy (fetch.refetch_after): when each listed URL was last
-- fetched and the validators it answered with, sent back when it is fetched again. No key: the table grows
-- with the pages, and the single writer replaces a page's row (delete, insert) in one transaction.
CREATE TABLE IF NOT EXISTS page_state (
    url VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    etag VARCHAR,
    last_modified VARCHAR,
    status INTEGER,
    checked_at TIMESTAMP NOT NULL,
    run_id VARCHAR NOT NULL
);
-- The process running each run, so a later run can tell a killed run (marked 'interrupted') from a live one.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS pid INTEGER;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS host VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS revised INTEGER DEFAULT 0;
-- Each replaced version. `seq` is the article seq it was stored under (null when a later version came in the
-- same batch, so it was never stored); its rows in the index tables are deleted, and the candidate index reads
-- which seqs are gone by `replaced_seq`. `terms` are its term vector's terms, which the index's corpus document
-- frequencies count out again.
CREATE TABLE IF NOT EXISTS revisions (
    article_id VARCHAR NOT NULL,
    revision INTEGER NOT NULL,
    content_hash VARCHAR NOT NULL,
    source_uri VARCHAR NOT NULL,
    url VARCHAR,
    title VARCHAR,
    text VARCHAR NOT NULL,
    published_at DATE,
    published_ts TIMESTAMP,
    word_count INTEGER NOT NULL,
    terms VARCHAR[] NOT NULL,
    seq BIGINT,
    stored_at TIMESTAMP NOT NULL,
    run_id VARCHAR NOT NULL,
    replaced_seq BIGINT NOT NULL,
    replaced_at TIMESTAMP NOT NULL,
    replaced_run VARCHAR NOT NULL
);
"""

VIEWS = """
-- Every story id ever issued (merged-away ones included) and the id it lives on as now.
CREATE OR REPLACE VIEW story_aliases AS
WITH RECURSIVE walk(story_id, current_story_id, hops) AS (
    SELECT merged_story_id, into_story_id, 1 FROM story_merges
    UNION ALL
    SELECT w.story_id, m.into_story_id, w.hops + 1
    FROM walk w JOIN story_merges m ON m.merged_story_id = w.current_story_id
    WHERE w.hops < 1000
)
SELECT story_id, story_id AS current_story_id, 0 AS hops FROM stories
UNION ALL
SELECT story_id, arg_max(current_story_id, hops), max(hops) FROM walk GROUP BY story_id;

CREATE OR REPLACE VIEW story_overview AS
SELECT s.story_id, s.title, s.article_count, s.source_count, s.first_published, s.last_published,
       s.first_seen, s.last_seen, s.canonical_article_id, c.source_uri AS canonical_source_uri,
       coalesce(c.source, c.source_uri) AS canonical_source, m.exact_copies, m.near_duplicates, m.rewrites,
       m.sources, s.centroid_terms[1:10] AS top_terms
FROM stories s
JOIN articles c ON c.article_id = s.canonical_article_id
JOIN (
    SELECT story_id,
           count(*) FILTER (WHERE relation = 'exact') AS exact_copies,
           count(*) FILTER (WHERE relation = 'near_duplicate') AS near_duplicates,
           count(*) FILTER (WHERE relation = 'rewrite') AS rewrites,
           list(DISTINCT coalesce(source, source_uri) ORDER BY coalesce(source, source_uri)) AS sources
    FROM articles GROUP BY story_id
) m ON m.story_id = s.story_id;

CREATE OR REPLACE VIEW story_variants AS
SELECT a.story_id, a.article_id, a.is_canonical, a.relation, a.variant_group, a.assigned_as,
       a.title, a.source, a.sitename, a.published_at, a.published_ts, a.source_uri, a.external_id,
       a.near_duplicate_similarity, a.story_similarity, a.canonical_similarity, a.shared_terms, a.ingested_at
FROM articles a;

-- Stories whose extent (published dates, else arrival dates) overlaps [from_date, to_date].
CREATE OR REPLACE MACRO stories_between(from_date, to_date) AS TABLE
SELECT o.* FROM story_overview o
WHERE coalesce(o.last_published, CAST(o.last_seen AS DATE)) >= CAST(from_date AS DATE)
  AND coalesce(o.first_published, CAST(o.first_seen AS DATE)) <= CAST(to_date AS DATE)
ORDER BY coalesce(o.first_published, CAST(o.first_seen AS DATE)), o.story_id;

-- One story's articles in the order the news travelled; merged-away ids resolve to the survivor.
CREATE OR REPLACE MACRO story_timeline(story_ref) AS TABLE
SELECT row_number() OVER (ORDER BY a.published_ts NULLS LAST, a.ingested_at, a.seq) AS position,
       a.published_at, a.published_ts, a.ingested_at, coalesce(a.source, a.source_uri) AS outlet, a.relation,
       a.is_canonical, a.title, a.article_id, a.story_id,
       row_number() OVER (PARTITION BY coalesce(a.source, a.source_uri)
                          ORDER BY a.published_ts NULLS LAST, a.ingested_at, a.seq) = 1 AS first_from_outlet
FROM articles a
WHERE a.story_id = (SELECT current_story_id FROM story_aliases WHERE story_id = story_ref)
ORDER BY position;

-- Stories picked up by at least min_sources outlets in the hours before as_of (default: now), by
-- arrival time: ingested_at is the only time every article has (many inputs give a date, or nothing).
CREATE OR REPLACE MACRO spreading(hours, min_sources, as_of := NULL) AS TABLE
WITH placed AS (
    SELECT a.story_id, coalesce(a.source, a.source_uri) AS outlet, a.ingested_at,
           min(a.ingested_at) OVER (PARTITION BY a.story_id, coalesce(a.source, a.source_uri)) AS outlet_first_seen
    FROM articles a
), bounds AS (
    SELECT coalesce(CAST(as_of AS TIMESTAMP), localtimestamp) AS upto,
           coalesce(CAST(as_of AS TIMESTAMP), localtimestamp) - hours * INTERVAL 1 HOUR AS since
), recent AS (
    SELECT p.story_id,
           count(*) AS articles_in_window,
           count(DISTINCT p.outlet) AS sources_in_window,
           count(DISTINCT p.outlet) FILTER (WHERE p.outlet_first_seen >= b.since) AS new_sources,
           max(p.ingested_at) AS last_arrival
    FROM placed p, bounds b
    WHERE p.ingested_at >= b.since AND p.ingested_at <= b.upto
    GROUP BY p.story_id
)
SELECT r.story_id, s.title, r.sources_in_window, r.new_sources, r.articles_in_window, s.source_count,
       s.article_count, s.first_seen, r.last_arrival
FROM recent r JOIN stories s ON s.story_id = r.story_id
WHERE r.sources_in_window >= min_sources
ORDER BY r.new_sources DESC, r.sources_in_window DESC, r.last_arrival DESC, r.story_id;

CREATE OR REPLACE VIEW spreading_stories AS SELECT * FROM spreading(24, 2);

-- Per outlet (articles.source, assigned at ingest by pipeline/sources/outlet.py; counted as in stories.source_count).
CREATE OR REPLACE VIEW source_activity AS
WITH firsts AS (
    SELECT article_id, row_number() OVER (PARTITION BY story_id
                                          ORDER BY published_ts NULLS LAST, ingested_at, seq) = 1 AS was_first
    FROM articles
)
SELECT coalesce(a.source, a.source_uri) AS source,
       count(*) AS articles,
       count(DISTINCT a.story_id) AS stories,
       count(*) FILTER (WHERE f.was_first) AS first_reports,
       count(*) FILTER (WHERE a.is_canonical) AS canonical_articles,
       count(*) FILTER (WHERE a.relation IN ('exact', 'near_duplicate')) AS copies,
       count(*) FILTER (WHERE a.relation = 'rewrite') AS rewrites,
       min(a.published_at) AS first_published, max(a.published_at) AS last_published,
       min(a.ingested_at) AS first_seen, max(a.ingested_at) AS last_seen
FROM articles a JOIN firsts f ON f.article_id = a.article_id
GROUP BY 1;

-- Per input file: what it gave (articles) and what it was refused (rejections, which have no outlet).
CREATE OR REPLACE VIEW input_activity AS
WITH stored AS (
    SELECT split_part(source_uri, '#', 1) AS input, count(*) AS articles, count(DISTINCT story_id) AS stories,
           max(ingested_at) AS last_stored
    FROM articles GROUP BY 1
), refused AS (
    SELECT split_part(source_uri, '#', 1) AS input, count(*) AS rejections,
           list(DISTINCT reason ORDER BY reason) AS rejection_reasons, max(last_seen) AS last_rejected
    FROM rejections GROUP BY 1
)
SELECT coalesce(s.input, r.input) AS input, coalesce(s.articles, 0) AS articles, coalesce(s.stories, 0) AS stories,
       coalesce(r.rejections, 0) AS rejections, coalesce(r.rejection_reasons, []) AS rejection_reasons,
       greatest(s.last_stored, r.last_rejected) AS last_seen
FROM stored s FULL OUTER JOIN refused r ON r.input = s.input;
"""
