"""``storyline search --lake`` (pipeline/store/lake/search.py): the database's results, from a replica of the lake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ecb_records, write_jsonl

from bench.corpus import make_records
from pipeline.cli import main
from pipeline.run.ingest import ingest_paths
from pipeline.settings import ExtractSettings, LakeSettings, Settings
from pipeline.store import Store
from pipeline.store.lake.publish import publish
from pipeline.store.lake.search import open_search_replica
from pipeline.store.lake.upkeep import compact
from pipeline.store.search import ensure_search_index, search_stories

QUERIES = ("earthquake", "police shooting suspect", "rehab", "oscar host", "zephyrquake", "'; DROP TABLE articles; --")


def ingest_settings(db: str) -> Settings:
    """Batches of 50, prepared in this process, without pauses for readers: these tests are about the lake."""
    return Settings(db=db, batch_size=50, reader_gap_seconds=0.0, extract=ExtractSettings(workers=1))


def results(store: Store, **filters: object) -> dict[str, list[dict]]:
    return {q: [h.as_record() for h in search_stories(store, q, **filters)] for q in QUERIES}  # type: ignore[arg-type]


def db_results(db: str, **filters: object) -> dict[str, list[dict]]:
    assert ensure_search_index(db) is None
    with Store.open(db, read_only=True) as store:
        return results(store, **filters)


def lake_results(lake: LakeSettings, **filters: object):  # type: ignore[no-untyped-def]
    store, state = open_search_replica(lake)
    with store:
        return results(store, **filters), state


@pytest.mark.slow
def test_search_on_the_lake_follows_its_publications_and_matches_the_database(tmp_path: Path) -> None:
    """Three publications: a first ingest; a second that merges stories; a third that revises an article.
    After each, a search on the lake answers as a search on the database, and the replica took only the
    rows changed since its snapshot."""
    db = str(tmp_path / "store.duckdb")
    lake = LakeSettings(url=f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}", search_cache=str(tmp_path / "replica"))
    records = make_records(300, seed=5)
    first = write_jsonl(tmp_path / "first.jsonl", records[:200])
    ingest_paths([first], ingest_settings(db))
    publish(db, lake)
    found, state = lake_results(lake)
    assert state.whole and found == db_results(db)
    assert sum(map(len, found.values())) > 0 and found["zephyrquake"] == []

    second = write_jsonl(tmp_path / "second.jsonl", records[200:] + ecb_records({25}))
    ingest_paths([second], ingest_settings(db))
    publish(db, lake)
    found, state = lake_results(lake)
    with Store.open(db, read_only=True) as store:
        rows = store._con.execute("SELECT (SELECT count(*) FROM articles) + (SELECT count(*) FROM stories)").fetchall()
    assert not state.whole and 0 < state.copied < rows[0][0]  # the changed rows, not the lake
    assert found == db_results(db)
    assert lake_results(lake, source="Outlet 1")[0] == db_results(db, source="Outlet 1")

    revised = dict(records[0], text=records[0]["text"] + "\n\nCorrection: it was the zephyrquake.")
    write_jsonl(first, [revised, *records[1:200]])
    assert ingest_paths([first], ingest_settings(db)).revised == 1
    publish(db, lake)
    found, state = lake_results(lake)
    assert not state.whole and found == db_results(db)
    assert len(found["zephyrquake"]) == 1  # the revised text, indexed
    _, again = lake_results(lake)
    assert again.copied == 0  # the same snapshot: nothing to copy


def test_search_on_the_lake_copies_it_whole_once_its_snapshot_expired(tmp_path: Path) -> None:
    db = str(tmp_path / "store.duckdb")
    lake = LakeSettings(url=f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}", search_cache=str(tmp_path / "replica"))
    records = make_records(200, seed=3)
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", records[:100])], ingest_settings(db))
    publish(db, lake)
    lake_results(lake)
    ingest_paths([write_jsonl(tmp_path / "b.jsonl", records[100:])], ingest_settings(db))
    publish(db, lake)
    compact(db, LakeSettings(url=lake.url, expire_after_days=0))  # expires the snapshot the replica holds
    found, state = lake_results(lake)
    assert state.whole and found == db_results(db)


def test_search_lake_command_never_opens_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    db = str(tmp_path / "store.duckdb")
    url = f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}"
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", make_records(150, seed=8))], ingest_settings(db))
    publish(db, LakeSettings(url=url))
    assert main(["search", "--db", db, "--format", "jsonl", "police"]) == 0
    expected = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert expected
    with Store.open(db):  # the writer holds the file
        assert main(["search", "--db", db, "--lake-url", url, "--format", "jsonl", "police"]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == expected
    assert list((tmp_path / "cache" / "storyline").glob("lake-search-*.duckdb"))
