"""Where an ingest's CPU goes, per page and stage, in a preparation worker and in the writer.

    python bench/ingest_profile.py [--pages 2000] [--repeats 2]

The throughput bench (``bench/ingest_throughput.py``) says how fast; this says what the time is
spent on, as CPU time (which other work on a shared machine disturbs far less than wall time).
On the same pages as that bench, in this one process, it measures:

* a preparation worker: every other chunk of 25 pages (one of two workers' share of a batch of
  200), read as ``ingest_paths`` reads them and prepared by ``prepare_batch`` with a fresh term
  weighter, as a worker starts a run. Each stage is timed by wrapping Storyline's own function for
  it: the HTML engine's call (trafilatura), JSONL parsing, language, paywall sentences, term vectors,
  MinHash signatures; pickling a chunk and its result is timed beside it;
* the writer: the pages prepared first (on workers), then stored as a run stores them: the run
  opened, each batch's store opened, clustered and written, the run closed (full-text index,
  checkpoint), the candidate index saved; each step timed.

An indented stage runs inside the one above it (a worker's "extract" holds the engine's call and
language); "other" is what the top-level stages leave of the whole. Prints medians of the repeats.
"""

from __future__ import annotations

import argparse
import importlib
import pickle
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import machine
from ingest_throughput import build_pages

from pipeline.cluster.candidates import CandidateIndex
from pipeline.extract.article import warm_up
from pipeline.fingerprint.fingerprints import TermWeighter
from pipeline.run import ingest
from pipeline.run.parallel import CHUNKS_PER_WORKER, PreparePool
from pipeline.run.prepare import PreparedBatch, batched, prepare_batch
from pipeline.settings import ExtractSettings, Settings
from pipeline.sources.files import read_paths

# (module, attribute, label), in the order printed: the functions whose CPU time a stage is. A stage
# indented under another runs inside it.
PICKLE_IN, PICKLE_OUT = "pickling a chunk in (both ends)", "pickling its result out (both ends)"
WORKER_STAGES = (
    ("", "", PICKLE_IN),
    ("pipeline.sources.files", "JsonlLine.parse", "JSONL parsing"),
    ("pipeline.run.prepare", "extract_many", "extract"),
    ("pipeline.extract.html", "TrafilaturaExtractor.__call__", "  trafilatura bare_extraction (the engine's call)"),
    ("pipeline.extract.article", "detect_language", "  language (py3langid)"),
    ("pipeline.extract.article", "strip_boilerplate", "  paywall and template sentences"),
    ("pipeline.run.prepare", "fingerprint_articles", "fingerprint"),
    ("pipeline.fingerprint.fingerprints", "TermWeighter.vector", "  term vector"),
    ("pipeline.fingerprint.sketch", "ShingleMinHash.signatures", "  MinHash signatures"),
    ("pipeline.fingerprint.fingerprints", "normalise", "  normalised text (content hash, shingles)"),
    ("", "", PICKLE_OUT),
)
WRITER_STAGES = (
    ("pipeline.run.ingest", "open_for_run", "open_for_run"),
    ("pipeline.run.ingest", "open_batch_store", "open_batch_store (each batch)"),
    ("pipeline.run.ingest", "store_batch", "store_batch"),
    ("pipeline.run.ingest", "assign_batch", "  assign_batch (cluster the batch)"),
    ("pipeline.store", "_Transaction.__exit__", "  commit"),
    ("pipeline.run.ingest", "close_run", "close_run"),
    ("pipeline.run.ingest", "refresh_search_index", "  full-text index"),
    ("pipeline.cluster.candidates", "CandidateIndex.save", "  index snapshot"),
)


@contextmanager
def timers(stages: tuple[tuple[str, str, str], ...], spent: dict[str, float]) -> Iterator[None]:
    """Add each stage function's CPU time to ``spent`` while the block runs (the functions restored after)."""
    restore: list[tuple[Any, str, Any]] = []
    for module_name, attribute, label in stages:
        if not module_name:  # timed by the caller
            continue
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        original = getattr(owner, name, None)
        if original is None:  # an older checkout without this function (its row stays at 0)
            continue
        restore.append((owner, name, original))
        setattr(owner, name, _timed(original, label, spent))
    try:
        yield
    finally:
        for owner, name, original in reversed(restore):
            setattr(owner, name, original)


def _timed(function: Callable[..., Any], label: str, spent: dict[str, float]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started

    return timed


def worker_share(path: Path, settings: Settings) -> list[list[Any]]:
    """The chunks one of two workers prepares (every other chunk of each batch), as the reader yields them."""
    size = settings.batch_size // (2 * CHUNKS_PER_WORKER)
    documents = read_paths([path], settings.extract.max_bytes, parse=False)
    return [chunk for number, chunk in enumerate(batched(documents, size)) if number % 2 == 0]


def profile_worker(chunks: list[list[Any]], settings: Settings) -> dict[str, float]:
    """CPU seconds by stage of preparing the chunks as one worker does in a run."""
    spent: dict[str, float] = defaultdict(float)
    weighter = TermWeighter(settings.cluster)  # a worker's, new for each run
    with timers(WORKER_STAGES, spent):
        started = time.process_time()
        for chunk in chunks:
            clock = time.process_time()
            received = pickle.loads(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
            spent[PICKLE_IN] += time.process_time() - clock
            prepared = prepare_batch(received, settings, weighter)
            clock = time.process_time()
            pickle.loads(pickle.dumps(prepared, protocol=pickle.HIGHEST_PROTOCOL))
            spent[PICKLE_OUT] += time.process_time() - clock
        spent["all of it"] = time.process_time() - started
    return spent


def profile_writer(batches: list[PreparedBatch], settings: Settings) -> dict[str, float]:
    """CPU seconds by step of storing prepared batches as a run does (no workers: the writer's own work)."""
    spent: dict[str, float] = defaultdict(float)
    with timers(WRITER_STAGES, spent):
        started = time.process_time()
        run_id = ingest.open_for_run(settings, ["profile"])
        index = CandidateIndex.for_database(settings.db)
        for prepared in batches:
            with ingest.open_batch_store(settings) as store:
                report = ingest.store_batch(store, index, run_id, prepared, settings)
        ingest.close_run(settings, run_id, report, index=index)
        spent["all of it"] = time.process_time() - started
    return spent


def show(title: str, runs: list[dict[str, float]], pages: int, stages: tuple[tuple[str, str, str], ...]) -> None:
    """Print the median ms a page of each stage, and what the top-level stages leave of the whole."""
    print(title)

    def ms(value: Callable[[dict[str, float]], float]) -> float:
        return 1000 * statistics.median(value(run) for run in runs) / pages

    labels = [label for _, _, label in stages]
    for label in labels:
        print(f"  {ms(lambda run, label=label: run.get(label, 0.0)):7.3f} ms/page  {label}")
    top = [label for label in labels if not label.startswith(" ")]
    print(f"  {ms(lambda run: run['all of it'] - sum(run.get(label, 0.0) for label in top)):7.3f} ms/page  other")
    print(f"  {ms(lambda run: run['all of it']):7.3f} ms/page  all of it")


def main() -> None:
    """Print a worker's and the writer's CPU per page, by stage."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="storyline-profile-") as tmp:
        folder = Path(tmp)
        data = folder / "pages.jsonl"
        build_pages(data, args.pages)
        settings = Settings(db=str(folder / "unused.duckdb"), extract=ExtractSettings(fast_html=True, workers=2))
        warm_up()
        chunks = worker_share(data, settings)
        pages = sum(len(chunk) for chunk in chunks)
        workers = [profile_worker(chunks, settings) for _ in range(args.repeats)]
        with PreparePool(settings) as pool:
            documents = read_paths([data], settings.extract.max_bytes, parse=False)
            batches = list(pool.prepare_all(batched(documents, settings.batch_size)))
        writers = []
        for run in range(args.repeats):
            run_settings = Settings(db=str(folder / f"run{run}.duckdb"), extract=settings.extract)
            writers.append(profile_writer(batches, run_settings))
    print(f"machine: {machine()}")
    print(f"{args.pages} pages, CPU time, medians of {args.repeats} repeat(s)")
    show(f"a preparation worker ({pages} pages: every other chunk of 25)", workers, pages, WORKER_STAGES)
    show(f"the writer ({args.pages} pages in batches of {settings.batch_size})", writers, args.pages, WRITER_STAGES)


if __name__ == "__main__":
    main()
