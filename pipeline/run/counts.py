"""Per-source run reports: a batch's counts split by where each document came from.

A document's source is its ``source`` field (JSONL records, feeds), else its file. ``by_input``
then folds file-keyed rows under the input path (file or folder) they were read from, so a run over
``seeds/`` reports one row for ``seeds/``, not one per file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.cluster.batch import BatchAssignment
from pipeline.models import Article, Fingerprint, IngestReport, Rejection
from pipeline.store import Store
from pipeline.store.reports import story_summaries

__all__ = ["StoryEvent", "by_input", "report_rows", "source_key", "split_by_source", "story_events"]


@dataclass(frozen=True)
class StoryEvent:
    """A story a run created or grew, as announced to the orchestrator (``storyline.story.created|grown``)."""

    action: str  # created | grown
    story_id: str
    title: str | None
    article_count: int
    source_count: int
    sources: tuple[str, ...]  # the run's sources that contributed to it


def source_key(source: str | None, source_uri: str) -> str:
    """The key a document is reported under: its source, else its file (URI without the ``#line=`` part)."""
    return source or source_uri.split("#", 1)[0]


def split_by_source(
    items: Sequence[tuple[Article, Fingerprint]],
    rejections: Sequence[Rejection],
    rejected_sources: Sequence[str | None],
    decided: BatchAssignment,
) -> dict[str, IngestReport]:
    """One report per source for a batch: read, new, unchanged, revised, duplicates, rejected, stories created/grown."""
    out: dict[str, IngestReport] = {}
    keys = {}
    for article, _ in items:
        keys[article.source_uri] = key = source_key(article.source, article.source_uri)
        out.setdefault(key, IngestReport()).read += 1
    for rejection, source in zip(rejections, rejected_sources, strict=True):
        part = out.setdefault(source_key(source, rejection.source_uri), IngestReport())
        part.read += 1
        part.rejected += 1
        part.rejections.append(rejection)
    redirects = {m.merged: m.into for m in decided.merges}
    for row, assignment in zip((a.row for a in decided.articles), decided.assignments, strict=True):
        part = out[keys[row.source_uri]]
        part.new += 1
        if assignment.relation in ("exact", "near_duplicate", "rewrite"):
            setattr(part, assignment.relation, getattr(part, assignment.relation) + 1)
        story = _resolve(assignment.story_id, redirects)
        if assignment.relation == "new_story" and story in decided.created:
            part.created_story_ids.append(story)
        elif story in decided.created or story in decided.grown:
            part.grown_story_ids.append(story)
    for uri in decided.revised_uris:
        out[keys[uri]].revised += 1
    for part in out.values():
        part.unchanged = part.read - part.rejected - part.new - part.revised
        part.created_story_ids = sorted(set(part.created_story_ids))
        part.grown_story_ids = sorted(set(part.grown_story_ids) - set(part.created_story_ids))
        part.stories_created, part.stories_grown = len(part.created_story_ids), len(part.grown_story_ids)
    return out


def by_input(by_source: Mapping[str, IngestReport], inputs: Sequence[str]) -> dict[str, IngestReport]:
    """Fold file-keyed reports under the input path that holds the file; named sources stay as they are."""
    roots = [(p, _uri(p)) for p in inputs]
    out: dict[str, IngestReport] = {}
    for key, part in sorted(by_source.items()):
        name = next((p for p, uri in roots if key == uri or key.startswith(uri.rstrip("/") + "/")), key)
        out.setdefault(name, IngestReport()).add(part)
        # ``add`` keeps ids in first-seen order; counts of stories follow the ids when rows are folded.
        folded = out[name]
        folded.stories_created, folded.stories_grown = len(folded.created_story_ids), len(folded.grown_story_ids)
    return out


def report_rows(reports: Mapping[str, IngestReport]) -> list[dict[str, Any]]:
    """The run report as table rows: one per source, then a total (the run-report artifact)."""
    total = IngestReport()
    rows = []
    for name, part in sorted(reports.items()):
        total.add(part)
        rows.append(_row(name, part))
    total.stories_created, total.stories_grown = len(total.created_story_ids), len(total.grown_story_ids)
    return [*rows, _row("total", total)]


def _row(name: str, r: IngestReport) -> dict[str, Any]:
    return {
        "source": name,
        "fetched": r.read,
        "new": r.new,
        "unchanged": r.unchanged,
        "revised": r.revised,
        "duplicates": r.exact + r.near_duplicate,
        "rewrites": r.rewrite,
        "rejected": r.rejected,
        "stories created": r.stories_created,
        "stories grown": r.stories_grown,
    }


def story_events(store: Store, reports: Mapping[str, IngestReport]) -> list[StoryEvent]:
    """One event per story the run created or grew, with its current size and the sources that touched it."""
    created: dict[str, set[str]] = {}
    grown: dict[str, set[str]] = {}
    for name, part in reports.items():
        for story_id in part.created_story_ids:
            created.setdefault(story_id, set()).add(name)
        for story_id in part.grown_story_ids:
            grown.setdefault(story_id, set()).add(name)
    for story_id in created:  # founded by one source, joined by another in the same run: still "created"
        created[story_id] |= grown.pop(story_id, set())
    wanted = {**{s: ("created", n) for s, n in created.items()}, **{s: ("grown", n) for s, n in grown.items()}}
    if not wanted:
        return []
    resolved = {s: store.resolve_story(s) for s in wanted}
    found = story_summaries(store, resolved.values())
    events = []
    for story_id, (action, names) in sorted(wanted.items()):
        row = found.get(resolved[story_id])
        if row is None:  # merged away and gone: the surviving story gets its own event
            continue
        events.append(
            StoryEvent(
                action, row["story_id"], row["title"], row["article_count"], row["source_count"], tuple(sorted(names))
            )
        )
    return list({(e.action, e.story_id): e for e in events}.values())


def _uri(path: str) -> str:
    p = Path(path)
    return p.resolve().as_uri() if p.is_absolute() or p.exists() else path


def _resolve(story_id: str, redirects: dict[str, str]) -> str:
    for _ in range(len(redirects) + 1):
        if story_id not in redirects:
            break
        story_id = redirects[story_id]
    return story_id
