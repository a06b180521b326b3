"""The Prefect ingest flow: settings in, batches prepared in parallel, one store task per batch, a summary out.

All the work is in ``pipeline``; this file only orchestrates it. Preparing a batch (extract +
fingerprint) needs no database and runs in parallel: on the local process pool (``PreparePool``)
with the default task runner, or as ``prepare-batch`` tasks on Dask when the flow runs with a
``DaskTaskRunner`` (``run_ingest(..., dask=...)``). Storing stays in the flow process, one
``store-batch`` task per batch in input order: DuckDB takes one writer process, and the candidate
index lives with that writer. Each store task is one short transaction, so retries are safe (a re-run
batch adds nothing it already added) and readers get the lock between batches.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from flows.reporting import publish_run_report
from pipeline.cluster.candidates import CandidateIndex
from pipeline.models import IngestReport, RawDocument, Rejection
from pipeline.run.counts import by_input
from pipeline.run.ingest import batch_writer, raise_if_nothing_ingested, recorded_run, store_batches
from pipeline.run.parallel import PreparePool
from pipeline.run.prepare import PreparedBatch, batched, prepare_batch
from pipeline.settings import Settings
from pipeline.sources.files import count_files, read_paths

if TYPE_CHECKING:
    from prefect_dask import DaskTaskRunner

Batch = list[RawDocument | Rejection]


@task(name="prepare-batch", cache_policy=NONE, retries=2, retry_delay_seconds=2, persist_result=False)
def prepare_task(settings: Settings, batch: Batch) -> PreparedBatch:
    """Extract and fingerprint one batch (no database: runs on any Dask worker)."""
    return prepare_batch(batch, settings)


@task(name="store-batch", cache_policy=NONE, retries=2, retry_delay_seconds=2, persist_result=False)
def store_task(settings: Settings, index: CandidateIndex, run_id: str, prepared: PreparedBatch) -> IngestReport:
    """Cluster and write one prepared batch in one transaction (the single writer)."""
    return batch_writer(settings, run_id, index)(prepared)


@flow(name="storyline-ingest", log_prints=False)
def ingest_flow(
    paths: list[str],
    db: str | None = None,
    config: str | None = None,
    batch_size: int | None = None,
) -> IngestReport:
    """Ingest files and folders (text dumps, HTML, JSONL) into the Storyline database."""
    logger = get_run_logger()
    settings = Settings.load(config, db=db, batch_size=batch_size)
    total = count_files(paths)
    batches = batched(read_paths(paths, settings.extract.max_bytes), settings.batch_size)
    # the run's candidate index is loaded (from its snapshot) on the first batch, then refreshed with each
    # batch's additions; its lake publisher publishes between batches ([lake] every_batches / every_seconds)
    with recorded_run(settings, paths) as run, PreparePool(settings) as pool:
        logger.info("run %s: %d input file(s) into %s", run.run_id, total, settings.db)
        on_runner = not isinstance(FlowRunContext.get().task_runner, ThreadPoolTaskRunner)
        prepared_batches = _prepare_on_runner(batches, settings) if on_runner else pool.prepare_all(batches)

        def store_one(prepared: PreparedBatch) -> IngestReport:
            # quote(): Prefect would otherwise walk every article and fingerprint of the batch looking
            # for upstream futures (~0.7 s a batch of 200); the task still receives the plain objects.
            return store_task(quote(settings), quote(run.index), run.run_id, quote(prepared))

        def logged(number: int, report: IngestReport) -> None:
            logger.info("batch %d: %s", number, _progress(report))

        store_batches(prepared_batches, settings, run.publisher, store_one, run.report, logged)
    report, run_id = run.report, run.run_id
    published = publish_run_report(by_input(report.by_source, paths), settings.db, run_id)
    logger.info(
        "alerts: %d fired, %d delivered, %d failed; %d story event(s) emitted",
        report.alerts_fired,
        report.alerts_delivered,
        report.alerts_failed,
        len(published.events),
    )
    for rejection in report.rejections:
        logger.warning("rejected %s", rejection)
    raise_if_nothing_ingested(report)
    return report


def _prepare_on_runner(batches: Iterable[Batch], settings: Settings) -> Iterator[PreparedBatch]:
    """Prepare batches as tasks on the flow's task runner (Dask), in order, a bounded number in flight."""
    in_flight: deque[PrefectFuture[PreparedBatch]] = deque()
    limit = max(2, 2 * settings.extract.workers)  # keeps every worker busy; memory stays bounded
    for batch in batches:
        in_flight.append(prepare_task.submit(settings, batch))
        if len(in_flight) >= limit:
            yield in_flight.popleft().result()
    while in_flight:
        yield in_flight.popleft().result()


def dask_task_runner(address: str | None = None, workers: int = 2) -> DaskTaskRunner:
    """A DaskTaskRunner: on the scheduler at ``address``, or on a LocalCluster of ``workers`` processes."""
    from prefect_dask import DaskTaskRunner  # deferred: dask takes ~1 s to import; local runs never need it

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None},
    )


def run_ingest(
    paths: list[str],
    db: str | None = None,
    config: str | None = None,
    batch_size: int | None = None,
    dask: str | None = None,
) -> IngestReport:
    """Run the ingest flow; ``dask`` = a scheduler address, or "local" for a LocalCluster, prepares on Dask."""
    runnable = ingest_flow
    if dask:
        workers = Settings.load(config).extract.workers
        runnable = ingest_flow.with_options(task_runner=dask_task_runner(None if dask == "local" else dask, workers))
    return runnable(paths=paths, db=db, config=config, batch_size=batch_size)


@flow(name="storyline-ingest-dask", log_prints=False)
def ingest_on_dask_flow(
    paths: list[str],
    db: str | None = None,
    config: str | None = None,
    batch_size: int | None = None,
    dask_address: str | None = None,
) -> IngestReport:
    """The ingest flow with batches prepared on Dask: ``dask_address``, else $STORYLINE_DASK_ADDRESS, else local."""
    address = dask_address or os.environ.get("STORYLINE_DASK_ADDRESS") or "local"
    return run_ingest(paths, db=db, config=config, batch_size=batch_size, dask=address)


def _progress(report: IngestReport) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.counts().items())
