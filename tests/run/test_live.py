"""Live sources end to end against a real local news site: listing, skipping, fetching, storing."""

from __future__ import annotations

import re
import tracemalloc
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pytest
from reliability import run_cli

from pipeline.errors import ConfigError
from pipeline.run.live import ingest_sources, list_source
from pipeline.settings import FetchSettings, Settings
from pipeline.sources.config import SourceSpec, command_line_sources, gather_sources, load_sources, select_sources
from pipeline.sources.fetch import AddressPolicy, Fetcher

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = ("127.0.0.1/32",)
NEW_ITEMS = """
    <item>
      <title>Bettie Page, pinup model, dies at 85</title>
      <link>{{BASE}}/news/story-4.html?utm_campaign=late</link>
      <pubDate>Wed, 04 Nov 2026 08:00:00 GMT</pubDate>
    </item>
    <item>
      <title>76ers fire coach Maurice Cheeks</title>
      <link>{{BASE}}/news/story-5.html</link>
      <pubDate>Thu, 05 Nov 2026 08:00:00 GMT</pubDate>
    </item>
  </channel>"""


def sources(site, *names: str) -> list[SourceSpec]:
    every = {
        "world": SourceSpec("world", "feed", url=site.url("/feeds/world.rss"), allow_networks=LOOPBACK),
        "sitemap": SourceSpec("sitemap", "sitemap", url=site.url("/sitemap_index.xml"), allow_networks=LOOPBACK),
        "failures": SourceSpec("failures", "feed", url=site.url("/feeds/failures.rss"), allow_networks=LOOPBACK),
    }
    return [every[n] for n in names]


def article_paths(site) -> list[str]:
    return sorted(p for p in site.paths() if p.startswith("/news/"))


def test_second_run_ingests_exactly_the_new_items(live_site, fast_fetch, db_path) -> None:
    """Done-when: two scheduled runs with items added in between ingest only the new items, use
    conditional GETs (304 for the unchanged sitemaps) and fetch no stored article again."""
    settings = Settings(db=db_path, fetch=fast_fetch)
    specs = sources(live_site, "world", "sitemap")

    first = ingest_sources(specs, settings)
    assert [r.ingest.new for r in first] == [3, 3]  # story-1 is in both: fetched and stored once
    assert article_paths(live_site) == [f"/news/story-{n}.html" for n in (1, 2, 3, 6, 7, 8)]

    feed = live_site.root / "feeds" / "world.rss"
    feed.write_text(feed.read_text().replace("  </channel>", NEW_ITEMS), encoding="utf-8")
    live_site.clear()

    second = ingest_sources(specs, settings)
    assert [r.ingest.new for r in second] == [2, 0]
    assert article_paths(live_site) == ["/news/story-4.html", "/news/story-5.html"]  # nothing stored refetched
    hits = {h.path: h for h in live_site.hits}
    assert hits["/feeds/world.rss"].if_none_match  # conditional GET; the feed changed, so a 200
    assert hits["/sitemaps/news.xml"].if_none_match and hits["/sitemaps/pages.xml"].if_modified_since
    assert second[1].listings_unchanged == 2  # both sitemaps answered 304
    assert second[0].already_known == 3 and second[0].fetched == 2

    live_site.clear()
    third = ingest_sources(specs, settings)
    assert [r.listings_unchanged for r in third] == [1, 2] and article_paths(live_site) == []

    with duckdb.connect(db_path, read_only=True) as con:
        stored = con.execute("SELECT url, source, title, published_at FROM articles ORDER BY url").fetchall()
        runs = con.execute("SELECT status, new FROM runs ORDER BY started_at").fetchall()
    assert len(stored) == 8 and len({row[0] for row in stored}) == 8
    assert stored[3][1:] == ("world", "Bettie Page, pinup model, dies at 85", stored[3][3])
    assert stored[3][0] == live_site.url("/news/story-4.html")  # the tracking parameter is gone
    assert runs == [("completed", 6), ("completed", 2)]  # the third run found nothing: no row


def test_a_live_run_that_finds_nothing_new_leaves_no_run_row(live_site, fast_fetch, db_path) -> None:
    """`storyline serve` runs each source every interval: idle ticks must not pile up in `runs`."""
    settings = Settings(db=db_path, fetch=fast_fetch)
    specs = sources(live_site, "world")
    ingest_sources(specs, settings)
    for _ in range(3):
        (idle,) = ingest_sources(specs, settings)
        assert idle.ingest.read == 0
    with duckdb.connect(db_path, read_only=True) as con:
        runs = con.execute("SELECT status, new FROM runs").fetchall()
    assert runs == [("completed", 3)]


ZERO_TIME_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Broken dates</title><link>{{BASE}}/</link>
  <item><title>Undated page</title><link>{{BASE}}/news/undated.html</link>
    <pubDate>Mon, 01 Jan 0001 00:00:00 +0000</pubDate></item>
  <item><title>Dated page</title><link>{{BASE}}/news/story-2.html</link>
    <pubDate>Mon, 01 Jan 0001 00:00:00 +0000</pubDate></item>
  <item><title>Far future</title><link>{{BASE}}/news/story-6.html</link>
    <pubDate>Fri, 31 Dec 9999 23:59:59 +0000</pubDate></item>
</channel></rss>
"""


def test_feed_placeholder_dates_are_not_stored(live_site, fast_fetch, db_path) -> None:
    """Go's zero time (and "never") in a feed is no date: the page's own date is used, else none."""
    news = live_site.root / "news"
    page = (news / "story-3.html").read_text(encoding="utf-8")
    page = re.sub(r'<meta property="article:published_time"[^>]*>|, 2026-11-03|&copy; 2026', "", page)
    (news / "undated.html").write_text(page, encoding="utf-8")
    (live_site.root / "feeds" / "zero.rss").write_text(ZERO_TIME_FEED, encoding="utf-8")
    spec = SourceSpec("zero", "feed", url=live_site.url("/feeds/zero.rss"), allow_networks=LOOPBACK)

    (report,) = ingest_sources([spec], Settings(db=db_path, fetch=fast_fetch))

    assert report.ingest.new == 3 and report.ingest.rejected == 0
    with duckdb.connect(db_path, read_only=True) as con:
        stored = dict(con.execute("SELECT title, published_at FROM articles").fetchall())
    assert stored == {"Undated page": None, "Dated page": date(2026, 11, 2), "Far future": date(2026, 11, 6)}


def test_a_source_that_raises_fails_the_run(live_site, fast_fetch, db_path, monkeypatch) -> None:
    """The first source's articles stay stored, but the run is 'failed', not 'completed'."""
    import pipeline.run.live as live

    real, calls = live.run_batches, []

    def run_then_break(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OverflowError("date value out of range")
        return real(*args, **kwargs)

    monkeypatch.setattr(live, "run_batches", run_then_break)
    with pytest.raises(OverflowError):
        ingest_sources(sources(live_site, "world", "sitemap"), Settings(db=db_path, fetch=fast_fetch))
    with duckdb.connect(db_path, read_only=True) as con:
        assert con.execute("SELECT status, new FROM runs").fetchall() == [("failed", 3)]


EXPECTED_REJECTIONS = {
    "/fail/404": "http_404",
    "/fail/500": "http_5xx",
    "/fail/timeout": "fetch_timeout",  # read timeouts until the URL's total time was spent
    "/fail/slow": "fetch_timeout",
    "/fail/big": "too_large",
    "/fail/loop": "redirect_loop",
    "/fail/private": "private_address",
    "/fail/metadata": "private_address",
    "/fail/pdf": "content_type",
    "/private/secret.html": "robots",
}


def test_every_failure_is_recorded_and_the_run_completes(live_site, fast_fetch, db_path) -> None:
    settings = Settings(db=db_path, fetch=fast_fetch)
    (report,) = ingest_sources(sources(live_site, "failures"), settings)
    assert report.ingest.new == 2  # the good article, and /fail/flaky after its retry
    with duckdb.connect(db_path, read_only=True) as con:
        rejected = dict(con.execute("SELECT source_uri, reason FROM rejections").fetchall())
        runs = con.execute("SELECT status, new, rejected FROM runs").fetchall()
    expected = {live_site.url(path): reason for path, reason in EXPECTED_REJECTIONS.items()}
    expected["ftp://herald.test/news/story-9.html"] = "bad_url"
    assert rejected == expected
    assert runs == [("completed", 2, 11)]


def test_a_trickling_url_is_reported_while_waited_for_and_then_rejected(live_site, fast_fetch, db_path) -> None:
    fetch = FetchSettings(
        **{**fast_fetch.__dict__, "read_timeout": 1.0, "total_timeout": 1.5, "progress_interval": 0.2}
    )
    urls = [live_site.url("/news/story-1.html"), live_site.url("/fail/drip")]
    spec = SourceSpec("drip", "urls", urls=tuple(urls), allow_networks=LOOPBACK)
    heard: list[str] = []
    (report,) = ingest_sources([spec], Settings(db=db_path, fetch=fetch), waiting=lambda p: heard.append(p.summary()))
    assert (report.ingest.new, report.ingest.rejected) == (1, 1)
    with duckdb.connect(db_path, read_only=True) as con:
        assert con.execute("SELECT source_uri, reason FROM rejections").fetchall() == [(urls[1], "fetch_timeout")]
    assert any(f"waiting for {urls[1]}" in line and "1 pending" in line for line in heard), heard


def test_a_huge_served_feed_is_listed_in_bounded_memory_up_to_the_item_limit(live_site, fast_fetch) -> None:
    rows = "".join(
        f"<item><title>Story {i}</title><link>{{{{BASE}}}}/news/big-{i}.html</link></item>\n" for i in range(50_000)
    )
    (live_site.root / "feeds" / "big.rss").write_text(f'<rss version="2.0"><channel>{rows}</channel></rss>')
    fetch = FetchSettings(**{**fast_fetch.__dict__, "max_listing_items": 500, "max_feed_bytes": 20_000_000})
    spec = SourceSpec("big", "feed", url=live_site.url("/feeds/big.rss"), allow_networks=LOOPBACK)
    with Fetcher(fetch, AddressPolicy(allow_networks=LOOPBACK)) as fetcher:
        tracemalloc.start()
        try:
            listing = list_source(spec, fetcher, Settings(fetch=fetch))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 50_000_000, f"{peak:,} bytes traced"
    assert [e.url for e in listing.entries] == [live_site.url(f"/news/big-{i}.html") for i in range(500)]
    assert [r.reason for r in listing.rejections] == ["listing_limit"]


def test_failed_listings_are_recorded(live_site, fast_fetch, db_path) -> None:
    settings = Settings(db=db_path, fetch=fast_fetch)
    specs = [
        SourceSpec("broken", "feed", url=live_site.url("/feeds/malformed.rss"), allow_networks=LOOPBACK),
        SourceSpec("laughs", "feed", url=live_site.url("/feeds/laughs.rss"), allow_networks=LOOPBACK),
        SourceSpec("gone", "sitemap", url=live_site.url("/fail/404"), allow_networks=LOOPBACK),
        SourceSpec("pdf", "feed", url=live_site.url("/fail/pdf"), allow_networks=LOOPBACK),
    ]
    reports = ingest_sources(specs, settings)
    assert [r.ingest.rejections[0].reason for r in reports] == [
        "malformed_feed",
        "unsafe_xml",
        "http_404",
        "content_type",
    ]
    assert not any(p.startswith("/news/") for p in live_site.paths())


def test_transient_failures_are_retried_next_run_until_given_up(live_site, fast_fetch, db_path) -> None:
    """A 500 leaves the feed's validators unsaved (so its items are listed again) until give_up_after runs."""
    from dataclasses import replace

    settings = Settings(db=db_path, fetch=replace(fast_fetch, retries=0, give_up_after=2))
    specs = sources(live_site, "failures")
    for _ in range(3):
        ingest_sources(specs, settings)
    hits = [h for h in live_site.hits if h.path in ("/fail/500", "/feeds/failures.rss")]
    assert [h.path for h in hits] == ["/feeds/failures.rss", "/fail/500"] * 2 + ["/feeds/failures.rss"]
    assert not any(h.if_none_match for h in hits)  # never a conditional GET while items were unsettled
    assert live_site.counts()["/fail/404"] == 1  # final at once


def test_urls_over_the_cap_wait_for_the_next_run(live_site, fast_fetch, db_path) -> None:
    from dataclasses import replace

    # Generous timeouts: nothing here fails, and on a loaded machine a timed-out read would be fetched twice.
    settings = Settings(db=db_path, fetch=replace(fast_fetch, max_urls=2, read_timeout=10.0, total_timeout=20.0))
    (first,) = ingest_sources(sources(live_site, "world"), settings)
    assert (first.fetched, first.deferred, first.ingest.new) == (2, 1, 2)
    (second,) = ingest_sources(sources(live_site, "world"), settings)
    assert (second.listings_unchanged, second.fetched, second.ingest.new) == (0, 1, 1)  # no 304: not all settled
    (third,) = ingest_sources(sources(live_site, "world"), settings)
    assert third.listings_unchanged == 1
    assert sorted(p for p in live_site.paths() if p.startswith("/news/")) == [
        f"/news/story-{n}.html" for n in (1, 2, 3)
    ]


def test_url_list_source(live_site, fast_fetch, db_path, tmp_path) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text(
        "# morning picks\n"
        f"{live_site.url('/news/story-3.html')}?utm_source=newsletter  # a note\n"
        "\n"
        "not a url\n"
        f"{live_site.url('/news/story-3.html')}#again\n",
        encoding="utf-8",
    )
    (spec,) = command_line_sources(url_files=[str(listing)])
    spec = SourceSpec(spec.name, "urls", file=spec.file, allow_networks=LOOPBACK)
    (report,) = ingest_sources([spec], Settings(db=db_path, fetch=fast_fetch))
    assert (report.listed, report.ingest.new, report.ingest.rejected) == (1, 1, 1)
    assert report.ingest.rejections[0].reason == "bad_url"
    assert live_site.counts()["/news/story-3.html"] == 1


def test_sources_file(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(
        """
[[source]]
name = "herald-world"
kind = "feed"
url = "https://herald.example/world.rss"

[[source]]
name = "herald-sitemap"
kind = "sitemap"
url = "https://herald.example/sitemap_index.xml"
interval = "1h"
rate_limit = 0.5

[[source]]
name = "picks"
kind = "urls"
file = "picks.txt"
interval = 90
allow_private = true
allow_networks = ["10.1.2.0/24"]
""",
        encoding="utf-8",
    )
    specs = load_sources(path)
    assert [(s.name, s.kind, s.interval) for s in specs] == [
        ("herald-world", "feed", 600),
        ("herald-sitemap", "sitemap", 3600),
        ("picks", "urls", 90),
    ]
    assert specs[1].rate_limit == 0.5 and specs[2].file == str(tmp_path / "picks.txt") and specs[2].allow_private
    assert [s.name for s in select_sources(specs, kinds=["sitemap", "urls"])] == ["herald-sitemap", "picks"]
    assert [s.name for s in select_sources(specs, names=["picks"])] == ["picks"]
    both = gather_sources(path, feeds=["https://wire.example/rss"], kinds=["feed"])
    assert [(s.name, s.url) for s in both] == [
        ("herald-world", "https://herald.example/world.rss"),
        ("feed-wire.example-rss", "https://wire.example/rss"),
    ]
    with pytest.raises(ConfigError, match="no source named"):
        gather_sources(path, names=["missing"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[source]]\nname = "a"\nkind = "podcast"\nurl = "https://x.example/"', "kind must be one of"),
        ('[[source]]\nname = "a"\nkind = "feed"', "needs an http"),
        ('[[source]]\nname = "a"\nkind = "feed"\nurl = "file:///etc/passwd"', "needs an http"),
        ('[[source]]\nname = "a"\nkind = "feed"\nurl = "https://x.example/"\ninterval = "soon"', "interval"),
        ('[[source]]\nname = "a"\nkind = "feed"\nurl = "https://x.example/"\nrate = 1', "unknown setting"),
        ('[[source]]\nname = "a"\nkind = "feed"\nurl = "https://x.example/"\nallow_networks = ["nope"]', "CIDR"),
        ('[[source]]\nname = "a b"\nkind = "feed"\nurl = "https://x.example/"', "letters, digits"),
        ('[[source]]\nname = "a"\nkind = "urls"', "needs a 'file'"),
        ("[other]\nx = 1", "defines no"),
        ('[[source]]\nname = "a"\nkind = "feed"\nurl = "https://x.example/"\n' * 2, "appears twice"),
        ("[[source]\n", "not valid TOML"),
    ],
)
def test_bad_sources_file_names_the_problem(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_sources(path)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ('kind = "feed"\nurl = "https://x.example/"\ninterval = "soon"', "interval must be seconds or a duration"),
        ('kind = "podcast"\nurl = "https://x.example/"', "kind must be one of"),
        ('kind = "feed"\nurl = "https://x.example/"\ninterval = 0', "interval must be a positive number"),
    ],
)
def test_a_bad_source_in_a_file_is_named_once(tmp_path: Path, body: str, detail: str) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(f'[[source]]\nname = "a"\n{body}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    assert str(raised.value).startswith(f"source #1 ('a'): {detail}"), str(raised.value)
    assert str(raised.value).count("source") == 1, str(raised.value)


def test_example_sources_file_loads() -> None:
    specs = load_sources(ROOT / "deploy" / "sources.toml")
    assert {s.kind for s in specs} == {"feed", "sitemap"} and all(not s.allow_private for s in specs)


def test_cli_ingests_a_feed_without_prefect(live_site, tmp_path) -> None:
    db = str(tmp_path / "cli.duckdb")
    feed = live_site.url("/feeds/world.rss")
    refused = run_cli("ingest", "--no-prefect", "--db", db, "--feed", feed)
    assert refused.returncode == 1 and "private_address" in refused.stdout  # loopback needs --allow-private
    done = run_cli("ingest", "--no-prefect", "--db", db, "--allow-private", "--feed", feed)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "3 fetched" in done.stdout and "new 3" in done.stdout
    again = run_cli("ingest", "--no-prefect", "--db", db, "--allow-private", "--feed", feed)
    assert again.returncode == 0 and "1 unchanged (304)" in again.stdout


def test_cli_needs_paths_or_sources(tmp_path) -> None:
    done = run_cli("ingest", "--db", str(tmp_path / "x.duckdb"))
    assert done.returncode == 2 and "--feed" in done.stderr


def url_source(name: str, *urls: str) -> SourceSpec:
    return SourceSpec(name, "urls", urls=urls, allow_networks=LOOPBACK)


def test_a_redirected_page_is_stored_under_its_final_url_and_known_by_it(live_site, fast_fetch, db_path) -> None:
    """A short link and the page it redirects to are one page: fetched and stored once."""
    settings = Settings(db=db_path, fetch=fast_fetch)
    (first,) = ingest_sources([url_source("links", live_site.url("/go/story-1"))], settings)
    assert first.ingest.new == 1
    live_site.clear()

    (second,) = ingest_sources([url_source("direct", live_site.url("/news/story-1.html"))], settings)
    assert (second.already_known, second.fetched) == (1, 0)
    assert live_site.paths() == []
    with duckdb.connect(db_path, read_only=True) as con:
        stored = con.execute("SELECT source_uri, url FROM articles").fetchall()
    assert stored == [(live_site.url("/go/story-1"), live_site.url("/news/story-1.html"))]


def test_a_redirect_to_a_stored_page_is_not_stored_again(live_site, fast_fetch, db_path) -> None:
    """The other order: the page is stored, then a short link to it is listed (same run or later)."""
    settings = Settings(db=db_path, fetch=fast_fetch)
    ingest_sources([url_source("direct", live_site.url("/news/story-1.html"))], settings)
    links = url_source(
        "links", live_site.url("/go/story-1"), live_site.url("/go/story-2"), live_site.url("/news/story-2.html")
    )
    (report,) = ingest_sources([links], settings)
    assert report.ingest.new == 1  # story-2, once
    live_site.clear()
    (again,) = ingest_sources([links], settings)
    assert (again.already_known, again.fetched) == (3, 0)  # the short links are settled too
    with duckdb.connect(db_path, read_only=True) as con:
        urls = sorted(r[0] for r in con.execute("SELECT url FROM articles").fetchall())
    assert urls == [live_site.url("/news/story-1.html"), live_site.url("/news/story-2.html")]
    with duckdb.connect(db_path, read_only=True) as con:
        settled = con.execute("SELECT source_uri, reason FROM rejections ORDER BY source_uri").fetchall()
    # a link to a stored page is settled with its reason: the short link to story-1, and story-2's own URL
    # after its short link (listed first) brought that page in the same run
    assert settled == [
        (live_site.url("/go/story-1"), "duplicate_url"),
        (live_site.url("/news/story-2.html"), "duplicate_url"),
    ]


def pass_time(db: str, hours: int) -> None:
    """As if everything stored and fetched so far had happened ``hours`` earlier."""
    with duckdb.connect(db) as con:
        con.execute("UPDATE articles SET ingested_at = ingested_at - to_hours(?)", [hours])
        con.execute("UPDATE page_state SET checked_at = checked_at - to_hours(?)", [hours])


def test_stored_pages_are_fetched_again_under_the_refetch_policy_and_a_changed_one_is_a_revision(
    live_site, fast_fetch, db_path
) -> None:
    settings = Settings(db=db_path, fetch=replace(fast_fetch, refetch_after="6h"))
    (first,) = ingest_sources(sources(live_site, "world"), settings)
    assert first.ingest.new == 3
    live_site.clear()
    (soon,) = ingest_sources(sources(live_site, "world"), settings)
    assert soon.refetched == 0 and article_paths(live_site) == []  # not due yet

    page = live_site.root / "news" / "story-2.html"
    page.write_text(
        page.read_text(encoding="utf-8").replace(
            "</article>",
            "<p>Correction: the ceremony will be broadcast on March 2, not March 9 as first reported.</p></article>",
        ),
        encoding="utf-8",
    )
    pass_time(db_path, 7)
    live_site.clear()
    (due,) = ingest_sources(sources(live_site, "world"), settings)

    assert due.listings_unchanged == 1  # the feed answered 304: the stored pages are due all the same
    assert due.refetched == 3 and article_paths(live_site) == [f"/news/story-{n}.html" for n in (1, 2, 3)]
    assert all(h.if_none_match for h in live_site.hits if h.path.startswith("/news/"))  # conditional GETs
    assert (due.ingest.read, due.ingest.revised, due.ingest.new, due.ingest.unchanged) == (1, 1, 0, 0)  # two 304s
    with duckdb.connect(db_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchall() == [(3,)]
        revised = con.execute("SELECT text, revision, published_at FROM articles WHERE revision > 1").fetchall()
        history = con.execute("SELECT source_uri, text FROM revisions").fetchall()
    assert len(revised) == 1 and "Correction: the ceremony" in revised[0][0] and revised[0][1] == 2
    assert revised[0][2] == date(2026, 11, 2)
    assert history[0][0] == live_site.url("/news/story-2.html") and "Correction" not in history[0][1]

    live_site.clear()
    (after,) = ingest_sources(sources(live_site, "world"), settings)
    assert after.refetched == 0 and article_paths(live_site) == []  # checked just now


def test_pages_are_fetched_again_only_within_refetch_within(live_site, fast_fetch, db_path) -> None:
    settings = Settings(db=db_path, fetch=replace(fast_fetch, refetch_after="1h", refetch_within="2d"))
    ingest_sources(sources(live_site, "world"), settings)
    pass_time(db_path, 3 * 24)
    live_site.clear()
    (report,) = ingest_sources(sources(live_site, "world"), settings)
    assert report.refetched == 0 and article_paths(live_site) == []


def test_a_page_fetched_again_through_its_redirect_is_its_own_not_a_duplicate(live_site, fast_fetch, db_path) -> None:
    """A short link stored under the page it redirects to is that page: fetched again, it revises its article."""
    settings = Settings(db=db_path, fetch=replace(fast_fetch, refetch_after="1h"))
    links = url_source("links", live_site.url("/go/story-1"))
    ingest_sources([links], settings)
    page = live_site.root / "news" / "story-1.html"
    page.write_text(page.read_text(encoding="utf-8").replace("</article>", "<p>Updated at noon.</p></article>"))
    pass_time(db_path, 2)
    (again,) = ingest_sources([links], settings)
    assert again.refetched == 1
    assert (again.ingest.revised, again.ingest.new, again.ingest.rejected) == (1, 0, 0)


def test_refetching_is_off_by_default(live_site, fast_fetch, db_path) -> None:
    settings = Settings(db=db_path, fetch=fast_fetch)
    ingest_sources(sources(live_site, "world"), settings)
    pass_time(db_path, 24 * 365)
    live_site.clear()
    (report,) = ingest_sources(sources(live_site, "world"), settings)
    assert report.refetched == 0 and article_paths(live_site) == []
