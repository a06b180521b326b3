from __future__ import annotations

import pytest

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

