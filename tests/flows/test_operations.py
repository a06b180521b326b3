"""Issue 4's done-when, end to end: three outlets' feeds on a real local site, scheduled runs, one alert.

Three outlets publish their own versions of one story (the seed articles, as HTML pages) through
their own RSS feeds. A spreading rule (3 sources within 48 h) must reach a real webhook receiver
exactly once: not while two outlets carry the story, once when the third does, and never again
on later runs, which fetch nothing already stored and get 304 answers for unchanged feeds.
"""

from __future__ import annotations

import dataclasses
import html
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import duckdb
from conftest import SEEDS
from webhook_receiver import webhook_receiver

from pipeline.extract.textclean import clean_dump
from pipeline.run.live import ingest_sources
from pipeline.settings import Settings
from pipeline.sources.config import SourceSpec

OUTLETS = ("outlet-a", "outlet-b", "outlet-c")


def publish_pages(root: Path) -> None:
    """Each seed article as its outlet's HTML page."""
    for n, seed in enumerate(sorted(SEEDS.glob("*.txt"))[: len(OUTLETS)]):
        cleaned = clean_dump(seed.read_text(encoding="utf-8"))
        body = "".join(f"<p>{html.escape(p)}</p>" for p in cleaned.text.split("\n\n") if p.strip())
        title = html.escape(cleaned.title or "Untitled")
        page = (
            f"<!doctype html><html><head><title>{title}</title></head><body>"
            f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>(c) {OUTLETS[n]}</footer></body></html>"
        )
        (root / "news" / f"{OUTLETS[n]}.html").write_text(page, encoding="utf-8")


def write_feed(root: Path, outlet: str, with_item: bool) -> None:
    """The outlet's RSS feed, listing its version of the story (or nothing yet)."""
    item = (
        f"<item><title>{outlet} on the talks</title><link>{{{{BASE}}}}/news/{outlet}.html</link>"
        f"<guid>{outlet}-1</guid><pubDate>{format_datetime(datetime.now(UTC))}</pubDate></item>"
        if with_item
        else ""
    )
    (root / "feeds" / f"{outlet}.rss").write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{outlet}</title>'
        f"<link>{{{{BASE}}}}/</link><description>news</description>{item}</channel></rss>",
        encoding="utf-8",
    )


def test_feeds_on_a_schedule_alert_once_when_a_story_spreads(live_site, fast_fetch, tmp_path: Path) -> None:
    publish_pages(live_site.root)
    for outlet in OUTLETS:
        write_feed(live_site.root, outlet, with_item=outlet != "outlet-c")
    specs = [
        SourceSpec(o, "feed", url=live_site.url(f"/feeds/{o}.rss"), allow_networks=("127.0.0.1/32",)) for o in OUTLETS
    ]
    with webhook_receiver() as receiver:
        config = tmp_path / "storyline.toml"
        config.write_text(
            f'db = "{tmp_path / "ops.duckdb"}"\n[alerts]\nnotify = ["{receiver.url()}"]\n'
            '[[alerts.rules]]\nname = "spreading-3"\nkind = "spreading"\nmin_sources = 3\nwithin_hours = 48\n',
            encoding="utf-8",
        )
        settings = dataclasses.replace(Settings.load(config, env={}), fetch=fast_fetch)

        first = ingest_sources(specs, settings)
        assert [r.ingest.new for r in first] == [1, 1, 0]
        assert receiver.received == []  # two outlets: not spreading yet

        write_feed(live_site.root, "outlet-c", with_item=True)
        live_site.clear()
        second = ingest_sources(specs, settings)
        assert [r.ingest.new for r in second] == [0, 0, 1]
        assert sorted(p for p in live_site.paths() if p.startswith("/news/")) == ["/news/outlet-c.html"]
        assert [r.listings_unchanged for r in second] == [1, 1, 0]  # conditional GETs: 304 for a and b
        assert len(receiver.received) == 1  # the third outlet makes it spread: one alert

        live_site.clear()
        third = ingest_sources(specs, settings)
        assert [r.listings_unchanged for r in third] == [1, 1, 1]
        assert not [p for p in live_site.paths() if p.startswith("/news/")]
        assert len(receiver.received) == 1  # fired once per (rule, story, condition)

    with duckdb.connect(settings.db, read_only=True) as con:
        stories = con.execute("SELECT story_id, article_count, source_count FROM stories").fetchall()
        alerts = con.execute("SELECT rule, story_id, status, attempts FROM alerts").fetchall()
    assert [(count, sources) for _, count, sources in stories] == [(3, 3)]
    assert alerts == [("spreading-3", stories[0][0], "delivered", 1)]
    message = receiver.received[0]["message"]
    assert stories[0][0] in message and "3 sources: outlet-a, outlet-b, outlet-c" in message
