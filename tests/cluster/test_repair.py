"""The end-of-batch second look: an article that arrived before the rest of its event joins it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import pytest

from pipeline.cli import main
from pipeline.fingerprint.fingerprints import TermWeighter, cosine
from pipeline.run.ingest import ingest_paths
from pipeline.settings import Settings

# Made-up words: equally rare, so every term weighs the same and cosines are counting.
CORE = ["velmorant", "quistadel"]  # the event's words the early article has
MORE_CORE = ["brannoque", "dellivast"]  # ... and those it lacks
DETAILS = ["ostrevine", "palquimet", "trenhollow"]  # one per later article, all in the early one
EARLY_ONLY = [f"zenthar{c}" for c in "abcdefghi"]


def text(words: list[str]) -> str:
    return " and ".join(words) + "."


def records() -> list[dict]:
    early = {"id": "early", "text": text(CORE + DETAILS + EARLY_ONLY)}
    later = []
    for i, (c, detail) in enumerate(zip("abc", DETAILS, strict=True)):
        words = CORE + MORE_CORE + [detail, f"yarrow{c}x", f"yarrow{c}z"]
        random.Random(i).shuffle(words)  # other outlets' wording: rewrites, not near-duplicates
        later.append({"id": f"later-{i}", "text": text(words)})
    return [early, *later]


@pytest.mark.parametrize("batch_size", [200, 1], ids=["same batch", "a batch each"])
def test_an_article_that_came_before_its_event_joins_it_at_the_batch_end(tmp_path: Path, batch_size: int) -> None:
    """In one batch the early article's small new story finds the grown one; in a batch each, the
    grown story finds the early article's stored one."""
    settings = Settings(db=str(tmp_path / "test.duckdb"), batch_size=batch_size)
    weighter = TermWeighter(settings.cluster)
    vectors = {r["id"]: weighter.vector(None, r["text"], "en") for r in records()}
    threshold = settings.cluster.rewrite_threshold
    # On arrival the early article matches no later one, and the later ones match each other...
    assert all(cosine(vectors["early"], vectors[f"later-{i}"]) < threshold for i in range(3))
    assert cosine(vectors["later-0"], vectors["later-1"]) >= threshold
    # ... but it matches the story they grew.
    grown: dict[str, float] = {}
    for i in range(3):
        for term, weight in vectors[f"later-{i}"].items():
            grown[term] = grown.get(term, 0.0) + weight
    assert cosine(vectors["early"], grown, sum(w * w for w in grown.values()) ** 0.5) >= threshold

    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records()), encoding="utf-8")
    ingest_paths([data], settings)

    with duckdb.connect(settings.db, read_only=True) as con:
        placed = dict(con.execute("SELECT external_id, story_id FROM articles").fetchall())
        merges = con.execute("SELECT merged_story_id, into_story_id, article_id, similarity FROM story_merges")
        merges = merges.fetchall()
        later = con.execute("SELECT list(article_id) FROM articles WHERE external_id LIKE 'later-%'").fetchall()[0][0]
        count = con.execute("SELECT article_count FROM stories").fetchall()
        arrived = dict(con.execute("SELECT external_id, assigned_as FROM articles").fetchall())
    assert arrived == {"early": "new_story", "later-0": "new_story", "later-1": "rewrite", "later-2": "rewrite"}
    assert len(set(placed.values())) == 1  # one story
    assert count == [(4,)]
    (merged, into, article_id, similarity), *_ = merges
    assert into == placed["early"] != merged  # the early article's story was folded into the grown one
    assert article_id in later  # the article that made them meet: one that grew the other story
    assert similarity >= threshold
    assert main(["show", merged, "--db", settings.db]) == 0  # its first story id still resolves
