"""Live source definitions: a TOML file of feeds, sitemaps and URL lists, or command-line flags.

    [[source]]
    name = "example-world"           # letters, digits, '-', '_', '.'; names the source in the store
    kind = "feed"                    # feed | sitemap | urls
    url = "https://example.com/world/rss.xml"
    interval = "10m"                 # how often `storyline serve` runs it (seconds, or 30s/10m/1h/1d)
    rate_limit = 1.0                 # requests per second to one host (default: fetch.per_host_rate)
    allow_private = false            # allow private and loopback addresses (intranet sources)
    allow_networks = []              # CIDRs allowed besides public addresses, e.g. ["10.1.2.0/24"]

A ``urls`` source takes ``file`` (one URL a line, ``#`` comments) or an inline ``urls = [...]``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.settings import duration_seconds, read_toml
from pipeline.sources.urls import is_web_url

__all__ = ["KINDS", "SourceSpec", "command_line_sources", "gather_sources", "load_sources", "select_sources"]

KINDS = ("feed", "sitemap", "urls")
DEFAULT_INTERVALS = {"feed": 600, "sitemap": 3600, "urls": 3600}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_KEYS = {"name", "kind", "url", "file", "urls", "interval", "allow_private", "allow_networks", "rate_limit"}


@dataclass(frozen=True)
class SourceSpec:
    """One live source and its settings."""

    name: str
    kind: str  # feed | sitemap | urls
    url: str | None = None  # the feed or sitemap
    file: str | None = None  # a URL list file (kind "urls")
    urls: tuple[str, ...] = ()  # inline URLs (kind "urls")
    interval: int = 600  # seconds between scheduled runs
    allow_private: bool = False
    allow_networks: tuple[str, ...] = ()
    rate_limit: float | None = None  # requests per second per host

    def __post_init__(self) -> None:
        where = f"source {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(f"source name {self.name!r} must be letters, digits, '-', '_' or '.' (max 100)")
        if self.kind not in KINDS:
            raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind in ("feed", "sitemap") and not (isinstance(self.url, str) and is_web_url(self.url)):
            raise ConfigError(f"{where}: a {self.kind} needs an http(s) 'url', got {self.url!r}")
        if self.kind == "urls" and not (self.file or self.urls):
            raise ConfigError(f"{where}: a urls source needs a 'file' or a 'urls' list")
        if not isinstance(self.interval, int) or isinstance(self.interval, bool) or self.interval <= 0:
            raise ConfigError(f"{where}: interval must be a positive number of seconds, got {self.interval!r}")
        if self.rate_limit is not None and (
            not isinstance(self.rate_limit, int | float) or isinstance(self.rate_limit, bool) or self.rate_limit <= 0
        ):
            raise ConfigError(f"{where}: rate_limit must be a positive number of requests per second")
        if not isinstance(self.allow_private, bool):
            raise ConfigError(f"{where}: allow_private must be true or false, got {self.allow_private!r}")
        for network in self.allow_networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: {network!r} in allow_networks is not a network (CIDR)") from None

    @property
    def label(self) -> str:
        """How the source appears in a run's inputs: ``kind:name=location``."""
        return f"{self.kind}:{self.name}={self.url or self.file or f'{len(self.urls)} urls'}"


def load_sources(path: str | Path) -> list[SourceSpec]:
    """Read a sources TOML file (``[[source]]`` tables); a bad entry is a ConfigError naming it."""
    path = Path(path)
    data = read_toml(path, "sources file")
    tables = data.get("source")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"sources file {path} defines no [[source]] tables")
    specs = [_spec(table, number, path.parent) for number, table in enumerate(tables, 1)]
    _check_unique(specs, str(path))
    return specs


def command_line_sources(
    feeds: Iterable[str] = (), sitemaps: Iterable[str] = (), url_files: Iterable[str] = (), allow_private: bool = False
) -> list[SourceSpec]:
    """Sources named by ``--feed``, ``--sitemap`` and ``--urls`` flags (named after their host or file)."""
    specs = []
    for kind, values in (("feed", feeds), ("sitemap", sitemaps)):
        for url in values:
            specs.append(SourceSpec(_derived_name(kind, url), kind, url=url, allow_private=allow_private))
    for file in url_files:
        if not Path(file).is_file():
            raise ConfigError(f"URL list file not found: {file}")
        specs.append(SourceSpec(_derived_name("urls", file), "urls", file=str(file), allow_private=allow_private))
    _check_unique(specs, "the command line")
    return specs


def gather_sources(
    sources_file: str | Path | None = None,
    feeds: Iterable[str] = (),
    sitemaps: Iterable[str] = (),
    url_files: Iterable[str] = (),
    names: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
    allow_private: bool = False,
) -> list[SourceSpec]:
    """The sources of a run: a sources file and/or flags, narrowed to some names and kinds."""
    specs = (load_sources(sources_file) if sources_file else []) + command_line_sources(
        feeds, sitemaps, url_files, allow_private
    )
    _check_unique(specs, "the sources file and the command line")
    return select_sources(specs, names, kinds)


def select_sources(
    specs: Sequence[SourceSpec], names: Iterable[str] | None = None, kinds: Iterable[str] | None = None
) -> list[SourceSpec]:
    """The sources with the given names and/or kinds (all when neither is given)."""
    names, kinds = set(names or ()), set(kinds or ())
    unknown = names - {s.name for s in specs}
    if unknown:
        raise ConfigError(f"no source named {', '.join(sorted(unknown))}")
    if bad := kinds - set(KINDS):
        raise ConfigError(f"unknown source kind(s): {', '.join(sorted(bad))}")
    return [s for s in specs if (not names or s.name in names) and (not kinds or s.kind in kinds)]


def parse_interval(value: object, where: str) -> int:
    """Seconds from an integer or a duration like ``90s``, ``10m``, ``1h``, ``1d``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    seconds = duration_seconds(value) if isinstance(value, str) else None
    if seconds is None:
        raise ConfigError(f"{where}: interval must be seconds or a duration like '10m' or '1h', got {value!r}")
    return seconds


def _spec(table: Any, number: int, base: Path) -> SourceSpec:
    where = f"source #{number}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    where = f"source #{number} ({table.get('name', 'unnamed')!r})"
    if unknown := set(table) - _KEYS:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    if "name" not in table or "kind" not in table:
        raise ConfigError(f"{where}: 'name' and 'kind' are required")
    kind = table["kind"]
    file = table.get("file")
    if isinstance(file, str) and not Path(file).is_absolute():
        file = str(base / file)  # relative to the sources file, not to wherever the scheduler runs
    urls = table.get("urls", ())
    if not isinstance(urls, list | tuple) or not all(isinstance(u, str) for u in urls):
        raise ConfigError(f"{where}: urls must be a list of strings")
    networks = table.get("allow_networks", ())
    if not isinstance(networks, list | tuple):
        raise ConfigError(f"{where}: allow_networks must be a list of CIDRs")
    interval = parse_interval(table.get("interval", DEFAULT_INTERVALS.get(kind, 600)), where)  # names `where`
    try:
        return SourceSpec(
            name=table["name"],
            kind=kind,
            url=table.get("url"),
            file=file,
            urls=tuple(urls),
            interval=interval,
            allow_private=table.get("allow_private", False),
            allow_networks=tuple(networks),
            rate_limit=table.get("rate_limit"),
        )
    except ConfigError as exc:
        # SourceSpec names the source ("source 'a': ..."); in a file, name its table instead, and only once.
        detail = str(exc).removeprefix(f"source {table['name']!r}: ")
        raise ConfigError(f"{where}: {detail}") from None


def _derived_name(kind: str, location: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", location.split("://", 1)[-1]).strip("-.")
    return f"{kind}-{stem}"[:100]


def _check_unique(specs: Sequence[SourceSpec], where: str) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ConfigError(f"source name {spec.name!r} appears twice in {where}")
        seen.add(spec.name)
