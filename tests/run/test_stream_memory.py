"""Streaming input: reading a large JSONL holds one line at a time, not the file (memory, not time)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from conftest import ecb_records

from pipeline.models import RawDocument, Rejection
from pipeline.sources.files import READ_BUFFER, read_paths

FILE_BYTES = 50_000_000


def _big_jsonl(path: Path) -> int:
    records = [{"id": r["id"], "title": r["title"], "text": r["text"]} for r in ecb_records()]
    written = lines = 0
    with path.open("w", encoding="utf-8") as fh:
        while written < FILE_BYTES:
            record = records[lines % len(records)]
            line = "{truncated" if lines % 5000 == 0 else json.dumps({**record, "id": f"{record['id']}#{lines}"})
            fh.write(line + "\n")
            written += len(line) + 1
            lines += 1
    return lines


def test_a_50_mb_jsonl_streams_in_a_small_fraction_of_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    lines = _big_jsonl(path)
    documents = rejections = 0
    tracemalloc.start()
    try:
        for item in read_paths([path]):
            documents += isinstance(item, RawDocument)
            rejections += isinstance(item, Rejection)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert documents + rejections == lines and rejections == -(-lines // 5000)
    # One record at a time, through the reader's fixed buffer: ~1.3 MB for a 50 MB file (a file read whole
    # would be 50 MB and more), and the same for any size of file.
    assert peak < READ_BUFFER + 1_000_000 < path.stat().st_size / 20
