"""Alert: the stage after store. Rules are evaluated on each batch's new articles, inside its transaction.

Three kinds of rule (see ``settings.AlertRule`` and docs/alerts.md):

* ``watchlist``: a name or phrase appears (whole words, case-insensitive) in a new article;
* ``watched_story``: a watched story (ids in the rule, or flagged with ``storyline watch``) gets a new variant;
* ``spreading``: a story's articles come from at least ``min_sources`` distinct sources within ``within_hours``.

An alert fires once per (rule, story, condition): its id is a hash of the three, so re-running the same
input, or a story staying above a threshold, fires nothing new. Alerts are written with the batch, in
the same transaction, as ``pending``; ``notify.deliver_alerts`` sends them after the run commits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.models import Alert, make_id
from pipeline.settings import AlertRule, AlertSettings
from pipeline.store import Store
from pipeline.store.alerts import (
    add_watch,
    batch_articles,
    insert_alerts,
    merged_into,
    recorded_alert_ids,
    remove_watch,
    spreading_stories,
    story_titles,
    watched_story_ids,
)

__all__ = [
    "Alert",
    "evaluate_batch",
    "fire_alerts",
    "matched_terms",
    "normalise",
    "record_alerts",
    "unwatch_story",
    "watch_story",
]

ALERT_STATUSES = ("pending", "delivered", "failed", "abandoned")


@dataclass(frozen=True)
class _NewArticle:
    article_id: str
    story_id: str
    title: str
    text: str
    assigned_as: str
    outlet: str | None


def normalise(text: str) -> str:
    """Text as watchlist terms are matched against: NFKC, case-folded, plain quotes, single spaces."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return " ".join(text.split())


def term_pattern(term: str) -> re.Pattern[str]:
    """A regex matching ``term`` as whole words (any run of spaces between its words)."""
    words = [re.escape(w) for w in normalise(term).split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


def matched_terms(text: str, patterns: dict[str, re.Pattern[str]]) -> list[str]:
    """The watchlist terms (keys of ``patterns``) found in ``text``, in rule order."""
    clean = normalise(text)
    return [term for term, pattern in patterns.items() if pattern.search(clean)]


def fire_alerts(store: Store, settings: AlertSettings, seqs: Sequence[int], run_id: str) -> list[Alert]:
    """Evaluate the rules on the batch's new articles (by seq) and record the alerts not fired before."""
    if not settings.rules or not seqs:
        return []
    return record_alerts(store, evaluate_batch(store, settings.rules, min(seqs), max(seqs)), run_id)


def evaluate_batch(store: Store, rules: Sequence[AlertRule], first_seq: int, last_seq: int) -> list[Alert]:
    """Every alert the rules raise for the articles ``first_seq..last_seq`` (already written, uncommitted)."""
    articles = _batch_articles(store, first_seq, last_seq)
    if not articles:
        return []
    titles = story_titles(store, {a.story_id for a in articles})
    alerts: list[Alert] = []
    for rule in rules:
        if rule.kind == "watchlist":
            alerts += _watchlist(rule, articles, titles)
        elif rule.kind == "watched_story":
            alerts += _watched(store, rule, articles, titles)
        else:
            stories = sorted({a.story_id for a in articles})
            alerts += _spreading(store, rule, stories, titles, (first_seq, last_seq))
    return _not_fired_before(store, alerts)


def _watchlist(rule: AlertRule, articles: Sequence[_NewArticle], titles: dict[str, str]) -> list[Alert]:
    patterns = {term: term_pattern(term) for term in rule.terms}
    first_match: dict[tuple[str, str], _NewArticle] = {}
    for article in articles:
        for term in matched_terms(f"{article.title}\n{article.text}", patterns):
            first_match.setdefault((article.story_id, term), article)
    return [
        _alert(
            rule,
            story_id,
            f'mentions "{" ".join(term.split())}"',
            titles,
            a.article_id,
            f"in {a.article_id}: {a.title}",
        )
        for (story_id, term), a in first_match.items()
    ]


def _watched(store: Store, rule: AlertRule, articles: Sequence[_NewArticle], titles: dict[str, str]) -> list[Alert]:
    watched = set(rule.stories)
    if rule.flagged:
        watched |= watched_story_ids(store)
    # A watched story that was merged lives on under its surviving id.
    watched = {store.resolve_story(s) for s in watched}
    return [
        _alert(
            rule,
            a.story_id,
            f"new {a.assigned_as} {a.article_id}",
            titles,
            a.article_id,
            f"new variant from {a.outlet or 'an unknown source'}: {a.title}",
        )
        for a in articles
        if a.story_id in watched and a.assigned_as in rule.relations
    ]


def _spreading(
    store: Store, rule: AlertRule, story_ids: list[str], titles: dict[str, str], seqs: tuple[int, int]
) -> list[Alert]:
    """Stories with >= min_sources distinct outlets in some window of within_hours ending at one of its articles.

    Only windows that hold one of the batch's articles can have changed, so anchors start at the
    batch's earliest article time per story; stories already alerted by this rule are not recounted.
    """
    condition = f"sources>={rule.min_sources} within {rule.within_hours}h"
    story_ids = _not_alerted(store, rule.name, condition, story_ids)
    if not story_ids:
        return []
    rows = spreading_stories(store, story_ids, seqs, rule.within_hours, rule.min_sources)
    return [
        _alert(rule, r["story_id"], condition, titles, None, f"{r['n']} sources: {', '.join(sorted(r['outlets']))}")
        for r in rows
    ]


def _not_alerted(store: Store, rule: str, condition: str, story_ids: list[str]) -> list[str]:
    """The stories that have no alert yet for this rule and condition."""
    fired = _recorded(store, [make_id("al", rule, s, condition) for s in story_ids])
    return [s for s in story_ids if make_id("al", rule, s, condition) not in fired]


def _recorded(store: Store, alert_ids: Iterable[str]) -> set[str]:
    """Which of these alert ids are already in the alerts table."""
    return recorded_alert_ids(store, alert_ids)


def _alert(
    rule: AlertRule, story_id: str, condition: str, titles: dict[str, str], article_id: str | None, detail: str
) -> Alert:
    title = titles.get(story_id) or "(untitled)"
    message = f"{rule.kind} alert {rule.name!r}: {condition}\nstory {story_id}: {title}\n{detail}"
    return Alert(rule.name, rule.kind, story_id, condition, f"Storyline: {rule.name}: {title}", message, article_id)


def _not_fired_before(store: Store, alerts: Sequence[Alert]) -> list[Alert]:
    """Drop alerts already recorded for the story, or for a story merged into it (same rule and condition)."""
    unique = list({a.alert_id: a for a in alerts}.values())
    if not unique:
        return []
    aliases = merged_into(store, {a.story_id for a in unique})
    keys = {make_id("al", a.rule, alias, a.condition): a.alert_id for a in unique for alias in aliases[a.story_id]}
    fired = {keys[k] for k in _recorded(store, keys)}
    return [a for a in unique if a.alert_id not in fired]


def _batch_articles(store: Store, first_seq: int, last_seq: int) -> list[_NewArticle]:
    return [_NewArticle(**r) for r in batch_articles(store, first_seq, last_seq)]


def record_alerts(store: Store, alerts: Sequence[Alert], run_id: str) -> list[Alert]:
    """Insert alerts as ``pending`` (inside the caller's transaction); already-known ids are skipped."""
    if not alerts:
        return []
    known = _recorded(store, (a.alert_id for a in alerts))
    new = [a for a in alerts if a.alert_id not in known]
    insert_alerts(store, new, run_id)
    return new


def watch_story(store: Store, story_id: str, note: str | None = None) -> str:
    """Flag a story for ``watched_story`` rules (merged ids resolve to their story); returns the id watched."""
    resolved = store.resolve_story(story_id)
    add_watch(store, resolved, note)
    return resolved


def unwatch_story(store: Store, story_id: str) -> bool:
    """Stop watching a story; False when it was not watched."""
    return remove_watch(store, store.resolve_story(story_id))
