"""The candidate index: lookups, incremental refresh, and its snapshot beside the database."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_database, ecb_records, write_jsonl

from pipeline.cluster import candidates as index_module
from pipeline.cluster.candidates import CandidateIndex, _Postings, snapshot_path, snapshot_problems
from pipeline.cluster.storedrows import is_mapped
from pipeline.run.ingest import ingest_paths
from pipeline.settings import Settings
from pipeline.store import Store


def lookups(index: CandidateIndex, store: Store) -> tuple[dict, dict]:
    """Every stored article's band hits and every stored story's candidate stories."""
    index.refresh(store)
    stories = {
        sid: sorted(index.candidate_stories(dict(zip(terms[:15], weights[:15], strict=True)), 10))
        for sid, terms, weights in store._con.execute(
            "SELECT story_id, centroid_terms, centroid_weights FROM stories ORDER BY story_id"
        ).fetchall()
    }
    bands = {
        seq: sorted(index.near_duplicate_candidates(keys))
        for seq, keys in store._con.execute("SELECT seq, list(key ORDER BY key) FROM lsh_bands GROUP BY seq").fetchall()
    }
    return bands, stories


@pytest.fixture(scope="module")
def ecb_ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``ecb.duckdb``, ECB+ topics 1, 3 and 4 ingested, and what its run left beside it."""
    folder = tmp_path_factory.mktemp("ecb-ingested")
    settings = Settings(db=str(folder / "ecb.duckdb"), batch_size=100)
    ingest_paths([write_jsonl(folder / "ecb.jsonl", ecb_records({1, 3, 4}))], settings)
    return folder


@pytest.fixture
def ecb_store(ecb_ingested: Path, tmp_path: Path) -> Settings:
    """A private copy of that database and its files (index snapshot, write-ahead log), for a test to change."""
    copy_database(ecb_ingested / "ecb.duckdb", tmp_path / "ecb.duckdb")
    return Settings(db=str(tmp_path / "ecb.duckdb"), batch_size=100)


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
        expected = store._con.execute(
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


def current_version(db: str) -> Path:
    """The snapshot version folder CURRENT points to."""
    folder = snapshot_path(db)
    return folder / (folder / "CURRENT").read_text().strip()


def truncate(path: Path) -> None:
    """Cut a file in half, as a full disk or an interrupted copy would."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def zero_fill(path: Path) -> None:
    """Zero an array file's data but keep its header and size, as a lost write would."""
    data = np.load(path, mmap_mode="r")
    size = path.stat().st_size
    with open(path, "r+b") as file:
        file.seek(size - data.nbytes)
        file.write(bytes(data.nbytes))
    assert path.stat().st_size == size


def story_groups(db: str) -> set[frozenset[str]]:
    """Stories as sets of their articles' source URIs (story ids aside)."""
    with Store.open(db, read_only=True) as store:
        rows = store._con.execute("SELECT list(source_uri) FROM articles GROUP BY story_id").fetchall()
    return {frozenset(uris) for (uris,) in rows}


@pytest.mark.parametrize(("damage", "file"), [(truncate, "article_signatures.npy"), (zero_fill, "story_rows.npy")])
def test_a_corrupt_snapshot_is_ignored_with_a_warning_and_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage, file: str
) -> None:
    records = ecb_records({1, 3, 4, 5})  # the second run's articles join the first run's stories
    clean = Settings(db=str(tmp_path / "clean" / "ecb.duckdb"), batch_size=100)
    damaged = Settings(db=str(tmp_path / "damaged" / "ecb.duckdb"), batch_size=100)
    Path(clean.db).parent.mkdir()
    ingest_paths([write_jsonl(tmp_path / "first.jsonl", records[::2])], clean)
    with Store.open(clean.db, read_only=True) as store:
        assert CandidateIndex.for_database(clean.db).save(store, force=True)
    shutil.copytree(Path(clean.db).parent, Path(damaged.db).parent)
    damage(current_version(damaged.db) / file)
    assert snapshot_problems(damaged.db)
    second = write_jsonl(tmp_path / "second.jsonl", records[1::2])
    ingest_paths([second], clean)  # with the clean snapshot
    with caplog.at_level(logging.WARNING, logger="pipeline.cluster.candidates"):
        ingest_paths([second], damaged)
    assert story_groups(damaged.db) == story_groups(clean.db)
    assert any(file in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert snapshot_problems(damaged.db) == []  # the run rewrote it
    with Store.open(damaged.db, read_only=True) as store:
        assert CandidateIndex.for_database(damaged.db).refresh(store) == 0  # and it covers every article


def test_a_snapshot_of_an_older_format_is_replaced_by_the_next_run(ecb_store: Settings, tmp_path: Path) -> None:
    with Store.open(ecb_store.db, read_only=True) as store:
        assert CandidateIndex.for_database(ecb_store.db).save(store, force=True)
    old = current_version(ecb_store.db)
    manifest = json.loads((old / "manifest.json").read_text())
    (old / "manifest.json").write_text(json.dumps({**manifest, "format": 4}))
    with Store.open(ecb_store.db, read_only=True) as store:
        assert CandidateIndex.for_database(ecb_store.db).refresh(store) > 0  # not trusted: read from DuckDB
    ingest_paths([write_jsonl(tmp_path / "more.jsonl", ecb_records({5}))], ecb_store)
    assert current_version(ecb_store.db) != old
    assert json.loads((current_version(ecb_store.db) / "manifest.json").read_text())["format"] == 5
