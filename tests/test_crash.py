"""Crash safety: an ingest killed with SIGKILL at random points loses nothing and duplicates nothing.

A multi-batch ingest runs in a subprocess through the CLI and is killed 20 times, at random points
spread over the whole run (after a random number of committed batches, plus a random delay that
lands anywhere in the next batch: reading, extracting, clustering, writing or checkpointing).
After each kill the database must open (DuckDB replays its write-ahead log), hold only whole
batches, and a re-run must complete with a final state equal to an uninterrupted run's.
"""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import pytest
from reliability import article_keys, cli_process, final_state, rows

from bench.corpus import make_records
from pipeline.ingest import ingest_paths
from pipeline.integrity import consistency_problems
from pipeline.settings import Settings
from pipeline.store import Store

KILLS = 20
ARTICLES = 160
BATCH_SIZE = 20
BATCHES = 9  # 160 articles + 4 malformed lines in batches of 20
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
    return path


@pytest.fixture(scope="module")
def uninterrupted(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The state after one uninterrupted run."""
    db = str(tmp_path_factory.mktemp("baseline") / "baseline.duckdb")
    report = ingest_paths([corpus], Settings(db=db, batch_size=BATCH_SIZE))
    assert report.new == ARTICLES and report.rejected == 4
    return final_state(db)


def kill_at_random_point(corpus: Path, db: str, rng: random.Random) -> tuple[int, bool]:
    """Start an ingest, SIGKILL it after a random number of batches plus a random delay; batches seen, and
    whether it was killed (rather than finishing first)."""
    after = rng.randrange(BATCHES)
    process = cli_process("ingest", "--no-prefect", "--db", db, "--batch-size", str(BATCH_SIZE), str(corpus))
    assert process.stderr is not None
    seen = 0
    while seen < after and process.stderr.readline():  # one progress line per committed batch
        seen += 1
    time.sleep(rng.uniform(0.0, 0.5))  # somewhere inside the next batch, its write or its checkpoint
    killed = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.communicate()
    return seen, killed


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    corpus: Path, uninterrupted: dict, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    expected = {(uri, content_hash) for _, _, uri, content_hash, *_ in uninterrupted["articles"]}
    lost = duplicated = killed = wal_left = 0
    mismatched = []
    for trial in range(KILLS):
        db = str(tmp_path / f"trial-{trial}.duckdb")
        batches, was_killed = kill_at_random_point(corpus, db, rng)
        killed += was_killed
        if Path(db).exists():
            wal_left += Path(db + ".wal").exists()
            # Openable right after the kill (the WAL is replayed) and holding only whole batches.
            with Store.open(db, read_only=True) as store:
                assert consistency_problems(store) == [], f"trial {trial}: inconsistent after kill at batch {batches}"
        report = ingest_paths([corpus], Settings(db=db, batch_size=BATCH_SIZE))
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
        f"\ncrash test: {KILLS} runs killed at random points ({killed} still running at the kill, "
        f"{wal_left} left a write-ahead log), lost {lost}, duplicated {duplicated}, "
        f"final state differing from an uninterrupted run: {len(mismatched)}"
    )
    assert killed >= KILLS * 3 // 4, "most kills must land while the ingest is running"
    assert (lost, duplicated, mismatched) == (0, 0, [])
