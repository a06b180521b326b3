"""Sweep the TF-IDF baseline's threshold on the dev sets and pick the one with the best mean story F1.

    python bench/tfidf_baseline.py [--shuffle SEED] [--window-days 7] [--thresholds 0.1 0.15 ...]

For each dev set (ecbplus-dev, allsides-dev, allsides-dated-dev; file order unless --shuffle) and each
threshold: story B-cubed P/R/F1, the number of stories and the largest predicted story (the largest
gold story beside it), and the seconds the run took. Then ONE threshold: the one with the best mean
F1 over the sets (the default of ``pipeline.baseline``), and each set's own best for comparison.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass

from _common import DATA, machine

from pipeline.baseline import DEFAULT_THRESHOLD, DEFAULT_WINDOW_DAYS
from pipeline.evaluate import StoryScores, baseline_stories, read_labelled, score_stories

DEV_SETS = ("ecbplus-dev", "allsides-dev", "allsides-dated-dev")
THRESHOLDS = [round(0.10 + 0.05 * i, 2) for i in range(11)]  # 0.10 .. 0.60


@dataclass(frozen=True)
class Run:
    """The baseline's scores on one dev set at one threshold."""

    threshold: float
    scores: StoryScores
    seconds: float


def sweep(name: str, thresholds: list[float], shuffle: int | None, window_days: int | None) -> list[Run]:
    """Run the baseline on one dev set at each threshold and print a row per threshold."""
    records = read_labelled(DATA / f"{name}.jsonl", "cluster")
    if shuffle is not None:
        random.Random(shuffle).shuffle(records)
    gold = [r["cluster"] for r in records]
    runs = []
    for threshold in thresholds:
        start = time.perf_counter()
        labels, skipped = baseline_stories(records, threshold, window_days)
        runs.append(Run(threshold, score_stories(labels, gold), time.perf_counter() - start))
        if skipped:
            print(f"  {skipped} record(s) without title or text scored as singletons")
    first = runs[0].scores.chaining
    print(f"\n{name}: {len(records)} records, {len(set(gold))} gold stories (largest {first.largest_gold})")
    print("  threshold  stories  B-cubed P      R     F1  largest  >2x gold  seconds")
    for run in runs:
        s = run.scores
        print(
            f"  {run.threshold:9.2f}  {s.stories:7d}  {s.bcubed.precision:9.3f}  {s.bcubed.recall:5.3f}  "
            f"{s.bcubed.f1:5.3f}  {s.chaining.largest:7d}  {s.chaining.over_twice_gold:8d}  {run.seconds:7.2f}"
        )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shuffle", type=int, metavar="SEED", help="shuffle each set with this seed (default: file order)"
    )
    parser.add_argument(
        "--window-days", type=int, default=DEFAULT_WINDOW_DAYS, help="time window (default %(default)s)"
    )
    parser.add_argument("--thresholds", type=float, nargs="+", default=THRESHOLDS, help="default 0.10 .. 0.60 by 0.05")
    args = parser.parse_args()
    order = "file order" if args.shuffle is None else f"shuffle {args.shuffle}"
    print(f"TF-IDF centroid baseline, window {args.window_days} days, {order}; {machine()}")
    results = {name: sweep(name, args.thresholds, args.shuffle, args.window_days) for name in DEV_SETS}

    mean_f1 = {t: sum(runs[i].scores.bcubed.f1 for runs in results.values()) / len(results)
               for i, t in enumerate(args.thresholds)}  # fmt: skip
    print(f"\nmean story B-cubed F1 over {len(results)} sets")
    print("  threshold  mean F1  " + "  ".join(f"{name:>18}" for name in DEV_SETS))
    for i, t in enumerate(args.thresholds):
        per_set = "  ".join(f"{results[name][i].scores.bcubed.f1:18.3f}" for name in DEV_SETS)
        print(f"  {t:9.2f}  {mean_f1[t]:7.3f}  {per_set}")
    chosen = max(args.thresholds, key=lambda t: mean_f1[t])  # the lowest threshold among equals
    print(f"\nchosen threshold {chosen:.2f}: mean F1 {mean_f1[chosen]:.3f} (default in pipeline/baseline.py: "
          f"{DEFAULT_THRESHOLD:.2f})")  # fmt: skip
    for name, runs in results.items():
        at_chosen = next(r for r in runs if r.threshold == chosen).scores
        best = max(runs, key=lambda r: r.scores.bcubed.f1)
        print(
            f"  {name:>18}: at {chosen:.2f} {at_chosen.bcubed}, largest {at_chosen.chaining.largest}; "
            f"own best {best.threshold:.2f} F1={best.scores.bcubed.f1:.3f}"
        )


if __name__ == "__main__":
    main()
