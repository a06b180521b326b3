"""Run reporting on a real (temporary, local) Prefect server: the run-report artifact and story events.

Both are read back through the Prefect API client; the flow path also delivers alerts to a real
webhook receiver on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import SEEDS, write_jsonl
from webhook_receiver import webhook_receiver

from pipeline.run.counts import by_input, report_rows
from pipeline.run.ingest import ingest_paths
from pipeline.settings import Settings

SEED_FILES = sorted(SEEDS.glob("*.txt"))
SEED_TEXTS = [p.read_text(encoding="utf-8") for p in SEED_FILES]


def test_report_rows_per_input_folder_and_source(tmp_path: Path) -> None:
    """Library path, no Prefect: per-source counts fold file rows under the input folder."""
    folder = tmp_path / "dumps"
    folder.mkdir()
    for seed in SEED_FILES[:2]:
        shutil.copy(seed, folder / seed.name)
    wire = write_jsonl(
        tmp_path / "wire.jsonl",
        [
            {"id": "b", "text": SEED_TEXTS[2], "source": "B"},
            {"id": "b2", "text": SEED_TEXTS[2], "source": "B"},  # a second, exact copy from the same outlet
            {"id": "d", "text": "Too short.", "source": "D"},
        ],
    )
    report = ingest_paths([str(folder), str(wire)], Settings(db=str(tmp_path / "db.duckdb")))
    rows = {r["source"]: r for r in report_rows(by_input(report.by_source, [str(folder), str(wire)]))}
    assert set(rows) == {str(folder), "B", "D", "total"}
    assert rows[str(folder)] | {"source": ""} == {
        "source": "", "fetched": 2, "new": 2, "unchanged": 0, "revised": 0, "duplicates": 0, "rewrites": 1,
        "rejected": 0, "stories created": 1, "stories grown": 0,
    }  # fmt: skip
    assert (rows["B"]["fetched"], rows["B"]["new"], rows["B"]["duplicates"], rows["B"]["stories grown"]) == (2, 2, 1, 1)
    assert (rows["D"]["fetched"], rows["D"]["rejected"], rows["D"]["new"]) == (1, 1, 0)
    assert rows["total"]["fetched"] == 5 and rows["total"]["stories created"] == 1
    assert rows["total"]["stories grown"] == 0  # grown by another source in the run that created it


@pytest.mark.prefect
def test_flow_publishes_run_report_events_and_delivers_alerts(tmp_path: Path, prefect_server: None) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.ingest import ingest_flow

    db = str(tmp_path / "flow.duckdb")
    first = write_jsonl(
        tmp_path / "first.jsonl",
        [
            {"id": "a", "text": SEED_TEXTS[0], "source": "A", "published_at": "2021-08-19"},
            {"id": "b", "text": SEED_TEXTS[2], "source": "B", "published_at": "2021-08-19"},
            {"id": "c", "text": SEED_TEXTS[4], "source": "C", "published_at": "2021-08-20"},
            {"id": "d", "text": "Too short.", "source": "D"},
        ],
    )
    second = write_jsonl(tmp_path / "second.jsonl", [{"id": "e", "text": SEED_TEXTS[1], "source": "E"}])
    with webhook_receiver() as receiver:
        config = tmp_path / "storyline.toml"
        config.write_text(
            f'[alerts]\nnotify = ["{receiver.url()}"]\n'
            '[[alerts.rules]]\nname = "spreading-3"\nkind = "spreading"\nmin_sources = 3\nwithin_hours = 48\n',
            encoding="utf-8",
        )
        state = ingest_flow(paths=[str(first)], db=db, config=str(config), return_state=True)
        report = state.result()
        later = ingest_flow(paths=[str(second)], db=db, config=str(config), return_state=True)
        assert len(receiver.received) == 1  # the flow path delivers too, once
        assert "sources>=3 within 48h" in receiver.received[0]["message"]
    with duckdb.connect(db, read_only=True) as con:
        [(story,)] = con.execute("SELECT story_id FROM stories").fetchall()
    assert report.created_story_ids == [story] and report.alerts_delivered == 1

    with get_client(sync_client=True) as client:
        rows = {}
        for run_state in (state, later):
            [artifact] = client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[run_state.state_details.flow_run_id])
                )
            )
            assert artifact.key == "storyline-run-report" and artifact.type == "table"
            table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
            rows[run_state.state_details.flow_run_id] = {r["source"]: r for r in table}
        first_rows, second_rows = rows[state.state_details.flow_run_id], rows[later.state_details.flow_run_id]
        assert set(first_rows) == {"A", "B", "C", "D", "total"}
        assert (first_rows["A"]["new"], first_rows["A"]["stories created"]) == (1, 1)
        assert (first_rows["B"]["new"], first_rows["B"]["stories grown"], first_rows["B"]["rewrites"]) == (1, 1, 1)
        assert (first_rows["D"]["fetched"], first_rows["D"]["rejected"]) == (1, 1)
        assert first_rows["total"] | {"source": ""} == {
            "source": "", "fetched": 4, "new": 3, "unchanged": 0, "revised": 0, "duplicates": 0, "rewrites": 2,
            "rejected": 1, "stories created": 1, "stories grown": 0,
        }  # fmt: skip
        assert (second_rows["E"]["new"], second_rows["E"]["stories grown"]) == (1, 1)

        events = _story_events(client, story, expected=2)
    created = [e for e in events if e.event == "storyline.story.created"]
    grown = [e for e in events if e.event == "storyline.story.grown"]
    assert len(created) == 1 and len(grown) == 1
    assert created[0].payload["sources"] == ["A", "B", "C"] and created[0].payload["source_count"] == 3
    assert grown[0].payload["sources"] == ["E"] and grown[0].payload["article_count"] == 4
    related = {r.id for r in grown[0].related}
    # Prefect relates the event to the flow run that emitted it: automations can link back to the run.
    assert {"storyline.source.E", f"prefect.flow-run.{later.state_details.flow_run_id}"} <= related


def _story_events(client: Any, story: str, expected: int) -> list[Any]:
    """The story's events as the server stored them (it persists emitted events asynchronously)."""
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    query = EventFilter(
        event=EventNameFilter(prefix=["storyline.story."]),
        resource=EventResourceFilter(id=[f"storyline.story.{story}"]),
    )
    deadline = time.monotonic() + 60
    while True:
        events = client.read_events(filter=query, limit=50).events  # the server caps pages at 50
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        time.sleep(0.1)  # the server stores events in the background: nothing to wait on but its API
