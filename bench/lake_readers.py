"""Readers on the lake while an ingest writes: do all reads succeed, at once, on whole snapshots?

    python bench/lake_readers.py [--articles 1000] [--readers 4] [--catalog sqlite|postgres]
    python bench/lake_readers.py --articles 5000                     # the issue's figure
    python bench/lake_readers.py --articles 5000 --catalog postgres  # a real PostgreSQL server, started here

1. Ingests N articles (``bench/corpus.py``) with ``storyline ingest --no-prefect`` into a fresh
   database without a lake: the baseline time.
2. Again into a fresh database with ``[lake]`` set (publishing every ``--every-batches`` batches and
   at the end of the run), without readers: the cost of publishing.
3. Once more into a fresh database and lake, while ``--readers`` separate processes query the lake
   continuously, each on one open connection (as a dashboard would). The readers are niced: they
   stand in for other machines, and on this one would take the ingest's two cores. Every read is
   one transaction (one snapshot) running analyst queries and the integrity checks of
   ``storyline check`` that apply to the lake's tables.
4. Prints the ingest times and their ratios to the first, the reads (all, failed, lock errors,
   integrity violations), read latency (median, p99, max), how many snapshots the readers saw, and
   whether the lake agrees with the database at the end (as ``storyline check --lake``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT

from bench.corpus import write_corpus
from pipeline.settings import LakeSettings
from pipeline.store.integrity import CHECKS
from pipeline.store.lake.publish import read_marks
from pipeline.store.lake.upkeep import disagreements

ANALYST_QUERIES = (
    "SELECT count(*) FROM story_overview",
    "SELECT story_id, title, article_count FROM stories ORDER BY article_count DESC, story_id LIMIT 10",
    "SELECT count(*) FROM source_activity",
)
PUBLISHED = "SELECT count(*) FROM duckdb_tables() WHERE table_name = '_storyline_publication'"
LAKE_CHECKS = tuple((what, sql) for what, sql in CHECKS if "article_signatures" not in sql)


def reader(url: str, data_path: str | None, stop: str, out: mp.Queue, nice: int) -> None:  # type: ignore[type-arg]
    """Query the lake until the ``stop`` file exists; put (latencies, failures, violations, snapshots)."""
    os.nice(nice)
    from pipeline.errors import LakeError
    from pipeline.store.lake.publish import connect

    lake = LakeSettings(url=url, data_path=data_path)
    latencies: list[float] = []
    failures: list[str] = []
    violations: list[str] = []
    snapshots: set[int] = set()
    con = None
    while not os.path.exists(stop):
        if con is None:  # the lake appears with the run's first publication
            try:
                con = connect(lake)
                if not con.execute(PUBLISHED).fetchall()[0][0]:
                    raise LakeError("not published yet")
            except LakeError:
                if con is not None:
                    con.close()
                con = None
                time.sleep(0.2)  # not a read: the lake does not exist yet
                continue
        started = time.perf_counter()
        try:
            con.execute("BEGIN TRANSACTION")
            snapshot = con.execute("SELECT id FROM lake.current_snapshot()").fetchall()[0][0]
            for sql in ANALYST_QUERIES:
                con.execute(sql).fetchall()
            for what, sql in LAKE_CHECKS:
                if count := con.execute(sql).fetchall()[0][0]:
                    violations.append(f"snapshot {snapshot}: {count} {what}")
            con.execute("COMMIT")
            snapshots.add(snapshot)
            latencies.append(time.perf_counter() - started)
        except Exception as exc:  # every failure is counted, none stops the reader
            failures.append(" ".join(str(exc).split())[:200])
            con.close()
            con = None
    if con is not None:
        con.close()
    out.put((latencies, failures, violations, sorted(snapshots)))


def ingest(corpus: Path, db: Path, config: Path | None, batch_size: int) -> tuple[float, float]:
    """Run ``storyline ingest --no-prefect`` in a child process; its wall time and CPU time (with its own
    children: extraction workers, mid-run publications). CPU time is steadier on a shared machine."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    command = [sys.executable, "-m", "pipeline.cli", "ingest", "--no-prefect", "--db", str(db),
               "--batch-size", str(batch_size), str(corpus)]  # fmt: skip
    if config:
        command[4:4] = ["--config", str(config)]
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"ingest failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started, _children_cpu() - cpu


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def lake_for(folder: Path, name: str, catalog: str, server) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
    """A fresh lake's URL and data path."""
    if catalog == "postgres":
        return "ducklake:postgres:" + server.create_database(name), str(folder / f"{name}-files")
    return f"ducklake:sqlite:{folder / name}.sqlite", None


def write_config(path: Path, url: str, data_path: str | None, every_batches: int) -> Path:
    lines = [f"url = {url!r}", f"every_batches = {every_batches}"] + (
        [f"data_path = {data_path!r}"] if data_path else []
    )
    path.write_text("[lake]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1000, help="articles to ingest (the issue: 5000)")
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--every-batches", type=int, default=5, help="publish mid-run every N batches")
    parser.add_argument("--catalog", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--reader-nice", type=int, default=10, help="niceness of the readers (0: not niced)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="storyline-lake-readers-"))
    corpus = write_corpus(folder / "corpus.jsonl", args.articles, seed=11)
    print(f"ingest of {args.articles} articles, batches of {args.batch_size}, {args.catalog} catalog:", flush=True)
    baseline, baseline_cpu = ingest(corpus, folder / "baseline.duckdb", None, args.batch_size)
    print(f"  without publishing: {baseline:.1f} s, CPU {baseline_cpu:.1f} s", flush=True)
    server = None
    if args.catalog == "postgres":
        from bench.pgserver import PostgresServer

        server = PostgresServer().start()
    try:
        url, data_path = lake_for(folder, "quiet", args.catalog, server)
        config = write_config(folder / "quiet.toml", url, data_path, args.every_batches)
        quiet, quiet_cpu = ingest(corpus, folder / "quiet.duckdb", config, args.batch_size)
        print(f"  publishing every {args.every_batches} batches and at the end, no readers: {quiet:.1f} s "
              f"({quiet / baseline:.2f}x), CPU {quiet_cpu:.1f} s ({quiet_cpu / baseline_cpu:.2f}x)",
              flush=True)  # fmt: skip
        url, data_path = lake_for(folder, "read", args.catalog, server)
        config = write_config(folder / "read.toml", url, data_path, args.every_batches)
        stop = str(folder / "stop")
        queue: mp.Queue = mp.get_context("spawn").Queue()  # type: ignore[type-arg]
        readers = [
            mp.get_context("spawn").Process(target=reader, args=(url, data_path, stop, queue, args.reader_nice))
            for _ in range(args.readers)
        ]
        for process in readers:
            process.start()
        db = folder / "read.duckdb"
        with_readers, readers_cpu = ingest(corpus, db, config, args.batch_size)
        Path(stop).touch()
        results = [queue.get(timeout=300) for _ in readers]
        for process in readers:
            process.join()
        lake = LakeSettings(url=url, data_path=data_path)
        agree = disagreements(str(db), lake)
        from pipeline.store.lake.publish import connect

        con = connect(lake)
        publications = read_marks(con).publication
        con.close()
    finally:
        if server is not None:
            server.stop()
    latencies = sorted(x for r in results for x in r[0])
    failures = [x for r in results for x in r[1]]
    violations = [x for r in results for x in r[2]]
    snapshots = {s for r in results for s in r[3]}
    reads = len(latencies) + len(failures)
    print(f"  ... and {args.readers} reader processes (nice {args.reader_nice}) querying the lake without pause: "
          f"{with_readers:.1f} s ({with_readers / baseline:.2f}x), ingest CPU {readers_cpu:.1f} s "
          f"({readers_cpu / baseline_cpu:.2f}x), {publications} publication(s)")  # fmt: skip
    print(f"  reads: {reads}, succeeded {len(latencies)} ({100 * len(latencies) / max(reads, 1):.1f}%), "
          f"failed {len(failures)}, lock errors {sum('lock' in f.lower() for f in failures)}, "
          f"integrity violations {len(violations)}, distinct snapshots seen {len(snapshots)}")  # fmt: skip
    if latencies:
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        print(f"  read latency (one snapshot: 3 analyst queries + {len(LAKE_CHECKS)} checks): "
              f"median {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
              f"max {latencies[-1] * 1000:.0f} ms")  # fmt: skip
    for failure in failures[:5]:
        print(f"  failure: {failure}")
    for violation in violations[:5]:
        print(f"  violation: {violation}")
    print(f"  lake agrees with the database at the end: {agree or 'yes'}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
