"""The stored rows clustering reads for each candidate, held as arrays beside the candidate index.

Scoring a batch's candidate stories needs their centroids; checking near-duplicates needs the
candidate articles' signatures and placement. Fetched from DuckDB by id, each is a random read
(~0.4 ms a story at a million articles, and only through an ART index on ``stories.story_id``
whose full rewrite at every checkpoint cost several seconds). So the index keeps them as numpy
arrays "as of" one article ``base_seq``, memory-mapped from the index snapshot or read once from
the store when there is none, plus:

* an overlay of the stories written after ``base_seq`` (``stories.updated_seq``: rows rewritten
  later sit at the table's tail, so the read is pruned by zone maps), refreshed with the index;
* the articles after ``base_seq``, read from the store by a seq range (also a tail read).

A lookup is a binary search over sorted ids, then a slice: O(log n) in the corpus size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .fingerprint import cosine
from .store import ArticleRef, Store, StoreError, StoryState

READ_ROWS = 20_000  # rows per record batch when reading a whole table
NO_DATE = np.iinfo(np.int32).min
EPOCH = date(1970, 1, 1).toordinal()
STORY_ARRAYS = ("story_ids", "story_counts", "story_first", "story_last", "story_offsets", "story_terms",
                "story_weights", "story_norms", "vocab")  # fmt: skip
ARTICLE_ARRAYS = ("article_seqs", "article_signatures", "article_ids", "article_stories", "article_groups")
ARRAYS = STORY_ARRAYS + ARTICLE_ARRAYS
Arrays = dict[str, np.ndarray]


def _fixed_bytes(values: pa.Array, texts: bool = True) -> np.ndarray:
    """Strings (or blobs) as a fixed-width numpy bytes array (zero-copy when all have one length)."""
    lengths = pc.binary_length(values).to_numpy(zero_copy_only=False) if len(values) else np.zeros(0, np.int32)
    width = int(lengths.max()) if len(lengths) else 1
    if values.null_count:
        raise StoreError("unexpected NULL in a stored id, term or signature")
    if len(values) and (lengths == width).all() and width:
        offset_type = (
            np.int64 if pa.types.is_large_binary(values.type) or pa.types.is_large_string(values.type) else np.int32
        )
        offsets = np.frombuffer(values.buffers()[1], dtype=offset_type)[values.offset : values.offset + len(values) + 1]
        data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        return data.view(f"S{width}").copy()
    items = values.to_pylist()
    return np.array([v.encode("utf-8") if texts else v for v in items], dtype=f"S{max(width, 1)}")


def _days(values: pa.Array) -> np.ndarray:
    days = pc.cast(values, pa.int32()).fill_null(NO_DATE)
    return days.to_numpy(zero_copy_only=False).astype(np.int32)


def _date(days: int) -> date | None:
    return None if days == NO_DATE else date.fromordinal(EPOCH + days)


def _batches(store: Store, sql: str, params: Sequence[object]) -> Iterator[pa.RecordBatch]:
    reader = store.con.execute(sql, list(params)).to_arrow_reader(READ_ROWS)
    yield from reader


def read_arrays(store: Store, upto: int) -> Arrays:
    """Every story and every article up to seq ``upto``, as the arrays a ``StoredRows`` serves from.

    Reads whole tables (seconds at a million articles): done when a snapshot is written, or once
    per process when there is no snapshot.
    """
    vocab_terms = sorted(
        (
            r[0].encode("utf-8")
            for r in store.con.execute("SELECT DISTINCT unnest(centroid_terms) FROM stories").fetchall()
        ),
    )
    vocab = np.array(vocab_terms, dtype=f"S{max((len(t) for t in vocab_terms), default=1)}")
    value_set = pa.array([t.decode("utf-8") for t in vocab_terms], type=pa.string())
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ARRAYS}
    lengths: list[np.ndarray] = []
    sql = (
        "SELECT story_id, article_count, first_published, last_published, centroid_terms, centroid_weights "
        "FROM stories ORDER BY story_id"
    )
    for batch in _batches(store, sql, []):
        terms, weights = batch.column("centroid_terms"), batch.column("centroid_weights")
        parts["story_ids"].append(_fixed_bytes(batch.column("story_id")))
        parts["story_counts"].append(batch.column("article_count").to_numpy(zero_copy_only=False).astype(np.int64))
        parts["story_first"].append(_days(batch.column("first_published")))
        parts["story_last"].append(_days(batch.column("last_published")))
        lengths.append(pc.list_value_length(terms).to_numpy(zero_copy_only=False).astype(np.int64))
        ids = pc.index_in(pc.list_flatten(terms), value_set=value_set).to_numpy(zero_copy_only=False)
        parts["story_terms"].append(ids.astype(np.int32))
        flat = pc.list_flatten(weights).to_numpy(zero_copy_only=False).astype(np.float64)
        parts["story_weights"].append(flat)
        owner = np.repeat(np.arange(len(batch)), lengths[-1])
        parts["story_norms"].append(np.sqrt(np.bincount(owner, weights=flat * flat, minlength=len(batch))))
    sql = (
        "SELECT a.seq, a.article_id, a.story_id, a.variant_group, s.signature FROM articles a "
        "JOIN article_signatures s USING (seq) WHERE a.seq <= ? ORDER BY a.seq"
    )
    for batch in _batches(store, sql, [upto]):
        parts["article_seqs"].append(batch.column("seq").to_numpy(zero_copy_only=False).astype(np.int64))
        parts["article_ids"].append(_fixed_bytes(batch.column("article_id")))
        parts["article_stories"].append(_fixed_bytes(batch.column("story_id")))
        parts["article_groups"].append(_fixed_bytes(batch.column("variant_group")))
        signatures = _fixed_bytes(batch.column("signature"), texts=False)
        parts["article_signatures"].append(np.frombuffer(signatures.tobytes(), dtype=np.uint32).reshape(len(batch), -1))
    arrays = {name: _concat(chunks) for name, chunks in parts.items() if name != "vocab"}
    arrays["vocab"] = vocab
    arrays["story_offsets"] = np.concatenate([[0], np.cumsum(_concat(lengths))]).astype(np.int64)
    ids = arrays["story_ids"]
    if len(ids) > 1 and not (ids[1:] > ids[:-1]).all():  # lookups binary-search them
        raise StoreError("story ids did not come back in byte order")
    return arrays


def _concat(chunks: list[np.ndarray]) -> np.ndarray:
    if not chunks:
        return np.zeros(0)
    if chunks[0].dtype.kind == "S":  # widths differ between chunks: widen to the widest
        width = max(c.dtype.itemsize for c in chunks)
        return np.concatenate([c.astype(f"S{width}") for c in chunks])
    return np.concatenate(chunks)


def empty_arrays() -> Arrays:
    """Arrays holding no story and no article."""
    return {
        **{name: np.zeros(0, dtype=np.int64) for name in ARRAYS},
        "story_ids": np.zeros(0, dtype="S1"), "vocab": np.zeros(0, dtype="S1"), "article_ids": np.zeros(0, dtype="S1"),
        "article_stories": np.zeros(0, dtype="S1"), "article_groups": np.zeros(0, dtype="S1"),
        "story_offsets": np.zeros(1, dtype=np.int64), "article_signatures": np.zeros((0, 1), dtype=np.uint32),
    }  # fmt: skip


def save_arrays(arrays: Arrays, folder: Path) -> None:
    """Write the arrays as .npy files into ``folder``."""
    for name in ARRAYS:
        np.save(folder / f"{name}.npy", arrays[name])


def map_arrays(folder: Path) -> Arrays:
    """Memory-map the arrays written by ``save_arrays``."""
    return {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAYS}


def _find(sorted_ids: np.ndarray, wanted: Sequence[str]) -> np.ndarray:
    """Positions of ``wanted`` ids in a sorted fixed-width bytes array; -1 where absent."""
    if not len(wanted) or not len(sorted_ids):
        return np.full(len(wanted), -1, dtype=np.int64)
    width = sorted_ids.dtype.itemsize
    encoded = [w.encode("utf-8") for w in wanted]
    fits = np.array([len(e) <= width for e in encoded], dtype=bool)
    query = np.array([e if f else b"" for e, f in zip(encoded, fits, strict=True)], dtype=sorted_ids.dtype)
    pos = np.minimum(np.searchsorted(sorted_ids, query), len(sorted_ids) - 1)
    found = fits & (sorted_ids[pos] == query) & (query != b"")
    return np.where(found, pos, -1)


@dataclass
class StoredRows:
    """Story centroids and article signatures as of ``base_seq``, plus the stories rewritten since."""

    arrays: Arrays = field(default_factory=empty_arrays)
    base_seq: int = 0
    overlay: dict[str, StoryState] = field(default_factory=dict)
    loaded: bool = False

    def load(self, arrays: Arrays, base_seq: int) -> None:
        """Serve from these arrays (mapped or read), which cover everything up to ``base_seq``."""
        self.arrays, self.base_seq, self.loaded = arrays, base_seq, True
        self.overlay.clear()

    def refresh(self, store: Store, since: int, upto: int) -> None:
        """Take in the stories written by articles ``since < seq <= upto`` (all of them on first use)."""
        if not self.loaded:
            self.load(read_arrays(store, upto), upto)
            return
        for story in store.stories_updated(max(since, self.base_seq), upto):
            self.overlay[story.story_id] = story

    # ---- stories -------------------------------------------------------------------------------

    def load_stories(self, story_ids: Iterable[str], posting_terms: int) -> dict[str, StoryState]:
        """Fresh states of the given stories (unknown ids, e.g. merged away, are skipped)."""
        states: dict[str, StoryState] = {}
        base: list[str] = []
        for story_id in sorted(set(story_ids)):
            if story_id in self.overlay:
                stored = self.overlay[story_id]
                states[story_id] = StoryState(
                    story_id, dict(stored.centroid), stored.size, stored.first_published, stored.last_published
                )
            else:
                base.append(story_id)
        a = self.arrays
        for story_id, row in zip(base, _find(a["story_ids"], base).tolist(), strict=True):
            if row < 0:
                continue
            lo, hi = int(a["story_offsets"][row]), int(a["story_offsets"][row + 1])
            terms = [t.decode("utf-8") for t in a["vocab"][a["story_terms"][lo:hi]].tolist()]
            centroid = dict(zip(terms, a["story_weights"][lo:hi].tolist(), strict=True))
            states[story_id] = StoryState(
                story_id, centroid, int(a["story_counts"][row]),
                _date(int(a["story_first"][row])), _date(int(a["story_last"][row])),
            )  # fmt: skip
        for state in states.values():
            state.posted = set(state.top_terms(posting_terms))
        return states

    def story_scores(
        self, queries: Sequence[dict[str, float]], pairs: Iterable[tuple[int, str]]
    ) -> dict[tuple[int, str], float]:
        """Cosine of query vector ``i`` with the centroid of stored story ``s``, for each (i, s) pair.

        Stories rewritten since ``base_seq`` are scored from their overlay state; the rest in one
        vectorised pass over the arrays. Unknown ids (merged away) are skipped.
        """
        scores: dict[tuple[int, str], float] = {}
        base_pairs: list[tuple[int, str]] = []
        for i, story_id in sorted(set(pairs)):
            story = self.overlay.get(story_id)
            if story is None:
                base_pairs.append((i, story_id))
            else:
                scores[i, story_id] = cosine(queries[i], story.centroid, story.norm)
        if base_pairs:
            scores.update(self._base_scores(queries, base_pairs))
        return scores

    def _base_scores(self, queries: Sequence[dict[str, float]], pairs: list[tuple[int, str]]) -> dict:
        a = self.arrays
        rows = _find(a["story_ids"], [s for _, s in pairs])
        keep = rows >= 0
        pairs = [p for p, k in zip(pairs, keep.tolist(), strict=True) if k]
        rows = rows[keep]
        if not pairs:
            return {}
        vocab = a["vocab"]
        size = max(len(vocab), 1)
        # Query entries keyed by (article, vocabulary position); terms outside the vocabulary add nothing.
        q_i, q_terms, q_w = [], [], []
        for i in sorted({i for i, _ in pairs}):
            for term, weight in queries[i].items():
                q_i.append(i)
                q_terms.append(term)
                q_w.append(weight)
        q_pos = _find(vocab, q_terms)
        known = q_pos >= 0
        q_key = np.asarray(q_i, dtype=np.int64)[known] * size + q_pos[known]
        order = np.argsort(q_key, kind="stable")
        q_key, q_weight = q_key[order], np.asarray(q_w, dtype=np.float64)[known][order]
        # Every centroid entry of every pair's story, keyed the same way.
        starts, ends = a["story_offsets"][rows], a["story_offsets"][rows + 1]
        lengths = (ends - starts).astype(np.int64)
        owner = np.repeat(np.arange(len(pairs)), lengths)
        within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        entries = np.repeat(starts, lengths) + within
        pair_i = np.asarray([i for i, _ in pairs], dtype=np.int64)
        e_key = pair_i[owner] * size + np.asarray(a["story_terms"][entries], dtype=np.int64)
        if len(q_key):
            at = np.minimum(np.searchsorted(q_key, e_key), len(q_key) - 1)
            hit = q_key[at] == e_key
        else:
            at, hit = np.zeros(len(e_key), dtype=np.int64), np.zeros(len(e_key), dtype=bool)
        products = q_weight[at[hit]] * np.asarray(a["story_weights"][entries[hit]], dtype=np.float64)
        dots = np.bincount(owner[hit], weights=products, minlength=len(pairs))
        norms = np.asarray(a["story_norms"][rows], dtype=np.float64)
        values = dots / np.where(norms > 0, norms, 1.0)
        return {pair: float(v) for pair, v in zip(pairs, values.tolist(), strict=True)}

    # ---- articles ------------------------------------------------------------------------------

    def signatures(self, store: Store, seqs: Iterable[int]) -> dict[int, tuple[np.ndarray, ArticleRef]]:
        """MinHash signatures and placement (story as of then: resolve it) of stored articles, by seq."""
        wanted = np.array(sorted(set(seqs)), dtype=np.int64)
        a = self.arrays
        base = wanted[wanted <= self.base_seq]
        found: dict[int, tuple[np.ndarray, ArticleRef]] = {}
        if len(base) and len(a["article_seqs"]):
            pos = np.minimum(np.searchsorted(a["article_seqs"], base), len(a["article_seqs"]) - 1)
            pos = pos[a["article_seqs"][pos] == base]
            for p in sorted(pos.tolist()):
                found[int(a["article_seqs"][p])] = (
                    np.array(a["article_signatures"][p], dtype=np.uint32),
                    ArticleRef(
                        _text(a["article_ids"][p]), _text(a["article_stories"][p]), _text(a["article_groups"][p])
                    ),
                )
        found.update(store.signatures(wanted[wanted > self.base_seq].tolist()))
        return found


def _text(value: bytes) -> str:
    return value.decode("utf-8")
