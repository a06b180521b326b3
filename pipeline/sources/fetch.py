"""Fetch: polite and safe HTTP GETs for live sources, each ending as a response or a rejection.

Every fetch is checked before any byte goes out: only http and https; the host is resolved and
refused when any of its addresses is private, loopback, link-local, reserved or multicast (unless
the source allows it), or is an IPv6 form carrying such an IPv4 address (6to4, NAT64, Teredo,
IPv4-mapped), and the connection is pinned to the checked address so DNS cannot change
its answer in between. Redirects are followed by hand so each hop gets the same checks, plus
robots.txt. Bodies are streamed with a size cap, and each URL has one deadline for all its attempts,
so an endless or trickling body costs bounded memory and time (``fetch_timeout``). Transient failures
(connection errors, timeouts, 429, 5xx) are retried with exponential backoff and full jitter while
the deadline allows; everything else is final at once. While fetches are in flight, ``fetch_many``
reports every few seconds what it is waiting for (``FetchProgress``).

Network I/O goes through an ``httpx`` transport, which callers may replace.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from pipeline.errors import EnvironmentFailure, is_environment_error
from pipeline.models import Rejection
from pipeline.settings import FetchSettings

__all__ = [
    "ANY",
    "FEED_TYPES",
    "HTML_TYPES",
    "TRANSIENT_REASONS",
    "AddressPolicy",
    "FetchProgress",
    "Fetched",
    "Fetcher",
    "InFlight",
    "Validators",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
_Pinned = tuple[httpx.URL, dict[str, str], dict[str, object]]  # request URL (a checked IP), headers, extensions

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Feeds and sitemaps: any XML type ("+xml" suffixes included); text/plain for the servers that say so.
FEED_TYPES = frozenset({"application/xml", "text/xml", "+xml", "text/plain", "application/x-gzip", "application/gzip"})
ANY = frozenset({"*"})
# Reasons a later run should try again; every other rejection of a URL is final.
TRANSIENT_REASONS = frozenset(
    {"timeout", "fetch_timeout", "network_error", "http_429", "http_5xx", "robots_unavailable"}
)
# The URL's whole time (total_timeout) is spent: a later run may try again, this one does not.
FETCH_TIMEOUT = "fetch_timeout"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Always refused unless a network is named in allow_networks: the cloud metadata service lives here.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "fc00::/7", "::1/128")
)
# IPv6 forms that carry an IPv4 address (RFC 4291, 6052, 8215): see _embedded_ipv4.
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


@dataclass(frozen=True)
class Validators:
    """What a server said about a version of a resource, to ask next time whether it changed."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        """Conditional GET headers (If-None-Match, If-Modified-Since) for these validators."""
        out = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out


@dataclass(frozen=True)
class Fetched:
    """A successful response: 200 with its body, or 304 Not Modified with none."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int
    body: bytes
    media_type: str | None
    charset: str | None
    validators: Validators

    @property
    def not_modified(self) -> bool:
        """True when the server answered 304 to a conditional GET."""
        return self.status == 304


@dataclass(frozen=True)
class InFlight:
    """A fetch not finished yet: what it waits for, for how long, and how much has arrived."""

    url: str
    seconds: float
    bytes_received: int


@dataclass(frozen=True)
class FetchProgress:
    """Where ``fetch_many`` stands while it waits: URLs done and pending, and the fetches in flight."""

    done: int
    pending: int
    in_flight: tuple[InFlight, ...]  # slowest first
    total_timeout: float

    def summary(self) -> str:
        """One line for logs and the command line, naming the slowest URL in flight."""
        line = f"fetching: {self.done} URL(s) done, {self.pending} pending"
        if self.in_flight:
            slow = self.in_flight[0]
            line += (
                f"; waiting for {slow.url} for {slow.seconds:.0f} s, {slow.bytes_received:,} bytes so far"
                f" (gives up at {self.total_timeout:g} s)"
            )
        return line


class _Attempts:
    """One URL's fetch as it goes: its deadline (set by the first request) and the bytes received."""

    def __init__(self, url: str, limit: float):
        self.url = url
        self.limit = limit
        self.started = time.monotonic()
        self.deadline: float | None = None  # robots.txt and politeness waits do not count
        self.received = 0

    def start_clock(self) -> float:
        """The URL's deadline, starting it at the first request."""
        if self.deadline is None:
            self.deadline = time.monotonic() + self.limit
        return self.deadline

    def expired(self) -> bool:
        """True when the URL's time is up."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def snapshot(self) -> InFlight:
        return InFlight(self.url, time.monotonic() - self.started, self.received)


@dataclass(frozen=True)
class _Failure:
    reason: str
    detail: str
    retry_after: float | None = None

    @property
    def transient(self) -> bool:
        return self.reason in TRANSIENT_REASONS


class AddressPolicy:
    """Which IP addresses may be connected to: public ones, plus networks a source explicitly allows."""

    def __init__(self, allow_private: bool = False, allow_networks: Iterable[str] = ()):
        try:
            allowed = [ipaddress.ip_network(n, strict=False) for n in allow_networks]
        except ValueError as exc:
            raise ValueError(f"bad network in allow_networks: {exc}") from None
        self.allowed = tuple(allowed) + (_PRIVATE_NETWORKS if allow_private else ())

    def refusal(self, address: IPAddress) -> str | None:
        """Why the address may not be connected to, or None when it may."""
        if isinstance(address, ipaddress.IPv6Address):
            if address in _NAT64_LOCAL:  # the operator's own translator, to IPv4 networks only it knows
                return f"{address} is a local-use NAT64 address ({_NAT64_LOCAL})"
            # A relay or translator delivers these to the IPv4 address inside, which must pass on its own.
            for form, inner in _embedded_ipv4(address):
                if why := self._refused_as(inner):
                    return f"{address} is a {form} address for {inner}, {why}"
        why = self._refused_as(address)
        return why and f"{address} is {why}"

    def _refused_as(self, address: IPAddress) -> str | None:
        """What kind of refused address this is ("a loopback address"), or None when it is allowed."""
        if any(address.version == net.version and address in net for net in self.allowed):
            return None
        for label in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
            if getattr(address, f"is_{label}"):
                return f"a {label.replace('_', '-')} address"
        return None if address.is_global else "not a public address"


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, each with the name of its form.

    IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d``, 6to4
    ``2002:AABB:CCDD::/48`` and Teredo ``2001:0:SSSS:SSSS::/32`` (its server, and its client stored inverted).
    """
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if address.ipv4_mapped is not None:
        found.append(("IPv4-mapped", address.ipv4_mapped))
    elif address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are not IPv4 addresses
        found.append(("IPv4-compatible", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)))
    elif address in _NAT64_WELL_KNOWN:
        found.append(("NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)))
    elif address.sixtofour is not None:
        found.append(("6to4", address.sixtofour))
    elif address.teredo is not None:
        server, client = address.teredo
        found += [("Teredo", client), ("Teredo", server)]
    return found


def resolve_host(host: str, port: int) -> list[str]:
    """Every address the host resolves to (IP literals resolve to themselves)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class HostLimiter:
    """Per-host politeness: at most N requests in flight and a minimum interval between starts."""

    def __init__(self, concurrency: int, rate: float, sleep: Callable[[float], None] = time.sleep):
        self._concurrency = concurrency
        self._interval = 1.0 / rate
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next_start: dict[str, float] = {}
        self._host_interval: dict[str, float] = {}

    def slow_down(self, host: str, interval: float) -> None:
        """Space requests to the host at least ``interval`` seconds apart (robots.txt Crawl-delay)."""
        with self._lock:
            self._host_interval[host] = max(interval, self._host_interval.get(host, 0.0))

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold one of the host's request slots, starting no sooner than its rate allows."""
        with self._lock:
            semaphore = self._slots.setdefault(host, threading.Semaphore(self._concurrency))
        with semaphore:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + max(self._interval, self._host_interval.get(host, 0.0))
            if start > now:
                self._sleep(start - now)
            yield


class Fetcher:
    """Fetches URLs for one source under one set of settings; holds a robots.txt cache for its run."""

    def __init__(
        self,
        settings: FetchSettings,
        policy: AddressPolicy | None = None,
        rate: float | None = None,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver = resolve_host,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.policy = policy or AddressPolicy()
        self._resolve = resolver
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._limiter = HostLimiter(settings.per_host_concurrency, rate or settings.per_host_rate, sleep)
        self._robots: dict[str, RobotFileParser | _Failure] = {}
        self._robots_lock = threading.Lock()
        self._inflight: dict[int, _Attempts] = {}
        self._inflight_lock = threading.Lock()
        self._agent = settings.user_agent.split("/", 1)[0].split()[0]
        timeout = httpx.Timeout(
            connect=settings.connect_timeout, read=settings.read_timeout, write=settings.read_timeout, pool=None
        )
        self._client = httpx.Client(
            transport=transport or httpx.HTTPTransport(retries=0),
            timeout=timeout,
            follow_redirects=False,  # by hand, so every hop is checked
            trust_env=False,  # a proxy from the environment would bypass the address checks
            headers={"User-Agent": settings.user_agent},
            limits=httpx.Limits(max_connections=settings.workers * 2, max_keepalive_connections=settings.workers),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(
        self,
        url: str,
        accept: frozenset[str] = HTML_TYPES,
        validators: Validators | None = None,
        max_bytes: int | None = None,
    ) -> Fetched | Rejection:
        """GET one URL with retries on transient failures; a rejection says why it could not be had.

        All attempts share one deadline (``total_timeout``): when it passes, the URL is a
        ``fetch_timeout`` rejection, so one trickling server cannot hold a run for long.
        """
        max_bytes = max_bytes or self.settings.max_bytes
        attempts = self.settings.retries + 1
        clock = _Attempts(url, self.settings.total_timeout)
        with self._inflight_lock:
            self._inflight[id(clock)] = clock
        try:
            for attempt in range(attempts):
                outcome = self._follow(url, accept, validators, max_bytes, check_robots=True, clock=clock)
                if isinstance(outcome, Fetched):
                    return outcome
                delay = self._backoff(attempt, outcome.retry_after)
                out_of_time = clock.deadline is not None and time.monotonic() + delay >= clock.deadline
                if not outcome.transient or attempt + 1 == attempts or out_of_time:
                    tried = f" (tried {attempt + 1} times)" if attempt else ""
                    return Rejection(url, outcome.reason, outcome.detail + tried)
                self._sleep(delay)
            raise AssertionError("unreachable")  # the loop always returns on its last attempt
        finally:
            with self._inflight_lock:
                del self._inflight[id(clock)]

    def in_flight(self) -> tuple[InFlight, ...]:
        """The fetches not finished yet, slowest first."""
        with self._inflight_lock:
            found = [clock.snapshot() for clock in self._inflight.values()]
        return tuple(sorted(found, key=lambda f: -f.seconds))

    def fetch_many(
        self,
        urls: Sequence[str],
        accept: frozenset[str] = HTML_TYPES,
        on_wait: Callable[[FetchProgress], None] | None = None,
        validators: Mapping[str, Validators] | None = None,
    ) -> Iterator[Fetched | Rejection]:
        """Fetch URLs concurrently (``workers`` at once, per-host limits), yielding results in input order.

        While it waits for results, ``on_wait`` hears every ``progress_interval`` seconds how far it is.
        A URL with ``validators`` is a conditional GET (a 304 answer is a ``Fetched`` without a body).
        """
        validators = validators or {}
        window = self.settings.workers * 2  # bounds the bodies held in memory
        yielded = 0
        with ThreadPoolExecutor(self.settings.workers, thread_name_prefix="storyline-fetch") as pool:
            pending: deque[Future[Fetched | Rejection]] = deque()

            def next_result() -> Fetched | Rejection:
                head = pending.popleft()
                while on_wait is not None:
                    try:
                        return head.result(timeout=self.settings.progress_interval)
                    except TimeoutError:
                        done = yielded + sum(f.done() for f in pending)
                        on_wait(FetchProgress(done, len(urls) - done, self.in_flight(), self.settings.total_timeout))
                return head.result()

            for url in urls:
                pending.append(pool.submit(self._fetch_or_reject, url, accept, validators.get(url)))
                if len(pending) >= window:
                    yield next_result()
                    yielded += 1
            while pending:
                yield next_result()
                yielded += 1

    def _fetch_or_reject(
        self, url: str, accept: frozenset[str], validators: Validators | None = None
    ) -> Fetched | Rejection:
        """``fetch``, with any unforeseen error recorded against the URL instead of ending the whole run."""
        try:
            return self.fetch(url, accept, validators)
        except EnvironmentFailure:
            raise
        except Exception as exc:  # one odd page must not cost a source's other pages
            if is_environment_error(exc, permissions=False):  # no memory or file handles: no verdict on the page
                raise EnvironmentFailure(exc, f"fetching {url}") from exc
            return Rejection(url, "fetch_error", f"unexpected {type(exc).__name__} while fetching: {exc}")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter: uniform in [0, backoff * 2**attempt], capped; a server's Retry-After is honoured."""
        ceiling = min(self.settings.backoff_max, self.settings.backoff * 2**attempt)
        delay = self._rng.uniform(0, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.settings.backoff_max))
        return delay

    def _follow(
        self,
        url: str,
        accept: frozenset[str],
        validators: Validators | None,
        max_bytes: int,
        check_robots: bool,
        clock: _Attempts | None = None,
    ) -> Fetched | _Failure:
        """One attempt: follow redirects by hand, re-checking every hop, within the URL's deadline."""
        clock = clock or _Attempts(url, self.settings.total_timeout)
        chain = [url]
        current = url
        for hop in range(self.settings.max_redirects + 1):
            try:
                pinned = self._check_target(current, check_robots)
            except (ValueError, httpx.InvalidURL) as exc:  # a Location header can hold anything
                return _Failure("bad_redirect" if hop else "bad_url", f"cannot fetch {current[:200]!r}: {exc}")
            if isinstance(pinned, _Failure):
                return pinned
            result = self._get(current, pinned, url, accept, validators, max_bytes, clock)
            if not isinstance(result, str):
                return result
            current = result  # a redirect's target
            if current in chain:
                return _Failure("redirect_loop", f"redirects loop back to {current} ({len(chain)} hops)")
            chain.append(current)
        return _Failure("too_many_redirects", f"more than {self.settings.max_redirects} redirects (last to {current})")

    def _check_target(self, url: str, check_robots: bool) -> _Pinned | _Failure:
        """Scheme, then address (before anything is sent, robots.txt included), then robots.txt."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return _Failure("scheme", f"only http and https URLs are fetched, not {url[:200]!r}")
        pinned = self._pin(url)
        if isinstance(pinned, _Failure):
            return pinned
        if check_robots and self.settings.respect_robots and (refusal := self._robots_refusal(url)):
            return refusal
        return pinned

    def _get(
        self,
        url: str,
        pinned: _Pinned,
        requested: str,
        accept: frozenset[str],
        validators: Validators | None,
        max_bytes: int,
        clock: _Attempts,
    ) -> Fetched | _Failure | str:
        """One GET of one URL: a response, a failure, or the URL a redirect points to."""
        request_url, headers, extensions = pinned
        headers = {**headers, **(validators.headers() if validators else {})}
        host = urlsplit(url).netloc
        try:
            with self._limiter.slot(host):
                deadline = clock.start_clock()
                # No single wait may outlast the URL's deadline, however slowly the bytes come.
                wait = max(0.001, min(self.settings.read_timeout, deadline - time.monotonic()))
                timeout = httpx.Timeout(
                    connect=min(self.settings.connect_timeout, wait), read=wait, write=wait, pool=None
                )
                request = self._client.build_request(
                    "GET", request_url, headers=headers, extensions=extensions, timeout=timeout
                )
                response = self._client.send(request, stream=True)
                try:
                    return self._read(response, url, requested, accept, max_bytes, clock)
                finally:
                    response.close()
        except httpx.TimeoutException as exc:
            if clock.expired():
                return self._out_of_time(url, clock)
            return _Failure("timeout", f"{type(exc).__name__} after the configured timeout while fetching {url}")
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            if is_environment_error(exc, permissions=False):  # httpx wraps EMFILE in ConnectError
                raise EnvironmentFailure(exc, f"fetching {url}") from exc
            if "location header" in str(exc).lower():  # httpx checks a redirect's target as it reads it
                return _Failure("bad_redirect", f"{url} redirects to an invalid URL: {exc}")
            return _Failure("network_error", f"{type(exc).__name__}: {exc}")
        except httpx.DecodingError as exc:
            return _Failure("bad_encoding", f"the response body could not be decoded: {exc}")
        except httpx.HTTPError as exc:
            return _Failure("fetch_error", f"{type(exc).__name__}: {exc}")

    def _pin(self, url: str) -> _Pinned | _Failure:
        """Resolve the host, refuse disallowed addresses, and aim the request at a checked address."""
        target = httpx.URL(url)
        host = target.host
        port = target.port or (443 if target.scheme == "https" else 80)
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self._resolve(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            return _Failure("dns", f"cannot resolve {host}: {exc}")
        if not addresses:
            return _Failure("dns", f"{host} resolves to no address")
        # Every address must pass: a host that also resolves to 10.0.0.1 could be sent there by DNS later.
        for address in addresses:
            if why := self.policy.refusal(address):
                return _Failure("private_address", f"refused to connect to {host}: {why}")
        headers = {"Host": target.netloc.decode("ascii")}
        extensions: dict[str, object] = {"sni_hostname": host} if target.scheme == "https" else {}
        return target.copy_with(host=str(addresses[0])), headers, extensions

    def _read(
        self,
        response: httpx.Response,
        url: str,
        requested: str,
        accept: frozenset[str],
        max_bytes: int,
        clock: _Attempts,
    ) -> Fetched | _Failure | str:
        status = response.status_code
        if status in REDIRECTS:
            location = response.headers.get("location")
            if not location:
                return _Failure("bad_redirect", f"HTTP {status} without a Location header from {url}")
            return urljoin(url, location.strip()).split("#", 1)[0]
        validators = Validators(response.headers.get("etag"), response.headers.get("last-modified"))
        media_type, charset = _content_type(response.headers.get("content-type"))
        if status == 304:
            return Fetched(requested, url, status, b"", media_type, charset, validators)
        if status >= 400 or status < 200:
            return _http_failure(status, url, response.headers.get("retry-after"))
        if media_type and not _accepts(accept, media_type):
            wanted = ", ".join(sorted(accept))
            return _Failure("content_type", f"{url} is {media_type}, expected one of {wanted}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            return _Failure("too_large", f"{url} declares {int(declared):,} bytes, the limit is {max_bytes:,}")
        body = bytearray()
        clock.received = 0
        for chunk in response.iter_bytes():  # decoded bytes: a gzip bomb counts at its inflated size
            body.extend(chunk)
            clock.received = len(body)
            if len(body) > max_bytes:
                return _Failure("too_large", f"{url} sent more than {max_bytes:,} bytes; stopped reading")
            if clock.expired():
                return self._out_of_time(url, clock)
        return Fetched(requested, url, status, bytes(body), media_type, charset, validators)

    def _out_of_time(self, url: str, clock: _Attempts) -> _Failure:
        limit = self.settings.total_timeout
        got = f"{clock.received:,} bytes of the body arrived" if clock.received else "no body arrived"
        return _Failure(FETCH_TIMEOUT, f"no complete response within {limit:g} s from {url} ({got}); stopped waiting")

    def _robots_refusal(self, url: str) -> _Failure | None:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        with self._robots_lock:  # one robots.txt fetch per host, even with many workers
            rules = self._robots.get(key)
            if rules is None:
                rules = self._robots[key] = self._load_robots(key, parts.netloc)
        if isinstance(rules, _Failure):
            return rules
        if not rules.can_fetch(self._agent, url):
            return _Failure("robots", f"robots.txt of {parts.netloc} disallows {url} for {self._agent}")
        return None

    def _load_robots(self, origin: str, host: str) -> RobotFileParser | _Failure:
        """RFC 9309: 4xx means no rules; 5xx or no answer means assume everything is disallowed, for now."""
        rules = RobotFileParser()
        answer = self._follow(f"{origin}/robots.txt", ANY, None, 500_000, check_robots=False)
        if isinstance(answer, _Failure):
            if answer.reason.startswith("http_4") and answer.reason != "http_429":
                rules.allow_all = True
                return rules
            return _Failure("robots_unavailable", f"robots.txt of {host} unavailable: {answer.detail}")
        rules.parse(answer.body.decode("utf-8", "replace").splitlines())
        delay = rules.crawl_delay(self._agent)
        if delay:
            self._limiter.slow_down(host, min(float(delay), 60.0))
        return rules


def _content_type(header: str | None) -> tuple[str | None, str | None]:
    if not header:
        return None, None
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower() or None
    return media.strip().lower() or None, charset


def _accepts(accept: frozenset[str], media_type: str) -> bool:
    return "*" in accept or media_type in accept or ("+xml" in accept and media_type.endswith("+xml"))


def _http_failure(status: int, url: str, retry_after: str | None) -> _Failure:
    delay = _retry_after_seconds(retry_after) if status in (429, 503) else None
    reason = "http_5xx" if status >= 500 else f"http_{status}"  # one transient code for every 5xx
    return _Failure(reason, f"HTTP {status} from {url}", delay)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
