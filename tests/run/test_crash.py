"""Crash safety: an ingest killed with SIGKILL at random points loses nothing and duplicates nothing.

A multi-batch ingest runs in a process of its own through the CLI and is killed ``STORYLINE_CRASH_KILLS`` times
(default 10; half at a random point, half as soon as it holds the write lock), at random points
spread over the whole run (after a random number of committed batches, plus a random delay that
lands anywhere in the next batch: reading, extracting, clustering, writing or checkpointing).
After each kill the database must open (DuckDB replays its write-ahead log), hold only whole
batches, and a re-run must complete with a final state equal to an uninterrupted run's.

Where a trial's time goes (CPU, measured): the killed CLI ~1.1 s to start (imports, the language model)
plus ~0.25 s a batch; the re-run ~1.8 s (it prepares all 164 lines again; 0.12 s a batch of it is the
pause a writer leaves for readers); the checks ~0.35 s. So the killed ingest is forked from a warmed-up
process (``reliability.CliProcess``: no start-up to pay, and a kill at "0 batches" lands in the run, not
in the imports) and the in-process runs leave no pause for readers (there are none; a pause decides nothing).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from reliability import CliProcess, article_keys, cli_process, final_state, rows

from bench.corpus import make_records
from pipeline.errors import StoreError
from pipeline.run.ingest import ingest_paths
from pipeline.settings import ClusterSettings, Settings
from pipeline.store import Store
from pipeline.store.integrity import consistency_problems

KILLS = int(os.environ.get("STORYLINE_CRASH_KILLS", "10"))  # more for a longer hunt: each kill is a fresh draw
ARTICLES = 160
BATCH_SIZE = 20  # and clustering blocks of 20: a transaction a block
BATCHES = 8  # 160 articles in transactions of 20 (the 4 malformed lines go with them)
SEED = 20261121

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """160 ECB+-derived articles (originals, near-duplicates, rewrites) with a few malformed lines."""
    path = tmp_path_factory.mktemp("crash") / "feed.jsonl"
    lines = [json.dumps(r) for r in make_records(ARTICLES, seed=3)]
    for at in (7, 50, 100, 150):
        lines.insert(at, '{"id": "broken", "text": ')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.with_name("blocks.toml").write_text(f"[cluster]\nblock_size = {BATCH_SIZE}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def uninterrupted(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The state after one uninterrupted run."""
    db = str(tmp_path_factory.mktemp("baseline") / "baseline.duckdb")
    report = ingest_paths([corpus], in_process(db))
    assert report.new == ARTICLES and report.rejected == 4
    return final_state(db)


def in_process(db: str) -> Settings:
    """The settings of the runs this process makes: the killed one's batches, no pause for readers between them."""
    return Settings(
        db=db, batch_size=BATCH_SIZE, cluster=ClusterSettings(block_size=BATCH_SIZE), reader_gap_seconds=0.0
    )


def kill_at_random_point(corpus: Path, db: str, rng: random.Random, in_write: bool) -> tuple[int, str]:
    """Start an ingest and SIGKILL it after a random number of committed batches, then either a random
    delay (anywhere in the next batch) or, with ``in_write``, as soon as it is seen holding the write lock.
    Returns the batches it committed and where the kill landed: 'anywhere', 'in_write' or 'after_exit'."""
    after = rng.randrange(BATCHES)
    config = str(corpus.with_name("blocks.toml"))
    process = cli_process(
        "ingest", "--no-prefect", "--db", db, "--config", config, "--batch-size", str(BATCH_SIZE), str(corpus)
    )
    assert process.stderr is not None
    seen = 0
    while seen < after and process.stderr.readline():  # one progress line per committed batch
        seen += 1
    where = "in_write" if in_write and wait_for_write_lock(process, db) else "anywhere"
    try:  # the random delay, unless the ingest ends first
        process.wait(timeout=rng.uniform(0.0, 0.05 if where == "in_write" else 0.5))
        where = "after_exit"
    except subprocess.TimeoutExpired:
        pass
    process.send_signal(signal.SIGKILL)
    process.communicate()
    return seen, where


def wait_for_write_lock(process: CliProcess, db: str) -> bool:
    """Poll until the ingest holds the database's write lock (a read-only open is refused); False if it exits."""
    while process.poll() is None:
        try:
            duckdb.connect(db, read_only=True).close()
        except duckdb.Error as exc:
            if "lock" in str(exc).lower():
                return True
        time.sleep(0.005)
    return False


def problems_after_kill(db: str) -> list[str]:
    """Integrity problems of a database an ingest was killed writing (none when it died before its first commit)."""
    try:
        with Store.open(db, read_only=True) as store:
            return consistency_problems(store)
    except StoreError as exc:
        assert "holds no Storyline data yet" in str(exc)  # killed while creating the schema: nothing committed
        return []


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    corpus: Path, uninterrupted: dict, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    expected = {(uri, content_hash) for _, _, uri, content_hash, *_ in uninterrupted["articles"]}
    lost = duplicated = wal_left = 0
    landed: Counter[str] = Counter()
    mismatched = []
    for trial in range(KILLS):
        db = str(tmp_path / f"trial-{trial}.duckdb")
        batches, where = kill_at_random_point(corpus, db, rng, in_write=trial % 2 == 1)
        landed[where] += 1
        if Path(db).exists():
            wal_left += Path(db + ".wal").exists()
            # Openable right after the kill (the WAL is replayed) and holding only whole batches.
            assert problems_after_kill(db) == [], f"trial {trial}: inconsistent after kill at batch {batches}"
        report = ingest_paths([corpus], in_process(db))
        counts = article_keys(db)
        lost += len(expected - counts.keys())
        duplicated += sum(n - 1 for n in counts.values()) + len(counts.keys() - expected)
        if final_state(db) != uninterrupted:
            mismatched.append(trial)
        statuses = dict(rows(db, "SELECT status, count(*) FROM runs GROUP BY ALL"))
        assert statuses.get("running", 0) == 0, f"trial {trial}: a killed run was left 'running'"
        assert report.new + report.unchanged == ARTICLES
        with Store.open(db, read_only=True) as store:
            assert consistency_problems(store) == []
    print(
        f"\ncrash test: {KILLS} runs killed ({landed['anywhere']} at a random point, {landed['in_write']} while "
        f"holding the write lock, {landed['after_exit']} had already finished; {wal_left} left a write-ahead log), "
        f"lost {lost}, duplicated {duplicated}, final state differing from an uninterrupted run: {len(mismatched)}"
    )
    assert landed["after_exit"] <= KILLS // 4, "most kills must land while the ingest is running"
    assert landed["in_write"] >= KILLS // 4, "kills must also land inside writes"
    assert (lost, duplicated, mismatched) == (0, 0, [])
