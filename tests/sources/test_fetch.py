"""The fetcher against a real HTTP server on 127.0.0.1: every failure ends as a rejection or a retry."""

from __future__ import annotations

import errno
import ipaddress
import random

import httpx
import pytest

from pipeline.errors import EnvironmentFailure
from pipeline.models import Rejection
from pipeline.settings import FetchSettings
from pipeline.sources.fetch import FEED_TYPES, AddressPolicy, Fetched, Fetcher, FetchProgress, Validators

LOOPBACK_ONLY = AddressPolicy(allow_networks=["127.0.0.1/32"])  # the test site, and nothing else private

# (case, path, expected reason, requests the server sees for the path: retries show as more than one)
FAILURES = [
    ("404 not found", "/fail/404", "http_404", 1),
    ("500 server error, retried then rejected", "/fail/500", "http_5xx", 3),
    ("429 too many requests, retried then rejected", "/fail/429", "http_429", 3),
    ("read timeouts, retried until the URL's total time is up", "/fail/timeout", "fetch_timeout", 2),
    ("slow trickling body, cut off at the URL's total time", "/fail/slow", "fetch_timeout", 1),
    ("oversized body, stopped while streaming", "/fail/big", "too_large", 1),
    ("oversized Content-Length, not read", "/fail/big-declared", "too_large", 1),
    ("redirect loop", "/fail/loop", "redirect_loop", 1),
    ("too many redirects", "/fail/hop/1", "too_many_redirects", 1),
    ("redirect to a private address (10.0.0.1)", "/fail/private", "private_address", 1),
    ("redirect to the metadata service (169.254.169.254)", "/fail/metadata", "private_address", 1),
    ("redirect to a file: URL", "/fail/scheme", "scheme", 1),
    ("redirect to a malformed URL", "/fail/bad-location", "bad_redirect", 1),
    ("non-HTML content type (application/pdf)", "/fail/pdf", "content_type", 1),
    ("robots.txt disallows the page", "/private/secret.html", "robots", 0),
]


@pytest.mark.parametrize(("case", "path", "reason", "requests"), FAILURES, ids=[c[0] for c in FAILURES])
def test_failure_becomes_a_rejection(live_site, fast_fetch, case, path, reason, requests) -> None:
    with Fetcher(fast_fetch, LOOPBACK_ONLY) as fetcher:
        result = fetcher.fetch(live_site.url(path))
    assert isinstance(result, Rejection), case
    assert (result.reason, result.source_uri) == (reason, live_site.url(path)), result.detail
    assert result.detail
    assert live_site.counts()[path] == requests


def test_transient_failure_is_retried_until_it_succeeds(live_site, fast_fetch) -> None:
    with Fetcher(fast_fetch, LOOPBACK_ONLY) as fetcher:
        result = fetcher.fetch(live_site.url("/fail/flaky"))  # 503 once, then the page
    assert isinstance(result, Fetched) and result.status == 200 and b"Tara Reid" in result.body
    assert live_site.counts()["/fail/flaky"] == 2


def test_no_retries_when_disabled(live_site, fast_fetch) -> None:
    settings = FetchSettings(**{**fast_fetch.__dict__, "retries": 0})
    with Fetcher(settings, LOOPBACK_ONLY) as fetcher:
        assert fetcher.fetch(live_site.url("/fail/500")).reason == "http_5xx"
    assert live_site.counts()["/fail/500"] == 1


def test_redirect_is_followed_and_reported(live_site, fast_fetch) -> None:
    with Fetcher(fast_fetch, LOOPBACK_ONLY) as fetcher:
        result = fetcher.fetch(live_site.url("/fail/moved"))
    assert isinstance(result, Fetched)
    assert (result.url, result.final_url) == (live_site.url("/fail/moved"), live_site.url("/news/story-2.html"))


def test_private_address_is_refused_after_dns_resolution(live_site, fast_fetch) -> None:
    """'localhost' is not an IP literal: it is refused for what it resolves to, before any request."""
    url = live_site.url("/news/story-1.html").replace("127.0.0.1", "localhost")
    with Fetcher(fast_fetch) as fetcher:
        result = fetcher.fetch(url)
    assert isinstance(result, Rejection) and result.reason == "private_address"
    assert "loopback" in result.detail
    assert live_site.paths() == []  # not even robots.txt was asked for


def test_allow_private_reaches_loopback_but_not_link_local(live_site, fast_fetch) -> None:
    with Fetcher(fast_fetch, AddressPolicy(allow_private=True)) as fetcher:
        assert isinstance(fetcher.fetch(live_site.url("/news/story-1.html")), Fetched)
        assert fetcher.fetch(live_site.url("/fail/metadata")).reason == "private_address"


def test_hosts_resolving_to_any_private_address_are_refused(fast_fetch) -> None:
    """A name with one public and one private record could be steered to the private one later."""
    resolver = {"mixed.test": ["93.184.216.34", "10.1.2.3"]}
    with Fetcher(fast_fetch, resolver=lambda host, port: resolver[host]) as fetcher:
        result = fetcher.fetch("http://mixed.test/news")
    assert result.reason == "private_address" and "10.1.2.3" in result.detail


@pytest.mark.parametrize(
    ("address", "policy", "refused"),
    [
        ("8.8.8.8", AddressPolicy(), False),
        ("10.0.0.1", AddressPolicy(), True),
        ("192.168.1.1", AddressPolicy(), True),
        ("127.0.0.1", AddressPolicy(), True),
        ("169.254.169.254", AddressPolicy(), True),
        ("::1", AddressPolicy(), True),
        ("fe80::1", AddressPolicy(), True),
        ("224.0.0.1", AddressPolicy(), True),
        ("0.0.0.0", AddressPolicy(), True),
        ("100.64.0.1", AddressPolicy(), True),  # carrier-grade NAT: not public
        ("10.0.0.1", AddressPolicy(allow_private=True), False),
        ("127.0.0.1", AddressPolicy(allow_private=True), False),
        ("169.254.169.254", AddressPolicy(allow_private=True), True),
        ("10.1.2.3", AddressPolicy(allow_networks=["10.1.2.0/24"]), False),
        ("10.1.3.3", AddressPolicy(allow_networks=["10.1.2.0/24"]), True),
    ],
)
def test_address_policy(address: str, policy: AddressPolicy, refused: bool) -> None:
    assert (policy.refusal(ipaddress.ip_address(address)) is not None) == refused


@pytest.mark.parametrize(
    ("address", "inner"),
    [
        ("2002:7f00:1::1", "127.0.0.1"),  # 6to4: the IPv4 address is bits 16-48
        ("2002:a9fe:a9fe::1", "169.254.169.254"),
        ("64:ff9b::7f00:1", "127.0.0.1"),  # NAT64 well-known prefix: the last 32 bits
        ("64:ff9b::a00:1", "10.0.0.1"),
        ("64:ff9b:1::a00:1", "local-use NAT64"),  # RFC 8215 local-use prefix: refused whole
        ("2001:0:808:808::f5ff:fffe", "10.0.0.1"),  # Teredo: the client is the last 32 bits inverted
        ("2001:0:7f00:1::f7f7:f7f7", "127.0.0.1"),  # Teredo: the server is bits 32-64
        ("::ffff:127.0.0.1", "127.0.0.1"),  # IPv4-mapped
        ("::ffff:a9fe:a9fe", "169.254.169.254"),
        ("::127.0.0.1", "127.0.0.1"),  # IPv4-compatible (deprecated)
    ],
)
def test_ipv6_forms_carrying_a_private_ipv4_address_are_refused_for_it(address: str, inner: str) -> None:
    why = AddressPolicy().refusal(ipaddress.ip_address(address))
    assert why is not None and inner in why, why


@pytest.mark.parametrize("address", ["2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe", "::ffff:a9fe:a9fe"])
def test_allow_private_does_not_open_link_local_through_an_ipv6_form(address: str) -> None:
    why = AddressPolicy(allow_private=True).refusal(ipaddress.ip_address(address))
    assert why is not None and "169.254.169.254" in why, why


def test_6to4_with_a_public_ipv4_address_is_allowed() -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address("2002:808:808::1")) is None


def test_6to4_literal_for_loopback_is_refused_before_any_request(fast_fetch) -> None:
    def resolve(host: str, port: int) -> list[str]:
        return [host]

    with Fetcher(fast_fetch, resolver=resolve) as fetcher:
        result = fetcher.fetch("http://[2002:7f00:1::1]/")
    assert result.reason == "private_address" and "127.0.0.1" in result.detail


def test_conditional_get_answers_not_modified(live_site, fast_fetch) -> None:
    url = live_site.url("/feeds/world.rss")
    with Fetcher(fast_fetch, LOOPBACK_ONLY) as fetcher:
        first = fetcher.fetch(url, FEED_TYPES)
        second = fetcher.fetch(url, FEED_TYPES, first.validators)
    assert first.status == 200 and first.validators.etag and first.validators.last_modified
    assert second.not_modified and second.body == b""
    feed_hits = [h for h in live_site.hits if h.path == "/feeds/world.rss"]
    assert [h.if_none_match for h in feed_hits] == [None, first.validators.etag]
    assert feed_hits[1].if_modified_since == first.validators.last_modified


def test_validators_make_conditional_headers() -> None:
    assert Validators('"abc"', "Sat, 21 Nov 2026 08:00:00 GMT").headers() == {
        "If-None-Match": '"abc"',
        "If-Modified-Since": "Sat, 21 Nov 2026 08:00:00 GMT",
    }
    assert Validators().headers() == {}


def test_robots_txt_is_fetched_once_per_host_and_user_agent_is_sent(live_site, fast_fetch) -> None:
    urls = [live_site.url(f"/news/story-{n}.html") for n in range(1, 6)]
    with Fetcher(fast_fetch, LOOPBACK_ONLY) as fetcher:
        results = list(fetcher.fetch_many(urls))
    assert [r.url for r in results] == urls  # input order kept
    assert live_site.counts()["/robots.txt"] == 1
    assert all(h.user_agent == fast_fetch.user_agent for h in live_site.hits)


def test_robots_rules_follow_the_user_agent(live_site, fast_fetch) -> None:
    settings = FetchSettings(**{**fast_fetch.__dict__, "user_agent": "BadBot/1.0"})
    with Fetcher(settings, LOOPBACK_ONLY) as fetcher:
        assert fetcher.fetch(live_site.url("/news/story-1.html")).reason == "robots"
    ignoring = FetchSettings(**{**settings.__dict__, "respect_robots": False})
    with Fetcher(ignoring, LOOPBACK_ONLY) as fetcher:
        assert isinstance(fetcher.fetch(live_site.url("/private/secret.html")), Fetched)


def test_per_host_concurrency_is_capped(live_site, fast_fetch) -> None:
    settings = FetchSettings(**{**fast_fetch.__dict__, "workers": 8, "per_host_concurrency": 2})
    urls = [live_site.url(f"/busy/{n}") for n in range(8)]
    with Fetcher(settings, LOOPBACK_ONLY) as fetcher:
        results = list(fetcher.fetch_many(urls))
    assert all(isinstance(r, Fetched) for r in results)
    assert live_site.max_inflight <= 2


def test_backoff_is_exponential_with_full_jitter_and_a_cap() -> None:
    settings = FetchSettings(backoff=1.0, backoff_max=5.0)
    delays: list[float] = []
    fetcher = Fetcher(settings, rng=random.Random(7), sleep=delays.append)
    with fetcher:
        samples = [[fetcher._backoff(attempt, None) for _ in range(200)] for attempt in range(5)]
        assert fetcher._backoff(0, retry_after=3.0) >= 3.0  # a server's Retry-After is honoured
        assert fetcher._backoff(0, retry_after=100.0) <= 5.0  # but capped
    for attempt, values in enumerate(samples):
        assert min(values) >= 0 and max(values) <= min(5.0, 2**attempt)
    assert max(samples[0]) < 1.0 < max(samples[2])  # grows with the attempt


@pytest.mark.parametrize(
    ("field", "value"),
    [("retries", -1), ("connect_timeout", 0), ("max_bytes", 0), ("per_host_rate", -1.0), ("user_agent", " ")],
)
def test_bad_fetch_settings_are_refused(field: str, value: object) -> None:
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match=field):
        FetchSettings(**{field: value})


def test_an_unforeseen_error_costs_one_url_not_the_batch(fast_fetch) -> None:
    def resolver(host: str, port: int) -> list[str]:
        if host == "odd.test":
            raise RuntimeError("resolver bug")
        return ["93.184.216.34"]

    with Fetcher(fast_fetch, resolver=resolver) as fetcher:
        (result,) = fetcher.fetch_many(["http://odd.test/a"])
    assert (result.reason, result.source_uri) == ("fetch_error", "http://odd.test/a")
    assert "RuntimeError" in result.detail


def test_a_machine_fault_while_fetching_stops_instead_of_rejecting_the_url(fast_fetch) -> None:
    """Too many open files (wrapped by httpx in ConnectError) says nothing about the URL: no rejection."""

    def no_file_handles(request: httpx.Request) -> httpx.Response:
        try:
            raise OSError(errno.EMFILE, "Too many open files")
        except OSError as exc:
            raise httpx.ConnectError("cannot connect", request=request) from exc

    settings = FetchSettings(**{**fast_fetch.__dict__, "respect_robots": False})
    fetcher = Fetcher(settings, LOOPBACK_ONLY, transport=httpx.MockTransport(no_file_handles), resolver=_loopback)
    with fetcher, pytest.raises(EnvironmentFailure, match="Too many open files"):
        list(fetcher.fetch_many(["http://news.test/a"]))


def _loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def test_a_trickling_body_is_rejected_at_the_urls_total_time_limit(live_site, fast_fetch) -> None:
    # A byte every 0.1 s never trips the read timeout; only the per-URL limit (all attempts) stops it.
    settings = FetchSettings(**{**fast_fetch.__dict__, "read_timeout": 1.0, "total_timeout": 1.5, "retries": 2})
    with Fetcher(settings, LOOPBACK_ONLY) as fetcher:
        result = fetcher.fetch(live_site.url("/fail/drip"))
    assert isinstance(result, Rejection) and result.reason == "fetch_timeout", result
    assert "no complete response within 1.5 s" in result.detail and "bytes of the body arrived" in result.detail
    assert live_site.counts()["/fail/drip"] == 1  # the time is spent: no retry in this run


def test_progress_names_the_slowest_url_in_flight_while_fetching(live_site, fast_fetch) -> None:
    settings = FetchSettings(
        **{**fast_fetch.__dict__, "read_timeout": 1.0, "total_timeout": 1.5, "progress_interval": 0.2}
    )
    urls = [live_site.url("/news/story-1.html"), live_site.url("/fail/drip"), live_site.url("/news/story-2.html")]
    heard: list[FetchProgress] = []
    with Fetcher(settings, LOOPBACK_ONLY) as fetcher:
        results = list(fetcher.fetch_many(urls, on_wait=heard.append))
    assert [getattr(r, "reason", "ok") for r in results] == ["ok", "fetch_timeout", "ok"]
    waiting = [p for p in heard if p.in_flight and p.in_flight[0].url == urls[1]]
    assert waiting, heard
    assert any(p.done == 2 and p.pending == 1 for p in waiting)
    line = waiting[-1].summary()
    assert f"waiting for {urls[1]}" in line and "bytes so far" in line and "1 pending" in line
    assert waiting[-1].in_flight[0].bytes_received > 0
