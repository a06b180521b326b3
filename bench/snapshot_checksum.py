"""What verifying the index snapshot's checksums costs a process at start-up, at a realistic size.

    python bench/snapshot_checksum.py [--gb 3] [--files 14] [--dir /tmp]

Writes ``--gb`` GB of random bytes as ``--files`` .npy-sized files (a million-article snapshot is
~3 GB), then times ``pipeline.cluster.candidates.file_checksum`` (xxh3_64 read in 16 MB chunks, what a load
verifies) over all of them: from the page cache (the usual case: the previous run just wrote or
read them) and, after ``posix_fadvise(DONTNEED)`` evicts them, from disk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from pipeline.cluster.candidates import file_checksum


def _evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main() -> None:
    """Print the seconds and GB/s of verifying the files warm and cold."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=3.0)
    parser.add_argument("--files", type=int, default=14)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        size = int(args.gb * 1e9 / args.files)
        paths = [folder / f"array{i}.npy" for i in range(args.files)]
        for path in paths:
            with open(path, "wb") as file:
                for start in range(0, size, 64 << 20):
                    file.write(os.urandom(min(64 << 20, size - start)))
        total = size * len(paths) / 1e9
        for label in ("page cache", "page cache", "disk (evicted)"):
            if label.startswith("disk"):
                for path in paths:
                    _evict(path)
            started = time.perf_counter()
            for path in paths:
                file_checksum(path)
            seconds = time.perf_counter() - started
            print(f"{label:15s} {total:.2f} GB in {seconds:.2f} s = {total / seconds:.1f} GB/s")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
