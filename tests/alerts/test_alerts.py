"""Alerts: rules fired with the batch, delivered through apprise to a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import socket
from pathlib import Path

import duckdb
import pytest
from conftest import SEEDS, write_jsonl
from reliability import run_cli
from webhook_receiver import WebhookReceiver, webhook_receiver

from pipeline.alerts.notify import MemoryNotifier, deliver_alerts
from pipeline.alerts.rules import matched_terms, term_pattern
from pipeline.errors import ConfigError
from pipeline.run.ingest import ingest_paths
from pipeline.settings import Settings

SEED_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
SPREAD_RULE = """
[[alerts.rules]]
name = "spreading-3"
kind = "spreading"
min_sources = 3
within_hours = 48
"""


@pytest.fixture
def receiver():
    with webhook_receiver() as r:
        yield r


def config(tmp_path: Path, notify: list[str], rules: str, max_attempts: int = 5) -> Settings:
    """Settings loaded from a real TOML file, the way `storyline --config` loads them."""
    path = tmp_path / "storyline.toml"
    urls = ", ".join(f'"{u}"' for u in notify)
    path.write_text(f'db = "{tmp_path / "alerts.duckdb"}"\n[alerts]\nnotify = [{urls}]\n'
                    f"max_attempts = {max_attempts}\n{rules}", encoding="utf-8")  # fmt: skip
    return Settings.load(path, env={})


def article(tmp_path: Path, name: str, seed: int, source: str, day: str) -> Path:
    """One JSONL input holding seed ``seed``'s text as published by ``source`` on ``day``."""
    record = {"id": name, "text": SEED_TEXTS[seed], "source": source, "published_at": day}
    return write_jsonl(tmp_path / f"{name}.jsonl", [record])


def alert_rows(settings: Settings) -> list[tuple]:
    with duckdb.connect(settings.db, read_only=True) as con:
        return con.execute(
            "SELECT rule, story_id, condition, status, attempts, last_error IS NOT NULL FROM alerts ORDER BY created_at"
        ).fetchall()


def story_ids(settings: Settings) -> list[str]:
    with duckdb.connect(settings.db, read_only=True) as con:
        return [r[0] for r in con.execute("SELECT story_id FROM stories").fetchall()]


def test_spreading_story_alerts_the_receiver_exactly_once(tmp_path: Path, receiver: WebhookReceiver) -> None:
    settings = config(tmp_path, [receiver.url()], SPREAD_RULE)
    runs = [
        article(tmp_path, "a", 0, "Outlet A", "2021-08-18"),
        article(tmp_path, "b", 2, "Outlet B", "2021-08-19"),
        article(tmp_path, "c", 4, "Outlet C", "2021-08-19"),
    ]
    reports = []
    for path in runs:
        reports.append(ingest_paths([path], settings))
        if path != runs[-1]:
            assert receiver.received == [], "fewer than 3 sources must not alert"

    [story] = story_ids(settings)
    assert [r.alerts_fired for r in reports] == [0, 0, 1]
    assert reports[-1].alerts_delivered == 1
    assert len(receiver.received) == 1
    post = receiver.received[0]
    assert post["path"] == "/hook"
    assert story in post["message"] and "sources>=3 within 48h" in post["message"]
    assert "Outlet A, Outlet B, Outlet C" in post["message"]
    assert alert_rows(settings) == [("spreading-3", story, "sources>=3 within 48h", "delivered", 1, False)]

    # The same input again, and a fourth source: the story stays above the threshold, nothing new fires.
    again = ingest_paths([*runs, article(tmp_path, "d", 1, "Outlet D", "2021-08-19")], settings)
    assert again.alerts_fired == 0 and again.alerts_delivered == 0
    assert len(receiver.received) == 1
    assert len(alert_rows(settings)) == 1


def test_sources_outside_the_time_window_do_not_spread(tmp_path: Path, receiver: WebhookReceiver) -> None:
    settings = config(tmp_path, [receiver.url()], SPREAD_RULE)
    days = ["2021-08-13", "2021-08-16", "2021-08-19"]  # 3 days apart: one story (7-day window), never 3 in 48 h
    for seed, (source, day) in zip((0, 2, 4), zip("ABC", days, strict=True), strict=True):
        ingest_paths([article(tmp_path, source, seed, source, day)], settings)
    assert len(story_ids(settings)) == 1
    assert alert_rows(settings) == [] and receiver.received == []


def test_spreading_is_measured_in_utc_hours(tmp_path: Path, receiver: WebhookReceiver) -> None:
    """Three outlets within four hours across midnight UTC; as local dates (midnight) they were a day apart."""
    settings = config(tmp_path, [receiver.url()], SPREAD_RULE.replace("within_hours = 48", "within_hours = 6"))
    times = ["2021-08-19T23:00:00Z", "2021-08-20T10:00:00+09:00", "2021-08-19T22:00:00-05:00"]  # 23:00, 01:00, 03:00
    for seed, (source, moment) in zip((0, 2, 4), zip("ABC", times, strict=True), strict=True):
        ingest_paths([article(tmp_path, source, seed, source, moment)], settings)
    [story] = story_ids(settings)
    assert alert_rows(settings) == [("spreading-3", story, "sources>=3 within 6h", "delivered", 1, False)]


def test_articles_without_a_known_source_are_not_counted(tmp_path: Path, receiver: WebhookReceiver) -> None:
    settings = config(tmp_path, [receiver.url()], SPREAD_RULE)
    records = [{"id": f"x{i}", "text": SEED_TEXTS[i], "published_at": "2021-08-19"} for i in (0, 2, 4)]
    ingest_paths([write_jsonl(tmp_path / "anonymous.jsonl", records)], settings)
    assert len(story_ids(settings)) == 1
    assert alert_rows(settings) == []


def test_watchlist_phrase_fires_once_per_story(tmp_path: Path, receiver: WebhookReceiver) -> None:
    rules = """
[[alerts.rules]]
name = "watch-talks"
kind = "watchlist"
terms = ["Security  DIALOGUE", "Taipe", "Lindsay Lohan"]
"""
    settings = config(tmp_path, [receiver.url()], rules)
    report = ingest_paths([article(tmp_path, "a", 0, "A", "2021-08-18")], settings)
    ingest_paths([article(tmp_path, "b", 4, "B", "2021-08-19")], settings)  # mentions it too: same story
    [story] = story_ids(settings)
    assert report.alerts_fired == 1
    assert alert_rows(settings) == [("watch-talks", story, 'mentions "Security DIALOGUE"', "delivered", 1, False)]
    assert len(receiver.received) == 1 and "security dialogue" in SEED_TEXTS[0].lower()


def test_term_matching_is_whole_word_and_case_insensitive() -> None:
    patterns = {t: term_pattern(t) for t in ("Lindsay Lohan", "Taipe", "O’Neil", "U.S.")}
    assert matched_terms("LINDSAY\n  lohan checks into rehab", patterns) == ["Lindsay Lohan"]
    assert matched_terms("Lindsay Lohans and Taipei", patterns) == []
    assert matched_terms("Shaquille O'Neil visits the U.S. today", patterns) == ["O’Neil", "U.S."]


def test_new_variant_of_a_watched_story(tmp_path: Path, receiver: WebhookReceiver) -> None:
    rules = """
[[alerts.rules]]
name = "watched"
kind = "watched_story"
"""
    settings = config(tmp_path, [receiver.url()], rules)
    ingest_paths([article(tmp_path, "a", 0, "A", "2021-08-18")], settings)
    [story] = story_ids(settings)
    assert receiver.received == []  # not watched yet
    watch = run_cli("watch", story, "--note", "escalation", "--db", settings.db)
    assert watch.returncode == 0 and f"watching story {story}" in watch.stdout

    report = ingest_paths([article(tmp_path, "b", 2, "B", "2021-08-19")], settings)
    assert report.alerts_fired == 1 and len(receiver.received) == 1
    [(rule, alerted, condition, status, _, _)] = alert_rows(settings)
    assert (rule, alerted, status) == ("watched", story, "delivered") and condition.startswith("new rewrite a")
    assert "new variant from B" in receiver.received[0]["message"]

    # An exact copy from another outlet is not a new variant (relations default to near_duplicate, rewrite).
    copy = {"id": "c", "text": SEED_TEXTS[2], "source": "C", "published_at": "2021-08-19"}
    assert ingest_paths([write_jsonl(tmp_path / "c.jsonl", [copy])], settings).alerts_fired == 0
    assert len(receiver.received) == 1


def test_watched_story_ids_in_config(tmp_path: Path, receiver: WebhookReceiver) -> None:
    plain = config(tmp_path, [receiver.url()], "")
    ingest_paths([article(tmp_path, "a", 0, "A", "2021-08-18")], plain)
    [story] = story_ids(plain)
    rules = f'[[alerts.rules]]\nname = "mine"\nkind = "watched_story"\nstories = ["{story}"]\nflagged = false\n'
    settings = config(tmp_path, [receiver.url()], rules)
    ingest_paths([article(tmp_path, "b", 2, "B", "2021-08-19")], settings)
    assert [r[:2] for r in alert_rows(settings)] == [("mine", story)] and len(receiver.received) == 1


def test_failed_delivery_is_retried_by_a_later_run(tmp_path: Path, receiver: WebhookReceiver) -> None:
    settings = config(tmp_path, [receiver.url()], SPREAD_RULE)
    receiver.status = 500
    paths = [article(tmp_path, s, seed, s, "2021-08-19") for s, seed in (("A", 0), ("B", 2), ("C", 4))]
    report = ingest_paths(paths, settings)
    assert report.alerts_fired == 1 and report.alerts_failed == 1
    [row] = alert_rows(settings)
    assert row[3:] == ("failed", 1, True)
    assert len(receiver.refused) == 1 and receiver.received == []

    receiver.status = 200
    later = ingest_paths(paths, settings)  # nothing new to ingest; the failed alert is retried
    assert later.alerts_fired == 0 and later.alerts_delivered == 1
    assert alert_rows(settings)[0][3:5] == ("delivered", 2)
    assert len(receiver.received) == 1
    ingest_paths(paths, settings)
    assert len(receiver.received) == 1


def test_receiver_down_then_abandoned_after_max_attempts(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = config(tmp_path, [f"json://127.0.0.1:{port}/hook"], SPREAD_RULE, max_attempts=2)
    paths = [article(tmp_path, s, seed, s, "2021-08-19") for s, seed in (("A", 0), ("B", 2), ("C", 4))]
    assert ingest_paths(paths, settings).alerts_failed == 1
    assert alert_rows(settings)[0][3:] == ("failed", 1, True)
    assert deliver_alerts(settings.db, settings.alerts).abandoned == 1
    assert alert_rows(settings)[0][3:] == ("abandoned", 2, True)
    assert deliver_alerts(settings.db, settings.alerts).abandoned == 0  # abandoned alerts are not retried


def test_a_retry_sends_only_to_the_targets_that_missed_it(tmp_path: Path) -> None:
    with webhook_receiver() as good, webhook_receiver() as flaky:
        flaky.status = 500
        settings = config(tmp_path, [good.url(), flaky.url()], SPREAD_RULE)
        paths = [article(tmp_path, s, seed, s, "2021-08-19") for s, seed in (("A", 0), ("B", 2), ("C", 4))]
        ingest_paths(paths, settings)
        assert alert_rows(settings)[0][3] == "failed"
        flaky.status = 200
        assert deliver_alerts(settings.db, settings.alerts).delivered == 1
        assert len(good.received) == 1 and len(flaky.received) == 1 and len(flaky.refused) == 1


def test_delivery_with_an_in_memory_notifier_records_partial_progress(tmp_path: Path) -> None:
    settings = config(tmp_path, [], SPREAD_RULE)
    paths = [article(tmp_path, s, seed, s, "2021-08-19") for s, seed in (("A", 0), ("B", 2), ("C", 4))]
    assert ingest_paths(paths, settings).alerts_fired == 1
    assert alert_rows(settings)[0][3:5] == ("pending", 0)  # no notify URLs: kept pending, not attempted
    notifier = MemoryNotifier(keys=["one", "two"], failing={"two"})
    assert deliver_alerts(settings.db, settings.alerts, notifier).failed == 1
    notifier.failing.clear()
    assert deliver_alerts(settings.db, settings.alerts, notifier).delivered == 1
    assert [target for target, _, _ in notifier.sent] == ["one", "two"]


def test_cli_lists_alerts_by_status(tmp_path: Path, receiver: WebhookReceiver) -> None:
    settings = config(tmp_path, [receiver.url()], SPREAD_RULE)
    paths = [str(article(tmp_path, s, seed, s, "2021-08-19")) for s, seed in (("A", 0), ("B", 2), ("C", 4))]
    ingested = run_cli("ingest", "--no-prefect", "--config", str(tmp_path / "storyline.toml"), *paths)
    assert ingested.returncode == 0, ingested.stderr
    assert "Alerts: 1 fired, 1 delivered, 0 failed" in ingested.stdout and len(receiver.received) == 1
    listed = run_cli("alerts", "--db", settings.db)
    assert listed.returncode == 0, listed.stderr
    assert "spreading-3" in listed.stdout and "delivered" in listed.stdout and "sources>=3" in listed.stdout
    failed = run_cli("alerts", "--status", "failed", "--db", settings.db)
    assert "0 alert(s)" in failed.stdout and "spreading-3" not in failed.stdout


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ('[[alerts.rules]]\nname = "x"\nkind = "trending"\n', "kind must be one of"),
        ('[[alerts.rules]]\nname = "x"\nkind = "watchlist"\n', "needs terms"),
        ('[[alerts.rules]]\nname = "x"\nkind = "watchlist"\nterms = "Lohan"\n', "list of non-empty strings"),
        ('[[alerts.rules]]\nname = "x"\nkind = "spreading"\nmin_sources = 0\n', "min_sources must be a positive"),
        ('[[alerts.rules]]\nname = "x"\nkind = "spreading"\nwithin = 3\n', "unknown AlertRule setting(s): within"),
        ('[[alerts.rules]]\nname = "x"\nkind = "watched_story"\nflagged = false\n', "needs stories"),
        ('[[alerts.rules]]\nname = "x"\nkind = "watched_story"\nrelations = ["copy"]\n', "relations must be"),
        ('[[alerts.rules]]\nname = "x"\nkind = "spreading"\n[[alerts.rules]]\nname = "x"\nkind = "spreading"\n',
         "names must be unique"),
    ],
)  # fmt: skip
def test_bad_rules_are_config_errors(tmp_path: Path, rules: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config(tmp_path, [], rules)


def test_bad_notify_url_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="apprise URLs"):
        config(tmp_path, ["127.0.0.1:8000/hook"], "")


def test_unknown_notify_scheme_is_a_config_error(tmp_path: Path) -> None:
    settings = config(tmp_path, ["nosuchservice://somewhere/hook"], SPREAD_RULE)
    paths = [article(tmp_path, s, seed, s, "2021-08-19") for s, seed in (("A", 0), ("B", 2), ("C", 4))]
    with pytest.raises(ConfigError, match="nosuchservice"):
        ingest_paths(paths, settings)
    assert alert_rows(settings)[0][3:5] == ("pending", 0)  # the batch committed; the alert waits for a fixed URL


def test_a_condition_alerted_on_a_merged_story_does_not_fire_again(tmp_path: Path) -> None:
    """After story `old` is merged into `story`, the alert `old` already had is not sent again for `story`."""
    from pipeline.alerts.rules import record_alerts
    from pipeline.models import Alert
    from pipeline.store import Store

    settings = config(tmp_path, [], SPREAD_RULE)
    ingest_paths([article(tmp_path, "a", 0, "A", "2021-08-19"), article(tmp_path, "b", 2, "B", "2021-08-19")], settings)
    [story] = story_ids(settings)
    condition = "sources>=3 within 48h"
    with Store.open(settings.db) as store, store.transaction():
        store._con.execute("INSERT INTO story_merges VALUES ('sold', ?, 'a-x', 0.9, 1, 'run-x', now())", [story])
        record_alerts(store, [Alert("spreading-3", "spreading", "sold", condition, "t", "m")], "run-x")
    assert ingest_paths([article(tmp_path, "c", 4, "C", "2021-08-19")], settings).alerts_fired == 0

    (tmp_path / "fresh").mkdir()
    other = config(tmp_path / "fresh", [], SPREAD_RULE)
    for name, seed in (("a", 0), ("b", 2), ("c", 4)):  # the same input without the merge record does fire
        ingest_paths([article(tmp_path, name, seed, name.upper(), "2021-08-19")], other)
    assert [r[2] for r in alert_rows(other)] == [condition]


def test_spreading_counts_the_outlets_source_count_counts(tmp_path: Path, receiver: WebhookReceiver) -> None:
    rules = SPREAD_RULE.replace("spreading-3", "spreading-2").replace("min_sources = 3", "min_sources = 2")
    settings = config(tmp_path, [receiver.url()], rules)
    anonymous = [{"id": f"x{i}", "text": SEED_TEXTS[i], "published_at": "2021-08-19"} for i in (0, 2)]
    ingest_paths([write_jsonl(tmp_path / "wire.jsonl", anonymous), article(tmp_path, "c", 4, "C", "2021-08-19")],
                 settings)  # fmt: skip
    [story] = story_ids(settings)
    with duckdb.connect(settings.db, read_only=True) as con:
        [(source_count,)] = con.execute("SELECT source_count FROM stories").fetchall()
    assert source_count == 2
    assert alert_rows(settings) == [("spreading-2", story, "sources>=2 within 48h", "delivered", 1, False)]
    assert "2 sources: C, wire.jsonl" in receiver.received[0]["message"]
