"""The DuckDB store: transactions, locking, schema guard."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline.errors import StoreBusyError, StoreError
from pipeline.index import CandidateIndex
from pipeline.ingest import ingest_paths, prepare_batch, store_batch
from pipeline.settings import Settings
from pipeline.sources import read_paths
from pipeline.store import Store


def count(db: str, table: str) -> int:
    with duckdb.connect(db, read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_a_failed_batch_leaves_nothing_behind(seeds_dir: Path, settings: Settings, monkeypatch) -> None:
    prepared = prepare_batch(list(read_paths([seeds_dir])), settings)
    with Store.open(settings.db) as store:
        run_id = store.begin_run(["seeds"])

        def crash(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("simulated crash after the articles were inserted")

        monkeypatch.setattr(store, "save_stories", crash)
        with pytest.raises(RuntimeError):
            store_batch(store, CandidateIndex(), run_id, prepared, settings)
    for table in ("articles", "stories", "story_postings", "lsh_bands", "article_vectors", "article_signatures"):
        assert count(settings.db, table) == 0, table

    monkeypatch.undo()
    ingest_paths([seeds_dir], settings)
    assert count(settings.db, "articles") == 5 and count(settings.db, "stories") == 1


def test_a_busy_database_is_reported_not_corrupted(settings: Settings) -> None:
    Store.open(settings.db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({settings.db!r}); print('ok', flush=True); "
         "time.sleep(30)"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(StoreBusyError, match="locked by another process"):
            Store.open(settings.db, wait_seconds=0.5)
    finally:
        holder.kill()
        holder.wait()
    Store.open(settings.db).close()


def test_a_readers_session_holding_the_lock_is_named_with_what_to_do(settings: Settings) -> None:
    """An analyst's read-only session blocks ingest: the error names its PID and says how to free it."""
    Store.open(settings.db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({settings.db!r}, read_only=True); "
         "print('ok', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(StoreBusyError) as raised:
            Store.open(settings.db, wait_seconds=0.3)
    finally:
        holder.kill()
        holder.wait()
    message = str(raised.value)
    assert f"(PID {holder.pid})" in message and "python" in message
    assert "close it" in message and "snapshot" in message and "storyline sql" in message


def test_newer_schema_is_refused(settings: Settings) -> None:
    with Store.open(settings.db) as store:
        store.con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema v999"):
        Store.open(settings.db)


def test_read_only_open_of_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no Storyline database"):
        Store.open(tmp_path / "none.duckdb", read_only=True)


def test_a_batchs_vectors_in_memory_are_what_the_store_gives_back(seeds_dir: Path, settings: Settings) -> None:
    """Saving stories reads the batch's own vectors from memory: they must equal the stored FLOAT[] ones."""
    from pipeline.store import stored_vector

    ingest_paths([seeds_dir], settings)
    prepared = prepare_batch(list(read_paths([seeds_dir])), settings)
    with Store.open(settings.db, read_only=True) as store:
        seqs = dict(store.con.execute("SELECT source_uri, seq FROM articles").fetchall())
        back = store.vectors(list(seqs.values()))
    assert len(back) == len(prepared.items) == 5
    for article, fp in prepared.items:
        assert stored_vector(fp.terms) == back[seqs[article.source_uri]]
        assert list(stored_vector(fp.terms)) == list(fp.terms)  # term order kept too
