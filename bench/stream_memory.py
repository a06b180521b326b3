"""Streaming input: a multi-GB JSONL is read in constant memory.

    python bench/stream_memory.py [--gb 2.5] [--prepare 2000] [--dir /tmp]

Writes a JSONL of ``--gb`` gigabytes (real ECB+ articles repeated with new ids, a few bad lines
mixed in) to a temporary file, reads it to the end through ``pipeline.sources.files.read_paths`` (the
reader every ingest uses), sampling the process's resident memory every 20,000 lines, then prepares
the first ``--prepare`` documents through ``prepare_batch`` batch by batch (Python allocations traced)
and deletes the file. Prints the file size and the memory figures: they do not grow with the file.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from _common import ECB_DEV, machine

from pipeline.models import Rejection
from pipeline.run.prepare import batched, prepare_batch
from pipeline.settings import ExtractSettings, Settings
from pipeline.sources.files import read_paths


def write_jsonl(path: Path, gigabytes: float) -> int:
    """Write about ``gigabytes`` of JSONL records; returns the number of lines."""
    with ECB_DEV.open(encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    target, written, lines = gigabytes * 1e9, 0, 0
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            for record in records:
                line = json.dumps({"id": f"{record['id']}#{lines}", "title": record["title"], "text": record["text"]})
                if lines % 10_000 == 0:
                    line = "{broken json"  # bad lines must stream past as rejections, not stop the read
                out.write(line + "\n")
                written += len(line) + 1
                lines += 1
    return lines


def current_rss_mb() -> float:
    """Resident memory of this process now (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Print file size, documents read, and memory peaks."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=2.5)
    parser.add_argument("--prepare", type=int, default=2000)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="storyline-stream-", dir=args.dir) as tmp:
        path = Path(tmp) / "big.jsonl"
        lines = write_jsonl(path, args.gb)
        size = path.stat().st_size
        rss_before = current_rss_mb()
        samples: list[float] = []
        started = time.perf_counter()
        documents = rejections = 0
        for number, item in enumerate(read_paths([path]), 1):
            if isinstance(item, Rejection):
                rejections += 1
            else:
                documents += 1
            if number % 20_000 == 0:
                samples.append(current_rss_mb())
        read_seconds = time.perf_counter() - started

        tracemalloc.start()  # on the bounded prepare step only: it slows a full read ~3x
        settings = Settings(extract=ExtractSettings(workers=1))
        prepared = 0
        for batch in batched(read_paths([path]), settings.batch_size):
            prepared += prepare_batch(batch, settings).read
            if prepared >= args.prepare:
                break
        _, prepare_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    print(f"machine: {machine()}")
    print(f"file: {size / 1e9:.2f} GB, {lines:,} lines ({documents:,} documents, {rejections:,} rejected lines)")
    print(f"read through read_paths in {read_seconds:.0f} s ({size / 1e6 / read_seconds:.0f} MB/s)")
    print(
        f"resident memory while reading: {rss_before:.0f} MB before, then {min(samples):.0f}-{max(samples):.0f} MB "
        f"over {len(samples)} samples (every 20,000 lines); the file is {size / 1e6:,.0f} MB"
    )
    print(
        f"peak traced Python allocations preparing the first {prepared:,} documents in batches of "
        f"{settings.batch_size}: {prepare_peak / 1e6:.1f} MB (mostly wordfreq's word list, loaded once)"
    )
    print(f"peak RSS of the whole process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
