"""Evaluate: score a clustering against gold labels (B-cubed and pairwise precision/recall/F1)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    """Precision, recall and their harmonic mean."""

    precision: float
    recall: float
    f1: float

    def __str__(self) -> str:
        return f"P={self.precision:.3f} R={self.recall:.3f} F1={self.f1:.3f}"


def bcubed(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> Scores:
    """B-cubed scores: per item, the overlap of its predicted and gold clusters, averaged."""
    _check(predicted, gold)
    joint = Counter(zip(predicted, gold, strict=True))
    pred_size, gold_size = Counter(predicted), Counter(gold)
    precision = sum(n * n / pred_size[p] for (p, _), n in joint.items()) / len(predicted)
    recall = sum(n * n / gold_size[g] for (_, g), n in joint.items()) / len(predicted)
    return Scores(precision, recall, _f1(precision, recall))


def pairwise(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> Scores:
    """Pairwise scores: over all pairs of items, how well 'same predicted cluster' matches 'same gold'."""
    _check(predicted, gold)
    joint = Counter(zip(predicted, gold, strict=True))
    both = sum(n * (n - 1) // 2 for n in joint.values())
    pred_pairs = sum(n * (n - 1) // 2 for n in Counter(predicted).values())
    gold_pairs = sum(n * (n - 1) // 2 for n in Counter(gold).values())
    precision = both / pred_pairs if pred_pairs else 1.0
    recall = both / gold_pairs if gold_pairs else 1.0
    return Scores(precision, recall, _f1(precision, recall))


def clusters(labels: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    """Item indexes grouped by label."""
    out: dict[Hashable, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        out[label].append(i)
    return dict(out)


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _check(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> None:
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predicted labels for {len(gold)} gold labels")
    if not predicted:
        raise ValueError("nothing to score")
