"""Baseline: streaming TF-IDF centroid clustering in a time window, the reference story clustering must beat.

Plain on purpose, so that a score above it means something:

* documents arrive one at a time, in the given order; each is its title (counted twice) and its text;
* terms are lower-cased words of two or more word characters, English stop words dropped, as unigrams
  and bigrams of the remaining words (bigrams do not cross from the title into the text);
* a term's weight is ``(1 + log tf) * idf`` with ``idf = log((1 + n) / (1 + df)) + 1`` over the ``n``
  documents seen so far, the current one included; the vector is then L2-normalised and kept as it
  was when the document arrived (earlier vectors are not reweighted as the IDF moves);
* a cluster's centroid is the sum of its members' vectors; a document joins the cluster whose
  centroid is most similar to it (cosine), among the clusters it may join, if that similarity reaches
  ``threshold``; otherwise it founds a new cluster. When the document and a cluster are both dated, the
  cluster may be joined only if one of its members was published within ``window_days`` of the document;
* ties go to the cluster created first, so a given order always gives the same clustering.

Candidate clusters come from an inverted index over terms, so a document is compared only with the
clusters it shares a term with.
"""

from __future__ import annotations

import math
import re
from array import array
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

import numpy as np

from pipeline.errors import ConfigError
from pipeline.sources.files import parse_date, plausible_date

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_WINDOW_DAYS",
    "STOP_WORDS",
    "BaselineDocument",
    "TfidfCentroidClustering",
    "cluster_documents",
    "document_from_record",
    "terms",
]

# Chosen on the dev data by `python bench/tfidf_baseline.py` (file order, window 7 days, thresholds 0.10 to
# 0.60 by 0.05): the best mean story B-cubed F1 over the three dev sets, 0.770 (0.20: 0.761, 0.10: 0.691).
# At 0.15: ecbplus-dev P=0.850 R=0.873 F1=0.861 (its own best), allsides-dev P=0.554 R=0.739 F1=0.634
# (own best 0.694 at 0.20; largest story 100 articles against 3 in gold), allsides-dated-dev P=0.838
# R=0.795 F1=0.816 (its own best).
DEFAULT_THRESHOLD = 0.15
DEFAULT_WINDOW_DAYS = 7

# A small English list (NLTK's, without the one-letter words the tokenizer never yields).
STOP_WORDS = frozenset(
    """
    about above after again against ain all am an and any are aren as at be because been before being below
    between both but by can couldn did didn do does doesn doing don down during each few for from further had
    hadn has hasn have haven having he her here hers herself him himself his how if in into is isn it its itself
    just ll ma me mightn more most mustn my myself needn no nor not now of off on once only or other our ours
    ourselves out over own re same shan she should shouldn so some such than that the their theirs them
    themselves then there these they this those through to too under until up ve very was wasn we were weren
    what when where which while who whom why will with won wouldn you your yours yourself yourselves
    """.split()
)

_WORD = re.compile(r"\w\w+")


@dataclass(frozen=True)
class BaselineDocument:
    """One record as the baseline sees it: title, text and, when known, the publication date."""

    title: str
    text: str
    published_at: date | None = None


def document_from_record(record: Mapping[str, object]) -> BaselineDocument | None:
    """The baseline's view of a JSONL record (title, text, published_at); None when it has neither title nor text.

    A record of ``html`` alone has no text the baseline can read: it does not extract pages.
    """
    title, text = _string(record.get("title")), _string(record.get("text"))
    if not title.strip() and not text.strip():
        return None
    return BaselineDocument(title, text, plausible_date(parse_date(record.get("published_at"))))


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def terms(text: str, stop_words: Collection[str] = STOP_WORDS) -> Counter[str]:
    """Unigram and bigram counts of a text: lower-cased words, stop words dropped before pairing."""
    words = [w for w in _WORD.findall(text.lower()) if w not in stop_words]
    counts = Counter(words)
    counts.update(f"{a} {b}" for a, b in pairwise(words))
    return counts


class TfidfCentroidClustering:
    """Streaming TF-IDF centroid clustering: each document joins its most similar cluster or founds one."""

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        window_days: int | None = DEFAULT_WINDOW_DAYS,
        stop_words: Collection[str] = STOP_WORDS,
    ):
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"threshold must be in (0, 1], got {threshold!r}")
        if window_days is not None and window_days < 0:
            raise ConfigError(f"window_days must be >= 0 or None (no window), got {window_days!r}")
        self.threshold = threshold
        self.window = None if window_days is None else timedelta(days=window_days)
        self.stop_words = frozenset(stop_words)
        self._df: Counter[str] = Counter()
        # Vectors never change once made, so a centroid's dot product with a new vector is the sum of
        # its members' dot products: the index is over documents (append-only arrays, viewed by numpy).
        self._postings: dict[str, tuple[array[int], array[float]]] = {}  # term -> (documents, weights)
        self._cluster_of: array[int] = array("q")  # document -> cluster
        self._norm2: array[float] = array("d")  # cluster -> squared length of its centroid
        self._dates: list[list[date]] = []  # cluster -> its members' publication dates, sorted

    def add(self, document: BaselineDocument) -> int:
        """Assign one document; return its cluster number (0, 1, ... in order of creation)."""
        vector = self._vector(document)
        dots = self._dot_products(vector)
        cluster = self._best(dots, document.published_at)
        if cluster is None:
            cluster = len(self._norm2)
            self._norm2.append(0.0)
            self._dates.append([])
        self._join(cluster, vector, float(dots[cluster]) if cluster < len(dots) else 0.0, document.published_at)
        return cluster

    def _vector(self, document: BaselineDocument) -> dict[str, float]:
        counts = terms(document.title, self.stop_words)
        for term in counts:
            counts[term] *= 2
        counts.update(terms(document.text, self.stop_words))
        self._df.update(counts.keys())
        n = len(self._cluster_of) + 1
        weights = {t: (1.0 + math.log(tf)) * (math.log((1 + n) / (1 + self._df[t])) + 1.0) for t, tf in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        return {t: w / norm for t, w in weights.items()} if norm else {}

    def _dot_products(self, vector: dict[str, float]) -> np.ndarray:
        """Dot product of the vector with every cluster's centroid (0 for clusters sharing no term)."""
        documents, products = [], []
        for term, weight in vector.items():
            posting = self._postings.get(term)
            if posting is not None:
                documents.append(np.frombuffer(posting[0], dtype=np.int64))
                products.append(np.frombuffer(posting[1], dtype=np.float64) * weight)
        if not documents:
            return np.zeros(0)
        clusters = np.frombuffer(self._cluster_of, dtype=np.int64)[np.concatenate(documents)]
        return np.bincount(clusters, weights=np.concatenate(products), minlength=len(self._norm2))

    def _best(self, dots: np.ndarray, published: date | None) -> int | None:
        if not len(dots):
            return None
        with np.errstate(divide="ignore", invalid="ignore"):
            similarity = dots / np.sqrt(np.frombuffer(self._norm2, dtype=np.float64))
        candidates = np.flatnonzero(similarity >= self.threshold)
        # most similar first; among equals, the cluster created first
        for cluster in candidates[np.lexsort((candidates, -similarity[candidates]))]:
            if self._in_window(int(cluster), published):
                return int(cluster)
        return None

    def _in_window(self, cluster: int, published: date | None) -> bool:
        dates = self._dates[cluster]
        if published is None or self.window is None or not dates:
            return True
        i = bisect_left(dates, published - self.window)
        return i < len(dates) and dates[i] <= published + self.window

    def _join(self, cluster: int, vector: dict[str, float], dot: float, published: date | None) -> None:
        document = len(self._cluster_of)
        self._cluster_of.append(cluster)
        self._norm2[cluster] += 2.0 * dot + (1.0 if vector else 0.0)  # |c + v|^2 = |c|^2 + 2 c.v + |v|^2
        if published is not None:
            insort(self._dates[cluster], published)
        for term, weight in vector.items():
            posting = self._postings.get(term)
            if posting is None:
                posting = self._postings[term] = (array("q"), array("d"))
            posting[0].append(document)
            posting[1].append(weight)


def cluster_documents(
    documents: Iterable[BaselineDocument],
    threshold: float = DEFAULT_THRESHOLD,
    window_days: int | None = DEFAULT_WINDOW_DAYS,
) -> list[int]:
    """Cluster documents in the given order; one cluster number per document."""
    clustering = TfidfCentroidClustering(threshold, window_days)
    return [clustering.add(d) for d in documents]
