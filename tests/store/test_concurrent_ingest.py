"""Two ingests at once on one database: they take turns batch by batch, and nothing is corrupt.

Each writer holds the DuckDB lock for one batch and waits (polling, up to 30 s) while the other
holds it, so both usually finish; if one cannot get the lock in time it stops with a clear
StoreBusyError message, having stored whole batches only. Either way the database must pass the
integrity checks and hold the same articles as ingesting the inputs one after the other.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reliability import article_keys, cli_process, rows

from bench.corpus import make_records
from pipeline.run.ingest import ingest_paths
from pipeline.settings import ClusterSettings, Settings
from pipeline.store import Store
from pipeline.store.integrity import consistency_problems

pytestmark = pytest.mark.slow

BUSY_MESSAGE = "is locked by another process"


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[list[str], list[str]]:
    """Two overlapping inputs: both ingest shared.jsonl, each has a file of its own."""
    records = make_records(360, seed=5)
    first = write(tmp_path / "first.jsonl", records[:120])
    shared = write(tmp_path / "shared.jsonl", records[120:240])
    second = write(tmp_path / "second.jsonl", records[240:])
    return [str(first), str(shared)], [str(shared), str(second)]


def test_two_ingests_at_once_take_turns_and_store_everything_once(
    inputs: tuple[list[str], list[str]], tmp_path: Path
) -> None:
    db = str(tmp_path / "both.duckdb")
    first, second = inputs
    config = tmp_path / "blocks.toml"  # transactions of 20: the two ingests take turns many times
    config.write_text("[cluster]\nblock_size = 20\n", encoding="utf-8")
    processes = [
        cli_process("ingest", "--no-prefect", "--db", db, "--config", str(config), "--batch-size", "20", *paths)
        for paths in (first, second)
    ]
    outcomes = [(p.wait(timeout=600), p.communicate()[1]) for p in processes]
    for code, err in outcomes:
        assert code == 0 or (code == 1 and BUSY_MESSAGE in err), err
    finished = sum(code == 0 for code, _ in outcomes)
    assert finished >= 1

    with Store.open(db, read_only=True) as store:
        assert consistency_problems(store) == []
    statuses = [s for (s,) in rows(db, "SELECT status FROM runs")]
    assert statuses.count("completed") == finished and "running" not in statuses

    sequential = str(tmp_path / "sequential.duckdb")
    for paths in (first, second):  # this process's runs: alone on their database, no pauses for readers
        ingest_paths(
            paths,
            Settings(db=sequential, batch_size=20, cluster=ClusterSettings(block_size=20), reader_gap_seconds=0.0),
        )
    both = article_keys(db)
    assert max(both.values()) == 1, "no article stored twice"
    if finished == 2:
        assert set(both) == set(article_keys(sequential))
    with Store.open(db) as store:  # the file still takes a checkpoint
        store._con.execute("CHECKPOINT")
    again = ingest_paths(
        sorted({*first, *second}),
        Settings(db=db, batch_size=20, cluster=ClusterSettings(block_size=20), reader_gap_seconds=0.0),
    )
    assert again.new == (0 if finished == 2 else again.new) and again.unchanged + again.new == 360
    assert set(article_keys(db)) == set(article_keys(sequential))
