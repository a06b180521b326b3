"""Story centroids and article signatures served from the candidate index's arrays, not by id from DuckDB."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_database, ecb_records, write_jsonl

from pipeline.cluster.candidates import CandidateIndex
from pipeline.cluster.storedrows import is_mapped
from pipeline.run.ingest import ingest_paths
from pipeline.settings import Settings
from pipeline.store import Store

POSTING_TERMS = 20


def stored_stories(store: Store) -> dict[str, tuple]:
    """Every story as the database holds it: size, extent and centroid (in stored order)."""
    rows = store._con.execute(
        "SELECT story_id, article_count, first_published, last_published, centroid_terms, centroid_weights FROM stories"
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3], list(zip(r[4], r[5], strict=True))) for r in rows}


def served_stories(index: CandidateIndex, ids: list[str]) -> dict[str, tuple]:
    states = index.load_stories(ids, POSTING_TERMS)
    return {
        s.story_id: (s.size, s.first_published, s.last_published, list(s.centroid.items())) for s in states.values()
    }


def article_vectors(store: Store) -> list[dict[str, float]]:
    rows = store._con.execute("SELECT terms, weights FROM article_vectors ORDER BY article_id").fetchall()
    return [dict(zip(terms, weights, strict=True)) for terms, weights in rows]


def expected_scores(queries: list[dict[str, float]], stories: dict[str, tuple]) -> dict[tuple[int, str], float]:
    scores = {}
    for i, query in enumerate(queries):
        for story_id, (*_, centroid) in stories.items():
            norm = math.sqrt(sum(w * w for _, w in centroid)) or 1.0
            scores[i, story_id] = sum(query.get(t, 0.0) * w for t, w in centroid) / norm
    return scores


def signatures_in_store(store: Store) -> dict[int, tuple[list[int], tuple[str, str, str]]]:
    rows = store._con.execute(
        "SELECT s.seq, s.signature, a.article_id, a.story_id, a.variant_group "
        "FROM article_signatures s JOIN articles a USING (seq)"
    ).fetchall()
    return {r[0]: (np.frombuffer(r[1], dtype=np.uint32).tolist(), (r[2], r[3], r[4])) for r in rows}


def served_signatures(index: CandidateIndex, store: Store, seqs) -> dict[int, tuple[list[int], tuple[str, str, str]]]:
    return {
        seq: (sig.tolist(), (ref.article_id, index.resolve(ref.story_id), ref.variant_group))
        for seq, (sig, ref) in index.signatures(store, seqs).items()
    }


def check_served(index: CandidateIndex, store: Store) -> None:
    """The index serves exactly what the database holds (scores to rounding)."""
    truth = stored_stories(store)
    assert served_stories(index, sorted(truth)) == truth
    queries = article_vectors(store)[:40]
    pairs = [(i, s) for i in range(len(queries)) for s in sorted(truth)]
    served = index.story_scores(queries, pairs)
    expected = expected_scores(queries, truth)
    assert served.keys() == expected.keys()
    assert all(served[p] == pytest.approx(expected[p], abs=1e-12) for p in expected)
    assert any(v > 0.3 for v in served.values())  # real matches among them, not only zeros
    signatures = signatures_in_store(store)
    assert served_signatures(index, store, signatures) == signatures
    vectors = vectors_in_store(store)
    assert index.vectors(store, vectors) == vectors
    assert index.vectors(store, [max(vectors) + 1]) == {}  # an unknown seq is absent, not an error


def vectors_in_store(store: Store) -> dict[int, dict[str, float]]:
    rows = store._con.execute("SELECT seq, terms, weights FROM article_vectors").fetchall()
    return {r[0]: dict(zip(r[1], r[2], strict=True)) for r in rows}


@pytest.fixture(scope="module")
def ecb_ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``ecb.duckdb``, ECB+ topics 1 and 3 ingested, and what its run left beside it."""
    folder = tmp_path_factory.mktemp("ecb-ingested")
    settings = Settings(db=str(folder / "ecb.duckdb"), batch_size=100)
    ingest_paths([write_jsonl(folder / "first.jsonl", ecb_records({1, 3}))], settings)
    return folder


@pytest.fixture
def ecb_settings(ecb_ingested: Path, tmp_path: Path) -> Settings:
    """A private copy of that database and its files (index snapshot, write-ahead log), for a test to change."""
    copy_database(ecb_ingested / "ecb.duckdb", tmp_path / "ecb.duckdb")
    return Settings(db=str(tmp_path / "ecb.duckdb"), batch_size=100)


def test_snapshot_and_database_serve_the_same_stories_scores_and_signatures(ecb_settings: Settings) -> None:
    with Store.open(ecb_settings.db, read_only=True) as store:
        loaded = CandidateIndex()  # no snapshot: reads the arrays from the database
        loaded.refresh(store)
        check_served(loaded, store)
        assert CandidateIndex.for_database(ecb_settings.db).save(store, force=True)
        mapped = CandidateIndex.for_database(ecb_settings.db)
        mapped.refresh(store)
        assert is_mapped(mapped.rows.arrays["story_weights"]) and is_mapped(mapped.rows.arrays["article_signatures"])
        assert mapped.rows.base_seq == store.max_seq()
        check_served(mapped, store)


def test_stories_written_after_the_snapshot_come_from_the_store(ecb_settings: Settings, tmp_path: Path) -> None:
    with Store.open(ecb_settings.db, read_only=True) as store:
        assert CandidateIndex.for_database(ecb_settings.db).save(store, force=True)
        snapshot_seq = store.max_seq()
    # Topic 3 again (grows stored stories) and a new topic: rewritten and new story rows after the snapshot.
    ingest_paths([write_jsonl(tmp_path / "second.jsonl", ecb_records({3, 4}))], ecb_settings)
    with Store.open(ecb_settings.db, read_only=True) as store:
        index = CandidateIndex.for_database(ecb_settings.db)
        index.refresh(store)
        assert index.rows.base_seq == snapshot_seq < store.max_seq()
        assert index.rows.overlay  # the stories written since, read from the table's tail
        assert len(index.rows.arrays["vector_offsets"]) == snapshot_seq + 1  # later vectors come from the store
        grown = store._con.execute(
            "SELECT count(*) FROM stories WHERE updated_seq > ? AND created_run IN "
            "(SELECT run_id FROM runs WHERE new > 0 ORDER BY started_at LIMIT 1)",
            [snapshot_seq],
        ).fetchall()[0][0]
        assert grown > 0  # some stories from before the snapshot were rewritten after it
        check_served(index, store)


def test_an_older_database_loses_the_story_id_index_and_gains_updated_seq(ecb_settings: Settings) -> None:
    db = ecb_settings.db
    with Store.open(db) as store:
        expected = vectors_in_store(store)
        store._con.execute("ALTER TABLE stories DROP COLUMN updated_seq")
        store._con.execute("ALTER TABLE article_vectors DROP COLUMN seq")
        store._con.execute("CREATE INDEX stories_story_id ON stories (story_id)")
        store._con.execute("UPDATE meta SET value = 'older' WHERE key = 'schema_digest'")
    with Store.open(db) as store:  # a writer brings the schema up to date
        assert store._con.execute("SELECT count(*) FROM duckdb_indexes() WHERE table_name = 'stories'").fetchall() == [
            (0,)
        ]
        columns = [r[0] for r in store._con.execute("DESCRIBE stories").fetchall()]
        assert "updated_seq" in columns
        assert vectors_in_store(store) == expected  # article_vectors.seq filled in from articles
        index = CandidateIndex()
        index.refresh(store)
        check_served(index, store)


def test_articles_split_off_after_the_snapshot_are_placed_in_their_new_story(
    ecb_settings: Settings, tmp_path: Path
) -> None:
    with Store.open(ecb_settings.db, read_only=True) as store:
        assert CandidateIndex.for_database(ecb_settings.db).save(store, force=True)
        snapshot_seq = store.max_seq()
    ingest_paths([write_jsonl(tmp_path / "second.jsonl", ecb_records({4}))], ecb_settings)
    new_story = "s00000000000000aa"
    with Store.open(ecb_settings.db) as store:  # what a split does: a new story, a link, the group moved
        seq, story_id, group = store._con.execute(
            "SELECT seq, story_id, variant_group FROM articles WHERE seq <= ? ORDER BY seq LIMIT 1", [snapshot_seq]
        ).fetchall()[0]
        top = store.max_seq()
        store._con.execute(
            "INSERT INTO stories SELECT * REPLACE (? AS story_id, ? AS updated_seq) FROM stories WHERE story_id = ?",
            [new_story, top, story_id],
        )
        store._con.execute(
            "INSERT INTO story_links VALUES (?, ?, 'split', 0.5, 'a0', 'run-test')", [new_story, story_id]
        )
        store.move_variant_groups({group: new_story}, top)
    with Store.open(ecb_settings.db, read_only=True) as store:
        index = CandidateIndex.for_database(ecb_settings.db)
        index.refresh(store)
        assert index.rows.base_seq == snapshot_seq
        assert index.signatures(store, [seq])[seq][1].story_id == new_story
        check_served(index, store)
