"""The Prefect ingest flow: settings in, one task per batch, a summary out.

All the work is in ``pipeline``; this file only orchestrates it. Each batch task extracts and
fingerprints without the database, then opens the store for one short transaction, so retries
are safe (a re-run batch adds nothing it already added) and readers get the lock between batches.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from flows.reporting import publish_run_report
from pipeline.index import CandidateIndex
from pipeline.ingest import (
    batched,
    close_run,
    deliver_run_alerts,
    open_for_run,
    prepare_batch,
    raise_if_nothing_ingested,
    save_index,
    store_batch,
)
from pipeline.models import IngestReport, RawDocument, Rejection
from pipeline.runreport import by_input
from pipeline.settings import Settings
from pipeline.sources import count_files, read_paths
from pipeline.store import Store


@task(name="ingest-batch", cache_policy=NONE, retries=2, retry_delay_seconds=2)
def ingest_batch(
    settings: Settings, index: CandidateIndex, run_id: str, batch: list[RawDocument | Rejection]
) -> IngestReport:
    """Extract, fingerprint, cluster and store one batch."""
    prepared = prepare_batch(batch, settings)
    with Store.open(settings.db) as store:
        return store_batch(store, index, run_id, prepared, settings)


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
    run_id = open_for_run(settings, paths)
    total = count_files(paths)
    logger.info("run %s: %d input file(s) into %s", run_id, total, settings.db)
    report = IngestReport()
    # loaded (from its snapshot) on the first batch, then refreshed with each batch's additions
    index = CandidateIndex.for_database(settings.db)
    try:
        for number, batch in enumerate(batched(read_paths(paths, settings.extract.max_bytes), settings.batch_size), 1):
            report.add(ingest_batch(settings, index, run_id, batch))
            logger.info("batch %d: %s", number, _progress(report))
    finally:
        close_run(settings, run_id, report)
    save_index(settings, index)
    deliver_run_alerts(settings, report)
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


def _progress(report: IngestReport) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.counts().items())
