from __future__ import annotations

import pytest

from pipeline.evaluate import bcubed, pairwise


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
