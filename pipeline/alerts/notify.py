"""Notify: deliver recorded alerts through apprise URLs, after the run's batches have committed.

Delivery never holds the DuckDB write lock during network calls: pending alerts are read in one
short session, sent with the store closed, and their outcome written in a second short session.
Each alert remembers which targets already have it (``delivered_to``), so a retry after a partial
failure sends only to the targets that missed it. An alert that still fails after
``max_attempts`` deliveries (one per run) is marked ``abandoned``. If the process dies between
sending and recording, the next run sends again: delivery is at least once, exactly once otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline.errors import ConfigError, DeliveryError
from pipeline.settings import AlertSettings
from pipeline.store import Store
from pipeline.store.alerts import due_alerts, record_delivery

__all__ = ["AppriseNotifier", "DeliveryReport", "MemoryNotifier", "Notifier", "deliver_alerts"]


class Notifier(Protocol):
    """Sends one message to one of its targets (raises ``DeliveryError`` when that fails)."""

    def targets(self) -> list[str]:
        """Stable keys of the targets every alert goes to (no secrets in them: they are stored)."""
        ...

    def send(self, target: str, title: str, body: str) -> None:
        """Deliver a message to one target."""
        ...


def target_key(url: str) -> str:
    """A stable, secret-free key for an apprise URL: its scheme and a hash of the whole URL."""
    scheme = url.split("://", 1)[0]
    return f"{scheme}:{hashlib.sha256(url.encode('utf-8')).hexdigest()[:12]}"


class AppriseNotifier:
    """Delivery through apprise (webhook/JSON, Slack, email, ... one URL per target)."""

    def __init__(self, urls: Sequence[str]):
        import apprise  # imported here: only delivery needs it

        self._apprise = apprise
        self._targets: dict[str, Any] = {}
        for url in urls:
            app = apprise.Apprise()
            if not app.add(url):
                raise ConfigError(f"alerts.notify: apprise does not understand the URL {url.split('://')[0]}://...")
            self._targets[target_key(url)] = app

    def targets(self) -> list[str]:
        """One key per configured URL."""
        return list(self._targets)

    def send(self, target: str, title: str, body: str) -> None:
        """Send through one URL; apprise's own warning becomes the error message."""
        with self._apprise.LogCapture(level=self._apprise.logging.WARNING) as log:
            ok = self._targets[target].notify(body=body, title=title)
        if not ok:
            lines = [line for line in log.getvalue().splitlines() if line.strip()]
            raise DeliveryError(lines[-1][-300:] if lines else "apprise reported a failed delivery")


@dataclass
class MemoryNotifier:
    """An in-memory notifier for pure-logic tests: records messages, fails for targets in ``failing``."""

    keys: list[str] = field(default_factory=lambda: ["memory:1"])
    failing: set[str] = field(default_factory=set)
    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def targets(self) -> list[str]:
        """The configured keys."""
        return list(self.keys)

    def send(self, target: str, title: str, body: str) -> None:
        """Record the message, or fail if the target is marked failing."""
        if target in self.failing:
            raise DeliveryError(f"{target} is down")
        self.sent.append((target, title, body))


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery pass did."""

    delivered: int = 0
    failed: int = 0
    abandoned: int = 0


@dataclass(frozen=True)
class _Outcome:
    alert_id: str
    delivered_to: list[str]
    status: str
    error: str | None


def deliver_alerts(db: str, settings: AlertSettings, notifier: Notifier | None = None) -> DeliveryReport:
    """Send pending and failed alerts to every target that has not got them; record each outcome."""
    if notifier is None:
        if not settings.notify:
            return DeliveryReport()  # nothing to send to: alerts stay pending, listed by `storyline alerts`
        notifier = AppriseNotifier(settings.notify)
    targets = notifier.targets()
    with Store.open(db) as store:
        due = due_alerts(store)
    if not due:
        return DeliveryReport()
    outcomes = [_send(notifier, targets, row, settings.max_attempts) for row in due]
    with Store.open(db) as store, store.transaction():
        for o in outcomes:
            record_delivery(store, o.alert_id, o.status, o.delivered_to, o.error)
    statuses = [o.status for o in outcomes]
    return DeliveryReport(statuses.count("delivered"), statuses.count("failed"), statuses.count("abandoned"))


def _send(notifier: Notifier, targets: list[str], row: dict[str, Any], max_attempts: int) -> _Outcome:
    done = list(row["delivered_to"] or [])
    errors = []
    for target in targets:
        if target in done:
            continue
        try:
            notifier.send(target, row["title"], row["message"])
            done.append(target)
        except DeliveryError as exc:
            errors.append(f"{target}: {exc}")
        except Exception as exc:  # a plugin bug must not lose the other alerts' outcomes
            errors.append(f"{target}: {type(exc).__name__}: {exc}")
    if not errors:
        return _Outcome(row["alert_id"], done, "delivered", None)
    status = "abandoned" if row["attempts"] + 1 >= max_attempts else "failed"
    return _Outcome(row["alert_id"], done, status, "; ".join(errors)[:1000])
