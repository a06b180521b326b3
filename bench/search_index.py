"""What the full-text index costs: rebuild time against the ingest it follows, and query time.

    python bench/search_index.py [--data ../shared/data/ecbplus-dev.jsonl] [--repeat 3]

Ingests the data into a fresh temporary database (without Prefect), then rebuilds the fts index
``--repeat`` times and runs a few searches, and prints each as seconds and as a ratio of the
ingest time measured in the same process (the index is rebuilt whole at the end of every run that
stored articles, so the ratio is what search adds to a run of this size).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.ingest import ingest_paths  # noqa: E402
from pipeline.search import build_search_index, search_stories  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.store import Store  # noqa: E402

QUERIES = ("earthquake", "checked into rehab", "police shooting suspect", "oscars host announced")


def main() -> None:
    """Print ingest, index rebuild and search times for one data set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ecbplus-dev.jsonl"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db=str(Path(tmp) / "bench.duckdb"))
        start = time.perf_counter()
        report = ingest_paths([args.data], settings)  # includes one index build at the end of the run
        ingest = time.perf_counter() - start
        with Store.open(settings.db) as store:
            rebuilds = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                state = build_search_index(store)
                rebuilds.append(time.perf_counter() - start)
            start = time.perf_counter()
            for query in QUERIES:
                search_stories(store, query, limit=10)
            searches = (time.perf_counter() - start) / len(QUERIES)
    rebuild = statistics.median(rebuilds)
    print(f"ingest of {report.new} articles (with its index build): {ingest:.2f} s")
    print(
        f"index rebuild over {state.articles} articles: median {rebuild:.3f} s of {args.repeat} "
        f"= {rebuild / ingest:.1%} of the ingest, {1000 * rebuild / max(state.articles, 1):.2f} ms per article"
    )
    print(f"search (stories, limit 10): {1000 * searches:.0f} ms per query = {searches / ingest:.2%} of the ingest")


if __name__ == "__main__":
    main()
