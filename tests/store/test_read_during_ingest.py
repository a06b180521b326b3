"""Reading while an ingest writes: readers wait politely for the gaps between batches and never see half a batch.

The figures (share of reads within a 1 s budget) come from bench/read_during_ingest.py; here the
budget is generous and nothing is timed: every read must be consistent and almost all must succeed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import SEEDS, copy_database
from reliability import ROOT, cli_process, rows

from bench.corpus import write_corpus
from bench.read_during_ingest import read_while
from pipeline.cli import main
from pipeline.run.ingest import ingest_paths, open_for_run
from pipeline.settings import Settings
from pipeline.store import Store

HOLD_LOCK = (
    "import sys, time\nfrom pipeline.store import Store\n"
    "with Store.open(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(float(sys.argv[2]))\n"
)


def hold_write_lock(db: str, seconds: float) -> subprocess.Popen:
    """A process that holds the write lock for ``seconds`` (returns once it has it)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, db, str(seconds)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    return process


@pytest.fixture(scope="module")
def seeds_ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds ingested into a database (in a folder of its own)."""
    db = tmp_path_factory.mktemp("seeded") / "test.duckdb"
    ingest_paths([SEEDS], Settings(db=str(db)))
    return db


@pytest.fixture
def seeded_db(seeds_ingested: Path, db_path: str) -> str:
    """A private copy of that database, for a test to read or change."""
    return str(copy_database(seeds_ingested, Path(db_path)))


@pytest.mark.slow
def test_reads_during_an_ingest_are_consistent_and_succeed(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "feed.jsonl", 600)
    db = str(tmp_path / "live.duckdb")
    config = tmp_path / "blocks.toml"  # transactions of 50: twelve gaps for the readers
    config.write_text("[cluster]\nblock_size = 50\n", encoding="utf-8")
    process = cli_process(
        "ingest", "--no-prefect", "--db", db, "--config", str(config), "--batch-size", "50", str(corpus)
    )
    stats = read_while(process, db, interval=0.1, budget=10.0)
    assert process.wait() == 0, process.communicate()[1]
    print(f"\n{stats.summary()}")
    assert stats.violations == []
    assert stats.attempts >= 5 and stats.successes >= 0.9 * stats.attempts
    assert rows(db, "SELECT count(*) FROM articles")[0][0] == 600


def test_read_command_waits_for_a_batch_to_finish(seeded_db: str, capsys: pytest.CaptureFixture) -> None:
    holder = hold_write_lock(seeded_db, 1.0)
    try:
        assert main(["stories", "--db", seeded_db]) == 0
    finally:
        holder.wait()
    assert "1 story" in capsys.readouterr().out


def test_read_command_gives_up_with_a_clear_message(
    seeded_db: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = tmp_path / "storyline.toml"
    config.write_text("read_wait_seconds = 0.3\n", encoding="utf-8")
    holder = hold_write_lock(seeded_db, 60)
    try:
        assert main(["show", "--db", seeded_db, "--config", str(config)]) == 1
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert "is being written by a Storyline ingest" in err and "try again" in err


def test_check_command_reports_a_consistent_database(seeded_db: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["check", "--db", seeded_db]) == 0
    out = capsys.readouterr().out
    assert "5 articles in 1 stories" in out and "consistent" in out


def test_a_killed_run_is_marked_interrupted_by_the_next(seeded_db: str) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with Store.open(seeded_db) as store:
        killed, live = store.begin_run(["a"]), store.begin_run(["b"])
        store._con.execute("UPDATE runs SET pid = ? WHERE run_id = ?", [int(dead.stdout), killed])
    open_for_run(Settings(db=seeded_db), ["c"])  # this process is alive: `live` stays running
    status = dict(rows(seeded_db, "SELECT run_id, status FROM runs"))
    assert status[killed] == "interrupted" and status[live] == "running"


def test_snapshot_is_refreshed_after_a_run_and_readable_while_the_live_file_is_locked(
    seeds_dir: Path, tmp_path: Path
) -> None:
    live, snapshot = str(tmp_path / "live.duckdb"), tmp_path / "snap" / "storyline.duckdb"
    ingest_paths([seeds_dir], Settings(db=live, snapshot=str(snapshot)))
    holder = hold_write_lock(live, 60)
    try:  # the live file is locked, the snapshot is not
        assert rows(str(snapshot), "SELECT count(*) FROM articles")[0][0] == 5
        assert rows(str(snapshot), "SELECT status FROM runs") == [("completed",)]
    finally:
        holder.kill()
        holder.wait()
    assert [p.name for p in snapshot.parent.iterdir()] == ["storyline.duckdb"], "no partial copies left"


def test_reading_a_file_no_ingest_has_committed_to_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = str(tmp_path / "killed-at-first-batch.duckdb")
    duckdb.connect(db).close()  # what an ingest killed before its first commit leaves
    assert main(["stories", "--db", db]) == 1
    assert "holds no Storyline data yet" in capsys.readouterr().err
