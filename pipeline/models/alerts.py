"""Alerts: what a rule fired, once per (rule, story, condition)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.models.documents import make_id


@dataclass(frozen=True)
class Alert:
    """One fired alert: which rule, on which story, under which condition, and what to tell people."""

    rule: str
    kind: str
    story_id: str
    condition: str
    title: str
    message: str
    article_id: str | None = None

    @property
    def alert_id(self) -> str:
        """Deterministic id of (rule, story, condition): the once-only key."""
        return make_id("al", self.rule, self.story_id, self.condition)
