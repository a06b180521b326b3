"""The live-source side of the command line: ``storyline ingest --feed/--sitemap/--urls/--sources``
and ``storyline serve``. Kept apart from ``cli`` so the file commands stay readable."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from pipeline.cli.common import prefect_offline, print_summary
from pipeline.errors import ConfigError, StorylineError
from pipeline.models import IngestReport
from pipeline.run.ingest import check_database, stored_anything
from pipeline.run.live import SourceReport, ingest_sources, total_report
from pipeline.settings import Settings
from pipeline.sources.config import gather_sources, load_sources
from pipeline.sources.fetch import FetchProgress


def ingest_live(args: argparse.Namespace, settings: Settings) -> int:
    """Run the live sources once (a Prefect flow unless --no-prefect) and print what each did."""
    if args.paths:
        raise ConfigError("give PATHs or live sources (--feed, --sitemap, --urls, --sources), not both")
    if args.no_prefect:
        specs = gather_sources(args.sources, args.feed, args.sitemap, args.urls, args.source, None, args.allow_private)
        reports = ingest_sources(specs, settings, progress=_print_progress, waiting=_print_waiting)
    else:
        check_database(settings)  # a bad --db: one line now, not a server start and a failed run's tracebacks
        prefect_offline()
        from flows.localserver import prefect_api

        with prefect_api(services=False):  # not Prefect's ephemeral server: it outlives a killed ingest
            from flows.sources import sources_flow

            reports = sources_flow(
                sources=args.sources, feeds=args.feed, sitemaps=args.sitemap, urls=args.urls, only=args.source,
                db=settings.db, config=args.config, allow_private=args.allow_private,
            )  # fmt: skip
    return _print_reports(reports, settings.db)


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve every source of the sources file on its schedule, in this process, until SIGINT or SIGTERM."""
    if not Path(args.sources).is_file():
        raise ConfigError(f"sources file not found: {args.sources} (see deploy/sources.toml)")
    specs = load_sources(args.sources)  # fail here, with a clear message, rather than in every run
    db = str(Path(settings.db).resolve())
    try:
        check_database(settings)  # likewise a bad --db
    except StorylineError as exc:
        if not exc.transient:
            raise
        print(f"storyline: {exc}; the scheduled runs will wait for it", file=sys.stderr)
    prefect_offline()
    from flows.localserver import prefect_api

    config = str(Path(args.config).resolve()) if args.config else None
    stop = threading.Event()
    with stop_on_signals(stop), prefect_api() as api:
        if stop.is_set():  # SIGINT or SIGTERM while the Prefect server was starting
            return 0
        from flows.sources import deployment_key, serve_sources  # imports Prefect: only once the API address is set

        key = deployment_key(args.sources, db, config)
        for spec in specs:
            print(f"serving {spec.kind} {spec.name} every {spec.interval} s as deployment "
                  f"storyline-sources/source-{spec.name}-{key} (Prefect API {api})", file=sys.stderr)  # fmt: skip
        serve_sources(args.sources, db=db, config=config, limit=args.limit, stop=stop)
    return 0


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM set ``stop``, for a clean shutdown; a second signal acts at once."""
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in signals}

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()
        for restored, handler in previous.items():
            signal.signal(restored, handler)

    for signum in signals:
        signal.signal(signum, request_stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _print_progress(report: IngestReport, total_urls: int) -> None:
    print(f"  {report.read} document(s) read ({total_urls} URL(s) to fetch): {report.new} new, "
          f"{report.rejected} rejected", file=sys.stderr)  # fmt: skip


def _print_waiting(progress: FetchProgress) -> None:
    print(f"  {progress.summary()}", file=sys.stderr)


def _print_reports(reports: list[SourceReport], db: str) -> int:
    for report in reports:
        print(report.summary())
    total = total_report(reports)
    print_summary(total, db)
    # Like files: reading something and storing none of it is a failure; finding nothing new is not.
    return 1 if total.read and not stored_anything(total) else 0
