"""What evaluating alert rules costs next to ingest, measured in one process.

    python bench/alerts_overhead.py [--data ../shared/data/ecbplus-dev.jsonl] [--limit 772] [--batch-size 100]

Each ECB+ dev record gets one of 12 made-up outlets as its ``source`` and a publication date spread
over four days, so spreading rules really fire. Three rules: a 10-term watchlist, a flagged-story
rule (nothing flagged) and spreading (3 sources within 48 h); no notify URL, so delivery is not in
it. The input is ingested once with the rules; then the rules are evaluated again over every batch's
articles on the finished store with the alerts table emptied (the alert stage alone, an upper bound
since stories are at their final size; best of 3) and the ratio to ingest is printed.
An A/B of two whole ingests was too noisy on a shared 2-core machine to show a difference this small.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.alerts.rules import evaluate_batch
from pipeline.run.ingest import ingest_paths
from pipeline.settings import AlertRule, AlertSettings, Settings
from pipeline.store import Store

ROOT = Path(__file__).resolve().parent.parent
TERMS = ("Lindsay Lohan", "earthquake", "Tara Reid", "Apple", "Oscars", "tsunami", "Obama", "Cape Town", "rehab")
RULES = (
    AlertRule(name="watch", kind="watchlist", terms=(*TERMS, "hostage")),
    AlertRule(name="watched", kind="watched_story"),
    AlertRule(name="spreading", kind="spreading", min_sources=3, within_hours=48),
)


def main() -> None:
    """Time ingest with rules, then the alert stage alone on the same batches; print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ecbplus-dev.jsonl"))
    parser.add_argument("--limit", type=int, default=772)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "input.jsonl"
        with open(args.data, encoding="utf-8") as src, data.open("w", encoding="utf-8") as out:
            for number, line in enumerate(src):
                if number >= args.limit:
                    break
                record = json.loads(line)
                key = zlib.crc32(record["id"].encode())
                record.update(source=f"outlet-{key % 12}", published_at=f"2012-03-{10 + key % 4:02d}")
                out.write(json.dumps(record) + "\n")
        settings = Settings(db=f"{tmp}/bench.duckdb", batch_size=args.batch_size, alerts=AlertSettings(rules=RULES))
        start = time.perf_counter()
        report = ingest_paths([data], settings)
        ingest = time.perf_counter() - start
        with Store.open(settings.db) as store:
            # Evaluate as if nothing had fired yet (no story skipped as already alerted), then undo that.
            store._con.execute("BEGIN")
            store._con.execute("DELETE FROM alerts")
            last = store.max_seq()
            ranges = [(first, min(first + args.batch_size - 1, last)) for first in range(1, last + 1, args.batch_size)]
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                raised = sum(len(evaluate_batch(store, RULES, *r)) for r in ranges)
                best = min(best, time.perf_counter() - start)
            store._con.execute("ROLLBACK")
        print(f"{report.new} articles, {len(ranges)} batches of {args.batch_size}, {report.alerts_fired} alerts fired")
        # Nothing is recorded while re-evaluating, so one story can raise in several batches.
        print(f"ingest with rules: {ingest:.2f} s; evaluating the rules on every batch again: {best:.3f} s "
              f"({raised} raised); ratio {best / ingest:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
