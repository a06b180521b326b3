"""Parallel preparation: extract and fingerprint batches on worker processes, results in input order.

Extraction (trafilatura) bounds the pipeline and holds the GIL, so it needs processes, not threads.
``PreparePool`` starts ``ExtractSettings.workers`` processes once per run and splits each batch into
chunks for them. Results come back in input order, so a run stores the same articles in the same order
whatever the number of workers.

The workers fork from a forkserver: a clean process, started once per parent process, that has imported
and warmed up what preparation needs (``pipeline.run.preload``: trafilatura, the language model). Forking the
parent itself would be unsafe (DuckDB and Prefect run threads there); spawning each worker afresh costs
~1.5 s of CPU per worker per run in imports and model loading. Where there is no forkserver (Windows,
macOS' default), workers are spawned.
``prepare_all`` keeps the next batch in flight while the caller stores the current one: the workers
extract while the single writer clusters and writes.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType

from pipeline.errors import WorkerCrashedError
from pipeline.fingerprint.fingerprints import TermWeighter
from pipeline.run.prepare import Document, PreparedBatch, prepare_batch
from pipeline.settings import Settings

MIN_PARALLEL_DOCUMENTS = 32
"""Batches smaller than this are prepared in-process: starting workers (~1 s) would cost more than it saves."""
CHUNKS_PER_WORKER = 4
"""Chunks a batch is cut into per worker, so a slow page does not leave the other workers idle."""

Chunk = Sequence[Document]


class PreparePool:
    """Extracts and fingerprints batches, on worker processes when ``settings.extract.workers`` > 1."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.workers = settings.extract.workers
        self._weighter = TermWeighter(settings.cluster)  # in-process path: one zipf cache per run
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> PreparePool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes (idempotent)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def prepare(self, batch: Chunk) -> PreparedBatch:
        """Extract and fingerprint one batch."""
        return _merge(self._submit(batch))

    def prepare_all(self, batches: Iterable[Chunk]) -> Iterator[PreparedBatch]:
        """Prepare batches in order, keeping the next one in flight while the caller handles this one."""
        pending: deque[list[Future[PreparedBatch]] | PreparedBatch] = deque()
        for batch in batches:
            pending.append(self._submit(batch))
            if len(pending) > 1:
                yield _merge(pending.popleft())
        while pending:
            yield _merge(pending.popleft())

    def _submit(self, batch: Chunk) -> list[Future[PreparedBatch]] | PreparedBatch:
        if self.workers <= 1 or len(batch) < MIN_PARALLEL_DOCUMENTS:
            return prepare_batch(batch, self.settings, self._weighter)
        executor = self._start()
        size = -(-len(batch) // (self.workers * CHUNKS_PER_WORKER))
        return [executor.submit(_prepare_chunk, batch[i : i + size]) for i in range(0, len(batch), size)]

    def _start(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=_context(),
                initializer=_init_worker,
                initargs=(self.settings, {name: os.environ.get(name) for name in _WORKER_ENVIRONMENT}),
            )
        return self._executor


def _merge(parts: list[Future[PreparedBatch]] | PreparedBatch) -> PreparedBatch:
    if isinstance(parts, PreparedBatch):
        return parts
    try:
        results = [part.result() for part in parts]
    except BrokenProcessPool as exc:
        raise WorkerCrashedError(f"a preparation worker process died: {exc}") from exc
    return PreparedBatch(
        items=[item for result in results for item in result.items],
        rejections=[rejection for result in results for rejection in result.rejections],
        rejected_sources=[source for result in results for source in result.rejected_sources],
    )


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Read when the forkserver starts (the first pool of this process); a module that fails to
    # import there is skipped, and the workers then import what they need themselves.
    context.set_forkserver_preload(["pipeline.run.preload"])
    return context


# What workers read from the environment. A forkserver keeps the environment it started with, so the
# parent's current values are handed to each worker (a test or a service may change them later).
_WORKER_ENVIRONMENT = ("STORYLINE_CACHE_DIR", "XDG_CACHE_HOME", "HOME")

# Per worker process: its settings and term weighter, set once by the pool's initializer. This is the
# standard way to give ProcessPoolExecutor workers per-process state; the parent never touches it.
_worker_state: tuple[Settings, TermWeighter] | None = None


def _init_worker(settings: Settings, environment: dict[str, str | None]) -> None:
    global _worker_state
    for name, value in environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _worker_state = (settings, TermWeighter(settings.cluster))


def _prepare_chunk(chunk: Chunk) -> PreparedBatch:
    assert _worker_state is not None, "worker used without its initializer"
    settings, weighter = _worker_state
    return prepare_batch(chunk, settings, weighter)


__all__ = ["PreparePool"]
