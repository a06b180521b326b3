"""The stored rows clustering reads for each candidate, held as arrays beside the candidate index.

Scoring a batch's candidate stories needs their centroids; checking near-duplicates needs the
candidate articles' signatures and placement; the split check and each member's similarity to its
canonical need stored articles' term vectors. Fetched from DuckDB by id, each is a random read
(~0.4 ms a story at a million articles, and only through an ART index on ``stories.story_id``
whose full rewrite at every checkpoint cost several seconds; a term vector, a list column, cannot be
read by seq without decoding its whole row group: 10 ms for one, a full scan for a thousand). So the
index keeps them as numpy arrays "as of" one article ``base_seq``, memory-mapped from the index
snapshot or read once from the store when there is none, plus:

* an overlay of the stories written after ``base_seq`` (``stories.updated_seq``: rows rewritten
  later sit at the table's tail, so the read is pruned by zone maps), refreshed with the index;
* the articles after ``base_seq``, read from the store by a seq range (also a tail read);
* where articles up to ``base_seq`` live after a later split moved them (merges need nothing:
  callers resolve story ids through ``story_merges``).

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

from pipeline.errors import StoreError
from pipeline.models import ArticleRef, StoryState
from pipeline.store import Store

READ_ROWS = 20_000  # rows per record batch when reading a whole table
BUILD_MEMORY = "512MB"  # DuckDB's memory limit while the arrays are read from the store
NO_DATE = np.iinfo(np.int32).min
EPOCH = date(1970, 1, 1).toordinal()
STORY_ARRAYS = ("story_ids", "story_rows", "story_counts", "story_variants", "story_first", "story_last",
                "story_offsets", "story_terms", "story_weights", "story_norms", "vocab")  # fmt: skip
ARTICLE_ARRAYS = ("article_seqs", "article_signatures", "article_ids", "article_stories", "article_groups",
                  "vector_offsets", "vector_text_offsets", "vector_text", "vector_weights")  # fmt: skip
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


def _rebatched(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Record batches of exactly READ_ROWS rows (the last one shorter), so two readers stay in step."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += len(batch)
        while held >= READ_ROWS:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, READ_ROWS).combine_chunks().to_batches()[0]
            rest = table.slice(READ_ROWS)
            pending, held = rest.combine_chunks().to_batches() if len(rest) else [], len(rest)
    if held:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


class _Target:
    """One array filled chunk by chunk: in memory, or streamed into a .npy file (memory stays flat)."""

    def __init__(self, folder: Path | None, name: str, dtype: str | type, shape: tuple[int, ...]) -> None:
        self.dtype, self.shape, self.filled = np.dtype(dtype), shape, 0
        self.array = np.empty(shape, dtype=self.dtype) if folder is None else None
        self.file = None if folder is None else open(folder / f"{name}.npy", "wb")  # noqa: SIM115 (closed in finish)
        if self.file is not None:
            header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(self.file, header)

    def put(self, chunk: np.ndarray) -> None:
        chunk = np.ascontiguousarray(chunk, dtype=self.dtype)  # widens fixed-width bytes to the target's
        if self.file is not None:
            self.file.write(chunk.tobytes())
        else:
            self.array[self.filled : self.filled + len(chunk)] = chunk
        self.filled += len(chunk)

    def finish(self) -> np.ndarray | None:
        if self.file is not None:
            self.file.close()
        if self.filled != self.shape[0]:
            raise StoreError("the store changed while the index read it")
        return self.array


def build_arrays(store: Store, upto: int, folder: Path | None = None) -> Arrays:
    """Every story and every article up to seq ``upto``, as the arrays a ``StoredRows`` serves from.

    Reads whole tables chunk by chunk (tens of seconds at a million articles): done when a snapshot
    is written (``folder``: streamed into its .npy files, then mapped), or once per process when
    there is none (in memory). DuckDB's memory is capped meanwhile: it would otherwise keep every
    page it read cached (1.5 GB at a million articles), and these pages are read once.
    """
    with store.memory_capped(BUILD_MEMORY):
        return _build(store, upto, folder)


def _build(store: Store, upto: int, folder: Path | None) -> Arrays:
    vocab_terms = sorted(t.encode("utf-8") for t in store.story_vocabulary())  # byte order, as numpy compares
    value_set = pa.array([t.decode("utf-8") for t in vocab_terms], type=pa.string())
    n = store.index_extent(upto)
    stories, articles = n.stories, n.articles
    shapes = {
        "story_ids": (f"S{n.story_id_width}", (stories,)), "story_rows": (np.int64, (stories,)),
        "story_counts": (np.int64, (stories,)), "story_variants": (np.int64, (stories,)),
        "story_first": (np.int32, (stories,)), "story_last": (np.int32, (stories,)),
        "story_offsets": (np.int64, (stories + 1,)), "story_terms": (np.int32, (n.story_entries,)),
        "story_weights": (np.float64, (n.story_entries,)), "story_norms": (np.float64, (stories,)),
        "vocab": (f"S{max((len(t) for t in vocab_terms), default=1)}", (len(vocab_terms),)),
        "article_seqs": (np.int64, (articles,)), "article_signatures": (np.uint32, (articles, n.signature_bytes // 4)),
        "article_ids": (f"S{n.article_id_width}", (articles,)),
        "article_stories": (f"S{n.article_story_width}", (articles,)),
        "article_groups": (f"S{n.group_width}", (articles,)),
        "vector_offsets": (np.int64, (articles + 1,)), "vector_text_offsets": (np.int64, (articles + 1,)),
        "vector_text": (np.uint8, (n.vector_text_bytes,)), "vector_weights": (np.float32, (n.vector_entries,)),
    }  # fmt: skip
    out = {name: _Target(folder, name, dtype, shape) for name, (dtype, shape) in shapes.items()}
    out["vocab"].put(np.array(vocab_terms, dtype=out["vocab"].dtype))
    for name in ("story_offsets", "vector_offsets", "vector_text_offsets"):
        out[name].put(np.zeros(1, dtype=np.int64))
    ids: list[np.ndarray] = []
    offset = 0
    for batch in store.story_batches(READ_ROWS):
        terms, weights = batch.column("centroid_terms"), batch.column("centroid_weights")
        ids.append(_fixed_bytes(batch.column("story_id")).astype(out["story_ids"].dtype))
        out["story_counts"].put(batch.column("article_count").to_numpy(zero_copy_only=False))
        out["story_variants"].put(batch.column("variant_count").to_numpy(zero_copy_only=False))
        out["story_first"].put(_days(batch.column("first_published")))
        out["story_last"].put(_days(batch.column("last_published")))
        lengths = pc.list_value_length(terms).to_numpy(zero_copy_only=False).astype(np.int64)
        out["story_offsets"].put(offset + np.cumsum(lengths))
        offset += int(lengths.sum())
        out["story_terms"].put(pc.index_in(pc.list_flatten(terms), value_set=value_set).to_numpy(zero_copy_only=False))
        flat = pc.list_flatten(weights).to_numpy(zero_copy_only=False).astype(np.float64)
        out["story_weights"].put(flat)
        owner = np.repeat(np.arange(len(batch)), lengths)
        out["story_norms"].put(np.sqrt(np.bincount(owner, weights=flat * flat, minlength=len(batch))))
    all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=out["story_ids"].dtype)
    order = np.argsort(all_ids, kind="stable")  # lookups binary-search the ids
    if len(order) > 1 and not (all_ids[order][1:] > all_ids[order][:-1]).all():
        raise StoreError("duplicate story ids in the stories table")
    out["story_ids"].put(all_ids[order])
    out["story_rows"].put(order)
    # The three tables hold their rows in seq order (appended in it, never deleted): read side by side, no join.
    placements, signatures, vectors = store.article_batches(upto, READ_ROWS)
    last = 0
    ends = [0, 0]  # entries and text bytes written so far
    readers = zip(_rebatched(placements), _rebatched(signatures), _rebatched(vectors), strict=True)
    for placed, signed, vectored in readers:
        seqs = placed.column("seq").to_numpy(zero_copy_only=False).astype(np.int64)
        in_step = all(np.array_equal(seqs, t.column("seq").to_numpy(zero_copy_only=False)) for t in (signed, vectored))
        if not in_step or (len(seqs) and (seqs[0] <= last or (np.diff(seqs) <= 0).any())):
            raise StoreError("articles, their signatures and their vectors are not stored in seq order")
        _put_vectors(out, vectored, ends)
        last = int(seqs[-1]) if len(seqs) else last
        out["article_seqs"].put(seqs)
        out["article_ids"].put(_fixed_bytes(placed.column("article_id")))
        out["article_stories"].put(_fixed_bytes(placed.column("story_id")))
        out["article_groups"].put(_fixed_bytes(placed.column("variant_group")))
        blobs = _fixed_bytes(signed.column("signature"), texts=False)
        out["article_signatures"].put(np.frombuffer(blobs.tobytes(), dtype=np.uint32).reshape(len(seqs), -1))
    arrays = {name: target.finish() for name, target in out.items()}
    return arrays if folder is None else map_arrays(folder)


def _put_vectors(out: dict[str, _Target], batch: pa.RecordBatch, ends: list[int]) -> None:
    """Append a chunk of term vectors: weights, and the terms as UTF-8 text with a NUL after each."""
    terms, weights = batch.column("terms"), batch.column("weights")
    counts = pc.list_value_length(terms).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(terms)
    offset_type = np.int64 if pa.types.is_large_string(flat.type) else np.int32
    offsets = np.frombuffer(flat.buffers()[1], dtype=offset_type)
    offsets = offsets[flat.offset : flat.offset + len(flat) + 1]
    data = np.frombuffer(flat.buffers()[2], np.uint8)[offsets[0] : offsets[-1]] if len(flat) else np.zeros(0, np.uint8)
    relative = (offsets - offsets[0]).astype(np.int64)
    text = np.insert(data, relative[1:], 0)  # a NUL at the end of every term
    term_bytes = np.concatenate([[0], np.cumsum(np.diff(relative) + 1)])
    out["vector_text_offsets"].put(ends[1] + term_bytes[np.cumsum(counts)])
    out["vector_offsets"].put(ends[0] + np.cumsum(counts))
    out["vector_text"].put(text)
    out["vector_weights"].put(pc.list_flatten(weights).to_numpy(zero_copy_only=False).astype(np.float32))
    ends[0] += int(counts.sum())
    ends[1] += len(text)


def empty_arrays() -> Arrays:
    """Arrays holding no story and no article."""
    return {
        **{name: np.zeros(0, dtype=np.int64) for name in ARRAYS},
        "story_ids": np.zeros(0, dtype="S1"), "vocab": np.zeros(0, dtype="S1"), "article_ids": np.zeros(0, dtype="S1"),
        "article_stories": np.zeros(0, dtype="S1"), "article_groups": np.zeros(0, dtype="S1"),
        "story_offsets": np.zeros(1, dtype=np.int64), "article_signatures": np.zeros((0, 1), dtype=np.uint32),
        "vector_offsets": np.zeros(1, dtype=np.int64), "vector_text_offsets": np.zeros(1, dtype=np.int64),
        "vector_text": np.zeros(0, dtype=np.uint8), "vector_weights": np.zeros(0, dtype=np.float32),
    }  # fmt: skip


def save_arrays(arrays: Arrays, folder: Path) -> None:
    """Write the arrays as .npy files into ``folder``."""
    for name in ARRAYS:
        np.save(folder / f"{name}.npy", arrays[name])


def map_arrays(folder: Path) -> Arrays:
    """Memory-map the arrays written by ``save_arrays``."""
    return {name: mapped(folder / f"{name}.npy") for name in ARRAYS}


def mapped(path: Path) -> np.ndarray:
    """A read-only memory-mapped .npy file, as a plain ndarray view (slicing an np.memmap costs ~10 us)."""
    return np.load(path, mmap_mode="r").view(np.ndarray)


def is_mapped(array: np.ndarray) -> bool:
    """Whether an array's memory is a file mapping (not read into memory)."""
    base = array
    while isinstance(base, np.ndarray) and not isinstance(base, np.memmap):
        base = base.base
    return isinstance(base, np.memmap)


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
    """Story centroids, article signatures and term vectors as of ``base_seq``, plus the stories rewritten since."""

    arrays: Arrays = field(default_factory=empty_arrays)
    base_seq: int = 0
    overlay: dict[str, StoryState] = field(default_factory=dict)
    moved: dict[int, str] = field(default_factory=dict)  # seq -> story, for articles split off since
    loaded: bool = False

    def load(self, arrays: Arrays, base_seq: int) -> None:
        """Serve from these arrays (mapped or read), which cover everything up to ``base_seq``."""
        self.arrays, self.base_seq, self.loaded = arrays, base_seq, True
        self.overlay.clear()
        self.moved.clear()

    def refresh(self, store: Store, since: int, upto: int) -> None:
        """Take in the stories written by articles ``since < seq <= upto`` (all of them on first use).

        On first use the arrays are built of what is committed; what an open transaction wrote after it
        (``since`` may already lie past it) is taken in as any later addition is.
        """
        if not self.loaded:
            base = min(upto, store.committed_max_seq())
            self.load(build_arrays(store, base), base)
            if base == upto:
                return
            since = base
        since = max(since, self.base_seq)
        for story in store.stories_updated(since, upto):
            self.overlay[story.story_id] = story
        self.moved.update(store.split_members(since, upto, self.base_seq))

    # ---- stories -------------------------------------------------------------------------------

    def load_stories(self, story_ids: Iterable[str], posting_terms: int) -> dict[str, StoryState]:
        """Fresh states of the given stories (unknown ids, e.g. merged away, are skipped)."""
        states: dict[str, StoryState] = {}
        base: list[str] = []
        for story_id in sorted(set(story_ids)):
            if story_id in self.overlay:
                stored = self.overlay[story_id]
                states[story_id] = StoryState(
                    story_id,
                    dict(stored.centroid),
                    stored.size,
                    stored.first_published,
                    stored.last_published,
                    stored.variants,
                )
            else:
                base.append(story_id)
        a = self.arrays
        for story_id, row in zip(base, self._story_rows(base).tolist(), strict=True):
            if row < 0:
                continue
            lo, hi = int(a["story_offsets"][row]), int(a["story_offsets"][row + 1])
            terms = [t.decode("utf-8") for t in a["vocab"][a["story_terms"][lo:hi]].tolist()]
            centroid = dict(zip(terms, a["story_weights"][lo:hi].tolist(), strict=True))
            states[story_id] = StoryState(
                story_id, centroid, int(a["story_counts"][row]),
                _date(int(a["story_first"][row])), _date(int(a["story_last"][row])), int(a["story_variants"][row]),
            )  # fmt: skip
        for state in states.values():
            state.posted = set(state.top_terms(posting_terms))
        return states

    def story_scores(
        self, queries: Sequence[dict[str, float]], pairs: Iterable[tuple[int, str]], average: bool = False
    ) -> dict[tuple[int, str], float]:
        """``StoryState.similarity`` of query vector ``i`` with stored story ``s``, per (i, s) pair.

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
                scores[i, story_id] = story.similarity(queries[i], average)
        if base_pairs:
            scores.update(self._base_scores(queries, base_pairs, average))
        return scores

    def _base_scores(self, queries: Sequence[dict[str, float]], pairs: list[tuple[int, str]], average: bool) -> dict:
        a = self.arrays
        rows = self._story_rows([s for _, s in pairs])
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
        if average:
            values = dots / np.maximum(np.asarray(a["story_variants"][rows], dtype=np.float64), 1.0)
        else:
            norms = np.asarray(a["story_norms"][rows], dtype=np.float64)
            values = dots / np.where(norms > 0, norms, 1.0)
        return {pair: float(v) for pair, v in zip(pairs, values.tolist(), strict=True)}

    def _story_rows(self, story_ids: Sequence[str]) -> np.ndarray:
        """Row of each story in the per-story arrays (-1 if absent): ids are kept sorted, rows in table order."""
        found = _find(self.arrays["story_ids"], story_ids)
        rows = np.asarray(self.arrays["story_rows"], dtype=np.int64)
        return np.where(found >= 0, rows[np.maximum(found, 0)] if len(rows) else -1, -1)

    # ---- articles ------------------------------------------------------------------------------

    def signatures(self, store: Store, seqs: Iterable[int]) -> dict[int, tuple[np.ndarray, ArticleRef]]:
        """MinHash signatures and placement (story as of then: resolve it) of stored articles, by seq."""
        a = self.arrays
        positions, later = self._article_positions(seqs)
        found: dict[int, tuple[np.ndarray, ArticleRef]] = {}
        for p in positions.tolist():
            seq = int(a["article_seqs"][p])
            story = self.moved.get(seq) or _text(a["article_stories"][p])  # merges: the caller resolves
            ref = ArticleRef(_text(a["article_ids"][p]), story, _text(a["article_groups"][p]))
            found[seq] = (np.array(a["article_signatures"][p], dtype=np.uint32), ref)
        found.update(store.signatures(later))
        return found

    def vectors(self, store: Store, seqs: Iterable[int]) -> dict[int, dict[str, float]]:
        """Term vectors of stored articles, by seq (those after ``base_seq`` read from the store's tail)."""
        a = self.arrays
        positions, later = self._article_positions(seqs)
        offsets, text_offsets = a["vector_offsets"], a["vector_text_offsets"]
        text, weights = a["vector_text"], a["vector_weights"]
        found: dict[int, dict[str, float]] = {}
        for p in positions.tolist():
            lo, hi = int(offsets[p]), int(offsets[p + 1])
            terms = text[int(text_offsets[p]) : int(text_offsets[p + 1])].tobytes().decode("utf-8").split("\0")
            found[int(a["article_seqs"][p])] = dict(zip(terms[:-1], weights[lo:hi].tolist(), strict=True))
        found.update(store.vectors(later))
        return found

    def _article_positions(self, seqs: Iterable[int]) -> tuple[np.ndarray, list[int]]:
        """Rows in the per-article arrays of the wanted seqs they hold (ascending), and the seqs after ``base_seq``."""
        wanted = np.array(sorted(set(seqs)), dtype=np.int64)
        stored = self.arrays["article_seqs"]
        base = wanted[wanted <= self.base_seq]
        if not len(base) or not len(stored):
            return np.zeros(0, dtype=np.int64), wanted[wanted > self.base_seq].tolist()
        pos = np.minimum(np.searchsorted(stored, base), len(stored) - 1)
        return pos[stored[pos] == base], wanted[wanted > self.base_seq].tolist()


def _text(value: bytes) -> str:
    return value.decode("utf-8")
