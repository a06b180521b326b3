"""The candidate index: lookups, incremental refresh, and its snapshot beside the database."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ecb_records, write_jsonl

from pipeline import index as index_module
from pipeline.index import CandidateIndex, _Postings, snapshot_path
from pipeline.ingest import ingest_paths
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.storedrows import is_mapped


def lookups(index: CandidateIndex, store: Store) -> tuple[dict, dict]:
    """Every stored article's band hits and every stored story's candidate stories."""
    index.refresh(store)
    stories = {
        sid: sorted(index.candidate_stories(dict(zip(terms[:15], weights[:15], strict=True)), 10))
        for sid, terms, weights in store.con.execute(
            "SELECT story_id, centroid_terms, centroid_weights FROM stories ORDER BY story_id"
        ).fetchall()
    }
    bands = {
        seq: sorted(index.near_duplicate_candidates(keys))
        for seq, keys in store.con.execute("SELECT seq, list(key ORDER BY key) FROM lsh_bands GROUP BY seq").fetchall()
    }
    return bands, stories


@pytest.fixture
def ecb_store(tmp_path: Path) -> Settings:
    settings = Settings(db=str(tmp_path / "ecb.duckdb"), batch_size=100)
    ingest_paths([write_jsonl(tmp_path / "ecb.jsonl", ecb_records({1, 3, 4}))], settings)
    return settings


def test_sorted_insert_keeps_postings_in_key_then_insertion_order() -> None:
    postings = _Postings()
    postings.add(np.array([5, 1, 5, 9], dtype=np.uint64), np.array([1, 2, 3, 4]))
    postings._merge(np.array([5, 0, 9], dtype=np.uint64), np.array([10, 11, 12]))
    assert postings.keys.tolist() == [0, 1, 5, 5, 5, 9, 9]
    assert postings.lookup_each([5, 9, 7]) == [[1, 3, 10], [4, 12], []]


def test_a_snapshot_gives_the_same_answers_as_loading_from_the_database(ecb_store: Settings) -> None:
    with Store.open(ecb_store.db, read_only=True) as store:
        fresh = lookups(CandidateIndex(), store)
        assert CandidateIndex.for_database(ecb_store.db).save(store, force=True)
        mapped = CandidateIndex.for_database(ecb_store.db)
        assert lookups(mapped, store) == fresh
        assert mapped.snapshot_seq == store.max_seq()
        assert is_mapped(mapped.bands.keys)  # mapped, not read into memory


def test_a_run_after_the_snapshot_loads_only_the_new_rows(ecb_store: Settings, tmp_path: Path) -> None:
    with Store.open(ecb_store.db, read_only=True) as store:
        CandidateIndex.for_database(ecb_store.db).save(store, force=True)
        covered = store.max_seq()
    ingest_paths([write_jsonl(tmp_path / "more.jsonl", ecb_records({5}))], ecb_store)
    with Store.open(ecb_store.db, read_only=True) as store:
        assert store.max_seq() > covered
        index = CandidateIndex.for_database(ecb_store.db)
        added = index.refresh(store)
        expected = store.con.execute(
            "SELECT (SELECT count(*) FROM lsh_bands WHERE seq > $s) "
            "+ (SELECT count(*) FROM story_postings WHERE seq > $s)",
            {"s": covered},
        ).fetchall()[0][0]
        assert added == expected  # only the delta came from DuckDB
        assert lookups(index, store) == lookups(CandidateIndex(), store)


def test_a_snapshot_of_another_database_is_ignored(ecb_store: Settings, tmp_path: Path) -> None:
    with Store.open(ecb_store.db, read_only=True) as store:
        CandidateIndex.for_database(ecb_store.db).save(store, force=True)
    other = Settings(db=str(tmp_path / "other.duckdb"))
    ingest_paths([write_jsonl(tmp_path / "other.jsonl", ecb_records({3}))], other)
    shutil.rmtree(snapshot_path(other.db), ignore_errors=True)
    shutil.copytree(snapshot_path(ecb_store.db), snapshot_path(other.db))
    with Store.open(other.db, read_only=True) as store:
        index = CandidateIndex.for_database(other.db)
        assert lookups(index, store) == lookups(CandidateIndex(), store)
        assert index.snapshot_seq == 0


def test_a_snapshot_ahead_of_its_database_is_ignored(ecb_store: Settings, tmp_path: Path) -> None:
    backup = tmp_path / "backup.duckdb"
    shutil.copyfile(ecb_store.db, backup)  # the database as it was before the next run
    ingest_paths([write_jsonl(tmp_path / "more.jsonl", ecb_records({5}))], ecb_store)
    with Store.open(ecb_store.db, read_only=True) as store:
        CandidateIndex.for_database(ecb_store.db).save(store, force=True)
    shutil.copyfile(backup, ecb_store.db)  # restored from the backup: the snapshot now covers rows it lacks
    with Store.open(ecb_store.db, read_only=True) as store:
        index = CandidateIndex.for_database(ecb_store.db)
        assert lookups(index, store) == lookups(CandidateIndex(), store)
        assert index.snapshot_seq == 0


def test_runs_write_a_snapshot_once_enough_is_new(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(index_module, "SNAPSHOT_AFTER", 1000)
    settings = Settings(db=str(tmp_path / "s.duckdb"))
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", ecb_records({1}))], settings)
    assert (snapshot_path(settings.db) / "CURRENT").exists()
    first = (snapshot_path(settings.db) / "CURRENT").read_text()
    ingest_paths([write_jsonl(tmp_path / "b.jsonl", ecb_records({3, 4}))], settings)
    current = (snapshot_path(settings.db) / "CURRENT").read_text()
    assert current != first
    assert [p.name for p in snapshot_path(settings.db).iterdir() if p.is_dir()] == [current]  # old one removed
