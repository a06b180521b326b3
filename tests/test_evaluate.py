from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.evaluate import Chaining, baseline_stories, bcubed, chaining, pairwise, score_stories


def test_perfect_clustering_scores_one() -> None:
    gold = ["a", "a", "b", "c", "c", "c"]
    pred = [1, 1, 2, 3, 3, 3]
    assert bcubed(pred, gold).f1 == pytest.approx(1.0)
    assert pairwise(pred, gold).f1 == pytest.approx(1.0)


def test_all_in_one_cluster_has_full_recall_low_precision() -> None:
    gold = ["a", "a", "b", "b"]
    scores = bcubed([0, 0, 0, 0], gold)
    assert scores.recall == pytest.approx(1.0) and scores.precision == pytest.approx(0.5)
    assert pairwise([0, 0, 0, 0], gold).precision == pytest.approx(2 / 6)


def test_singletons_have_full_precision() -> None:
    gold = ["a", "a", "a", "b"]
    scores = bcubed([1, 2, 3, 4], gold)
    assert scores.precision == pytest.approx(1.0)
    assert scores.recall == pytest.approx((1 / 3 * 3 + 1) / 4)


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="3 predicted labels for 2 gold"):
        bcubed([1, 2, 3], ["a", "b"])


def test_chaining_counts_stories_over_twice_the_largest_gold_story() -> None:
    gold = ["a", "a", "b", "b", "c", "d", "e", "f", "g", "h", "i"]  # largest gold story: 2
    pred = [1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 4]  # 5 > 2 x 2; 4 is not over twice
    assert chaining(pred, gold) == Chaining(largest=5, largest_gold=2, over_twice_gold=1)
    assert chaining(list(range(11)), gold) == Chaining(largest=1, largest_gold=2, over_twice_gold=0)


def test_story_scores_bundle_one_labelling() -> None:
    gold = ["a", "a", "b", "b", "b", "c"]
    pred = [1, 1, 1, 1, 1, 1]
    scores = score_stories(pred, gold)
    assert scores.stories == 1
    assert scores.bcubed == bcubed(pred, gold) and scores.pairwise == pairwise(pred, gold)
    assert scores.chaining == Chaining(largest=6, largest_gold=3, over_twice_gold=0)


def test_baseline_skips_records_it_cannot_read_as_singletons() -> None:
    records = [
        {"id": "1", "title": "Quake hits Chile", "text": "A strong quake hit central Chile on Tuesday."},
        {"id": "2", "html": "<p>A strong quake hit central Chile on Tuesday.</p>"},
        {"id": "3", "title": "Quake hits Chile", "text": "A strong quake hit central Chile on Tuesday."},
    ]
    stories, skipped = baseline_stories(records)
    assert skipped == 1
    assert stories[0] == stories[2] and stories[1] == "skipped:2"


STORIES = {
    "quake": [
        ("Strong earthquake shakes central Chile", "A magnitude 7.1 earthquake struck central Chile on Tuesday, "
         "damaging buildings in Valparaiso and cutting power to thousands of homes, the emergency office said."),
        ("Magnitude 7.1 earthquake hits central Chile", "An earthquake of magnitude 7.1 hit central Chile, damaging "
         "buildings in Valparaiso and leaving thousands of homes without power, the emergency office said."),
    ],
    "rates": [
        ("Central bank raises interest rates to fight inflation", "The central bank raised its benchmark interest "
         "rate by half a point to 4.5 percent, its steepest increase in a decade, as inflation hit a 40-year high."),
        ("Bank lifts benchmark rate by half a point as inflation soars", "Inflation at a 40-year high pushed the "
         "central bank to lift its benchmark interest rate by half a point, to 4.5 percent, a decade's steepest."),
    ],
}  # fmt: skip


def labelled_file(tmp_path: Path) -> Path:
    records = [
        {"id": f"{story}-{i}", "title": title, "text": text, "cluster": story}
        for story, versions in STORIES.items()
        for i, (title, text) in enumerate(versions)
    ]
    records.append({"id": "page", "cluster": "page", "html": "<html><body><p>" + "A page of words. " * 20 + "</p>"})
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_evaluate_prints_storyline_and_the_baseline_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = labelled_file(tmp_path)
    assert main(["evaluate", str(data)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "story B-cubed P=" in line]
    assert [row.split("|")[0].strip() for row in rows] == ["storyline", "tfidf baseline"]
    assert "5 articles, 3 gold stories (largest 2)" in out
    assert "tfidf baseline |      3 stories | story B-cubed P=1.000 R=1.000 F1=1.000" in out
    assert all("story pairwise P=" in row and "largest story" in row and "over 2x gold" in row for row in rows)
    assert "tfidf baseline skipped 1 record(s)" in out

    assert main(["evaluate", str(data), "--no-baseline"]) == 0
    out = capsys.readouterr().out
    assert "storyline      |" in out and "tfidf baseline" not in out


def test_orders_prepared_once_score_as_ingests_of_their_files(tmp_path: Path) -> None:
    """``evaluate_orders`` extracts the records once and stores them per order: each order's stories are those an
    ingest of that order's file makes, in the same batches, rejected records included."""
    import random

    from conftest import ecb_records

    from pipeline.evaluate import evaluate_orders
    from pipeline.run.ingest import ingest_paths
    from pipeline.settings import ExtractSettings, Settings
    from pipeline.store import Store
    from pipeline.store.reports import placements

    records = ecb_records({3, 25})
    records.insert(7, {"id": "bad", "cluster": "bad", "text": "too short"})  # rejected: too few words
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    settings = Settings(batch_size=16, reader_gap_seconds=0.0, extract=ExtractSettings(workers=1))

    evaluations = list(evaluate_orders(data, "cluster", [None, 3], settings=settings, baseline=False))

    for shuffle, result in zip([None, 3], evaluations, strict=True):
        ordered = list(records)
        if shuffle is not None:
            random.Random(shuffle).shuffle(ordered)
        path = tmp_path / f"order-{shuffle}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in ordered), encoding="utf-8")
        db = tmp_path / f"order-{shuffle}.duckdb"
        ingest_paths([path], Settings(db=str(db), batch_size=16, reader_gap_seconds=0.0,
                                      extract=ExtractSettings(workers=1)))  # fmt: skip
        with Store.open(db, read_only=True) as store:
            placed = placements(store)
        stories = [placed.get(str(r["id"]), (f"rejected:{r['id']}",))[0] for r in ordered]
        assert result.not_ingested == 1
        assert result.story_bcubed == bcubed(stories, [r["cluster"] for r in ordered])
        assert result.order == ("file order" if shuffle is None else f"shuffle {shuffle}")
