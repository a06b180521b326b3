"""The live-sources Prefect flow and its schedules, on a real (temporary, local) Prefect server."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.prefect


def write_sources(path: Path, site) -> Path:
    path.write_text(
        f"""
[[source]]
name = "world"
kind = "feed"
url = "{site.url("/feeds/world.rss")}"
interval = "10m"
allow_private = true

[[source]]
name = "sitemap"
kind = "sitemap"
url = "{site.url("/sitemap_index.xml")}"
interval = "1h"
allow_private = true
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.slow
def test_flow_runs_ingest_only_new_items(live_site, tmp_path: Path, prefect_server: None) -> None:
    from flows.sources import sources_flow

    sources = str(write_sources(tmp_path / "sources.toml", live_site))
    db = str(tmp_path / "flow.duckdb")
    first = sources_flow(sources=sources, db=db)
    assert [(r.source, r.ingest.new) for r in first] == [("world", 3), ("sitemap", 3)]

    feed = live_site.root / "feeds" / "world.rss"
    item = "<item><title>Klitschko keeps his crown</title><link>{{BASE}}/news/story-5.html</link></item>"
    feed.write_text(feed.read_text().replace("  </channel>", item + "\n  </channel>"), encoding="utf-8")
    live_site.clear()

    second = sources_flow(sources=sources, db=db, kinds=["feed"])
    assert [(r.source, r.ingest.new, r.already_known) for r in second] == [("world", 1, 3)]
    assert [p for p in live_site.paths() if p.startswith("/news/")] == ["/news/story-5.html"]
    assert next(h for h in live_site.hits if h.path == "/feeds/world.rss").if_none_match
    with duckdb.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchall() == [(7,)]
        assert con.execute("SELECT count(*) FROM fetch_state WHERE source = 'world'").fetchall() == [(1,)]


def test_one_deployment_per_source_at_its_interval(live_site, tmp_path: Path) -> None:
    from flows.sources import build_deployments, deployment_key

    sources = write_sources(tmp_path / "sources.toml", live_site)
    deployments = build_deployments(sources, db="/srv/storyline.duckdb")
    key = deployment_key(sources, "/srv/storyline.duckdb", None)
    assert [d.name for d in deployments] == [f"source-world-{key}", f"source-sitemap-{key}"]
    intervals = [d.schedules[0].schedule.interval.total_seconds() for d in deployments]
    assert intervals == [600, 3600]
    assert deployments[0].parameters == {
        "sources": str(sources.resolve()), "only": ["world"], "db": "/srv/storyline.duckdb", "config": None,
    }  # fmt: skip


def test_serves_of_other_databases_or_settings_have_other_deployments(live_site, tmp_path: Path) -> None:
    """A run carries its deployment's parameters: a deployment shared across databases moves runs between them."""
    from flows.sources import build_deployments

    sources = write_sources(tmp_path / "sources.toml", live_site)
    names = [
        [d.name for d in build_deployments(sources, db=db, config=config)]
        for db, config in [("/srv/a.duckdb", None), ("/srv/b.duckdb", None), ("/srv/a.duckdb", "/srv/settings.toml")]
    ]
    assert len({name for group in names for name in group}) == 6
    assert names[0] == [d.name for d in build_deployments(sources, db="/srv/a.duckdb")]  # a restart keeps them


def test_a_serve_refuses_runs_made_for_another_database(tmp_path: Path, monkeypatch) -> None:
    from flows.sources import SERVED, not_served_here, served_parameters

    sources, db = str(tmp_path / "sources.toml"), str(tmp_path / "b.duckdb")
    assert not_served_here(sources, str(tmp_path / "a.duckdb"), None) is None  # not under serve: any run
    monkeypatch.setenv(SERVED, json.dumps(served_parameters(sources, db, None)))
    assert not_served_here(sources, db, None) is None
    refusal = not_served_here(sources, str(tmp_path / "a.duckdb"), None)
    assert refusal is not None
    assert f"made for db {tmp_path / 'a.duckdb'}, but this storyline serve was started with db {db}" in refusal
    assert not_served_here(sources, db, str(tmp_path / "other.toml"))


def test_prefect_yaml_schedules_the_example_sources() -> None:
    import yaml

    root = Path(__file__).resolve().parents[2]
    spec = yaml.safe_load((root / "deploy" / "prefect.yaml").read_text(encoding="utf-8"))
    by_name = {d["name"]: d for d in spec["deployments"]}
    feeds, sitemaps = by_name["sources-feeds"], by_name["sources-sitemaps"]
    assert feeds["entrypoint"] == sitemaps["entrypoint"] == "flows/sources.py:sources_flow"
    assert (feeds["schedules"][0]["interval"], feeds["parameters"]["kinds"]) == (600, ["feed"])
    assert (sitemaps["schedules"][0]["interval"], sitemaps["parameters"]["kinds"]) == (3600, ["sitemap", "urls"])
    assert feeds["work_pool"]["name"] == "storyline"
    assert (root / feeds["parameters"]["sources"]).is_file()


def test_serve_keeps_the_runners_at_capacity_line_out_of_info_logs(live_site, tmp_path: Path, monkeypatch) -> None:
    """Prefect's poller logs "N scheduled runs skipped (at capacity)" every poll while serve keeps up."""
    import logging

    from prefect.logging import get_logger

    import flows.sources

    monkeypatch.setattr(flows.sources, "run_until_stopped", lambda *args: None)  # no runner, no server
    runner = get_logger("runner")  # the logger Prefect's scheduled-run poller writes to
    seen: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    runner.addHandler(handler)
    level = runner.level
    runner.setLevel(logging.INFO)
    try:
        flows.sources.serve_sources(write_sources(tmp_path / "sources.toml", live_site))
        runner.info("%d scheduled runs skipped (at capacity)", 2)
        runner.info("SIGTERM received, initiating graceful shutdown...")
        runner.setLevel(logging.DEBUG)  # asked for: shown
        runner.info("%d scheduled runs skipped (at capacity)", 3)
    finally:
        runner.removeHandler(handler)
        runner.setLevel(level)
    assert seen == ["SIGTERM received, initiating graceful shutdown...", "3 scheduled runs skipped (at capacity)"]
