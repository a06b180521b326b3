"""Every tunable of the pipeline, in one place, with its default and meaning.

Settings are loaded once (defaults < TOML file < environment < explicit overrides) and passed down.
``FingerprintSettings`` and ``ClusterSettings`` are stored with the data: a later run with other
values is refused (see ``store.Store.check_parameters``), because signatures and thresholds
computed under different parameters cannot be compared.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

DEFAULT_DB = "storyline.duckdb"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
SIGNATURE_SCHEME = "xxh64-words/fmix64-shingles/datasketch-perm/v2"
"""How ``sketch.ShingleMinHash`` turns text into signatures; stored as ``fingerprint.scheme`` so a database
built by another scheme (v1: datasketch ``update_batch`` with xxh32 over shingle strings) is refused.
Change it whenever the signature of a given text changes."""


@dataclass(frozen=True)
class ExtractSettings:
    """How raw documents become clean articles."""

    max_bytes: int = 10_000_000
    """Documents larger than this are rejected as too_large before parsing."""
    min_words: int = 5
    """Text articles with fewer words of clean text are rejected as too_short (news flashes are short), or as
    paywalled when subscription sentences were removed from them."""
    min_words_html: int = 25
    """HTML pages with fewer words of extracted text are rejected as too_short (menus, index pages), or as
    paywalled when subscription sentences were removed from them."""
    fast_html: bool = False
    """trafilatura fast mode (skips the fallback extractors): ~1.7x faster, slightly less recall."""
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    """Processes extracting and fingerprinting in parallel during ingest (1 = in the ingesting process)."""

    def __post_init__(self) -> None:
        _positive(self, "max_bytes", "min_words", "min_words_html", "workers")


@dataclass(frozen=True)
class FingerprintSettings:
    """Exact and near-duplicate fingerprints. Stored with the data."""

    shingle_size: int = 3
    """Words per shingle for MinHash."""
    num_perm: int = 128
    """MinHash permutations (signature length)."""
    seed: int = 1
    """MinHash permutation seed."""
    lsh_bands: int = 32
    """LSH bands; lsh_bands * lsh_rows must equal num_perm. 32 bands of 4 find pairs from Jaccard ~0.5 up
    with near certainty; lower-Jaccard copies are found among the members of the article's candidate stories."""
    near_duplicate_threshold: float = 0.32
    """Estimated Jaccard (word 3-shingles) at or above which an article is a near-duplicate of a stored one.
    Re-published copies (trimmed, copy-edited ~10%) measured 0.33+ here; different articles on one event
    mostly < 0.25, but one ECB+ pair shares a wire text (exact Jaccard of its copies 0.20-0.31): at 0.30 the
    estimate's noise (sd ~0.04 at 128 permutations) put it over. 0.32 sits in the gap: near-dup pairwise P/R
    on bench/neardup_set.py 1.000/1.000 (seed 7) and 1.000/0.993 (seed 11); 0.34 still gave R 0.997."""

    def __post_init__(self) -> None:
        _positive(self, "shingle_size", "num_perm", "lsh_bands")
        if self.num_perm % self.lsh_bands:
            raise ConfigError(f"lsh_bands={self.lsh_bands} must divide num_perm={self.num_perm}")
        _unit_interval(self, "near_duplicate_threshold")

    @property
    def lsh_rows(self) -> int:
        """Signature values per LSH band."""
        return self.num_perm // self.lsh_bands


@dataclass(frozen=True)
class ClusterSettings:
    """Story-level (rewrite) similarity. Stored with the data."""

    rewrite_threshold: float = 0.32
    """Cosine between an article's term vector and a story centroid at or above which it joins the story."""
    merge_threshold: float = 0.6
    """Centroid cosine at or above which two stories an article bridges (both >= rewrite_threshold) are merged."""
    window_days: int = 7
    """A dated article joins a story only within this many days of the story's dated articles, and its
    similarity counts for less the further it lies from them: scaled by ``0.5 ** (gap / window_days)``
    (``pipeline.cluster.batch.decay``). A later article on the same subject starts a new story, linked to
    the old one."""
    evidence: str = "language"
    """What a shared term is worth, and how an article is scored against a story.
    ``language``: terms weighted by their rarity in the language (wordfreq), names boosted, numbers
    weighted high; an article joins the story whose centroid's cosine reaches ``rewrite_threshold``.
    Tuned on long articles of look-alike events (ECB+ dev 0.92 B-cubed F1), it chains on short real
    news (names common in the news but rare in the language pull unrelated articles together).
    ``corpus``: stemmed terms weighed by their rarity in the stored news (an idf over the stored
    articles with the language as prior, ``pipeline.fingerprint.evidence``), years, weekdays and months no
    evidence; an article joins the story whose variants' mean cosine with it (average link) reaches
    ``rewrite_threshold``, and stories merge only on the same evidence. On real headline + lead
    streams: allsides-dev 0.73, allsides-dated-dev 0.86, ECB+ dev 0.82 (``bench/story_quality.py``)."""
    name_boost: float = 2.0
    """Weight multiplier for capitalised words inside sentences (names of people, places, bodies);
    ``language`` evidence only."""
    article_terms: int = 120
    """Terms kept per article vector."""
    story_terms: int = 200
    """Terms kept per story centroid."""
    posting_terms: int = 20
    """A story's top centroid terms entered in the candidate index (term -> story postings)."""
    query_terms: int = 15
    """An article's top terms used to look up candidate stories."""
    max_candidates: int = 10
    """Stored candidate stories (best posting matches) scored in full per article: bounds the cost per article.
    On ECB+ dev 10 and 30 give the same stories; fewer means fewer centroids read per batch."""
    member_checks: int = 3
    """Candidate stories whose members are checked for near-duplicates that LSH banding can miss."""
    split_threshold: float = 0.65
    """After each batch, a grown story whose latest variants bisect into two groups with a cohesion ratio
    (mean cosine between them over that within them, see pipeline/cluster/split.py) below this is split in two:
    a look-alike event taken in on shared words. Rewrites of one event bisect at 0.7-1.0 on ECB+ dev."""
    split_min_variants: int = 4
    """Distinct variants each side of a split needs (0: never split). Fewer is noise, not an event."""
    block_size: int = 200
    """Documents clustered together: each block of this many consecutive documents of a run is assigned
    against everything stored before it, then given its second look (``pipeline.cluster.repair``) as a
    whole. A transaction stores whole blocks (``Settings.batch_size`` rounded up to them), so the same
    records make the same stories whatever the batch size, the number of workers and where a crashed
    run was restarted."""

    def __post_init__(self) -> None:
        _unit_interval(self, "rewrite_threshold", "merge_threshold", "split_threshold")
        if self.evidence not in EVIDENCE_MODES:
            raise ConfigError(
                f"ClusterSettings.evidence must be one of {', '.join(EVIDENCE_MODES)}, got {self.evidence!r}"
            )
        value = self.split_min_variants
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"ClusterSettings.split_min_variants must be an integer >= 0, got {value!r}")
        _positive(
            self,
            "article_terms",
            "story_terms",
            "posting_terms",
            "query_terms",
            "max_candidates",
            "member_checks",
            "window_days",
            "block_size",
        )


EVIDENCE_MODES = ("language", "corpus")
# Parameters added after databases were written: a database that predates one was built with this value.
PARAMETER_DEFAULTS = {"cluster.evidence": "language", "cluster.block_size": 200}

# How many candidates are looked up and checked: cost knobs, free to change on an existing database.
CANDIDATE_BREADTH = frozenset({"cluster.query_terms", "cluster.max_candidates", "cluster.member_checks"})

ALERT_KINDS = ("watchlist", "watched_story", "spreading")
VARIANT_RELATIONS = ("exact", "near_duplicate", "rewrite")


@dataclass(frozen=True)
class AlertRule:
    """One alert rule (a ``[[alerts.rules]]`` table). Which fields apply depends on ``kind``."""

    name: str
    """Unique rule name; part of each alert's once-only key (rule, story, condition)."""
    kind: str
    """``watchlist`` (terms in new articles), ``watched_story`` (new variant of a watched story) or ``spreading``."""
    terms: tuple[str, ...] = ()
    """watchlist: names or phrases, matched case-insensitively as whole words on title + text."""
    stories: tuple[str, ...] = ()
    """watched_story: story ids to watch (merged ids follow their story)."""
    flagged: bool = True
    """watched_story: also watch the stories flagged with ``storyline watch STORY_ID``."""
    relations: tuple[str, ...] = ("near_duplicate", "rewrite")
    """watched_story: which new members count as a new variant (``exact`` copies do not by default)."""
    min_sources: int = 3
    """spreading: distinct outlets (as in ``stories.source_count``, see ``pipeline.sources.outlet``) that make a story
    spread."""
    within_hours: int = 48
    """spreading: the sources' articles must fall within this many hours (publication date, else ingest time)."""

    def __post_init__(self) -> None:
        where = f"alert rule {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"every alert rule needs a non-empty name, got {self.name!r}")
        if self.kind not in ALERT_KINDS:
            raise ConfigError(f"{where}: kind must be one of {', '.join(ALERT_KINDS)}, got {self.kind!r}")
        for name in ("terms", "stories", "relations"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) and v.strip() for v in value):
                raise ConfigError(f"{where}: {name} must be a list of non-empty strings, got {value!r}")
            object.__setattr__(self, name, tuple(v.strip() for v in value))
        if self.kind == "watchlist" and not self.terms:
            raise ConfigError(f'{where}: a watchlist rule needs terms = ["name or phrase", ...]')
        if self.kind == "watched_story" and not (self.stories or self.flagged):
            raise ConfigError(f"{where}: a watched_story rule needs stories = [...] or flagged = true")
        bad = set(self.relations) - set(VARIANT_RELATIONS)
        if bad or not self.relations:
            raise ConfigError(f"{where}: relations must be among {', '.join(VARIANT_RELATIONS)}, got {self.relations}")
        _positive(self, "min_sources", "within_hours")


@dataclass(frozen=True)
class AlertSettings:
    """Alert rules and where alerts are delivered (the ``[alerts]`` section)."""

    notify: tuple[str, ...] = ()
    """Apprise URLs every alert is sent to (``json://host:port/path``, ``slack://...``, ``mailto://...``)."""
    max_attempts: int = 5
    """Delivery attempts per alert (one per run) before it is marked ``abandoned``."""
    rules: tuple[AlertRule, ...] = ()
    """The rules, from ``[[alerts.rules]]`` tables."""

    def __post_init__(self) -> None:
        if isinstance(self.notify, str) or not all(isinstance(u, str) and "://" in u for u in self.notify):
            raise ConfigError(f"alerts.notify must be a list of apprise URLs (scheme://...), got {self.notify!r}")
        object.__setattr__(self, "notify", tuple(self.notify))
        rules = tuple(_build(AlertRule, r) if isinstance(r, dict) else r for r in self.rules)
        if not all(isinstance(r, AlertRule) for r in rules):
            raise ConfigError("alerts.rules must be [[alerts.rules]] tables")
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ConfigError(f"alert rule names must be unique, got {names}")
        object.__setattr__(self, "rules", rules)
        _positive(self, "max_attempts")


@dataclass(frozen=True)
class FetchSettings:
    """How live sources (feeds, sitemaps, URL lists) are fetched: politely, safely, within limits."""

    connect_timeout: float = 5.0
    """Seconds to wait for a TCP/TLS connection."""
    read_timeout: float = 15.0
    """Seconds to wait for any bytes from the server once connected."""
    total_timeout: float = 60.0
    """Seconds one URL may take in all (every attempt, redirect, header and body byte, but not robots.txt or
    politeness waits): a body that trickles in under ``read_timeout`` is cut off here and the URL rejected as
    ``fetch_timeout`` (retried by a later run), so the run goes on."""
    progress_interval: float = 5.0
    """Seconds between progress lines while live fetches are in flight (URLs done and pending, slowest URL)."""
    retries: int = 2
    """Extra attempts after a transient failure (connection error, timeout, 429, 5xx); others are final."""
    backoff: float = 1.0
    """First retry delay in seconds; it doubles per attempt, with full jitter, up to ``backoff_max``."""
    backoff_max: float = 30.0
    """Longest single retry delay (also caps a server's Retry-After)."""
    max_bytes: int = 5_000_000
    """Largest article body read; a bigger one is abandoned while streaming and rejected as too_large."""
    max_feed_bytes: int = 20_000_000
    """Largest feed or sitemap body (the sitemap protocol allows 50 MB; few are over 10)."""
    max_listing_items: int = 50_000
    """Items read from one feed or sitemap (its first ones: feeds list the newest first); reading stops there,
    so a huge listing costs bounded memory and time, and a ``listing_limit`` rejection says what was left."""
    max_redirects: int = 5
    """Redirects followed per fetch; each hop is re-checked (scheme, address, robots.txt)."""
    user_agent: str = "Storyline/0.1 (news deduplication; +https://github.com/storyline/storyline)"
    """User-Agent header; robots.txt rules are matched against its first word."""
    workers: int = 8
    """Fetches in flight at once, over all hosts."""
    per_host_concurrency: int = 2
    """Fetches in flight at once to one host."""
    per_host_rate: float = 2.0
    """Requests per second started to one host (a source's ``rate_limit`` or a robots.txt Crawl-delay
    can lower it)."""
    respect_robots: bool = True
    """Honour robots.txt (fetched once per host per run)."""
    max_urls: int = 5000
    """New URLs fetched per source per run; the rest wait for the next run."""
    max_sitemaps: int = 50
    """Sitemaps read per source per run, counting the children of sitemap indexes."""
    sitemap_depth: int = 2
    """How deep sitemap indexes are followed (an index of indexes is depth 2)."""
    give_up_after: int = 5
    """Runs in which a URL failed transiently before it is no longer retried."""
    refetch_after: int | str = 0
    """Fetch a stored article page again once this long has passed since it was last fetched: seconds, or a
    duration like ``"30m"``, ``"6h"``, ``"1d"``; 0 (the default) never fetches a stored page again. The page is
    asked for with the validators it last answered with (If-None-Match / If-Modified-Since): a 304 or the same
    text adds nothing, a changed text is a revision of its article (``revisions``). Held as seconds once loaded."""
    refetch_within: int | str = "7d"
    """Only pages first stored at most this long ago are fetched again (news is corrected in its first days;
    older pages are left alone); 0: whatever their age. Seconds or a duration, held as seconds once loaded."""

    def __post_init__(self) -> None:
        _positive(self, "max_bytes", "max_feed_bytes", "workers", "per_host_concurrency", "max_urls")
        _positive(self, "max_sitemaps", "sitemap_depth", "give_up_after", "max_listing_items")
        for name in ("retries", "max_redirects"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"FetchSettings.{name} must be a non-negative integer, got {value!r}")
        for name in (
            "connect_timeout",
            "read_timeout",
            "total_timeout",
            "progress_interval",
            "backoff_max",
            "per_host_rate",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"FetchSettings.{name} must be a positive number, got {value!r}")
        if not isinstance(self.backoff, int | float) or self.backoff < 0:
            raise ConfigError(f"FetchSettings.backoff must be a non-negative number, got {self.backoff!r}")
        if not isinstance(self.user_agent, str) or not self.user_agent.strip():
            raise ConfigError("FetchSettings.user_agent must be a non-empty string")
        for name in ("refetch_after", "refetch_within"):
            seconds = duration_seconds(getattr(self, name))
            if seconds is None or seconds < 0:
                raise ConfigError(
                    f"FetchSettings.{name} must be seconds or a duration like '6h' or '1d', got {getattr(self, name)!r}"
                )
            object.__setattr__(self, name, seconds)


@dataclass(frozen=True)
class LakeSettings:
    """Where the store is published as a DuckLake for readers (the ``[lake]`` section; see docs/lake.md)."""

    url: str | None = None
    """The lake's catalog: ``ducklake:sqlite:PATH`` (one machine, no server) or ``ducklake:postgres:dbname=...
    host=...`` (several machines). Unset: ``ingest`` and ``serve`` publish nothing."""
    data_path: str | None = None
    """Where the lake's Parquet files go (a folder or ``s3://...``); default ``PATH.files/`` beside a SQLite
    catalog. A Postgres catalog needs one that every reader can reach."""
    every_batches: int = 0
    """During a run, publish after this many batches (0: only at the end of each run)."""
    every_seconds: float = 0.0
    """During a run, publish when this many seconds have passed since the last publication (0: never mid-run)."""
    expire_after_days: float = 7.0
    """``storyline publish --compact`` expires snapshots older than this (time travel reaches this far back)."""
    rewrite_deleted: float = 0.1
    """``--compact`` rewrites a Parquet file once this fraction of its rows was replaced by later publications
    (a changed row is deleted from its file and written again); files with deletes are not merged."""
    search_cache: str | None = None
    """Where ``storyline search --lake`` keeps its local replica of the lake's articles and stories with their
    full-text index (a DuckDB file; see docs/search.md); default one per lake URL in ``$XDG_CACHE_HOME/storyline``
    (``~/.cache/storyline``)."""

    def __post_init__(self) -> None:
        if self.url is not None and not str(self.url).startswith("ducklake:"):
            raise ConfigError(f"lake.url must start with ducklake: (ducklake:sqlite:PATH), got {self.url!r}")
        if not isinstance(self.every_batches, int) or isinstance(self.every_batches, bool) or self.every_batches < 0:
            raise ConfigError(f"LakeSettings.every_batches must be a non-negative integer, got {self.every_batches!r}")
        _seconds(self, "every_seconds")
        if isinstance(self.expire_after_days, bool) or not isinstance(self.expire_after_days, int | float) \
                or self.expire_after_days < 0:  # fmt: skip
            raise ConfigError(f"lake.expire_after_days must be a number >= 0, got {self.expire_after_days!r}")
        if not isinstance(self.rewrite_deleted, int | float) or not 0 <= self.rewrite_deleted <= 1:
            raise ConfigError(f"lake.rewrite_deleted must be between 0 and 1, got {self.rewrite_deleted!r}")


@dataclass(frozen=True)
class Settings:
    """All settings of one Storyline process."""

    db: str = DEFAULT_DB
    batch_size: int = 200
    """Documents per batch: what a preparation worker extracts at a time, and what one transaction stores at
    least, rounded up to whole clustering blocks (``ClusterSettings.block_size``)."""
    read_wait_seconds: float = 10.0
    """How long read commands wait for an ingest's write lock (it is free between batches) before giving up."""
    reader_gap_seconds: float = 0.12
    """How long a writer leaves the database unlocked at least after each batch, so waiting readers get in (they
    poll every 0.1 s at most). Time spent waiting for the next batch counts; a batch prepared in parallel and
    ready at once would otherwise have the writer re-take the lock at once. 0: no reader gets in before the run
    ends, and (without ``[lake]``) the writer keeps one connection for the whole run."""
    snapshot: str | None = None
    """When set, a read-only copy of the database written here at the end of each ingest run, for long queries."""
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    fingerprint: FingerprintSettings = field(default_factory=FingerprintSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    lake: LakeSettings = field(default_factory=LakeSettings)

    def __post_init__(self) -> None:
        _positive(self, "batch_size")
        _seconds(self, "read_wait_seconds")
        _seconds(self, "reader_gap_seconds", maximum=10)

    def stored_parameters(self) -> dict[str, Any]:
        """The parameters that must match the database's, flattened (``fingerprint.num_perm`` ...).

        Everything that shapes stored signatures, vectors, centroids and postings, or the decisions
        recorded from them; not how widely candidates are searched, which may change at any time.
        """
        out: dict[str, Any] = {}
        for section in ("fingerprint", "cluster"):
            for key, value in asdict(getattr(self, section)).items():
                if f"{section}.{key}" not in CANDIDATE_BREADTH:
                    out[f"{section}.{key}"] = value
        out["fingerprint.scheme"] = SIGNATURE_SCHEME
        return out

    @classmethod
    def load(
        cls,
        config: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Defaults, then a TOML file (``config`` or ``$STORYLINE_CONFIG``), then env, then overrides."""
        env = dict(os.environ if env is None else env)
        data: dict[str, Any] = {}
        path = config or env.get("STORYLINE_CONFIG")
        if path:
            data = _read_toml(Path(path))
        if env.get("STORYLINE_DB"):
            data["db"] = env["STORYLINE_DB"]
        data.update({k: v for k, v in overrides.items() if v is not None})
        return _build(cls, data)


def duration_seconds(value: object) -> int | None:
    """Whole seconds from a number or a duration like ``90s``, ``10m``, ``6h``, ``1d``; None when it is neither."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    return int(float(match.group(1)) * _UNIT_SECONDS[match.group(2)]) if match else None


def read_toml(path: Path, what: str = "config file") -> dict[str, Any]:
    """A TOML file as a dict; a missing or malformed file is a ConfigError naming ``what`` it is."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    raw = read_toml(path)
    return raw.get("storyline", raw)


def _build(cls: type, data: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} setting(s): {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        default = known[name].default_factory() if callable(known[name].default_factory) else None
        if default is not None and hasattr(default, "__dataclass_fields__"):
            if not isinstance(value, dict):
                raise ConfigError(f"setting {name!r} must be a table, got {value!r}")
            value = _build(type(default), value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"bad {cls.__name__} settings: {exc}") from None


def _positive(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{type(obj).__name__}.{name} must be a positive integer, got {value!r}")


def _seconds(obj: object, name: str, maximum: float | None = None) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        ok = False
    else:
        ok = maximum is None or value <= maximum
    if not ok:
        bound = ">= 0" if maximum is None else f"between 0 and {maximum}"
        raise ConfigError(f"{type(obj).__name__}.{name} must be a number of seconds {bound}, got {value!r}")


def _unit_interval(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, int | float) or not 0.0 < value <= 1.0:
            raise ConfigError(f"{type(obj).__name__}.{name} must be in (0, 1], got {value!r}")


__all__ = [
    "AlertRule",
    "AlertSettings",
    "ClusterSettings",
    "ExtractSettings",
    "FetchSettings",
    "FingerprintSettings",
    "LakeSettings",
    "Settings",
    "duration_seconds",
    "replace",
]
