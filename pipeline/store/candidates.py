"""Reads for clustering: stored versions of a document, placements, signatures, vectors, and what changed.

The candidate index (``pipeline.cluster.candidates``) reads the tables' tails by seq range; clustering
reads the stored rows of the candidates it found. Every read is set-based: the wanted keys are passed
in as a table, never one query per key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from pipeline.models import ArticleRef, StoredDocument, StoryMember, StoryState
from pipeline.store.connection import Connection
from pipeline.store.keys import term_key
from pipeline.store.schema import OUTLET_SQL

# The latest ``?`` distinct variants (articles that shaped the centroid) of each story in table ``_stories``.
_LATEST_VARIANTS = """
    SELECT seq, article_id, story_id, variant_group FROM articles JOIN _stories USING (story_id)
    WHERE assigned_as IN ('new_story', 'rewrite')
    QUALIFY row_number() OVER (PARTITION BY story_id ORDER BY seq DESC) <= ?
"""


@dataclass(frozen=True)
class IndexExtent:
    """How big the candidate index's arrays of the stored rows up to one seq are (``Store.index_extent``)."""

    stories: int
    story_entries: int
    """Centroid terms over all stories."""
    story_id_width: int
    """Bytes of the longest story id."""
    vector_entries: int
    """Terms over all articles' term vectors."""
    vector_text_bytes: int
    """UTF-8 bytes of those terms, with a NUL after each."""
    articles: int
    article_id_width: int
    article_story_width: int
    group_width: int
    signature_bytes: int


def _record_batches(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object], rows: int
) -> Iterator[pa.RecordBatch]:
    """A query's result as Arrow record batches of about ``rows`` rows (run when first iterated)."""
    yield from con.execute(sql, list(params)).to_arrow_reader(rows)


class CandidateReads(Connection):
    """What clustering reads of the stored articles and stories."""

    def stored_documents(self, keys: Sequence[tuple[str, str | None, str | None]]) -> dict[int, list[StoredDocument]]:
        """Stored articles a document may be a version of, by the position of its key.

        A key is (source_uri, outlet, external id): articles with that ``source_uri`` match, and, when
        the outlet is given, articles of that outlet with that external id.
        """
        if not keys:
            return {}
        columns = [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]
        sql = "SELECT k.i, a.seq, a.article_id, a.content_hash, {by_uri} FROM _keys k JOIN articles a ON {on}"
        parts = [sql.format(by_uri="true", on="a.source_uri = k.source_uri")]
        if any(columns[1]):  # the second join scans two more columns: only when some record names its source
            parts.append(sql.format(by_uri="false", on="a.source = k.outlet AND a.external_id = k.external_id"))
        found: dict[int, list[StoredDocument]] = defaultdict(list)
        with self._table(
            "_keys", i=list(range(len(keys))), source_uri=columns[0], outlet=columns[1], external_id=columns[2]
        ):
            for i, seq, article_id, content_hash, by_uri in self._con.execute(" UNION ALL ".join(parts)).fetchall():
                found[i].append(StoredDocument(seq, article_id, content_hash, by_uri))
        return dict(found)

    def article_rows(self, seqs: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Whole stored article rows, by seq."""
        wanted = sorted(set(seqs))
        if not wanted:
            return {}
        with self._table("_seqs", seq=wanted):
            found = self._query("SELECT a.* FROM articles a JOIN _seqs USING (seq)")
        return {row["seq"]: row for row in found}

    def earlier_versions(self, article_ids: Iterable[str]) -> dict[str, set[str]]:
        """The content hashes of the replaced versions of each article (``revisions``)."""
        ids = sorted(set(article_ids))
        if not ids:
            return {}
        with self._table("_ids", article_id=ids):
            rows = self._con.execute(
                "SELECT article_id, list(content_hash) FROM revisions JOIN _ids USING (article_id) GROUP BY article_id"
            ).fetchall()
        return {r[0]: set(r[1]) for r in rows}

    def retired_seqs(self, after: int, upto: int) -> list[int]:
        """The seqs whose article was re-stored under a later seq (revised) by articles ``after < seq <= upto``."""
        rows = self._con.execute(
            "SELECT seq FROM revisions WHERE seq IS NOT NULL AND replaced_seq > ? AND replaced_seq <= ?", [after, upto]
        ).fetchall()
        return [r[0] for r in rows]

    def outlet_texts(self, keys: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
        """(outlet, content_hash, source_uri) of the stored articles with these (outlet, content_hash) pairs."""
        keys = list(keys)
        if not keys:
            return []
        with self._table("_keys", source=[k[0] for k in keys], content_hash=[k[1] for k in keys]):
            rows = self._con.execute(
                "SELECT a.source, a.content_hash, a.source_uri FROM articles a "
                "JOIN _keys k USING (source, content_hash)"
            ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def articles_by_hash(self, hashes: Iterable[str]) -> dict[str, ArticleRef]:
        """The earliest stored article for each content hash."""
        hashes = sorted(set(hashes))
        if not hashes:
            return {}
        with self._table("_hashes", content_hash=hashes):
            rows = self._con.execute(
                "SELECT content_hash, arg_min(article_id, seq), arg_min(story_id, seq), arg_min(variant_group, seq) "
                "FROM articles JOIN _hashes USING (content_hash) GROUP BY content_hash"
            ).fetchall()
        return {r[0]: ArticleRef(r[1], r[2], r[3]) for r in rows}

    def max_seq(self) -> int:
        """The highest article sequence number stored (0 for an empty store)."""
        return int(self._con.execute("SELECT coalesce(max(seq), 0) FROM articles").fetchall()[0][0])

    def article_at(self, seq: int) -> str | None:
        """The id of the article stored with sequence number ``seq``, if any."""
        rows = self._con.execute("SELECT article_id FROM articles WHERE seq = ?", [seq]).fetchall()
        return rows[0][0] if rows else None

    def band_rows(self, after: int, upto: int) -> tuple[np.ndarray, np.ndarray]:
        """LSH band postings (key, seq) added by articles ``after < seq <= upto``."""
        found = self._con.execute(
            "SELECT key, seq FROM lsh_bands WHERE seq > ? AND seq <= ?", [after, upto]
        ).fetchnumpy()
        return found["key"].astype(np.uint64), found["seq"].astype(np.int64)

    def posting_rows(self, after: int, upto: int) -> tuple[np.ndarray, list[str]]:
        """Story term postings (term key, story id) added by articles ``after < seq <= upto``."""
        found = self._con.execute(
            "SELECT term_key, story_id FROM story_postings WHERE seq > ? AND seq <= ?", [after, upto]
        ).fetchnumpy()
        return found["term_key"].astype(np.uint64), [str(s) for s in found["story_id"]]

    def term_document_counts(self, after: int, upto: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Term keys with how many articles ``after < seq <= upto`` hold each, and how many articles that is.

        Exact copies are left out: a page stored again says nothing more about how common its words are.
        A version those articles replaced (a revision) that was stored at or before ``after`` is counted
        out again (negative counts), so the counts describe the articles stored now, whether they are
        read in one go or range by range.
        """
        params = {"after": after, "upto": upto}
        added = (
            "FROM article_vectors v JOIN articles a ON a.seq = v.seq WHERE v.seq > $after AND v.seq <= $upto "
            "AND a.seq > $after AND a.seq <= $upto AND a.assigned_as <> 'exact'"
        )
        replaced = (
            "FROM revisions r JOIN articles a USING (article_id) WHERE r.replaced_seq > $after "
            "AND r.replaced_seq <= $upto AND r.seq <= $after AND a.assigned_as <> 'exact'"
        )
        documents, gone = self._con.execute(
            "SELECT (SELECT count(*) FROM articles WHERE seq > $after AND seq <= $upto AND assigned_as <> 'exact'), "
            f"(SELECT count(*) {replaced})",
            params,
        ).fetchall()[0]
        if not documents and not gone:
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64), 0
        found = self._con.execute(
            f"""
            SELECT term, sum(n)::BIGINT AS n FROM (
                SELECT unnest(v.terms) AS term, 1 AS n {added}
                UNION ALL SELECT unnest(r.terms), -1 {replaced}
            ) GROUP BY term HAVING sum(n) <> 0
            """,
            params,
        ).fetchnumpy()
        terms = found["term"].tolist()
        keys = np.fromiter((term_key(t) for t in terms), dtype=np.uint64, count=len(terms))
        return keys, found["n"].astype(np.int64), int(documents - gone)

    def merges_since(self, after: int, upto: int) -> dict[str, str]:
        """Story merges recorded by articles ``after < seq <= upto``: merged id -> surviving id."""
        rows = self._con.execute(
            "SELECT merged_story_id, into_story_id FROM story_merges WHERE seq > ? AND seq <= ?", [after, upto]
        ).fetchall()
        return dict(rows)

    def signatures(self, seqs: Iterable[int]) -> dict[int, tuple[np.ndarray, ArticleRef]]:
        """MinHash signatures and placement of stored articles, by seq."""
        wanted = sorted(set(seqs))
        if not wanted:
            return {}
        with self._table("_seqs", seq=wanted):
            rows = self._con.execute(
                # joined on seq, not article_id: integer keys, and both tables are stored in seq order,
                # so the range lets zone maps skip the row groups before the first wanted seq
                "SELECT s.seq, s.signature, a.article_id, a.story_id, a.variant_group FROM _seqs "
                "JOIN article_signatures s USING (seq) JOIN articles a ON a.seq = s.seq "
                "WHERE s.seq BETWEEN $lo AND $hi AND a.seq BETWEEN $lo AND $hi",
                {"lo": wanted[0], "hi": wanted[-1]},
            ).fetchall()
        return {r[0]: (np.frombuffer(r[1], dtype=np.uint32), ArticleRef(r[2], r[3], r[4])) for r in rows}

    def member_seqs(self, story_ids: Iterable[str], per_story: int) -> list[int]:
        """Seqs of the latest ``per_story`` distinct variants of each story."""
        ids = sorted(set(story_ids))
        if not ids:
            return []
        # Found on the narrow columns: joining the signature blobs by story would scan every stored signature.
        with self._table("_stories", story_id=ids):
            members = self._con.execute(f"SELECT seq FROM ({_LATEST_VARIANTS})", [per_story]).fetchall()
        return [r[0] for r in members]

    def latest_variants(self, story_ids: Iterable[str], per_story: int) -> list[tuple[int, ArticleRef]]:
        """The latest ``per_story`` distinct variants of each story, by seq (term vectors come from the index)."""
        ids = sorted(set(story_ids))
        if not ids:
            return []
        with self._table("_stories", story_id=ids):
            rows = self._con.execute(
                f"SELECT seq, article_id, story_id, variant_group FROM ({_LATEST_VARIANTS}) ORDER BY seq", [per_story]
            ).fetchall()
        return [(r[0], ArticleRef(r[1], r[2], r[3])) for r in rows]

    def vectors(self, seqs: Sequence[int]) -> dict[int, dict[str, float]]:
        """Term vectors of stored articles by seq, read in one seq range (cheap for the newest: zone maps prune).

        A list column is not read by seq without decoding whole row groups: older articles' vectors
        are served by the candidate index's arrays (``StoredRows.vectors``).
        """
        wanted = sorted(set(seqs))
        if not wanted:
            return {}
        with self._table("_seqs", seq=wanted):
            rows = self._con.execute(
                "SELECT seq, terms, weights FROM article_vectors JOIN _seqs USING (seq) WHERE seq BETWEEN ? AND ?",
                [wanted[0], wanted[-1]],
            ).fetchall()
        return {r[0]: dict(zip(r[1], r[2], strict=True)) for r in rows}

    def split_members(self, after: int, upto: int, upto_member: int) -> dict[int, str]:
        """Story of each article ``seq <= upto_member`` now in a story split off by batches ``after < seq <= upto``.

        A split moves stored variant groups to a new story (``move_variant_groups``) without a merge
        record: this is how the candidate index learns where those articles live now.
        """
        split = self._con.execute(
            "SELECT l.story_id FROM story_links l JOIN stories s USING (story_id) "
            "WHERE l.relation = 'split' AND s.updated_seq > ? AND s.updated_seq <= ?",
            [after, upto],
        ).fetchall()
        if not split:
            return {}
        with self._table("_split", story_id=[r[0] for r in split]):
            rows = self._con.execute(
                "SELECT a.seq, a.story_id FROM articles a JOIN _split USING (story_id) WHERE a.seq <= ?", [upto_member]
            ).fetchall()
        return dict(rows)

    def stories_updated(self, after: int, upto: int) -> list[StoryState]:
        """Stories written by batches whose last article is ``after < seq <= upto`` (a read of the table's tail)."""
        rows = self._con.execute(
            "SELECT story_id, article_count, first_published, last_published, centroid_terms, centroid_weights, "
            "coalesce(variant_count, article_count) FROM stories WHERE updated_seq > ? AND updated_seq <= ?",
            [after, upto],
        ).fetchall()
        return [
            StoryState(story_id, dict(zip(terms, weights, strict=True)), size, first, last, variants)
            for story_id, size, first, last, terms, weights, variants in rows
        ]

    def resolve_story(self, story_id: str) -> str:
        """The id a story lives on as, following recorded merges."""
        for _ in range(1000):
            rows = self._con.execute(
                "SELECT into_story_id FROM story_merges WHERE merged_story_id = ?", [story_id]
            ).fetchall()
            if not rows:
                break
            story_id = rows[0][0]
        return story_id

    def story_members(self, story_ids: list[str]) -> dict[str, list[StoryMember]]:
        """Every stored member of the given stories, as the canonical rule reads them (by story)."""
        with self._table("_stories", story_id=story_ids):
            found = self._query(
                "SELECT article_id, story_id, seq, published_at, published_ts, word_count, content_hash, "
                f"variant_group, title, is_canonical, relation, canonical_similarity, {OUTLET_SQL} AS outlet, "
                "ingested_at "
                "FROM articles JOIN _stories USING (story_id)"
            )
        members: dict[str, list[StoryMember]] = defaultdict(list)
        for row in found:
            members[row["story_id"]].append(StoryMember(**row))
        return members

    # ---- whole tables, for building the candidate index's arrays (``pipeline.cluster.storedrows``) ----------

    @contextmanager
    def memory_capped(self, limit: str) -> Iterator[None]:
        """DuckDB's memory limit lowered to ``limit`` (e.g. '512MB') inside the block, restored after.

        DuckDB would otherwise keep every page a whole-table read touched cached; those pages are read once.
        """
        previous = self._con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        self._con.execute(f"SET memory_limit = '{limit}'")
        try:
            yield
        finally:
            self._con.execute(f"SET memory_limit = '{previous}'")  # DuckDB's own text for the setting

    def story_vocabulary(self) -> list[str]:
        """Every distinct term of the committed centroids (``committed_max_seq``)."""
        rows = self._con.cursor().execute("SELECT DISTINCT unnest(centroid_terms) FROM stories").fetchall()
        return [r[0] for r in rows]

    def index_extent(self, upto: int) -> IndexExtent:
        """The sizes of every committed story and article up to seq ``upto``, to allocate their arrays."""
        committed = self._con.cursor()  # what story_batches and article_batches read (``committed_max_seq``)
        stories, entries, id_width = committed.execute(
            "SELECT count(*), coalesce(sum(len(centroid_terms)), 0), coalesce(max(strlen(story_id)), 1) FROM stories"
        ).fetchall()[0]
        vector_entries, text_bytes = committed.execute(
            # each term's UTF-8 bytes and a NUL after it (array_to_string puts one separator fewer)
            "SELECT coalesce(sum(len(terms)), 0), "
            "coalesce(sum(strlen(array_to_string(terms, ' ')) + (len(terms) > 0)::INT), 0) "
            "FROM article_vectors WHERE seq <= ?",
            [upto],
        ).fetchall()[0]
        articles, *widths = committed.execute(
            "SELECT count(*), coalesce(max(strlen(a.article_id)), 1), coalesce(max(strlen(a.story_id)), 1), "
            "coalesce(max(strlen(a.variant_group)), 1), coalesce(max(octet_length(s.signature)), 4) "
            "FROM articles a JOIN article_signatures s USING (seq) WHERE a.seq <= ?",
            [upto],
        ).fetchall()[0]
        return IndexExtent(stories, entries, id_width, vector_entries, text_bytes, articles, *widths)

    def committed_max_seq(self) -> int:
        """The last committed article's seq: what ``story_batches`` and ``article_batches`` read up to at most.

        They read on cursors of their own, which see what is committed and not what this connection's open
        transaction has written since (a clustering block stored before the next one is assigned).
        """
        return self._con.cursor().execute("SELECT coalesce(max(seq), 0) FROM articles").fetchone()[0]

    def story_batches(self, rows: int) -> Iterator[pa.RecordBatch]:
        """Every committed story's id, counts, dates and centroid, in table order, as record batches of ~``rows``."""
        # Table order, not ORDER BY: sorting the centroid lists took DuckDB over a gigabyte at a million.
        sql = (
            "SELECT story_id, article_count, coalesce(variant_count, article_count) AS variant_count, first_published, "
            "last_published, centroid_terms, centroid_weights FROM stories"
        )
        return _record_batches(self._con.cursor(), sql, [], rows)

    def article_batches(
        self, upto: int, rows: int
    ) -> tuple[Iterator[pa.RecordBatch], Iterator[pa.RecordBatch], Iterator[pa.RecordBatch]]:
        """The committed articles up to seq ``upto`` as three streams of record batches read side by side: placements
        (seq, article_id, story_id, variant_group), signatures (seq, signature) and vectors (seq, terms, weights).

        The three tables hold their rows in seq order (appended in it, never deleted): no join, no sort.
        """
        return (
            _record_batches(
                self._con.cursor(),
                "SELECT seq, article_id, story_id, variant_group FROM articles WHERE seq <= ?",
                [upto],
                rows,
            ),
            _record_batches(
                self._con.cursor(), "SELECT seq, signature FROM article_signatures WHERE seq <= ?", [upto], rows
            ),
            _record_batches(
                self._con.cursor(), "SELECT seq, terms, weights FROM article_vectors WHERE seq <= ?", [upto], rows
            ),
        )
