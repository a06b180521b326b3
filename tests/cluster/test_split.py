"""Splitting look-alike events out of a story: the bisection, and the split as ingest records it."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import pytest
from conftest import ecb_records, write_jsonl

from pipeline.cluster.split import cosine_matrix, two_events
from pipeline.run.ingest import ingest_paths
from pipeline.settings import ClusterSettings, Settings
from pipeline.store import Store
from pipeline.store.reports import related_stories

TOPIC = ["quake", "region", "villages", "magnitude", "rescuers", "damage"]
EVENT_A = ["qeshm", "dargahan", "5.6", "isna", "hormozgan", "sunday", "koohi", "zainabieh"]
EVENT_B = ["bandar", "abbas", "6.1", "irna", "zarand", "tuesday", "gavarzin", "tonban"]


def unit(weights: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(w * w for w in weights.values()))
    return {t: w / norm for t, w in weights.items()}


def variant(rng: random.Random, event: list[str]) -> dict[str, float]:
    """An outlet's telling: most of the shared topic words and of its event's own details."""
    terms = rng.sample(TOPIC, 5) + rng.sample(event, 5)
    return unit({t: rng.uniform(0.5, 1.5) for t in terms})


def test_two_look_alike_events_are_told_apart() -> None:
    rng = random.Random(3)
    vectors = [variant(rng, EVENT_A) for _ in range(6)] + [variant(rng, EVENT_B) for _ in range(5)]
    rng.shuffle(order := list(range(len(vectors))))
    bisection = two_events([vectors[i] for i in order], min_side=4, threshold=0.65)
    assert bisection is not None
    sides = Counter((i < 6, side) for i, side in zip(order, bisection.side, strict=True))
    assert len(sides) == 2  # each event wholly on one side
    assert bisection.side[0] is True  # the first variant's side is the one that stays
    assert 0.0 < bisection.ratio < 0.65


def test_one_event_told_many_ways_stays_whole() -> None:
    rng = random.Random(5)
    vectors = [variant(rng, EVENT_A) for _ in range(12)]
    assert two_events(vectors, min_side=4, threshold=0.65) is None


def test_a_side_needs_enough_variants() -> None:
    rng = random.Random(7)
    vectors = [variant(rng, EVENT_A) for _ in range(6)] + [variant(rng, EVENT_B) for _ in range(3)]
    assert two_events(vectors, min_side=3, threshold=0.65) is not None
    assert two_events(vectors, min_side=4, threshold=0.65) is None  # three variants are not an event yet
    assert two_events(vectors, min_side=0, threshold=0.65) is None  # 0 disables splitting


def test_cosine_matrix_is_the_pairwise_dot_product() -> None:
    rng = random.Random(11)
    vectors = [variant(rng, EVENT_A if i % 2 else EVENT_B) for i in range(7)]
    expected = np.array([[sum(w * b.get(t, 0.0) for t, w in a.items()) for b in vectors] for a in vectors])
    assert np.allclose(cosine_matrix(vectors), expected)


def test_split_threshold_is_validated() -> None:
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="split_threshold"):
        ClusterSettings(split_threshold=1.5)
    with pytest.raises(ConfigError, match="split_min_variants"):
        ClusterSettings(split_min_variants=-1)


@pytest.mark.parametrize("topic", [28, 7])
def test_ingest_splits_a_look_alike_event_out_of_its_story(tmp_path: Path, topic: int) -> None:
    """ECB+ topic 28 (deaths of Watergate figures Mark Felt and Fred LaRue) and 7 (Klitschko's title
    defences against Rahman and against Thompson): in file order the second event's first rewrite
    joins the first event's story; the split check separates them again."""
    records = ecb_records({topic})
    data = write_jsonl(tmp_path / "topic.jsonl", records)
    gold = {r["id"]: r["cluster"] for r in records}

    merged_db = str(tmp_path / "no-split.duckdb")
    ingest_paths([data], Settings(db=merged_db, cluster=ClusterSettings(split_min_variants=0)))
    assert any(len(golds) > 1 for golds in _golds_per_story(merged_db, gold).values())  # without the check: mixed

    db = str(tmp_path / "split.duckdb")
    ingest_paths([data], Settings(db=db))
    per_story = _golds_per_story(db, gold)
    assert all(len(golds) == 1 for golds in per_story.values()), per_story  # every story one event

    with duckdb.connect(db, read_only=True) as con:
        links = con.execute("SELECT story_id, related_story_id, similarity FROM story_links WHERE relation = 'split'")
        (new, old, ratio), *_ = links.fetchall()
        counts = dict(con.execute("SELECT story_id, article_count FROM stories").fetchall())
        placed = dict(con.execute("SELECT story_id, count(*) FROM articles GROUP BY story_id").fetchall())
    assert ratio < ClusterSettings().split_threshold
    assert counts == placed  # story rows were rewritten for both sides
    with Store.open(db, read_only=True) as store:
        assert ("split from", old) in {(r["how"], r["other"]) for r in related_stories(store, new)}
        assert ("split off", new) in {(r["how"], r["other"]) for r in related_stories(store, old)}


def _golds_per_story(db: str, gold: dict[str, str]) -> dict[str, set[str]]:
    with duckdb.connect(db, read_only=True) as con:
        placed = con.execute("SELECT external_id, story_id FROM articles").fetchall()
    per_story: dict[str, set[str]] = {}
    for external_id, story_id in placed:
        per_story.setdefault(story_id, set()).add(gold[external_id])
    return per_story
