"""Read copy: a read-only copy of the database for analysts (the ``snapshot`` setting), refreshed by each run.

Long analyst queries on the live file would hold its lock and stall an ingest's next batch; on the
snapshot they block nobody. The copy is taken under the write lock after a checkpoint (so the
main file holds every committed batch) and swapped in with an atomic rename: a reader sees the
old snapshot or the new one, never a partial copy, and sessions already open keep the old file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipeline.store.db import Store


def refresh_read_copy(store: Store, target: str | Path) -> Path:
    """Copy the store's database (opened for writing, so no one else writes) to ``target`` atomically."""
    target = Path(target)
    if target.resolve() == Path(store.path).resolve():
        raise ValueError(f"the snapshot path {target} is the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    store.checkpoint()  # fold the write-ahead log into the main file before copying it
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        shutil.copyfile(store.path, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
