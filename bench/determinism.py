"""Does the same input give the same stories whatever its file's path, the batch size and the workers?

Ingests one JSONL file copied under several names and folders, with several batch sizes and worker
counts, into fresh databases, and compares what each run made of the records as partitions (story
ids are derived from the path, so they are compared by membership, never by value): stories,
variant groups, and each record's relation. Prints one line per run against the first.

    python bench/determinism.py [FILE] [--batch-sizes 200,50,1000] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from pipeline.evaluate import bcubed
from pipeline.run.ingest import ingest_paths
from pipeline.settings import ExtractSettings, Settings
from pipeline.store import Store

DEFAULT_FILE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "allsides-dated-dev.jsonl"
NAMES = ("input.jsonl", "a/news.jsonl", "zz/other-folder/2021 feed.jsonl", "b/x.jsonl")

Placement = dict[str, tuple[str, str, str]]  # external id -> (story id, variant group, relation)


def ingest_copy(source: Path, name: str, batch_size: int, workers: int, tmp: Path) -> Placement:
    """Ingest a copy of ``source`` saved as ``name`` into a fresh database; where each record ended up."""
    run = Path(tempfile.mkdtemp(dir=tmp))
    copy = run / name
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, copy)
    settings = replace(Settings(db=str(run / "db.duckdb")), batch_size=batch_size)
    settings = replace(settings, extract=replace(ExtractSettings(), workers=workers))
    ingest_paths([copy], settings)
    with Store.open(settings.db, read_only=True) as store:
        rows = store._query("SELECT external_id, story_id, variant_group, relation FROM articles")
    return {r["external_id"]: (r["story_id"], r["variant_group"], r["relation"]) for r in rows}


def partition(labels: dict[str, str]) -> set[frozenset[str]]:
    """The groups of keys sharing a label, whatever the labels are."""
    groups: dict[str, set[str]] = defaultdict(set)
    for key, label in labels.items():
        groups[label].add(key)
    return {frozenset(g) for g in groups.values()}


def compare(reference: Placement, other: Placement) -> str:
    """How far ``other`` is from ``reference``: differing stories, variant groups and relations."""
    ids = sorted(reference.keys() & other.keys())
    stories_a = partition({i: reference[i][0] for i in ids})
    stories_b = partition({i: other[i][0] for i in ids})
    groups_a = partition({i: reference[i][1] for i in ids})
    groups_b = partition({i: other[i][1] for i in ids})
    relations = sum(reference[i][2] != other[i][2] for i in ids)
    agreement = bcubed([other[i][0] for i in ids], [reference[i][0] for i in ids])
    largest = max(len(s) for s in stories_b)
    same = stories_a == stories_b and groups_a == groups_b and not relations and reference.keys() == other.keys()
    return (
        f"{'SAME' if same else 'DIFF'} stories {len(stories_b)} (only here {len(stories_b - stories_a)}), "
        f"largest {largest}, groups differing {len(groups_b - groups_a)}, relations differing {relations}, "
        f"B-cubed F1 vs first {agreement.f1:.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--batch-sizes", default="200")
    parser.add_argument("--workers", default="1")
    parser.add_argument("--names", default=",".join(NAMES))
    args = parser.parse_args()
    runs = [
        (name, int(size), int(workers))
        for size in args.batch_sizes.split(",")
        for workers in args.workers.split(",")
        for name in args.names.split(",")
    ]
    with tempfile.TemporaryDirectory(prefix="storyline-determinism-") as tmp:
        reference: Placement | None = None
        for name, size, workers in runs:
            placed = ingest_copy(args.file, name, size, workers, Path(tmp))
            reference = reference or placed
            print(f"{name!r:36} batch {size:5} workers {workers}: {compare(reference, placed)}", flush=True)


if __name__ == "__main__":
    main()
