"""The Prefect ingest flow, on a real (temporary, local) Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[2]


def test_flow_ingests_seeds_like_the_library(seeds_dir: Path, tmp_path: Path, prefect_server: None) -> None:
    from flows.ingest import ingest_flow
    from pipeline.run.ingest import ingest_paths
    from pipeline.settings import Settings

    flow_db, lib_db = str(tmp_path / "flow.duckdb"), str(tmp_path / "lib.duckdb")
    report = ingest_flow(paths=[str(seeds_dir)], db=flow_db, batch_size=2)
    ingest_paths([seeds_dir], Settings(db=lib_db, batch_size=2))

    assert report.new == 5 and report.stories_created == 1
    query = "SELECT article_id, story_id, variant_group, relation, is_canonical FROM articles ORDER BY article_id"
    with duckdb.connect(flow_db, read_only=True) as a, duckdb.connect(lib_db, read_only=True) as b:
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
        assert a.execute("SELECT status, read, new FROM runs").fetchall() == [("completed", 5, 5)]


def test_flow_fails_when_nothing_can_be_ingested(tmp_path: Path, prefect_server: None) -> None:
    from flows.ingest import ingest_flow
    from pipeline.errors import NothingIngestedError

    with pytest.raises(NothingIngestedError):
        ingest_flow(paths=[str(tmp_path / "missing")], db=str(tmp_path / "db.duckdb"))


@pytest.mark.slow
def test_console_script_runs_the_flow(seeds_dir: Path, tmp_path: Path, prefect_api_url: str) -> None:
    """The real `storyline ingest` command runs its flow on a Prefect server (the session's: starting one of
    its own is tests/flows/test_localserver.py's and tests/flows/test_serve.py's part)."""
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    script = Path(sys.executable).with_name("storyline")
    db = tmp_path / "cli.duckdb"
    done = subprocess.run(
        [str(script), "ingest", "--db", str(db), str(seeds_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "stories created 1" in done.stdout
    assert "batch 1" in done.stderr  # progress is logged per batch
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT story_id) FROM articles").fetchall() == [(5, 1)]


@pytest.mark.parametrize("inputs", [["SEEDS"], ["--feed", "http://127.0.0.1:9/feed.rss", "--allow-private"]])
def test_a_bad_db_in_prefect_mode_is_one_line(seeds_dir: Path, prefect_api_url: str, inputs: list[str]) -> None:
    """Like --no-prefect: one line and exit 1, not a failed flow run's two tracebacks."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_API_URL": prefect_api_url}
    argv = [str(seeds_dir) if arg == "SEEDS" else arg for arg in inputs]
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "ingest", "--db", "/nonexistent/dir/x.duckdb", *argv],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    assert done.stderr.splitlines() == [
        'storyline: cannot open /nonexistent/dir/x.duckdb: IO Error: Cannot open file "/nonexistent/dir/x.duckdb": '
        "No such file or directory"
    ], done.stderr[-3000:]
    assert done.stdout == ""
