"""Labelled pairs: is each pair of articles told as one story or two, against a TF-IDF cosine at its best threshold?

    python bench/labelled_pairs.py [--pairs 350] [--seed 7] [--evidence language corpus]

A labelled pair set asks one question per pair: the same story, or not? This builds one from the dev
data, as real news: allsides-dev (headline + lead, undated), ``--pairs`` pairs of distinct articles
(each article in one pair only), half of them two outlets' tellings of one story, half two different
stories that share at least two headline words (the same subject: "Senate", "Barrett", "vaccine"), so
that a shared name alone does not decide. All the pairs' articles are streamed, shuffled, into one fresh
database per evidence mode (``ingest_paths``, as the CLI would), and a pair counts as "same story" when
its two articles end up in one story. Beside it, the plain answer: the TF-IDF cosine of the two texts
(``pipeline.baseline.terms``: title counted twice, unigrams and bigrams, idf over the pairs' articles)
at 0.3 and at the threshold that does best on these very pairs (an oracle, so a hard bar).
Prints pair precision, recall and F1 for each.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from _common import allsides_stories, machine, stories_of_stream

from pipeline.baseline import STOP_WORDS, terms
from pipeline.evaluate import Scores
from pipeline.settings import EVIDENCE_MODES

Pair = tuple[str, str, bool]  # two record ids, and whether they tell one story


def build_pairs(count: int, seed: int) -> tuple[list[dict], list[Pair]]:
    """The records of ``count`` labelled pairs (half same story, half same subject) and the pairs."""
    stories = allsides_stories("text", "title")
    rng = random.Random(seed)
    keys = sorted(k for k, members in stories.items() if len(members) >= 2)
    rng.shuffle(keys)
    same = count // 2
    records: list[dict] = []
    pairs: list[Pair] = []
    for key in keys[:same]:
        a, b = rng.sample(stories[key], 2)
        records += [a, b]
        pairs.append((str(a["id"]), str(b["id"]), True))
    # Different stories on the same subject: one article from each of the other stories, paired with another
    # that shares at least two headline words with it (each story used once).
    candidates = [rng.choice(stories[key]) for key in keys[same:]]
    by_word: dict[str, list[int]] = defaultdict(list)
    words = [_title_words(r) for r in candidates]
    for i, found in enumerate(words):
        for word in found:
            by_word[word].append(i)
    used: set[int] = set()
    for i in range(len(candidates)):
        if len(pairs) == count:
            break
        if i in used:
            continue
        shared = Counter(j for word in words[i] for j in by_word[word] if j != i and j not in used)
        partners = sorted(j for j, n in shared.items() if n >= 2)
        if not partners:
            continue
        j = rng.choice(partners)
        used |= {i, j}
        records += [candidates[i], candidates[j]]
        pairs.append((str(candidates[i]["id"]), str(candidates[j]["id"]), False))
    if len(pairs) < count:
        raise SystemExit(f"found only {len(pairs)} pairs in allsides-dev; ask for fewer with --pairs")
    rng.shuffle(records)
    return records, pairs


def _title_words(record: dict) -> set[str]:
    return {t for t in terms(str(record["title"])) if " " not in t and len(t) >= 4 and t not in STOP_WORDS}


def pair_scores(same: Iterable[tuple[bool, bool]]) -> Scores:
    """Precision, recall and F1 of predicted 'same story' against the labels, over (predicted, gold) pairs."""
    counts = Counter(same)
    true_positive = counts[True, True]
    predicted, gold = true_positive + counts[True, False], true_positive + counts[False, True]
    precision = true_positive / predicted if predicted else 1.0
    recall = true_positive / gold if gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1)


def storyline(path: Path, pairs: list[Pair], evidence: str, folder: Path) -> Scores:
    """Stream the pairs' articles into a fresh database; a pair is 'same' when both are in one story."""
    story = stories_of_stream(path, evidence, folder)
    return pair_scores((a in story and story.get(a) == story.get(b), label) for a, b, label in pairs)


def tfidf_cosines(records: list[dict], pairs: list[Pair]) -> list[float]:
    """Each pair's TF-IDF cosine (the baseline's terms, idf over all the pairs' articles)."""
    counts = {str(r["id"]): terms(f"{r['title']}\n{r['title']}") + terms(str(r["text"])) for r in records}
    df = Counter(t for c in counts.values() for t in c)
    n = len(counts)
    vectors = {}
    for key, c in counts.items():
        v = {t: (1 + math.log(tf)) * (math.log((1 + n) / (1 + df[t])) + 1) for t, tf in c.items()}
        norm = math.sqrt(sum(w * w for w in v.values())) or 1.0
        vectors[key] = {t: w / norm for t, w in v.items()}
    return [sum(w * vectors[b].get(t, 0.0) for t, w in vectors[a].items()) for a, b, _ in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=350)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--evidence", nargs="+", choices=EVIDENCE_MODES, default=list(EVIDENCE_MODES))
    args = parser.parse_args()
    print(machine())
    records, pairs = build_pairs(args.pairs, args.seed)
    labels = [label for _, _, label in pairs]
    print(f"{len(pairs)} labelled pairs of allsides-dev ({sum(labels)} same story, {len(labels) - sum(labels)} "
          f"same subject, different story; {len(records)} articles, seed {args.seed})")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="storyline-pairs-") as tmp:
        path = Path(tmp) / "pairs.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        for evidence in args.evidence:
            scores = storyline(path, pairs, evidence, Path(tmp))
            print(f"  storyline {evidence:9s} pair P {scores.precision:.3f} R {scores.recall:.3f} F1 {scores.f1:.3f}")
    cosines = tfidf_cosines(records, pairs)
    fixed = pair_scores((c >= 0.3, label) for c, label in zip(cosines, labels, strict=True))
    print(f"  TF-IDF cosine >= 0.30      pair P {fixed.precision:.3f} R {fixed.recall:.3f} F1 {fixed.f1:.3f}")
    best = max(
        ((pair_scores((c >= t / 100, label) for c, label in zip(cosines, labels, strict=True)), t / 100)
         for t in range(5, 65, 5)),
        key=lambda scored: scored[0].f1,
    )  # fmt: skip
    print(f"  TF-IDF cosine >= {best[1]:.2f} (best) pair P {best[0].precision:.3f} R {best[0].recall:.3f} "
          f"F1 {best[0].f1:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
