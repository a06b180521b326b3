"""Which article similarity could tell stories apart? Each one, and a learned mix, on every dev set at once.

    python bench/similarity_study.py [--thresholds 0.14,0.18,...,0.42] [--sets ecb,dated,allsides]

A study, not the pipeline: it asks how far a similarity between two articles can go before any design
choice of the clusterer, so that an idea can be tried on all three dev sets in a minute instead of an
ingest per idea. Each set, in file order as ``storyline evaluate`` streams it (allsides-dated-dev's is date
order), is turned into one representation per article with Storyline's own term weighting
(``pipeline.fingerprint.fingerprints.TermWeighter``):

* ``corpus``: the ``corpus`` evidence (stemmed, headline twice, dates and "said" no evidence) weighed by
  an idf over the whole set with the language prior (``pipeline.fingerprint.evidence.weigh``);
* ``language``: the ``language`` mode's vector (rarity in the language, names boosted);
* ``headline``: the headline's ``corpus`` evidence alone;
* ``names``: capitalised words (inside sentences, or anywhere in the headline), weighed by their idf.

The whole-set idf sees the future, so the figures approximate the streaming pipeline and do not
reproduce it. Every pair's cosine is computed once (a dense matrix: allsides-dev takes ~1 GB a
representation). Then, in the set's order, each article:

* **average link**: joins the earlier story with the highest mean similarity to its members, if that
  reaches the threshold (``corpus`` mode's rule), else founds a story;
* **mutual nearest neighbour**: joins the story of its most similar earlier article if that reaches the
  threshold and no article seen so far is closer to that article than it is.

Last, a **learned** similarity, as in Miranda et al. (2018): a logistic model over the four cosines,
the shorter text's length and the length's products with the cosines, fitted on gold pairs (every
same-story pair, each article's five most similar other-story articles and five random ones, each set
weighing the same) of the other two sets and applied to the third (leave one set out), then clustered
by average link over its probabilities.

Prints, per set and rule, the best story B-cubed F1 over the thresholds, with its threshold, P / R
and the largest story (the largest gold story: ECB+ 22, allsides 3), and how often an article's most
similar other article tells its own story (a ceiling on what joining by similarity can get right).
"""

from __future__ import annotations

import argparse
import math
import re
import time
from collections import Counter
from collections.abc import Callable

import numpy as np
import scipy.sparse as sparse  # datasketch's dependency, so always installed
from _common import DATA, machine
from scipy.optimize import minimize

from pipeline.evaluate import bcubed, read_labelled
from pipeline.fingerprint.evidence import stemmer, weigh
from pipeline.fingerprint.fingerprints import TermWeighter
from pipeline.settings import ClusterSettings

SETS = {"ecb": "ecbplus-dev.jsonl", "dated": "allsides-dated-dev.jsonl", "allsides": "allsides-dev.jsonl"}
REPRESENTATIONS = ("corpus", "language", "headline", "names")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+", re.M)  # capitalised, not a sentence's first word
_HEADLINE_NAME = re.compile(r"\b[A-Z][a-z]+")


def records_of(name: str) -> list[dict]:
    """A dev set's records, in file order."""
    path = DATA / SETS[name]
    if not path.exists():
        raise SystemExit(f"{path} not found (see ../shared/data/README.md)")
    return read_labelled(path, "cluster")


def cosines(vectors: list[dict[str, float]]) -> np.ndarray:
    """Every pair's cosine of sparse vectors, as a dense float32 matrix."""
    vocabulary: dict[str, int] = {}
    rows, columns, values = [], [], []
    for row, vector in enumerate(vectors):
        for term, weight in vector.items():
            rows.append(row)
            columns.append(vocabulary.setdefault(term, len(vocabulary)))
            values.append(weight)
    matrix = sparse.csr_matrix((values, (rows, columns)), shape=(len(vectors), max(1, len(vocabulary))))
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    matrix = sparse.diags(1.0 / norms) @ matrix
    return (matrix @ matrix.T).toarray().astype(np.float32)


def similarities(records: list[dict]) -> dict[str, np.ndarray]:
    """The four representations' cosine matrices, and each pair's shorter text length (log words / 7)."""
    corpus_weighter = TermWeighter(ClusterSettings(evidence="corpus"))
    language_weighter = TermWeighter(ClusterSettings(evidence="language"))
    evidence = [corpus_weighter.evidence(r.get("title"), r["text"], "en") for r in records]
    headlines = [corpus_weighter.evidence(None, r.get("title") or "", "en") for r in records]
    documents = len(records)
    df = Counter(term for terms, _ in evidence for term in terms)

    stem = stemmer("en")
    names = []
    for record in records:
        words = {m.group(0).lower() for m in _NAME.finditer(record["text"])}
        words |= {w.lower() for w in _HEADLINE_NAME.findall(record.get("title") or "")}
        names.append({stem(w): math.log((documents + 1) / (df.get(stem(w), 0) + 1)) for w in words})
    lengths = np.array([len(r["text"].split()) for r in records])
    return {
        "corpus": cosines([weigh(terms, chances, df, documents) for terms, chances in evidence]),
        "language": cosines([language_weighter.vector(r.get("title"), r["text"], "en") for r in records]),
        "headline": cosines([weigh(terms, chances, df, documents) for terms, chances in headlines]),
        "names": cosines(names),
        "short": (np.log1p(np.minimum.outer(lengths, lengths)) / 7).astype(np.float32),
    }


def average_link(similarity: np.ndarray, threshold: float) -> np.ndarray:
    """Stories in input order: each article joins the earlier story of highest mean similarity, at the threshold."""
    stories = np.full(len(similarity), -1)
    sizes: list[int] = []
    for i in range(len(similarity)):
        if i:
            means = np.bincount(stories[:i], weights=similarity[i, :i], minlength=len(sizes)) / np.array(sizes)
            best = int(np.argmax(means))
            if means[best] >= threshold:
                stories[i] = best
                sizes[best] += 1
                continue
        stories[i] = len(sizes)
        sizes.append(1)
    return stories


def mutual_nearest(similarity: np.ndarray, threshold: float) -> np.ndarray:
    """Stories in input order: an article joins its nearest earlier article's story when each is the other's nearest."""
    stories = np.full(len(similarity), -1)
    founded = 0
    for i in range(len(similarity)):
        if i:
            nearest = int(np.argmax(similarity[i, :i]))
            score = similarity[i, nearest]
            closer = similarity[nearest, : i + 1] > score
            closer[nearest] = False  # itself
            if score >= threshold and not closer.any():
                stories[i] = stories[nearest]
                continue
        stories[i] = founded
        founded += 1
    return stories


def best_f1(
    rule: Callable[[np.ndarray, float], np.ndarray], similarity: np.ndarray, gold: list[str], thresholds: list[float]
) -> tuple[float, float, float, float, int]:
    """(F1, threshold, P, R, largest story) at the threshold where the rule scores best."""
    results = []
    for threshold in thresholds:
        stories = rule(similarity, threshold)
        scores = bcubed(stories.tolist(), gold)
        results.append((scores.f1, threshold, scores.precision, scores.recall, int(np.bincount(stories).max())))
    return max(results)


def pair_features(matrices: dict[str, np.ndarray], i: np.ndarray | slice, j: np.ndarray | slice) -> list[np.ndarray]:
    """The learned model's inputs for the pairs (i, j): the four cosines, the length, and length x cosine."""
    short = matrices["short"][i, j]
    plain = [matrices[name][i, j] for name in REPRESENTATIONS]
    return [*plain, short, *(cosine * short for cosine in plain)]


def training_pairs(
    matrices: dict[str, np.ndarray], gold: list[str], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Every same-story pair, and per article its five most similar (``corpus``) and five random other-story ones."""
    labels = np.array(gold)
    n = len(labels)
    same = labels[:, None] == labels[None, :]
    upper_i, upper_j = np.triu_indices(n, 1)
    positive = same[upper_i, upper_j]
    closest = matrices["corpus"].copy()
    closest[same] = -1.0
    hard = np.argsort(-closest, axis=1)[:, :5]
    random_i, random_j = rng.integers(0, n, 5 * n), rng.integers(0, n, 5 * n)
    keep = labels[random_i] != labels[random_j]
    i = np.concatenate([upper_i[positive], np.repeat(np.arange(n), 5), random_i[keep]])
    j = np.concatenate([upper_j[positive], hard.ravel(), random_j[keep]])
    y = np.concatenate([np.ones(positive.sum()), np.zeros(5 * n + keep.sum())])
    return np.stack(pair_features(matrices, i, j), axis=1), y


def fit_logistic(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted, lightly L2-regularised logistic regression; the last coefficient is the intercept."""
    xb = np.hstack([x, np.ones((len(x), 1))])

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        value = -(weights * (y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9))).sum() + 0.01 * (w[:-1] ** 2).sum()
        return value, xb.T @ (weights * (p - y)) + np.r_[0.02 * w[:-1], 0.0]

    return minimize(loss, np.zeros(xb.shape[1]), jac=True, method="L-BFGS-B").x


def learned(matrices: dict[str, np.ndarray], coefficients: np.ndarray) -> np.ndarray:
    """The learned same-story probability of every pair."""
    z = sum(f * c for f, c in zip(pair_features(matrices, slice(None), slice(None)), coefficients, strict=False))
    return (1.0 / (1.0 + np.exp(-(z + coefficients[-1])))).astype(np.float32)


def main() -> None:
    """Print the best F1 of each similarity and rule on each set, and of the learned similarity."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--thresholds", default="0.14,0.18,0.22,0.26,0.30,0.34,0.38,0.42")
    parser.add_argument("--sets", default="ecb,dated,allsides")
    args = parser.parse_args()
    thresholds = [float(t) for t in args.thresholds.split(",")]
    names = args.sets.split(",")
    print(f"machine: {machine()}")
    data: dict[str, tuple[list[str], dict[str, np.ndarray]]] = {}
    for name in names:
        started = time.perf_counter()
        records = records_of(name)
        data[name] = ([r["cluster"] for r in records], similarities(records))
        print(f"{name}: {len(records)} articles, similarities in {time.perf_counter() - started:.1f} s", flush=True)
    print("best story B-cubed F1 over the thresholds: F1 (threshold, P / R, largest story)")

    def show(label: str, result: tuple[float, float, float, float, int]) -> None:
        f1, threshold, precision, recall, largest = result
        print(f"  {label:40s} {f1:.3f} ({threshold:.2f}, {precision:.3f} / {recall:.3f}, {largest})", flush=True)

    for name, (gold, matrices) in data.items():
        print(name)
        for representation in REPRESENTATIONS:
            show(f"{representation}, average link", best_f1(average_link, matrices[representation], gold, thresholds))
        show("corpus, mutual nearest neighbour", best_f1(mutual_nearest, matrices["corpus"], gold, thresholds))
        labels = np.array(gold)
        for representation in ("corpus", "language"):
            others = matrices[representation].copy()
            np.fill_diagonal(others, -np.inf)
            rate = float((labels[others.argmax(axis=1)] == labels).mean())
            print(f"  {representation}: an article's most similar other article is of its story for {rate:.1%}")
    if len(data) < 2:
        return
    rng = np.random.default_rng(0)
    pairs = {name: training_pairs(matrices, gold, rng) for name, (gold, matrices) in data.items()}
    print("learned similarity, fitted on the other sets, average link over its probabilities")
    for name, (gold, matrices) in data.items():
        others = [other for other in data if other != name]
        x = np.vstack([pairs[o][0] for o in others])
        y = np.concatenate([pairs[o][1] for o in others])
        weights = np.concatenate([np.full(len(pairs[o][1]), 1.0 / len(pairs[o][1])) for o in others]) * len(y)
        coefficients = fit_logistic(x, y, weights)
        show(name, best_f1(average_link, learned(matrices, coefficients), gold, [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]))


if __name__ == "__main__":
    main()
