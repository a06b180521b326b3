"""Publication cost per run against store size: does it grow with the run's new rows, or with the store?

    python bench/lake_scale.py [--stored 100000 1000000] [--run 1000] [--keep DIR]

For each size: a store generated at the table level (``bench/million.py``: synthetic articles with
the real row shapes), published whole to a fresh SQLite-catalog DuckLake (the one-off first
publication); then a run's worth of changes written at the table level as a batch writes them
(``--run`` new articles joining existing stories: the stories rewritten with the run's last seq, a
run row), and that run published. A publication reads only the tables, so how the rows were made
does not matter to it; ingesting them would take most of the time here for nothing measured.
Printed per size: the first publication's time, and the run's: rows written per table, how long the
database was held (staging the changes) and how long the lake write took.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from _common import ROOT  # noqa: F401  (puts this checkout first on sys.path)

from bench.million import generate
from pipeline.settings import LakeSettings
from pipeline.store.lake.publish import publish


def add_run(db: Path, articles: int) -> int:
    """Write a run's worth of changes as a batch would: new articles (copies of the first ones under new
    ids and seqs, in their stories), those stories rewritten with the run's last seq, a run row."""
    with duckdb.connect(str(db)) as con:
        top = con.execute("SELECT max(seq) FROM articles").fetchall()[0][0]
        con.execute(
            "INSERT INTO articles SELECT * REPLACE (seq + $top AS seq, 'r' || article_id[2:] AS article_id, "
            "source_uri || '#run' AS source_uri, localtimestamp AS ingested_at, 'run-measured' AS run_id) "
            "FROM articles WHERE seq <= $n",
            {"top": top, "n": articles},
        )
        con.execute(
            "UPDATE stories SET updated_seq = $last, article_count = article_count + c.n FROM "
            "(SELECT story_id, count(*) AS n FROM articles WHERE seq > $top GROUP BY story_id) c "
            "WHERE c.story_id = stories.story_id",
            {"last": top + articles, "top": top},
        )
        con.execute(
            "INSERT INTO runs (run_id, started_at, finished_at, status, inputs, read, new) "
            "VALUES ('run-measured', localtimestamp, localtimestamp, 'completed', ['bench'], $n, $n)",
            {"n": articles},
        )
    return articles


def measure(folder: Path, stored: int, run: int) -> dict:
    """Generate, publish whole, write a run, publish the run; the figures."""
    db = folder / f"store-{stored}.duckdb"
    if not db.exists():
        started = time.perf_counter()
        generate(str(db), stored)
        print(f"  generated {stored:,} articles in {time.perf_counter() - started:.0f} s", flush=True)
    work = folder / f"run-{stored}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    copy = work / "store.duckdb"
    shutil.copyfile(db, copy)
    lake = LakeSettings(url=f"ducklake:sqlite:{work / 'lake.sqlite'}")
    started = time.perf_counter()
    publish(str(copy), lake)
    first_seconds = time.perf_counter() - started
    new = add_run(copy, run)
    started = time.perf_counter()
    run = publish(str(copy), lake)
    return {
        "stored": stored,
        "first_publication_s": first_seconds,
        "new_articles": new,
        "run_rows": run.rows,
        "run_held_s": run.read_seconds,
        "run_write_s": run.write_seconds,
        "run_total_s": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stored", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--run", type=int, default=1000, help="new articles in the measured run")
    parser.add_argument("--keep", help="folder for the generated stores (reused if present)")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="storyline-lake-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for stored in args.stored:
        print(f"{stored:,} stored:", flush=True)
        figures = measure(folder, stored, args.run)
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
