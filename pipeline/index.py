"""The candidate index: which stored articles and stories a new article could match.

Two persisted postings answer "who might this be?" without scanning the corpus:

* LSH band keys (``lsh_bands``: band key -> article ``seq``) for near-duplicates;
* story term postings (``story_postings``: term key -> story) for rewrites.

Both tables are append-only and carry the ``seq`` of the article that added them, so a process
loads the whole index once (sorted numpy arrays: ~12 bytes a posting) and afterwards only the
rows added since (``refresh``), including those written by other processes. A lookup is a
binary search, O(log n) in the corpus size; everything after it touches only the candidates.
Story ids that were merged away resolve through ``story_merges``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from .store import Store, term_key

COMPACT_AFTER = 250_000  # overlay postings folded into the sorted arrays past this count
MAX_POSTINGS_PER_TERM = 5_000  # bounds the work per article whatever the corpus size


class _Postings:
    """key -> values, as sorted arrays plus a small dict of recent additions."""

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.uint64)
        self.values = np.empty(0, dtype=np.int64)
        self.recent: dict[int, list[int]] = defaultdict(list)
        self.recent_count = 0

    def __len__(self) -> int:
        return len(self.keys) + self.recent_count

    def add(self, keys: np.ndarray, values: np.ndarray) -> None:
        if len(keys) > COMPACT_AFTER // 4 or not len(self.keys):
            self._merge(keys, values)
            return
        for key, value in zip(keys.tolist(), values.tolist(), strict=True):
            self.recent[key].append(value)
        self.recent_count += len(keys)
        if self.recent_count > COMPACT_AFTER:
            self._compact()

    def lookup(self, keys: Iterable[int]) -> set[int]:
        """Every value posted under any of the keys."""
        return {v for values in self.lookup_each(keys) for v in values}

    def lookup_each(self, keys: Iterable[int]) -> list[list[int]]:
        """The values posted under each key, in the keys' order."""
        query = np.fromiter(keys, dtype=np.uint64)
        found: list[list[int]] = [[] for _ in range(len(query))]
        if len(self.keys) and len(query):
            left = np.searchsorted(self.keys, query, side="left")
            right = np.searchsorted(self.keys, query, side="right")
            for i, (lo, hi) in enumerate(zip(left.tolist(), right.tolist(), strict=True)):
                if hi > lo:
                    found[i] = self.values[lo:hi].tolist()
        for i, key in enumerate(query.tolist()):
            found[i] += self.recent.get(key, [])
        return found

    def _compact(self) -> None:
        keys = np.fromiter((k for k, vs in self.recent.items() for _ in vs), dtype=np.uint64, count=self.recent_count)
        values = np.fromiter((v for vs in self.recent.values() for v in vs), dtype=np.int64, count=self.recent_count)
        self.recent.clear()
        self.recent_count = 0
        self._merge(keys, values)

    def _merge(self, keys: np.ndarray, values: np.ndarray) -> None:
        all_keys = np.concatenate([self.keys, keys.astype(np.uint64)])
        all_values = np.concatenate([self.values, values.astype(np.int64)])
        order = np.argsort(all_keys, kind="stable")
        self.keys, self.values = all_keys[order], all_values[order]


class CandidateIndex:
    """In-memory view of the persisted candidate postings, kept current with ``refresh``."""

    def __init__(self) -> None:
        self.max_seq = 0
        self.bands = _Postings()
        self.postings = _Postings()
        self.story_names: list[str] = []
        self.story_numbers: dict[str, int] = {}
        self.redirects: dict[str, str] = {}
        self.load_seconds = 0.0

    def refresh(self, store: Store) -> int:
        """Load postings added since the last refresh (all of them the first time); returns how many."""
        started = time.perf_counter()
        since = self.max_seq
        top = store.max_seq()
        if top <= since:
            return 0
        band_keys, band_seqs = store.band_rows(since, top)
        self.bands.add(band_keys, band_seqs)
        term_keys, story_ids = store.posting_rows(since, top)
        self.postings.add(term_keys, np.fromiter((self._number(s) for s in story_ids), dtype=np.int64))
        self.redirects.update(store.merges_since(since, top))
        self.max_seq = top
        self.load_seconds += time.perf_counter() - started
        return len(band_keys) + len(term_keys)

    def near_duplicate_candidates(self, band_keys: Iterable[int]) -> set[int]:
        """Seqs of stored articles sharing at least one LSH band key."""
        return self.bands.lookup(band_keys)

    def candidate_stories(self, terms: dict[str, float], limit: int) -> set[str]:
        """Ids of the ``limit`` live stories whose postings best match the weighted query terms."""
        scores: dict[int, float] = defaultdict(float)
        for weight, numbers in zip(terms.values(), self.postings.lookup_each(term_key(t) for t in terms), strict=True):
            if len(numbers) > MAX_POSTINGS_PER_TERM:
                continue  # a term in that many stories' top terms cannot tell them apart
            for number in numbers:
                scores[number] += weight
        best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return {self.resolve(self.story_names[n]) for n, _ in best}

    def resolve(self, story_id: str) -> str:
        """Follow merges to the story an id lives on as."""
        seen = 0
        while story_id in self.redirects and seen < 1000:
            story_id = self.redirects[story_id]
            seen += 1
        return story_id

    def size(self) -> dict[str, int]:
        """How many postings of each kind are loaded."""
        return {
            "band_postings": len(self.bands),
            "story_postings": len(self.postings),
            "stories": len(self.story_names),
        }

    def _number(self, story_id: str) -> int:
        number = self.story_numbers.get(story_id)
        if number is None:
            number = self.story_numbers[story_id] = len(self.story_names)
            self.story_names.append(story_id)
        return number
