"""Do unrelated articles chain into stories? ECB+ dev's events mixed into a stream of unrelated real news.

    python bench/mixed_stream.py [--unrelated 961] [--seed 7] [--evidence language corpus]

A feed carries a few stories many times over among thousands of articles that have nothing to do
with each other. This builds such a stream from the dev data: every ECB+ dev article (772, 66 events)
and one article from each of ``--unrelated`` distinct allsides-dev stories (real headline + lead news,
each unrelated to every other), shuffled together with ``--seed``. Each evidence mode ingests it into a
fresh database (``ingest_paths``, as the CLI would), and the bench prints:

* the story B-cubed F1 of the ECB+ part (its articles only, against their events), and
* chaining among the unrelated articles: the most of them that one predicted story holds (gold: 1,
  each is its own story), and how many predicted stories hold 2 or more.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from collections import Counter
from pathlib import Path

from _common import ECB_DEV, allsides_stories, machine, stories_of_stream

from pipeline.evaluate import bcubed
from pipeline.settings import EVIDENCE_MODES

UNRELATED = "unrelated:"


def build_stream(path: Path, unrelated: int, seed: int) -> dict[str, str]:
    """Write the mixed stream as JSONL; returns each record's id -> gold label (an unrelated one's is its own)."""
    ecb = [json.loads(line) for line in ECB_DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    stories = allsides_stories("text")
    rng = random.Random(seed)
    picked = sorted(stories)
    rng.shuffle(picked)
    if unrelated > len(picked):
        raise SystemExit(f"allsides-dev has {len(picked)} stories; --unrelated {unrelated} is too many")
    others = [dict(rng.choice(stories[key]), cluster=f"{UNRELATED}{key}") for key in picked[:unrelated]]
    records = ecb + others
    rng.shuffle(records)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return {str(r["id"]): str(r["cluster"]) for r in records}


def score(path: Path, gold: dict[str, str], evidence: str, folder: Path) -> str:
    """Ingest the stream in one evidence mode; the ECB+ part's F1 and the unrelated articles' chaining."""
    placed = stories_of_stream(path, evidence, folder)
    events = [i for i in placed if not gold[i].startswith(UNRELATED)]
    f1 = bcubed([placed[i] for i in events], [gold[i] for i in events]).f1
    piles = Counter(placed[i] for i in placed if gold[i].startswith(UNRELATED))
    largest = max(piles.values(), default=0)
    shared = sum(1 for n in piles.values() if n >= 2)
    return (
        f"  {evidence:9s} ECB+ part story B-cubed F1 {f1:.3f}   unrelated articles: at most {largest} in one story, "
        f"{shared} stories hold 2 or more"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unrelated", type=int, default=961)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--evidence", nargs="+", choices=EVIDENCE_MODES, default=list(EVIDENCE_MODES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="storyline-mixed-") as tmp:
        folder = Path(tmp)
        stream = folder / "mixed.jsonl"
        gold = build_stream(stream, args.unrelated, args.seed)
        print(f"machine: {machine()}")
        records = f"{len(gold)} records, seed {args.seed}"
        print(f"ECB+ dev mixed with {args.unrelated} unrelated allsides-dev articles ({records})")
        for evidence in args.evidence:
            print(score(stream, gold, evidence, folder), flush=True)


if __name__ == "__main__":
    main()
