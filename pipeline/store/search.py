"""Search: ranked full-text search over stored articles and the stories they belong to.

DuckDB's full-text index (the ``fts`` extension, loaded offline from the pinned
``duckdb-extension-fts`` package) is a static snapshot: ``PRAGMA create_fts_index`` does not follow
later inserts. So each run that stored articles appends them to the index at its end (the same
scores as a rebuild, at the run's cost; a revised article, re-stored under a new ``seq``, has its old
document taken out first), the article count and highest ``seq`` it covers are recorded
in ``meta``, and a search compares them with the store, brings a stale index up to date when it can
take the write lock, and otherwise searches the stale one and says so. Articles are ranked by BM25
over title and text; a story by its best article.

User text (query, filters) only ever reaches SQL as bound parameters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from pipeline.errors import SearchError, StoreBusyError
from pipeline.store.db import Store

__all__ = [
    "IndexState",
    "Snippet",
    "StoryHit",
    "append_to_search_index",
    "build_search_index",
    "ensure_search_index",
    "index_state",
    "load_fts",
    "refresh_search_index",
    "search_stories",
    "start_search_index",
    "update_search_index",
]

FTS_SCHEMA = "fts_main_articles"
META_KEY = "search_index"
SNIPPET_WORDS = 32
WORD = re.compile(r"\w[\w'’-]*")


@dataclass(frozen=True)
class IndexState:
    """What a search index covers: article count and highest seq at build time."""

    articles: int
    max_seq: int
    built_at: str | None = None

    def covers(self, other: IndexState) -> bool:
        """True when this index was built over exactly the articles ``other`` describes."""
        return (self.articles, self.max_seq) == (other.articles, other.max_seq)


@dataclass(frozen=True)
class Snippet:
    """A short passage of an article, with the character spans that matched the query."""

    text: str
    highlights: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class StoryHit:
    """One story matching a query, scored by its best-matching article."""

    story_id: str
    title: str | None
    first_published: date | None
    last_published: date | None
    source_count: int
    article_count: int
    matched_articles: int
    score: float
    best_article_id: str
    best_source: str
    snippet: Snippet

    def as_record(self) -> dict[str, Any]:
        """A JSON-friendly dict (dates as ISO strings, snippet as plain text)."""
        return {
            "story_id": self.story_id,
            "title": self.title,
            "first_published": self.first_published.isoformat() if self.first_published else None,
            "last_published": self.last_published.isoformat() if self.last_published else None,
            "source_count": self.source_count,
            "article_count": self.article_count,
            "matched_articles": self.matched_articles,
            "score": round(self.score, 4),
            "best_article_id": self.best_article_id,
            "best_source": self.best_source,
            "snippet": self.snippet.text,
        }


def fts_extension_path() -> Path:
    """Where the pinned ``duckdb-extension-fts`` package keeps the extension for this DuckDB."""
    try:
        import duckdb_extension_fts
    except ImportError as exc:
        raise SearchError(
            "full-text search needs the duckdb-extension-fts package (pip install duckdb-extension-fts=="
            f"{duckdb.__version__})"
        ) from exc
    return Path(duckdb_extension_fts.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "fts.duckdb_extension"


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Load the fts extension from the local package (no network: ``INSTALL fts`` cannot work offline)."""
    path = fts_extension_path()
    if not path.is_file():
        raise SearchError(
            f"no fts extension for DuckDB {duckdb.__version__} at {path}; install duckdb-extension-fts=="
            f"{duckdb.__version__} (full-text search has no build for other DuckDB versions)"
        )
    try:
        # LOAD takes no parameters; the path is ours (site-packages), never user text. Quote it anyway.
        con.execute(f"LOAD '{str(path).replace(chr(39), chr(39) * 2)}'")
    except duckdb.Error as exc:
        raise SearchError(f"cannot load the DuckDB fts extension from {path}: {exc}") from exc


def corpus_state(store: Store) -> IndexState:
    """The article count and highest seq stored now."""
    count, max_seq = store._con.execute("SELECT count(*), coalesce(max(seq), 0) FROM articles").fetchall()[0]
    return IndexState(int(count), int(max_seq))


def index_state(store: Store) -> IndexState | None:
    """What the current search index covers (None when there is no index)."""
    exists = store._con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = 'docs'", [FTS_SCHEMA]
    ).fetchall()[0][0]
    rows = store._con.execute("SELECT value FROM meta WHERE key = ?", [META_KEY]).fetchall()
    if not exists or not rows:
        return None
    stored = json.loads(rows[0][0])
    return IndexState(stored["articles"], stored["max_seq"], stored.get("built_at"))


def build_search_index(store: Store) -> IndexState:
    """(Re)build the full-text index over every stored article, in one transaction."""
    load_fts(store._con)
    with store.transaction():
        state = corpus_state(store)
        # Porter stemming and English stopwords: the corpus is English news (language is stored per article).
        store._con.execute(
            "PRAGMA create_fts_index('articles', 'article_id', 'title', 'text', "
            "stemmer = 'porter', stopwords = 'english', overwrite = 1)"
        )
        return _record_state(store, state)


def _record_state(store: Store, state: IndexState) -> IndexState:
    built = IndexState(state.articles, state.max_seq, datetime.now().isoformat(timespec="seconds"))
    record = {"articles": built.articles, "max_seq": built.max_seq, "built_at": built.built_at}
    store._con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [META_KEY, json.dumps(record)])
    return built


def start_search_index(store: Store) -> None:
    """Give a database that holds no articles yet its (empty) index, so that every run appends to it.

    ``create_fts_index`` over a first run's articles costs about twice what appending them does;
    over an empty table it costs nothing. A missing fts extension is left for search to report.
    """
    try:
        if index_state(store) is None and corpus_state(store).articles == 0:
            build_search_index(store)
    except SearchError:
        pass


def refresh_search_index(store: Store) -> IndexState | None:
    """Bring the index up to date (append or rebuild); None when search is unavailable.

    Called at the end of an ingest run: a missing fts extension must not fail the run (search then
    reports the problem itself).
    """
    try:
        return update_search_index(store)
    except SearchError:
        return None


def update_search_index(store: Store) -> IndexState:
    """Bring the index up to date: nothing to do, append the newest articles, or rebuild it whole (writable)."""
    state, now = index_state(store), corpus_state(store)
    if state is not None and state.covers(now):
        return state
    if state is not None and state.articles + _count_after(store, state.max_seq) == now.articles:
        return append_to_search_index(store, state)
    return build_search_index(store)  # no index yet, or rows went away: appending cannot fix that


def _count_after(store: Store, seq: int) -> int:
    """Articles stored after ``seq`` that the index does not hold yet (a revised one replaces its document)."""
    sql = f"SELECT count(*) FROM articles WHERE seq > ? AND article_id NOT IN (SELECT name FROM {FTS_SCHEMA}.docs)"
    return int(store._con.execute(sql, [seq]).fetchall()[0][0])


def append_to_search_index(store: Store, state: IndexState) -> IndexState:
    """Index the articles stored after ``state.max_seq`` into the existing index, in one transaction.

    The tables are the ones ``create_fts_index`` builds (pinned fts 1.5.5): documents, one row per
    term occurrence, a term dictionary with document frequencies, and collection statistics.
    ``match_bm25`` reads frequencies and statistics at query time, so appending rows and updating
    those counts gives the very scores a full rebuild would (tests/store/test_search.py checks this),
    at a cost that follows the run's size instead of the store's. A revised article's old document
    (same ``article_id``) is taken out first, with its terms and their document frequencies.
    """
    load_fts(store._con)
    fts = FTS_SCHEMA
    with store.transaction():
        now = corpus_state(store)
        _remove_replaced(store, state.max_seq)
        store._con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _fts_new_docs AS
            SELECT (SELECT coalesce(max(docid), -1) FROM {fts}.docs) + row_number() OVER (ORDER BY seq) AS docid,
                   article_id AS name, title, text
            FROM articles WHERE seq > ?
            """,
            [state.max_seq],
        )
        _tokenise_new_docs(store)
        # A run repeats the same words many times: each distinct word is stemmed once, the run's new stems
        # are numbered into the dictionary, and each occurrence is joined to its term id by its word once
        # (stemming every occurrence was half of the cost; joining occurrences by stem text again, a fifth).
        for statement in (
            """CREATE OR REPLACE TEMP TABLE _fts_stems AS
               SELECT w, stem(w, 'porter') AS term FROM (SELECT DISTINCT w FROM _fts_new_words)""",
            f"""INSERT INTO {fts}.dict (termid, term, df)
                SELECT (SELECT coalesce(max(termid), -1) FROM {fts}.dict) + row_number() OVER (ORDER BY term), term, 0
                FROM (SELECT DISTINCT term FROM _fts_stems WHERE term NOT IN (SELECT term FROM {fts}.dict))""",
            f"""CREATE OR REPLACE TEMP TABLE _fts_new_terms AS
                SELECT n.docid, n.fieldid, s.termid FROM _fts_new_words n
                JOIN (SELECT s.w, d.termid FROM _fts_stems s JOIN {fts}.dict d ON d.term = s.term) s USING (w)""",
            f"""INSERT INTO {fts}.docs (docid, name, len)
                SELECT d.docid, d.name, coalesce(l.len, 0) FROM _fts_new_docs d
                LEFT JOIN (SELECT docid, count(*) AS len FROM _fts_new_terms GROUP BY docid) l ON l.docid = d.docid""",
            f"INSERT INTO {fts}.terms (docid, fieldid, termid) SELECT docid, fieldid, termid FROM _fts_new_terms",
            f"""UPDATE {fts}.dict SET df = {fts}.dict.df + f.n
                FROM (SELECT termid, count(DISTINCT docid) AS n FROM _fts_new_terms GROUP BY termid) f
                WHERE {fts}.dict.termid = f.termid""",
            f"""UPDATE {fts}.stats SET num_docs = (SELECT count(*) FROM {fts}.docs),
                avgdl = (SELECT sum(len) / count(len) FROM {fts}.docs)""",
            "DROP TABLE _fts_new_docs",
            "DROP TABLE _fts_new_words",
            "DROP TABLE _fts_stems",
            "DROP TABLE _fts_new_terms",
        ):
            store._con.execute(statement)
        return _record_state(store, now)


TOKENISED_PER_SCAN = 20_000
"""Documents tokenised per statement: the slice of their text held in memory as Arrow at once."""
DOCS_PER_MORSEL = 64
"""Documents per Arrow record batch: DuckDB shares a scan's record batches out among its threads."""


def _tokenise_new_docs(store: Store) -> None:
    """Fill ``_fts_new_words`` (word, docid, fieldid) from ``_fts_new_docs``, on all of DuckDB's threads.

    Tokenised exactly as the build does: the index's own tokenize macro, then stopwords. A run's new
    documents fill one row group of a table, which DuckDB scans on one thread only (a second thread only
    spins: twice the CPU, the same time); read from Arrow record batches of ``DOCS_PER_MORSEL``
    documents, the tokenising, most of an append's cost, is shared by every core (2,000 pages on 2 cores:
    0.35 s instead of 0.64 s, about the same CPU). At the end of a run the preparation workers are done,
    so those cores are free.
    """
    fts = FTS_SCHEMA
    store._con.execute("CREATE OR REPLACE TEMP TABLE _fts_new_words (w VARCHAR, docid BIGINT, fieldid BIGINT)")
    ((first, last),) = store._con.execute("SELECT min(docid), max(docid) FROM _fts_new_docs").fetchall()
    if first is None:
        return
    for start in range(first, last + 1, TOKENISED_PER_SCAN):  # docids are consecutive
        docs = store._con.execute(
            "SELECT docid, title, text FROM _fts_new_docs WHERE docid >= ? AND docid < ?",
            [start, start + TOKENISED_PER_SCAN],
        ).to_arrow_table()
        morsels = pa.Table.from_batches(docs.to_batches(max_chunksize=DOCS_PER_MORSEL), schema=docs.schema)
        store._con.register("_fts_new_docs_scan", morsels)
        try:
            store._con.execute(
                f"""
                INSERT INTO _fts_new_words
                WITH tokenized AS (
                    SELECT docid, (SELECT fieldid FROM {fts}.fields WHERE field = 'title') AS fieldid,
                           unnest({fts}.tokenize(title)) AS w FROM _fts_new_docs_scan
                    UNION ALL
                    SELECT docid, (SELECT fieldid FROM {fts}.fields WHERE field = 'text'),
                           unnest({fts}.tokenize(text)) FROM _fts_new_docs_scan
                )
                SELECT w, docid, fieldid FROM tokenized
                WHERE w IS NOT NULL AND w <> '' AND w NOT IN (SELECT sw FROM {fts}.stopwords)
                """
            )
        finally:
            store._con.unregister("_fts_new_docs_scan")


def _remove_replaced(store: Store, seq: int) -> None:
    """Take out of the index the documents of articles re-stored after ``seq`` (revised: new text, same id)."""
    fts = FTS_SCHEMA
    store._con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _fts_gone AS
            SELECT d.docid FROM {fts}.docs d JOIN articles a ON a.article_id = d.name WHERE a.seq > ?""",
        [seq],
    )
    if not store._con.execute("SELECT count(*) FROM _fts_gone").fetchall()[0][0]:
        store._con.execute("DROP TABLE _fts_gone")
        return
    for statement in (
        f"""UPDATE {fts}.dict SET df = {fts}.dict.df - g.n
            FROM (SELECT termid, count(DISTINCT docid) AS n FROM {fts}.terms
                  WHERE docid IN (SELECT docid FROM _fts_gone) GROUP BY termid) g
            WHERE {fts}.dict.termid = g.termid""",
        f"DELETE FROM {fts}.terms WHERE docid IN (SELECT docid FROM _fts_gone)",
        f"DELETE FROM {fts}.docs WHERE docid IN (SELECT docid FROM _fts_gone)",
        "DROP TABLE _fts_gone",
    ):
        store._con.execute(statement)


def ensure_search_index(db: str, wait_seconds: float = 0.5) -> str | None:
    """Make the index cover every stored article if the write lock is free; else return a warning."""
    with Store.open(db, read_only=True) as store:
        state, now = index_state(store), corpus_state(store)
    if state is not None and state.covers(now):
        return None
    try:
        with Store.open(db, wait_seconds=wait_seconds) as store:
            update_search_index(store)  # checks again: another process may have rebuilt it meanwhile
        return None
    except StoreBusyError:
        if state is None:
            raise SearchError(
                f"{db} has no search index yet and another process is writing to it; try again when it is done"
            ) from None
        return (
            f"search index is stale: it covers {state.articles} of {now.articles} articles and the database "
            "is busy (an ingest is writing), so the newest articles may be missing from these results"
        )


def search_stories(
    store: Store,
    query: str,
    since: date | None = None,
    source: str | None = None,
    limit: int = 10,
) -> list[StoryHit]:
    """Stories whose articles match ``query`` (BM25), best first; filters apply to the articles."""
    if not query.strip():
        raise SearchError("empty search query")
    if index_state(store) is None:
        raise SearchError(f"{store.path} has no search index (run `storyline search` once with write access)")
    load_fts(store._con)
    cursor = store._con.execute(
        f"""
        WITH scored AS (
            SELECT a.article_id, a.story_id, a.text, coalesce(a.source, a.source_uri) AS outlet,
                   {FTS_SCHEMA}.match_bm25(a.article_id, $query) AS score
            FROM articles a
            WHERE ($since IS NULL OR coalesce(a.published_at, CAST(a.ingested_at AS DATE)) >= $since)
              AND ($source IS NULL OR lower(a.source) = lower($source) OR lower(a.sitename) = lower($source))
        )
        SELECT h.story_id, s.title, s.first_published, s.last_published, s.source_count, s.article_count,
               count(*) AS matched_articles, max(h.score) AS score,
               arg_max(h.article_id, h.score) AS best_article_id, arg_max(h.outlet, h.score) AS best_source,
               arg_max(h.text, h.score) AS best_text
        FROM scored h JOIN stories s ON s.story_id = h.story_id
        WHERE h.score IS NOT NULL
        GROUP BY ALL
        ORDER BY score DESC, matched_articles DESC, h.story_id
        LIMIT $limit
        """,
        {"query": query, "since": since, "source": source, "limit": limit},
    )
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    stems = _query_stems(store, query)
    return [_hit(row, stems) for row in rows]


def _hit(row: dict[str, Any], stems: list[str]) -> StoryHit:
    fields = dict(row)
    best_text, score = fields.pop("best_text"), float(fields.pop("score"))
    return StoryHit(**fields, score=score, snippet=make_snippet(best_text, stems))


def _query_stems(store: Store, query: str) -> list[str]:
    """The query's words as the index sees them: lower-cased, Porter-stemmed, stopwords dropped."""
    words = [w.lower() for w in WORD.findall(query)]
    if not words:
        return []
    rows = store._con.execute(
        f"SELECT DISTINCT stem(w, 'porter') FROM unnest(?) t(w) WHERE w NOT IN (SELECT sw FROM {FTS_SCHEMA}.stopwords)",
        [words],
    ).fetchall()
    return sorted({r[0] for r in rows if r[0]}, key=len, reverse=True)


def make_snippet(text: str, stems: list[str], width: int = SNIPPET_WORDS) -> Snippet:
    """The ``width``-word passage with the most distinct query terms, matches marked as spans."""
    words = list(WORD.finditer(text))
    if not words:
        return Snippet(text[:200], ())
    matched = [_matching_stem(w.group().lower(), stems) for w in words]
    best, best_key = 0, (-1, -1)
    for start in range(max(1, len(words) - width + 1)):
        window = [m for m in matched[start : start + width] if m]
        key = (len(set(window)), len(window))
        if key > best_key:
            best, best_key = start, key
    chosen = words[best : best + width]
    lo, hi = chosen[0].start(), chosen[-1].end()
    prefix = "… " if lo > 0 else ""
    suffix = " …" if hi < len(text) else ""
    body = " ".join(text[lo:hi].split())
    spans = tuple(
        (len(prefix) + m.start(), len(prefix) + m.end())
        for m in WORD.finditer(body)
        if _matching_stem(m.group().lower(), stems)
    )
    return Snippet(prefix + body + suffix, spans)


def _matching_stem(word: str, stems: list[str]) -> str | None:
    # A word matches when it starts with a query stem ("talks" ~ "talk", "aggressive" ~ "aggress").
    for stem in stems:
        if word.startswith(stem) and (len(stem) >= 3 or word == stem):
            return stem
    return None
