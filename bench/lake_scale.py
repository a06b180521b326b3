"""Publication cost per run against store size: does it grow with the run's new rows, or with the store?

    python bench/lake_scale.py [--stored 100000 1000000] [--probe 1000] [--keep DIR]

For each size: a store generated at the table level (``bench/million.py``: synthetic articles with
the real row shapes), published whole to a fresh SQLite-catalog DuckLake (the one-off first
publication), then a run of ``--probe`` real articles (ECB+ texts and syndicated copies) ingested
into it, and that run published. Printed per size: the first publication's time, and the run's
publication: rows written per table, how long the database was held (staging the changes) and how
long the lake write took. Incremental cost should stay flat from 100k to 1M stored.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT  # noqa: F401  (puts this checkout first on sys.path)

from bench.million import generate, prepare_store, write_probe
from pipeline.index import snapshot_path
from pipeline.ingest import ingest_paths
from pipeline.lake import publish
from pipeline.settings import LakeSettings, Settings


def measure(folder: Path, stored: int, probe: Path) -> dict:
    """Generate, publish whole, ingest the probe, publish the run; the figures."""
    db = folder / f"store-{stored}.duckdb"
    if not db.exists():
        started = time.perf_counter()
        generate(str(db), stored)
        prepare_store(db, snapshot_path(db))
        print(f"  generated {stored:,} articles in {time.perf_counter() - started:.0f} s", flush=True)
    work = folder / f"run-{stored}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    copy = work / "store.duckdb"
    shutil.copyfile(db, copy)
    if snapshot_path(db).exists():
        shutil.copytree(snapshot_path(db), snapshot_path(copy))
    lake = LakeSettings(url=f"ducklake:sqlite:{work / 'lake.sqlite'}")
    started = time.perf_counter()
    publish(str(copy), lake)
    first_seconds = time.perf_counter() - started
    report = ingest_paths([probe], Settings(db=str(copy)))
    started = time.perf_counter()
    run = publish(str(copy), lake)
    return {
        "stored": stored,
        "first_publication_s": first_seconds,
        "new_articles": report.new,
        "run_rows": run.rows,
        "run_held_s": run.read_seconds,
        "run_write_s": run.write_seconds,
        "run_total_s": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stored", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--probe", type=int, default=1000, help="articles in the measured run")
    parser.add_argument("--keep", help="folder for the generated stores (reused if present)")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="storyline-lake-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / "probe.jsonl"
    write_probe(probe, args.probe)
    results = []
    for stored in args.stored:
        print(f"{stored:,} stored:", flush=True)
        figures = measure(folder, stored, probe)
        results.append(figures)
        print(
            f"  first publication (whole store) {figures['first_publication_s']:.1f} s; "
            f"run of {figures['new_articles']} new articles published in {figures['run_total_s']:.2f} s "
            f"(database held {figures['run_held_s']:.2f} s, lake write {figures['run_write_s']:.2f} s), "
            f"rows {figures['run_rows']}",
            flush=True,
        )
    if len(results) > 1:
        small, big = results[0], results[-1]
        print(
            f"run publication at {big['stored']:,} vs {small['stored']:,} stored: "
            f"{big['run_total_s'] / small['run_total_s']:.2f}x total, "
            f"{big['run_held_s'] / small['run_held_s']:.2f}x database held"
        )
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
