"""The Prefect flow for live sources: one task per source (with retries), and the schedules to serve.

All the work is in ``pipeline.run.live``: a source task lists the feed or sitemap (conditional GET),
skips what is stored, fetches the rest and ingests it in batches. Retrying a task is safe: URLs it
already stored or finally rejected are skipped on the next attempt. A failed source does not stop
the others; the flow fails at the end, naming it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.deployments.runner import RunnerDeployment
from prefect.logging import get_logger
from prefect.runner import Runner
from prefect.states import Completed, State

from flows.reporting import publish_run_report
from pipeline.cluster.candidates import CandidateIndex
from pipeline.errors import StorylineError
from pipeline.models import IngestReport
from pipeline.run.ingest import recorded_run
from pipeline.run.live import SourceReport, ingest_source, total_report
from pipeline.settings import Settings
from pipeline.sources.config import SourceSpec, gather_sources, load_sources


@task(name="ingest-source", cache_policy=NONE, retries=2, retry_delay_seconds=[10, 60])
def ingest_source_task(spec: SourceSpec, settings: Settings, run_id: str, index: CandidateIndex) -> SourceReport:
    """List one source, fetch its new articles and ingest them in batches."""
    logger = get_run_logger()
    return ingest_source(spec, settings, run_id, index, waiting=lambda progress: logger.info(progress.summary()))


@flow(name="storyline-sources", log_prints=False)
def sources_flow(
    sources: str | None = None,
    feeds: list[str] | None = None,
    sitemaps: list[str] | None = None,
    urls: list[str] | None = None,
    only: list[str] | None = None,
    kinds: list[str] | None = None,
    db: str | None = None,
    config: str | None = None,
    allow_private: bool = False,
) -> list[SourceReport] | State:
    """Ingest the new articles of live sources (a sources TOML file and/or feed, sitemap and URL-list flags)."""
    logger = get_run_logger()
    if refusal := not_served_here(sources, db, config):
        logger.warning("%s", refusal)
        # Not a Cancelled state: Prefect's engine re-raises that as an error, with a traceback, in serve's log.
        return Completed(name="Skipped", message=refusal)
    settings = Settings.load(config, db=db)
    specs = gather_sources(sources, feeds or (), sitemaps or (), urls or (), only, kinds, allow_private)
    reports: list[SourceReport] = []
    failed: list[str] = []
    with recorded_run(settings, [spec.label for spec in specs], keep_empty=False) as run:
        logger.info("run %s: %d source(s) into %s", run.run_id, len(specs), settings.db)
        run.delivered = delivered = IngestReport()  # delivery counts are the run's, not a source's
        for spec in specs:
            state = ingest_source_task.with_options(name=f"source-{spec.name}")(
                spec, settings, run.run_id, run.index, return_state=True
            )
            if state.is_completed():
                reports.append(state.result())
                logger.info("%s", reports[-1].summary())
            else:
                failed.append(spec.name)
            run.report = total_report(reports)
        error = StorylineError(f"source(s) failed after retries: {', '.join(failed)}") if failed else None
        run.error = error
    run_id = run.run_id
    published = publish_run_report({r.source: r.ingest for r in reports}, settings.db, run_id)
    logger.info(
        "alerts: %d fired, %d delivered, %d failed; %d story event(s) emitted",
        sum(r.ingest.alerts_fired for r in reports),
        delivered.alerts_delivered,
        delivered.alerts_failed,
        len(published.events),
    )
    for report in reports:
        for rejection in report.ingest.rejections:
            logger.warning("rejected %s", rejection)
    if error:
        raise error
    return reports


SERVED = "STORYLINE_SERVED"
"""Set by ``serve_sources`` while it serves: the sources file, database and settings of that serve, as JSON.

The runs its runner starts inherit it, and a run made with other ones is skipped (``not_served_here``)."""


def served_parameters(sources_file: str | Path | None, db: str | None, config: str | None) -> dict[str, str | None]:
    """What a serve reads and writes: its sources file, database and settings file, as absolute paths."""
    return {"sources": _absolute(sources_file), "db": _absolute(db), "config": _absolute(config)}


def not_served_here(sources: str | None, db: str | None, config: str | None) -> str | None:
    """Why this run must not run in this process (None: it may).

    Only under ``storyline serve``: a run whose sources file, database or settings differ from the serve's
    was scheduled before serve restarted with other ones, or started by hand with them, and would write
    where this serve was not asked to.
    """
    served = os.environ.get(SERVED)
    if served is None:
        return None
    expected, given = json.loads(served), served_parameters(sources, db, config)
    wrong = [key for key in expected if given[key] != expected[key]]
    if not wrong:
        return None
    made = ", ".join(f"{key} {given[key]}" for key in wrong)
    started = ", ".join(f"{key} {expected[key]}" for key in wrong)
    return (
        f"not run: this run was made for {made}, but this storyline serve was started with {started} "
        "(a run scheduled before serve restarted with other parameters, or started by hand with them)"
    )


def deployment_key(sources_file: str | Path, db: str | None, config: str | None) -> str:
    """Eight hex digits naming a serve's sources file, database and settings.

    Part of each deployment's name, so the runs of a serve started with other ones (scheduled before a
    restart, or by another serve on a shared Prefect server) belong to other deployments, which this
    serve's runner never polls.
    """
    parameters = served_parameters(sources_file, db, config)
    return hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:8]


def build_deployments(
    sources_file: str | Path, db: str | None = None, config: str | None = None
) -> list[RunnerDeployment]:
    """One scheduled deployment per source in the file, at the source's own interval.

    Each is named ``source-<name>-<deployment_key>``: runs never move between databases."""
    path = str(Path(sources_file).resolve())
    key = deployment_key(path, db, config)
    return [
        sources_flow.to_deployment(
            name=f"source-{spec.name}-{key}",
            interval=timedelta(seconds=spec.interval),
            parameters={"sources": path, "only": [spec.name], "db": db, "config": config},
            description=f"Ingest new articles from the {spec.kind} {spec.url or spec.file or spec.name} "
            f"into {db or 'the default database'}",
            tags=["storyline", spec.kind],
        )
        for spec in load_sources(path)
    ]


RUNNER_LOGGER = "prefect.runner"
"""Prefect's runner logger; its poller says "N scheduled runs skipped (at capacity)" on every poll."""


class AtCapacityIsDebug(logging.Filter):
    """Keep the runner's "scheduled runs skipped (at capacity)" line out of INFO logs.

    With ``--limit 1`` and several sources, runs that fall due while another runs wait for the slot:
    that is serve keeping up, not a problem, yet the poller says so every ~10 s. The line is kept when
    the runner logger is set to DEBUG (``PREFECT_LOGGING_LEVEL=DEBUG`` or a logging.yml).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the at-capacity line unless the runner logger logs DEBUG."""
        if "(at capacity)" not in str(record.msg):
            return True
        return logging.getLogger(RUNNER_LOGGER).isEnabledFor(logging.DEBUG)


def quiet_at_capacity() -> None:
    """Install ``AtCapacityIsDebug`` on Prefect's runner logger (once; standard logging API, Prefect untouched)."""
    runner = logging.getLogger(RUNNER_LOGGER)
    if not any(isinstance(f, AtCapacityIsDebug) for f in runner.filters):
        runner.addFilter(AtCapacityIsDebug())


def serve_sources(
    sources_file: str | Path,
    db: str | None = None,
    config: str | None = None,
    limit: int = 1,
    stop: threading.Event | None = None,
) -> None:
    """Run every source on its schedule in this process until ``stop`` is set (single-machine operation).

    ``limit`` runs at a time: one by default, because each run writes the same DuckDB file. Runs made
    with another sources file, database or settings are skipped, not run (``not_served_here``)."""
    quiet_at_capacity()
    with _environment(SERVED, json.dumps(served_parameters(sources_file, db, config))):
        run_until_stopped(build_deployments(sources_file, db, config), limit, stop or threading.Event())


def run_until_stopped(deployments: Sequence[RunnerDeployment], limit: int, stop: threading.Event) -> None:
    """Serve the deployments until ``stop`` is set, then stop the runner with its public ``astop``.

    The runner runs in a thread of its own. Started in the main thread, ``Runner.start`` installs a
    SIGTERM handler that calls ``stop()`` inside the event loop, where it returns a coroutine nobody
    awaits ("coroutine 'Runner.astop' was never awaited"); signals are the caller's, which sets ``stop``.
    On stopping, runs in progress are cancelled and the deployments' schedules paused.
    """
    runner = Runner(limit=limit, pause_on_shutdown=True)
    for deployment in deployments:
        runner.add_deployment(deployment)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(_run_runner(runner, stop))
        except BaseException as exc:  # handed to the calling thread
            failures.append(exc)

    # A daemon thread: a second signal (the caller's handlers are then the default ones) exits at once.
    thread = threading.Thread(target=run, name="storyline-runner", daemon=True)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


async def _run_runner(runner: Runner, stop: threading.Event) -> None:
    started = asyncio.ensure_future(runner.start())
    stopping = asyncio.ensure_future(asyncio.to_thread(stop.wait))
    try:
        await asyncio.wait({started, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            get_logger("runner").info("stopping: cancelling the runs in progress, pausing the schedules")
            while not (runner.started or started.done()):  # a stop while the runner starts: let it finish starting
                await asyncio.sleep(0.05)
            if runner.started:
                await runner.astop()
        await started  # the runner's own failure, if any
    finally:
        stop.set()  # the runner ended by itself: release the thread waiting for a stop
        await stopping


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def _absolute(path: str | Path | None) -> str | None:
    return str(Path(path).resolve()) if path else None
