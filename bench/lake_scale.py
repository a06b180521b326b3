"""Publication cost per run against store size: does it grow with the run's new rows, or with the store?

    python bench/lake_scale.py [--stored 100000 1000000] [--run 1000] [--runs 3] [--keep DIR]

For each size: a store generated at the table level (``bench/million.py``: synthetic articles with
the real row shapes, each row marked written at its own seq as the current writer marks it),
published whole to a fresh SQLite-catalog DuckLake (the one-off first publication); then ``--runs``
times a run's worth of changes written at the table level as a batch writes them (``--run`` new
articles joining existing stories: the stories rewritten with the run's last seq, a run row), and
that run published. A publication reads only the tables, so how the rows were made does not matter
to it; ingesting them would take most of the time here for nothing measured. Printed per size: the
first publication's time; then, the sizes alternated so both see the same machine, the runs'
medians: the whole publication (a connection to the lake included), how long the database was held
(staging the changes), how long the lake write took, and the rows the last one wrote per table. ``--keep DIR``
keeps the generated stores there for the next measurement.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from _common import ROOT  # noqa: F401  (puts this checkout first on sys.path)

from bench.million import generate
from pipeline.settings import LakeSettings
from pipeline.store.lake.publish import publish


def mark_as_written_now(db: Path) -> None:
    """Give every generated row the ``updated_seq`` the current writer gives a new row (its own seq), so a
    run's publication takes what the run wrote, as on a database this version wrote."""
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE articles SET updated_seq = seq WHERE updated_seq IS NULL")


def add_run(db: Path, articles: int, number: int) -> int:
    """Write run ``number``'s changes as a batch would: new articles (copies of the first ones under new
    ids and seqs, in their stories, written at their own seq), those stories rewritten with the run's
    last seq, a run row."""
    with duckdb.connect(str(db)) as con:
        top = con.execute("SELECT max(seq) FROM articles").fetchall()[0][0]
        con.execute(
            "INSERT INTO articles SELECT * REPLACE (seq + $top AS seq, seq + $top AS updated_seq, "
            "$prefix || article_id[2:] AS article_id, source_uri || '#' || $prefix AS source_uri, "
            "localtimestamp AS ingested_at, $run AS run_id) FROM articles WHERE seq <= $n",
            {"top": top, "n": articles, "prefix": f"r{number}-", "run": f"run-measured-{number}"},
        )
        con.execute(
            "UPDATE stories SET updated_seq = $last, article_count = article_count + c.n FROM "
            "(SELECT story_id, count(*) AS n FROM articles WHERE seq > $top GROUP BY story_id) c "
            "WHERE c.story_id = stories.story_id",
            {"last": top + articles, "top": top},
        )
        con.execute(
            "INSERT INTO runs (run_id, started_at, finished_at, status, inputs, read, new) "
            "VALUES ($run, localtimestamp, localtimestamp, 'completed', ['bench'], $n, $n)",
            {"n": articles, "run": f"run-measured-{number}"},
        )
    return articles


def first_publication(folder: Path, stored: int) -> tuple[Path, LakeSettings, float]:
    """Generate a store of ``stored`` articles (or reuse the kept one), copy it, publish it whole to a
    fresh lake; the copy, its lake and the seconds the first publication took."""
    db = folder / f"store-{stored}.duckdb"
    if not db.exists():
        started = time.perf_counter()
        generate(str(db), stored)
        mark_as_written_now(db)
        print(f"  generated {stored:,} articles in {time.perf_counter() - started:.0f} s", flush=True)
    work = folder / f"run-{stored}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    copy = work / "store.duckdb"
    shutil.copyfile(db, copy)
    lake = LakeSettings(url=f"ducklake:sqlite:{work / 'lake.sqlite'}")
    started = time.perf_counter()
    publish(str(copy), lake)
    return copy, lake, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stored", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--run", type=int, default=1000, help="new articles in the measured run")
    parser.add_argument("--runs", type=int, default=3, help="runs published per size, sizes alternated (medians)")
    parser.add_argument("--keep", help="folder for the generated stores (reused if present)")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="storyline-lake-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    stores = {}
    for stored in args.stored:
        print(f"{stored:,} stored:", flush=True)
        copy, lake, seconds = first_publication(folder, stored)
        stores[stored] = (copy, lake)
        print(f"  first publication (whole store) {seconds:.1f} s", flush=True)
    # The runs' publications alternate between the sizes, so both sides see the same machine.
    totals: dict[int, list[float]] = {n: [] for n in args.stored}
    reports: dict[int, list] = {n: [] for n in args.stored}
    for number in range(args.runs):
        for stored, (copy, lake) in stores.items():
            add_run(copy, args.run, number)
            started = time.perf_counter()
            reports[stored].append(publish(str(copy), lake))
            totals[stored].append(time.perf_counter() - started)
    results = []
    for stored in args.stored:
        figures = {
            "stored": stored,
            "run_total_s": statistics.median(totals[stored]),
            "run_held_s": statistics.median(r.read_seconds for r in reports[stored]),
            "run_write_s": statistics.median(r.write_seconds for r in reports[stored]),
        }
        results.append(figures)
        print(
            f"{stored:,} stored: a run of {args.run} new articles published in {figures['run_total_s']:.2f} s "
            f"(database held {figures['run_held_s']:.2f} s, lake write {figures['run_write_s']:.2f} s; medians "
            f"of {args.runs}), rows of the last {reports[stored][-1].rows}",
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
