"""Ingest: the stages in order, one batch at a time.

``prepare_batch`` (extract + fingerprint) needs no database and is where the time goes;
``store_batch`` assigns and writes a batch in one transaction, on a connection opened for that batch
and closed after it, so the write lock is held only for the short clustering-and-write step (unless
no reader may get in: ``run_writer``). ``run_batches`` runs
both over any stream of documents (``ingest_paths`` over files and folders, ``live`` over feeds,
sitemaps and URL lists); the Prefect flows call the same functions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.alerts.notify import deliver_alerts
from pipeline.alerts.rules import fire_alerts
from pipeline.cluster.assign import assign_batch
from pipeline.cluster.candidates import CandidateIndex
from pipeline.cluster.canonical import save_stories
from pipeline.errors import NothingIngestedError, StorylineError
from pipeline.models import IngestReport, NewArticle
from pipeline.run.counts import split_by_source
from pipeline.run.parallel import PreparePool
from pipeline.run.prepare import Document, PreparedBatch, batched, blocks, transactions
from pipeline.settings import Settings
from pipeline.sources.files import count_files, read_paths
from pipeline.store import Store, stored_vector
from pipeline.store.lake.publish import RunPublisher
from pipeline.store.readcopy import refresh_read_copy
from pipeline.store.search import refresh_search_index, start_search_index

Progress = Callable[[IngestReport, int], None]
logger = logging.getLogger(__name__)


def store_batch(
    store: Store, index: CandidateIndex, run_id: str, prepared: PreparedBatch, settings: Settings
) -> IngestReport:
    """Cluster a prepared batch and write it, with its rejections and counts, in one transaction.

    The batch is clustered one block (``ClusterSettings.block_size`` documents) at a time, each block
    written before the next is assigned, so a block sees the ones before it as stored. The candidate
    index reads those writes before they commit: if the transaction rolls back after a block was
    written, the index forgets all it read and loads again (``CandidateIndex.reset``).
    """
    report = IngestReport()
    begun = 0
    try:
        with store.transaction():
            for part in blocks(prepared, settings.cluster.block_size):
                begun += 1
                report.add(_store_block(store, index, run_id, part, settings))
    except BaseException:
        if begun > 1:  # the index has read this transaction's writes: it starts over at its next refresh
            index.reset()
        raise
    return report


def _store_block(
    store: Store, index: CandidateIndex, run_id: str, prepared: PreparedBatch, settings: Settings
) -> IngestReport:
    """Cluster one block and write it, with its rejections and counts, in the open transaction."""
    decided = assign_batch(store, index, prepared.items, settings, run_id)
    report = IngestReport(
        read=prepared.read,
        new=len(decided.articles),
        unchanged=decided.unchanged,
        revised=len(decided.revisions),
        rejected=len(prepared.rejections),
        stories_created=len(decided.created),
        stories_grown=len(decided.grown),
        stories_merged=len(decided.merges),
        rejections=list(prepared.rejections),
        created_story_ids=sorted(decided.created),
        grown_story_ids=sorted(decided.grown),
        by_source=split_by_source(
            prepared.items,
            prepared.rejections,
            prepared.rejected_sources or [None] * len(prepared.rejections),
            decided,
        ),
    )
    for assignment in decided.assignments:
        if assignment.relation in ("exact", "near_duplicate", "rewrite"):
            setattr(report, assignment.relation, getattr(report, assignment.relation) + 1)
    # Revised articles take the seqs before the new ones: every table stays in seq order.
    store.retire([r["seq"] for r in decided.revisions if r["seq"] is not None])
    store.insert_articles(decided.revised)
    store.insert_articles(decided.articles)
    store.insert_revisions(decided.revisions)
    store.insert_links(decided.links, run_id)
    written = [*decided.revised, *decided.articles]
    seq = max((a.row.seq for a in written), default=0)  # the batch's last: rows it rewrites say so
    store.apply_merges(decided.merges, run_id, seq)
    store.move_variant_groups(decided.moves, seq)
    save_stories(
        store,
        list(decided.stories.values()),
        run_id,
        settings.cluster.story_terms,
        settings.cluster.posting_terms,
        seq,
        vectors=_vectors_reader(store, index, written),
    )
    store.record_rejections(run_id, prepared.rejections)
    store.add_to_run(run_id, report)
    # Alerts are written with the batch: a rolled-back batch fires nothing, a re-run fires nothing new.
    report.alerts_fired = len(fire_alerts(store, settings.alerts, [a.row.seq for a in decided.articles], run_id))
    return report


def _vectors_reader(
    store: Store, index: CandidateIndex, written: Sequence[NewArticle]
) -> Callable[[Iterable[int]], dict[int, dict[str, float]]]:
    """Term vectors by seq: this batch's from memory, older ones from the index (or the store's tail).

    Saving stories compares each member with its canonical, most of them articles this batch just
    wrote; reading those back from DuckDB cost ~0.2 ms an article.
    """
    batch = {article.row.seq: article.terms for article in written}

    def vectors(seqs: Iterable[int]) -> dict[int, dict[str, float]]:
        wanted = set(seqs)
        found = {seq: stored_vector(batch[seq]) for seq in wanted & batch.keys()}
        found.update(index.vectors(store, wanted - batch.keys()))
        return found

    return vectors


def open_batch_store(settings: Settings) -> Store:
    """The writer's connection for one batch.

    While preparation workers run, they keep every core busy; DuckDB's own threads would only compete
    with them (on 2,000 real pages its second thread added ~20% CPU to the writer for no gain in
    time), so the writer's batch work then runs on one thread.
    """
    return Store.open(settings.db, threads=1 if settings.extract.workers > 1 else None)


def check_database(settings: Settings) -> None:
    """Open the database for writing (creating or migrating it) and check its parameters, then close it.

    The command line calls it before starting a Prefect server or flow, so a bad ``--db`` is one line and
    an exit code rather than a failed flow run's tracebacks.
    """
    with Store.open(settings.db) as store:
        store.check_parameters(settings.stored_parameters())


def open_for_run(settings: Settings, inputs: Sequence[str]) -> str:
    """Create/validate the database and record a new run; returns the run id."""
    with Store.open(settings.db) as store:
        store.check_parameters(settings.stored_parameters())
        store.mark_interrupted_runs()
        start_search_index(store)
        return store.begin_run(inputs)


def close_run(
    settings: Settings,
    run_id: str,
    report: IngestReport,
    error: BaseException | None = None,
    keep_empty: bool = True,
    publisher: RunPublisher | None = None,
    index: CandidateIndex | None = None,
) -> None:
    """Mark the run finished: 'failed' when it raised ``error`` or stored nothing from a non-empty input.

    ``runs`` has no column for the error, so it is logged; the batches that committed before it stay.
    With ``keep_empty=False`` (live sources) a run that read nothing leaves no row at all. ``publisher``:
    the run's, whose lake connection the end-of-run publication reuses. ``index``: the run's candidate
    index, whose snapshot is refreshed on the same connection once the run's end is committed.
    """
    status = run_status(report, error)
    if error is not None:
        # A Storyline error is what the caller reports (the CLI prints it as its one line); any other is logged.
        log = logger.info if isinstance(error, StorylineError) else logger.error
        log("run %s %s: %s: %s", run_id, status, type(error).__name__, error)
    with Store.open(settings.db) as store:
        if status == "empty" and not keep_empty:
            # `storyline serve` runs every source each interval; a tick that found nothing new is no event
            # (108 rows in 20 minutes buried the runs that did something).
            store.discard_run(run_id)
        else:
            store.finish_run(run_id, status)
        if report.new or report.revised:  # the full-text index is a snapshot: add this run's articles to it
            refresh_search_index(store)
        store.checkpoint()
        if index is not None:
            index.save(store)  # the snapshot only saves start-up time: when enough is new (``CandidateIndex.save``)
        if settings.snapshot:
            refresh_read_copy(store, settings.snapshot)
    # [lake]: the run's changes become one lake snapshot (the database closed)
    (publisher or RunPublisher(settings)).finish()


def run_status(report: IngestReport, error: BaseException | None = None) -> str:
    """A finished run's status: failed (raised, or stored nothing it read), interrupted, empty or completed."""
    if isinstance(error, Exception):
        return "failed"  # even when earlier batches committed: the input was not all ingested
    if error is not None:
        return "interrupted"  # KeyboardInterrupt, SystemExit: stopped, not broken
    return "completed" if stored_anything(report) else ("empty" if not report.read else "failed")


def stored_anything(report: IngestReport) -> bool:
    """Whether a run stored or recognised any document: new, unchanged or revised."""
    return bool(report.new or report.unchanged or report.revised)


@dataclass
class RecordedRun:
    """One recorded run in the making: its ``runs`` row, candidate index and lake publisher.

    What the run has done so far is ``report`` (the caller keeps it current); ``error`` is a failure that
    ends the run without raising (live sources that failed after their retries); the delivery counts of
    the run's alerts are added to ``delivered`` (by default ``report``).
    """

    settings: Settings
    run_id: str
    index: CandidateIndex
    publisher: RunPublisher
    report: IngestReport = field(default_factory=IngestReport)
    error: BaseException | None = None
    delivered: IngestReport | None = None


@contextmanager
def recorded_run(settings: Settings, inputs: Sequence[str], keep_empty: bool = True) -> Iterator[RecordedRun]:
    """The one run lifecycle of the CLI, the library and both flows: open the run, hand it to the caller,
    then close it once: failed or interrupted if the body raised (and re-raise), else completed, empty or
    failed by what it stored (``keep_empty=False``: a live run that read nothing leaves no row), saving the
    candidate index snapshot; then deliver the run's alerts, which only a run that got to its end does.
    """
    run = RecordedRun(settings, open_for_run(settings, inputs), CandidateIndex.for_database(settings.db),
                      RunPublisher(settings))  # fmt: skip
    try:
        yield run
    except BaseException as exc:
        close_run(settings, run.run_id, run.report, exc, publisher=run.publisher)
        raise
    close_run(settings, run.run_id, run.report, run.error, keep_empty, run.publisher, run.index)
    deliver_run_alerts(settings, run.report if run.delivered is None else run.delivered)


def store_batches(
    prepared: Iterable[PreparedBatch],
    settings: Settings,
    publisher: RunPublisher,
    store_one: Callable[[PreparedBatch], IngestReport],
    report: IngestReport,
    after_batch: Callable[[int, IngestReport], None] | None = None,
) -> IngestReport:
    """The batch loop of every run: store prepared batches in input order into an open run.

    The prepared batches are regrouped into transactions of whole clustering blocks (``transactions``), so
    that how the input was cut into batches decides no story. ``store_one`` clusters and writes one
    such batch in one transaction (``store_batch``, or the flow's
    ``store-batch`` task); its counts are added to ``report`` (the run's) as each batch commits, then
    ``after_batch(number, report)`` runs (progress, logs). Between two batches the lake publisher gets its
    turn (``[lake] every_batches`` / ``every_seconds``) and readers waiting for the lock get theirs: the
    database stays unlocked for at least ``reader_gap_seconds`` after a batch (0: ``run_writer`` keeps it
    open, and nobody gets in before the run ends). Waiting for the workers to
    prepare the next batch counts towards that gap, so the writer sleeps only for what is left of it (when
    extraction bounds the run, nothing: the last batch is stored as soon as it is ready).
    """
    unlocked_at: float | None = None
    batches = transactions(prepared, settings.batch_size, settings.cluster.block_size)
    for number, batch in enumerate(batches, 1):
        if unlocked_at is not None:
            publisher.between_batches()
            gap = settings.reader_gap_seconds - (time.monotonic() - unlocked_at)
            if gap > 0:
                time.sleep(gap)  # the lock is free: let waiting readers take it
        report.add(store_one(batch))
        unlocked_at = time.monotonic()
        if after_batch:
            after_batch(number, report)
    return report


def run_batches(
    documents: Iterable[Document],
    settings: Settings,
    run_id: str,
    index: CandidateIndex,
    progress: Progress | None = None,
    total: int = 0,
    publisher: RunPublisher | None = None,
) -> IngestReport:
    """Prepare documents on the worker pool and store them batch by batch into an open run (files and
    live sources alike): workers extract and fingerprint the next batch while this process stores one.

    ``publisher``: the run's, for ``[lake]`` publications between batches (left open for the run's end);
    by default one for these batches only.
    """

    def after_batch(_number: int, report: IngestReport) -> None:
        if progress:
            progress(report, total)

    own = publisher is None
    publisher = publisher or RunPublisher(settings)  # [lake] every_batches / every_seconds: mid-run
    try:
        with PreparePool(settings) as pool, run_writer(settings, run_id, index) as store_one:
            prepared = pool.prepare_all(batched(documents, settings.batch_size))
            return store_batches(prepared, settings, publisher, store_one, IngestReport(), after_batch)
    finally:
        if own:
            publisher.close()


def batch_writer(settings: Settings, run_id: str, index: CandidateIndex) -> Callable[[PreparedBatch], IngestReport]:
    """What stores one prepared batch of an open run, in its own connection and transaction (``store_batch``)."""

    def store_one(prepared: PreparedBatch) -> IngestReport:
        with open_batch_store(settings) as store:
            return store_batch(store, index, run_id, prepared, settings)

    return store_one


@contextmanager
def run_writer(
    settings: Settings, run_id: str, index: CandidateIndex
) -> Iterator[Callable[[PreparedBatch], IngestReport]]:
    """What stores the prepared batches of an open run, each in its own transaction (``store_batch``).

    Between batches the writer normally closes the database, so that waiting readers and mid-run lake
    publications get in. With ``reader_gap_seconds = 0`` and no lake, nothing is let in before the run
    ends, so one connection serves every batch: reopening costs a connect and a replay of the write-ahead
    log each batch (~70 ms a batch late in a 7,000-article run, a tenth of its time).
    """
    if settings.reader_gap_seconds > 0 or settings.lake.url:
        yield batch_writer(settings, run_id, index)
        return
    with open_batch_store(settings) as store:
        yield lambda prepared: store_batch(store, index, run_id, prepared, settings)


def ingest_prepared(prepared: Iterable[PreparedBatch], settings: Settings, inputs: Sequence[str]) -> IngestReport:
    """Store batches prepared beforehand (``pipeline.run.prepare``) in one recorded run, in the order given.

    An evaluation prepares its records once and stores them in several orders, one database each.
    """
    with recorded_run(settings, inputs) as run, run_writer(settings, run.run_id, run.index) as store_one:
        run.report = store_batches(prepared, settings, run.publisher, store_one, run.report)
    raise_if_nothing_ingested(run.report)
    return run.report


def ingest_documents(
    documents: Iterable[Document],
    settings: Settings,
    inputs: Sequence[str],
    progress: Progress | None = None,
    total: int = 0,
) -> IngestReport:
    """Ingest documents in one recorded run, without Prefect; ``inputs`` names what was read."""
    with recorded_run(settings, inputs) as run:
        run.report = run_batches(documents, settings, run.run_id, run.index, progress, total, run.publisher)
    return run.report


def ingest_paths(
    paths: Sequence[str | Path],
    settings: Settings,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest files and folders into the store, batch by batch, without Prefect."""
    documents = read_paths(paths, settings.extract.max_bytes, parse=False)  # JSONL records parsed by the workers
    report = ingest_documents(documents, settings, [str(p) for p in paths], progress, count_files(paths))
    raise_if_nothing_ingested(report)
    return report


def deliver_run_alerts(settings: Settings, report: IngestReport) -> None:
    """Send pending and previously failed alerts (after the run's batches committed) and count the outcome."""
    delivery = deliver_alerts(settings.db, settings.alerts)
    report.alerts_delivered += delivery.delivered
    report.alerts_failed += delivery.failed + delivery.abandoned


def raise_if_nothing_ingested(report: IngestReport) -> None:
    """A run that read input but stored and recognised none of it failed."""
    if not stored_anything(report):
        reasons = "; ".join(str(r) for r in report.rejections[:5]) or "no input documents found"
        raise NothingIngestedError(f"nothing could be ingested ({report.rejected} rejected): {reasons}")
