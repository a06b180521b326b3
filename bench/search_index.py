"""What keeping the full-text index current costs: appending a run's articles against a full rebuild.

    python bench/search_index.py [--data ../shared/data/ecbplus-dev.jsonl] [--tail 100] [--repeat 3]

Ingests all but the last ``--tail`` records into a fresh temporary database (without Prefect; the
run ends with an index build), stores the tail as a second run that is not closed, then times
bringing the index up to date by appending the tail (what the end of a run does) and by a full
rebuild, and a few searches. Figures are printed as seconds and as ratios of the first ingest,
measured in the same process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.cluster.candidates import CandidateIndex  # noqa: E402
from pipeline.run.ingest import ingest_paths, open_for_run, store_batch  # noqa: E402
from pipeline.run.prepare import prepare_batch  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.sources.files import read_paths  # noqa: E402
from pipeline.store import Store  # noqa: E402
from pipeline.store.search import (  # noqa: E402
    append_to_search_index,
    build_search_index,
    index_state,
    search_stories,
)

QUERIES = ("earthquake", "checked into rehab", "police shooting suspect", "oscars host announced")


def main() -> None:
    """Print ingest, index append, index rebuild and search times for one data set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ecbplus-dev.jsonl"))
    parser.add_argument("--tail", type=int, default=100, help="records stored by the second run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lines = Path(args.data).read_text(encoding="utf-8").splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        head, tail = Path(tmp) / "head.jsonl", Path(tmp) / "tail.jsonl"
        head.write_text("\n".join(lines[: -args.tail]) + "\n", encoding="utf-8")
        tail.write_text("\n".join(lines[-args.tail :]) + "\n", encoding="utf-8")
        settings = Settings(db=str(Path(tmp) / "bench.duckdb"))
        start = time.perf_counter()
        first = ingest_paths([head], settings)
        ingest = time.perf_counter() - start
        run_id = open_for_run(settings, [str(tail)])
        prepared = prepare_batch(list(read_paths([tail], settings.extract.max_bytes)), settings)
        with Store.open(settings.db) as store:
            store_batch(store, CandidateIndex(), run_id, prepared, settings)
            start = time.perf_counter()
            state = append_to_search_index(store, index_state(store))
            append = time.perf_counter() - start
            rebuilds = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                build_search_index(store)
                rebuilds.append(time.perf_counter() - start)
            start = time.perf_counter()
            for query in QUERIES:
                search_stories(store, query, limit=10)
            searches = (time.perf_counter() - start) / len(QUERIES)
    rebuild = statistics.median(rebuilds)
    figures = {
        "first ingest": f"{first.new} articles (with its index build) in {ingest:.2f} s",
        "append": f"{args.tail} articles onto {state.articles - args.tail}: {append:.3f} s "
        f"({append / ingest:.1%} of the first ingest)",
        "full rebuild": f"{state.articles} articles: median {rebuild:.3f} s of {args.repeat} "
        f"({rebuild / ingest:.1%} of the first ingest, {1000 * rebuild / state.articles:.2f} ms per article); "
        f"append / rebuild = {append / rebuild:.2f}",
        "search": f"stories, limit 10: {1000 * searches:.0f} ms per query",
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
