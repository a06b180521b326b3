"""Run reporting for Prefect: a run-report table artifact and one event per created or grown story.

Reusable by any flow that ingests: pass a mapping of source name -> ``IngestReport`` (per source
counts and the story ids it created/grew). Prefect automations can react to the events (an event
trigger expecting ``storyline.story.created`` or ``storyline.story.grown``; see docs/alerts.md).
Thresholds belong to Storyline's own alert rules. Everything computed here comes from ``pipeline.run.counts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from uuid import UUID

from prefect.artifacts import create_table_artifact
from prefect.events import Event, emit_event

from pipeline.models import IngestReport
from pipeline.run.counts import report_rows, story_events
from pipeline.store import Store

ARTIFACT_KEY = "storyline-run-report"


@dataclass(frozen=True)
class PublishedReport:
    """What was published: the artifact's id and the events sent."""

    artifact_id: UUID
    events: list[Event]


def publish_run_report(reports: Mapping[str, IngestReport], db: str, run_id: str) -> PublishedReport:
    """Publish the per-source run report as a table artifact and emit one event per created/grown story."""
    artifact_id = create_table_artifact(
        table=report_rows(reports),
        key=ARTIFACT_KEY,
        description=f"Storyline run {run_id}: per-source counts into {db}",
    )
    with Store.open(db, read_only=True) as store:
        stories = story_events(store, reports)
    events = []
    for story in stories:
        event = emit_event(
            event=f"storyline.story.{story.action}",
            resource={
                "prefect.resource.id": f"storyline.story.{story.story_id}",
                "prefect.resource.name": story.title or story.story_id,
            },
            related=[
                {"prefect.resource.id": f"storyline.source.{name}", "prefect.resource.role": "source"}
                for name in story.sources
            ],
            payload={**asdict(story), "run_id": run_id, "sources": list(story.sources)},
        )
        if event is not None:
            events.append(event)
    return PublishedReport(artifact_id, events)
