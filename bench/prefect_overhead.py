"""What the Prefect flow costs over calling the library directly, on the same input.

    python bench/prefect_overhead.py [--pages 600] [--repeats 2] [--batch-size 200]

Starts a temporary local Prefect server (``prefect_test_harness``, SQLite in a temporary
PREFECT_HOME; its start-up is NOT timed) and runs one small warm-up flow (the first flow run in a
process also sets up the client: not timed either). Then ingests the same JSONL of real HTML pages
(as bench/ingest_throughput.py builds it) alternately through the flow (``flows.ingest.ingest_flow``:
batches prepared on the local process pool, one ``store-batch`` task per batch) and through the
library (``pipeline.run.ingest.ingest_paths``), each run into a fresh DuckDB file, and prints the
median wall time of each and their ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from _common import machine, median, timed
from ingest_throughput import build_pages

from pipeline.run.ingest import ingest_paths
from pipeline.settings import Settings


def main() -> None:
    """Print both timings and the flow / library ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="storyline-prefect-bench-") as tmp:
        folder = Path(tmp)
        os.environ["PREFECT_HOME"] = str(folder / "prefect-home")
        os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        os.environ.pop("PREFECT_API_URL", None)
        data, warm = folder / "pages.jsonl", folder / "warm.jsonl"
        build_pages(data, args.pages)
        build_pages(warm, 40)

        from prefect.testing.utilities import prefect_test_harness

        from flows.ingest import ingest_flow

        with prefect_test_harness(server_startup_timeout=180):
            ingest_flow(paths=[str(warm)], db=str(folder / "warm.duckdb"))  # untimed: client and engine set-up
            ingest_paths([warm], Settings(db=str(folder / "warm-lib.duckdb")))
            flow_runs, library_runs = [], []
            for run in range(args.repeats):
                flow_db, lib_db = str(folder / f"flow{run}.duckdb"), str(folder / f"lib{run}.duckdb")
                flow_runs.append(
                    timed(lambda db=flow_db: ingest_flow(paths=[str(data)], db=db, batch_size=args.batch_size))[0]
                )
                library_runs.append(
                    timed(lambda db=lib_db: ingest_paths([data], Settings(db=db, batch_size=args.batch_size)))[0]
                )

    flow_time, library_time = median(flow_runs), median(library_runs)
    print(f"machine: {machine()}")
    print(f"{args.pages} pages, batches of {args.batch_size}, {args.repeats} repeat(s); server start-up not timed")
    print(f"library ingest_paths        {library_time:7.2f} s  ({args.pages / library_time:.1f} pages/s)")
    print(f"Prefect flow ingest_flow    {flow_time:7.2f} s  ({args.pages / flow_time:.1f} pages/s)")
    print(f"ratio (flow / library): {flow_time / library_time:.3f}x")


if __name__ == "__main__":
    main()
