"""Analysts reading while an ingest writes: how often a polite read succeeds, and whether it is consistent.

An ingest of N articles (``bench/corpus.py``: ECB+ dev texts re-published under new ids) runs in a
subprocess through the CLI; meanwhile this process opens the database read-only every 200 ms,
waiting for the lock for at most ``--budget`` seconds (polling, as ``Store.open`` does), and runs
analyst queries plus the integrity checks of ``pipeline.store.integrity``. An attempt succeeds when it
gets consistent answers within the budget.

    python bench/read_during_ingest.py --articles 5000            # library path (--no-prefect)
    python bench/read_during_ingest.py --articles 5000 --flow     # through the Prefect flow
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import write_corpus  # noqa: E402
from pipeline.errors import StoreBusyError, StoreError  # noqa: E402
from pipeline.store import Store  # noqa: E402
from pipeline.store.integrity import consistency_problems  # noqa: E402

ANALYST_QUERIES = (
    "SELECT count(*) FROM story_overview",
    "SELECT s.story_id, s.title, count(*) AS n FROM stories s JOIN articles a USING (story_id) "
    "GROUP BY ALL ORDER BY n DESC, s.story_id LIMIT 10",
)


@dataclass
class ReadStats:
    """What the reader saw."""

    attempts: int = 0
    successes: int = 0
    busy: int = 0
    waits: list[float] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Share of attempts that returned consistent answers within the budget."""
        return self.successes / self.attempts if self.attempts else 0.0

    def summary(self) -> str:
        """One line of figures."""
        waits = sorted(self.waits) or [0.0]
        return (
            f"reads: {self.attempts} attempts, {self.successes} succeeded ({self.rate:.1%}), {self.busy} gave up "
            f"(lock busy past the budget); wait for the lock: median {waits[len(waits) // 2] * 1000:.0f} ms, "
            f"max {waits[-1] * 1000:.0f} ms; consistency violations: {len(self.violations)}"
        )


def read_once(db: str, budget: float, stats: ReadStats) -> None:
    """One analyst read: open read-only (waiting up to ``budget`` s), query, check consistency."""
    stats.attempts += 1
    started = time.monotonic()
    try:
        store = Store.open(db, read_only=True, wait_seconds=budget)
    except StoreBusyError:
        stats.busy += 1
        return
    waited = time.monotonic() - started
    stats.waits.append(waited)
    if waited > budget:  # the last attempt at the deadline got in, but the budget was spent: not a success
        store.close()
        stats.busy += 1
        return
    with store:
        for sql in ANALYST_QUERIES:
            store._con.execute(sql).fetchall()
        problems = consistency_problems(store)
    if problems:
        stats.violations.extend(problems)
    else:
        stats.successes += 1


def read_while(process: subprocess.Popen, db: str, interval: float, budget: float) -> ReadStats:
    """Read every ``interval`` seconds until the process exits (attempts start once the file exists)."""
    stats = ReadStats()
    tick = time.monotonic()
    while process.poll() is None:
        if Path(db).exists():
            try:
                read_once(db, budget, stats)
            except StoreError as exc:  # e.g. the schema is not there yet on the very first batch
                stats.violations.append(f"unreadable: {exc}")
        tick += interval
        time.sleep(max(0.0, tick - time.monotonic()))
    return stats


def ingest_command(corpus: Path, db: str, batch_size: int, flow: bool) -> list[str]:
    """The CLI call that ingests the corpus."""
    command = [sys.executable, "-m", "pipeline.cli", "ingest", str(corpus), "--db", db, "--batch-size", str(batch_size)]
    return command if flow else [*command, "--no-prefect"]


def run(articles: int, batch_size: int, interval: float, budget: float, flow: bool, workdir: Path) -> ReadStats:
    """Ingest ``articles`` in a subprocess while reading; print and return the reader's figures."""
    corpus = write_corpus(workdir / "corpus.jsonl", articles)
    db = str(workdir / "bench.duckdb")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    started = time.monotonic()
    process = subprocess.Popen(
        ingest_command(corpus, db, batch_size, flow), cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    stats = read_while(process, db, interval, budget)
    out = process.communicate()[0]
    elapsed = time.monotonic() - started
    summary = [line for line in out.splitlines() if line.startswith("Ingested into")]
    print(summary[0] if summary else f"ingest exited {process.returncode}")
    print(
        f"ingest of {articles} articles (batch size {batch_size}, {'flow' if flow else '--no-prefect'}): "
        f"{elapsed:.1f} s; reader every {interval * 1000:.0f} ms with a {budget:.1f} s lock budget"
    )
    print(stats.summary())
    for problem in stats.violations[:10]:
        print(f"  violation: {problem}")
    return stats


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between read attempts")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds a read may wait for the lock")
    parser.add_argument("--flow", action="store_true", help="ingest through the Prefect flow")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stats = run(args.articles, args.batch_size, args.interval, args.budget, args.flow, Path(tmp))
    return 0 if stats.rate >= 0.95 and not stats.violations else 1


if __name__ == "__main__":
    raise SystemExit(main())
