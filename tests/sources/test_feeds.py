"""Feed and sitemap parsing, and URL canonicalisation, on real fixture files."""

from __future__ import annotations

import gzip
import tracemalloc
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.models import Rejection
from pipeline.sources.feeds import Entry, parse_feed, parse_sitemap
from pipeline.sources.urls import canonical_url, is_web_url

SITE = Path(__file__).parents[1] / "fixtures" / "live" / "site"
BASE = "http://herald.test"
LIMIT = 1_000_000


def fixture(name: str) -> bytes:
    return (SITE / name).read_bytes().replace(b"{{BASE}}", BASE.encode())


def test_rss_entries_are_canonical_with_title_and_date() -> None:
    entries = parse_feed(fixture("feeds/world.rss"), f"{BASE}/feeds/world.rss", LIMIT)
    assert entries == (
        Entry(f"{BASE}/news/story-1.html", "Tara Reid enters a rehab program", datetime(2026, 11, 1, 8)),
        Entry(f"{BASE}/news/story-2.html", "Ellen DeGeneres to host the Oscars", datetime(2026, 11, 2, 8)),
        Entry(f"{BASE}/news/story-3.html", "Texas prisoner captured after a week on the run", datetime(2026, 11, 3, 8)),
    )


def test_atom_entries_resolve_relative_links() -> None:
    entries = parse_feed(fixture("feeds/tech.atom"), f"{BASE}/feeds/tech.atom", LIMIT)
    assert [(e.url, e.published_ts) for e in entries] == [
        (f"{BASE}/news/story-4.html", datetime(2026, 11, 4, 8)),
        (f"{BASE}/news/story-5.html", datetime(2026, 11, 5, 8)),  # only <updated>: used as the date
    ]


def offset_rss(*pub_dates: str, padding: int = 0) -> bytes:
    """An RSS feed with one item per pubDate; ``padding`` bytes of comment make it big enough to be streamed."""
    items = b"".join(
        b"<item><link>%s/news/tz-%d.html</link><pubDate>%s</pubDate></item>" % (BASE.encode(), i, day.encode())
        for i, day in enumerate(pub_dates)
    )
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Zones</title><!--%s-->' % (b" " * padding)
    return head + items + b"</channel></rss>"


@pytest.mark.parametrize("padding", [0, 1_100_000], ids=["feedparser", "streamed"])
def test_feed_dates_with_offsets_are_read_in_utc(padding: int) -> None:
    """Issue 19: 23:30 at UTC-5 is after 01:30 the next day at UTC+14; the UTC times keep that order."""
    body = offset_rss("Thu, 19 Aug 2021 23:30:00 -0500", "Fri, 20 Aug 2021 01:30:00 +1400", padding=padding)
    entries = parse_feed(body, f"{BASE}/feeds/zones.rss", 50_000_000)
    assert [e.published_ts for e in entries] == [datetime(2021, 8, 20, 4, 30), datetime(2021, 8, 19, 11, 30)]


def test_feed_entries_with_bad_links_are_rejections() -> None:
    entries = parse_feed(fixture("feeds/failures.rss"), f"{BASE}/feeds/failures.rss", LIMIT)
    bad = [e for e in entries if isinstance(e, Rejection)]
    assert [(r.source_uri, r.reason) for r in bad] == [("ftp://herald.test/news/story-9.html", "bad_url")]
    assert len(entries) == 13


def test_news_sitemap_gives_titles_and_publication_dates() -> None:
    listing = parse_sitemap(fixture("sitemaps/news.xml"), f"{BASE}/sitemaps/news.xml", LIMIT)
    assert listing.children == ()
    assert listing.entries == (
        Entry(f"{BASE}/news/story-6.html", "Gary Ross in talks to direct Catching Fire", datetime(2026, 11, 6, 8)),
        Entry(
            f"{BASE}/news/story-7.html", "Klitschko stops Rahman to keep his heavyweight crown", datetime(2026, 11, 7)
        ),
        Entry(f"{BASE}/news/story-1.html", None, datetime(2026, 11, 1)),  # fbclid dropped; lastmod as the date
    )


def test_sitemap_index_lists_children() -> None:
    listing = parse_sitemap(fixture("sitemap_index.xml"), f"{BASE}/sitemap_index.xml", LIMIT)
    assert listing.entries == ()
    assert listing.children == (f"{BASE}/sitemaps/news.xml", f"{BASE}/sitemaps/pages.xml")


def test_gzipped_sitemap_is_read_within_the_cap() -> None:
    body = gzip.compress(fixture("sitemaps/pages.xml"))
    assert parse_sitemap(body, f"{BASE}/s.xml.gz", LIMIT).entries == (
        Entry(f"{BASE}/news/story-8.html", None, datetime(2026, 11, 8)),
    )
    bomb = gzip.compress(b"<urlset>" + b" " * 2_000_000 + b"</urlset>")
    assert parse_sitemap(bomb, f"{BASE}/bomb.xml.gz", LIMIT).reason == "too_large"


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&xxe;</title><link>http://herald.test/a</link></item></channel></rss>"""

# (case, file or bytes, parser, expected reason)
LISTING_FAILURES = [
    ("malformed XML feed", "feeds/malformed.rss", parse_feed, "malformed_feed"),
    ("entity expansion (billion laughs) feed", "feeds/laughs.rss", parse_feed, "unsafe_xml"),
    ("external entity (XXE) feed", XXE, parse_feed, "unsafe_xml"),
    ("HTML page where a feed was expected", "news/story-1.html", parse_feed, "malformed_feed"),
    ("empty body", b"  \n", parse_feed, "malformed_feed"),
    ("feed where a sitemap was expected", "feeds/world.rss", parse_sitemap, "malformed_feed"),
    ("malformed XML sitemap", b"<urlset><url><loc>x</loc></urlset>", parse_sitemap, "malformed_feed"),
    ("entity expansion sitemap", "feeds/laughs.rss", parse_sitemap, "unsafe_xml"),
    ("corrupt gzip sitemap", b"\x1f\x8b\x08\x00garbage", parse_sitemap, "malformed_feed"),
]


@pytest.mark.parametrize(("case", "body", "parse", "reason"), LISTING_FAILURES, ids=[c[0] for c in LISTING_FAILURES])
def test_bad_listing_is_a_rejection(case, body, parse, reason) -> None:
    data = body if isinstance(body, bytes) else fixture(body)
    result = parse(data, f"{BASE}/listing", LIMIT)
    assert isinstance(result, Rejection), case
    assert (result.source_uri, result.reason) == (f"{BASE}/listing", reason)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTP://Example.COM:80/a/b?utm_source=x&b=2&a=1#frag", "http://example.com/a/b?a=1&b=2"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/x?fbclid=1&gclid=2&id=7", "https://example.com:8443/x?id=7"),
        ("https://example.com/caf\u00e9 menu", "https://example.com/caf%C3%A9%20menu"),
        ("https://example.com/a%2Fb", "https://example.com/a%2Fb"),
        ("https://b\u00fccher.example/", "https://xn--bcher-kva.example/"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "javascript:alert(1)", "/relative", "http://user:pw@example.com/"]
)
def test_non_web_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        canonical_url(url)


@given(
    path=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    params=st.lists(st.tuples(st.sampled_from(["a", "id", "utm_campaign", "fbclid", "q"]), st.text(max_size=5))),
)
def test_canonical_url_is_idempotent(path: str, params: list[tuple[str, str]]) -> None:
    from urllib.parse import quote, urlencode

    url = f"https://Example.com/{quote(path)}?{urlencode(params)}"
    once = canonical_url(url)
    assert canonical_url(once) == once and is_web_url(once)
    assert "utm_" not in once and "fbclid" not in once


@given(
    st.one_of(
        st.binary(max_size=400),
        st.text(max_size=400).map(lambda t: f"<rss><channel><item>{t}</item></channel></rss>".encode()),
        st.text(max_size=400).map(lambda t: f"<urlset><url><loc>{t}</loc></url></urlset>".encode()),
    )
)
def test_listing_parsers_never_raise(body: bytes) -> None:
    """Whatever a server sends, parsing ends in entries or a rejection."""
    feed = parse_feed(body, f"{BASE}/feed", LIMIT)
    sitemap = parse_sitemap(body, f"{BASE}/sitemap", LIMIT)
    assert isinstance(feed, Rejection | tuple)
    assert isinstance(sitemap, Rejection) or all(isinstance(e, Entry | Rejection) for e in sitemap.entries)


def big_rss(items: int) -> bytes:
    rows = b"".join(
        b"<item><title>Story %d</title><link>%s/news/big-%d.html</link>"
        b"<pubDate>Sun, 01 Nov 2026 10:00:00 GMT</pubDate></item>\n" % (i, BASE.encode(), i)
        for i in range(items)
    )
    return b'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>\n' + rows + b"</channel></rss>"


def test_a_huge_feed_is_streamed_in_bounded_memory_up_to_the_item_limit() -> None:
    body = big_rss(50_000)
    tracemalloc.start()
    try:
        entries = parse_feed(body, f"{BASE}/feeds/big.rss", 50_000_000, max_items=1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000, f"{peak:,} bytes traced for a {len(body):,}-byte feed"
    assert isinstance(entries, tuple) and len(entries) == 1001
    assert entries[0] == Entry(f"{BASE}/news/big-0.html", "Story 0", datetime(2026, 11, 1, 10))
    assert entries[999].url == f"{BASE}/news/big-999.html"
    assert entries[-1].reason == "listing_limit" and "first 1,000" in entries[-1].detail


def test_a_huge_sitemap_stops_at_the_item_limit() -> None:
    rows = b"".join(b"<url><loc>%s/news/s-%d.html</loc></url>" % (BASE.encode(), i) for i in range(60_000))
    body = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + rows + b"</urlset>"
    listing = parse_sitemap(body, f"{BASE}/sitemap.xml", 50_000_000, max_items=100)
    assert [e.url for e in listing.entries[:100]] == [f"{BASE}/news/s-{i}.html" for i in range(100)]
    assert [e.reason for e in listing.entries[100:]] == ["listing_limit"]


@pytest.mark.parametrize(
    ("case", "body", "reason"),
    [
        ("cut off mid-way", big_rss(20_000)[:-5000], "malformed_feed"),
        ("not a feed", b"<html>" + b"<p>x</p>" * 200_000 + b"</html>", "malformed_feed"),
        ("entity declared", b'<!DOCTYPE r [<!ENTITY a "b">]>' + big_rss(20_000)[21:], "unsafe_xml"),
    ],
)
def test_a_bad_huge_feed_is_still_a_rejection(case: str, body: bytes, reason: str) -> None:
    result = parse_feed(body, f"{BASE}/feeds/big.rss", 50_000_000)
    assert isinstance(result, Rejection) and result.reason == reason, (case, result)
