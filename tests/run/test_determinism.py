"""The same records make the same stories wherever the file that holds them lies and whatever it is called.

Article and story ids derive from the input's path; clustering must never let them decide anything.
Stories are compared as partitions of the records (which records share a story, a variant group),
never by id.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import SHARED, shared_data_missing, write_jsonl

from pipeline.run.ingest import ingest_paths
from pipeline.settings import ClusterSettings, ExtractSettings, Settings
from pipeline.store import Store

ALLSIDES_DATED = SHARED / "data" / "allsides-dated-dev.jsonl"
# Each name makes other ids. Before ties between stories were broken by ingestion order, some names
# gave other stories for these records (which ones depends on the folder pytest picks, part of the
# path too): this test failed in 4 of 6 runs then. Since, every name must give the same stories.
NAMES = ("input.jsonl", "x.jsonl", "y.jsonl", "c/d.jsonl", "feeds/2021/other name.jsonl", "z.jsonl")


def allsides_records(n: int, seed: int) -> list[dict]:
    """``n`` real dated news records (AllSides dev, US politics: many stories share their words), shuffled."""
    if not ALLSIDES_DATED.exists():
        shared_data_missing(ALLSIDES_DATED)
    rows = [json.loads(line) for line in ALLSIDES_DATED.open(encoding="utf-8")]
    random.Random(seed).shuffle(rows)
    return rows[:n]


def placement(tmp_path: Path, name: str, records: list[dict], settings: Settings) -> dict[str, frozenset]:
    """Ingest the records from a file called ``name`` into a fresh database; which records share a
    story, which share a variant group, and each record's relation."""
    run = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    path = run / name
    path.parent.mkdir(parents=True)
    ingest_paths([write_jsonl(path, records)], replace(settings, db=str(run / "db.duckdb")))
    with Store.open(str(run / "db.duckdb"), read_only=True) as store:
        rows = store._query("SELECT external_id, story_id, variant_group, relation FROM articles")
    stories, groups = defaultdict(set), defaultdict(set)
    for row in rows:
        stories[row["story_id"]].add(row["external_id"])
        groups[row["variant_group"]].add(row["external_id"])
    return {
        "stories": frozenset(frozenset(s) for s in stories.values()),
        "variant groups": frozenset(frozenset(g) for g in groups.values()),
        "relations": frozenset((r["external_id"], r["relation"]) for r in rows),
    }


@pytest.mark.slow
def test_same_records_make_the_same_stories_under_any_path(tmp_path: Path) -> None:
    records = allsides_records(120, seed=1)
    # Few candidates per article and several blocks: ties between stories are frequent, and decide.
    # Nothing reads these databases: no pause for readers between batches (0.12 s each, 30 of them).
    settings = Settings(
        batch_size=25, extract=ExtractSettings(workers=1), cluster=ClusterSettings(max_candidates=2, block_size=25),
        reader_gap_seconds=0.0,
    )  # fmt: skip
    first = placement(tmp_path, NAMES[0], records, settings)
    for name in NAMES[1:]:
        assert placement(tmp_path, name, records, settings) == first, name


@pytest.mark.slow
def test_same_records_make_the_same_stories_whatever_the_batch_size_and_workers(tmp_path: Path) -> None:
    """Clustering takes the documents a block at a time, however the input was cut into batches."""
    records = allsides_records(120, seed=2)
    records[30:30] = [{"id": "empty", "text": ""}, {"id": "blank", "text": "   "}]  # rejected: in no block
    # Blocks of 25 (five, the last one short) and few candidates per article: how the blocks fall decides.
    base = Settings(
        extract=ExtractSettings(workers=1), cluster=ClusterSettings(max_candidates=2, block_size=25),
        reader_gap_seconds=0.0,
    )  # fmt: skip
    first = placement(tmp_path, "input.jsonl", records, replace(base, batch_size=25))
    for batch_size, workers in ((7, 1), (60, 1), (1000, 1), (10, 2)):
        settings = replace(base, batch_size=batch_size, extract=ExtractSettings(workers=workers))
        assert placement(tmp_path, "input.jsonl", records, settings) == first, (batch_size, workers)
