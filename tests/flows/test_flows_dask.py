"""Scale-out: the ingest flow preparing batches on Dask stores exactly what the local runner stores."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from uuid import UUID

import duckdb
import pytest
from conftest import ecb_records, write_jsonl

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

QUERIES = {
    "articles": "SELECT article_id, external_id, story_id, variant_group, relation, assigned_as, is_canonical "
    "FROM articles ORDER BY article_id",
    "links": "SELECT story_id, related_story_id, relation, similarity, article_id FROM story_links ORDER BY ALL",
    "merges": "SELECT merged_story_id, into_story_id, article_id, similarity, seq FROM story_merges ORDER BY ALL",
    "runs": "SELECT status, read, new, rejected FROM runs",
}


def _stored(db: str) -> dict[str, list[tuple]]:
    with duckdb.connect(db, read_only=True) as con:
        return {name: con.execute(query).fetchall() for name, query in QUERIES.items()}


def _task_names(flow_run_id: UUID) -> dict[str, int]:
    """How many task runs of each task the flow run made (read back from the Prefect server)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return dict(Counter(run.name.rsplit("-", 1)[0] for run in runs))


def test_dask_task_runner_gives_the_same_stories_as_the_local_runner(tmp_path: Path, prefect_server: None) -> None:
    from distributed import LocalCluster
    from prefect_dask import DaskTaskRunner

    from flows.ingest import ingest_flow

    records = [{"id": r["id"], "text": r["text"]} for r in ecb_records({5, 6, 7})]
    data = write_jsonl(tmp_path / "ecb.jsonl", [*records, *records[:5]])  # exact re-runs included
    (tmp_path / "bad.jsonl").write_text("{not json\n", encoding="utf-8")
    paths = [str(data), str(tmp_path / "bad.jsonl")]
    local_db, dask_db = str(tmp_path / "local.duckdb"), str(tmp_path / "dask.duckdb")

    config = tmp_path / "blocks.toml"  # clustered 20 documents at a time: a store task per 20 documents
    config.write_text("[cluster]\nblock_size = 20\n", encoding="utf-8")
    local = ingest_flow(paths=paths, db=local_db, config=str(config), batch_size=20)
    # Threads in this process: the scheduler and worker are real Dask, and the test needs no installed package.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        on_dask = ingest_flow.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
        state = on_dask(paths=paths, db=dask_db, config=str(config), batch_size=20, return_state=True)
    remote = state.result()

    assert local.counts() == remote.counts() and local.new > 60 and local.rejected == 1
    batches, transactions = -(-local.read // 20), -(-(local.read - local.rejected) // 20)
    assert _task_names(state.state_details.flow_run_id) == {"prepare-batch": batches, "store-batch": transactions}
    assert _stored(local_db) == _stored(dask_db)
    with duckdb.connect(dask_db, read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT story_id) > 3 FROM articles").fetchall() == [(True,)]
