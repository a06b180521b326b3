"""Story quality on every dev set at once: Storyline beside the TF-IDF baseline, chaining included.

    python bench/story_quality.py [--sets ecbplus-dev allsides-dev allsides-dated-dev] [--quick]
                                  [--evidence language corpus]

A quality change is judged on all the dev sets together, never one. For each set and order (ECB+ dev:
5 shuffled orders; allsides-dev, undated: file order and 2 shuffles; allsides-dated-dev: file order,
which is date order, as a feed arrives) this ingests the records into a temporary database with
``pipeline.evaluate.evaluate_orders`` and prints story B-cubed P/R/F1 and the chaining measure (largest
predicted story, largest gold story, predicted stories over twice the largest gold) for Storyline and
for the streaming TF-IDF centroid baseline (``pipeline.baseline``) on the same records in the same
order. ``--quick`` runs one order per set; ``--evidence`` picks the ``cluster.evidence`` modes to
score (default both, each set evaluated in each mode; the baseline is printed once per order).
"""

from __future__ import annotations

import argparse
import time

from _common import DATA, machine

from pipeline.evaluate import Chaining, Evaluation, Scores, evaluate_orders
from pipeline.settings import EVIDENCE_MODES, ClusterSettings, Settings

ORDERS: dict[str, list[int | None]] = {
    "ecbplus-dev": [1, 2, 3, 4, 5],
    "allsides-dev": [None, 1, 2],
    "allsides-dated-dev": [None],
}


def row(name: str, bcubed: Scores, chaining: Chaining) -> str:
    """One printed line: who, B-cubed scores, chaining."""
    return (
        f"    {name:15s} P={bcubed.precision:.3f} R={bcubed.recall:.3f} F1={bcubed.f1:.3f}  "
        f"largest {chaining.largest:4d} (gold {chaining.largest_gold}), {chaining.over_twice_gold} over 2x gold"
    )


def run_set(name: str, orders: list[int | None], mode: str) -> list[Evaluation]:
    """Evaluate Storyline (evidence ``mode``) and the baseline on one dev set in each order, printing as it goes."""
    print(f"\n{name}, evidence = {mode}")
    settings = Settings(cluster=ClusterSettings(evidence=mode))
    results = []
    start = time.perf_counter()
    for result in evaluate_orders(DATA / f"{name}.jsonl", "cluster", orders, settings=settings):
        seconds, start = time.perf_counter() - start, time.perf_counter()
        print(f"  {result.order}: {result.articles} articles, {result.gold_stories} gold stories ({seconds:.0f} s)")
        print(row(f"storyline {mode}", result.story_bcubed, result.story_chaining))
        if result.baseline is not None:
            print(row("tfidf baseline", result.baseline.bcubed, result.baseline.chaining))
        results.append(result)
    return results


def summary(results: dict[tuple[str, str], list[Evaluation]]) -> None:
    """Per set and mode: mean and minimum F1 of each system, and the worst chaining seen."""
    print("\nsummary (story B-cubed F1 over the orders; largest story in any order)")
    head = f"{'storyline mean/min':>20s} {'largest':>8s} {'baseline mean/min':>19s} {'largest':>8s}"
    print(f"  {'set, evidence':30s} {head}")
    for (name, mode), runs in results.items():
        ours = [r.story_bcubed.f1 for r in runs]
        base = [r.baseline.bcubed.f1 for r in runs if r.baseline is not None]
        print(
            f"  {name + ', ' + mode:30s} {sum(ours) / len(ours):11.3f}/{min(ours):.3f} "
            f"{max(r.story_chaining.largest for r in runs):8d} "
            f"{sum(base) / len(base):10.3f}/{min(base):.3f} "
            f"{max(r.baseline.chaining.largest for r in runs if r.baseline is not None):8d}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=sorted(ORDERS), default=list(ORDERS))
    parser.add_argument("--quick", action="store_true", help="one order per set")
    parser.add_argument("--evidence", nargs="+", choices=EVIDENCE_MODES, default=list(EVIDENCE_MODES))
    args = parser.parse_args()
    print(f"story quality on the dev sets; {machine()}")
    results = {
        (name, mode): run_set(name, ORDERS[name][:1] if args.quick else ORDERS[name], mode)
        for name in args.sets
        for mode in args.evidence
    }
    summary(results)


if __name__ == "__main__":
    main()
