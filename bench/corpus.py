"""Synthetic ingest corpora built from the ECB+ dev texts (real news), for benchmarks and reliability tests.

Record ``i`` re-publishes dev article ``i % 772`` under a new id and outlet; copies after the first
drop one sentence, so a corpus of thousands holds originals, near-duplicates and rewrites, like a feed.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ECB_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "ecbplus-dev.jsonl"


def make_records(count: int, seed: int = 0, source: Path = ECB_DEV) -> list[dict]:
    """``count`` JSONL records (id, source, title, text) derived from the ECB+ dev articles."""
    rows = [json.loads(line) for line in source.open(encoding="utf-8")]
    rng = random.Random(seed)
    records = []
    for i in range(count):
        row = rows[i % len(rows)]
        copy = i // len(rows)
        sentences = [s for s in row["text"].split("\n") if s.strip()]
        if copy and len(sentences) > 3:
            del sentences[rng.randrange(len(sentences))]
        records.append(
            {
                "id": f"{row['id']}-c{copy}",
                "source": f"outlet-{copy}",
                "title": row.get("title"),
                "text": "\n\n".join(sentences),
            }
        )
    return records


def write_corpus(path: Path, count: int, seed: int = 0) -> Path:
    """Write ``make_records(count, seed)`` as JSONL to ``path``."""
    with path.open("w", encoding="utf-8") as fh:
        for record in make_records(count, seed):
            fh.write(json.dumps(record) + "\n")
    return path
