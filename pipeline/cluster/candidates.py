"""The candidate index: which stored articles and stories a new article could match.

Two persisted postings answer "who might this be?" without scanning the corpus:

* LSH band keys (``lsh_bands``: band key -> article ``seq``) for near-duplicates;
* story term postings (``story_postings``: term key -> story) for rewrites.

Both tables are append-only and carry the ``seq`` of the article that added them, so a process
loads the whole index once (sorted numpy arrays: 16 bytes a posting) and afterwards only the
rows added since (``refresh``), including those written by other processes. A revised article
(``pipeline.cluster.revisions``) is re-stored under a new seq and its old seq's band keys deleted; the index
reads the old seqs from ``revisions`` and leaves them out of its answers. A lookup is a
binary search, O(log n) in the corpus size; everything after it touches only the candidates.
Story ids that were merged away resolve through ``story_merges``.

Loading a million articles' postings from the database and sorting them takes tens of seconds,
so the sorted arrays are also kept beside the database as a snapshot (``<db>.index/``: numpy
files, memory-mapped on load, so start-up costs milliseconds and only the pages a lookup touches
are read). The snapshot is a cache, never the record: it names the database it was built from
and the last article it covers, a process loads only the rows after that from DuckDB, and a
snapshot that does not match its database is ignored (and rebuilt). Its manifest records each
file's size and xxh3_64 checksum; a process verifies them before mapping the files (about 0.3 s for
a 3 GB snapshot from the page cache, 2 s from disk), and a snapshot that fails (truncated, zeroed,
unreadable) is ignored with a logged warning, read from DuckDB instead and rewritten by that run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import xxhash

from pipeline.cluster.storedrows import ARRAYS, StoredRows, build_arrays, map_arrays, mapped, save_arrays
from pipeline.models import ArticleRef, StoryState
from pipeline.store import Store, term_key

COMPACT_AFTER = 250_000  # overlay postings folded into the sorted arrays past this count
MAX_POSTINGS_PER_TERM = 5_000  # bounds the work per article whatever the corpus size
SNAPSHOT_FORMAT = 5  # 2: story centroids and article signatures too (storedrows.py); 3: article term vectors;
# 4: the corpus's term document frequencies; 5: each file's size and xxh3_64 checksum in the manifest
CHECKSUM_CHUNK = 16 << 20  # bytes hashed at a time: memory stays flat whatever a file's size
MANIFEST_KEYS = {"database_id", "max_seq", "anchor_article", "postings", "documents", "files"}
INDEX_ARRAYS = ("band_keys", "band_seqs", "posting_keys", "posting_stories", "story_names", "df_keys", "df_counts")
SNAPSHOT_AFTER = 50_000  # unsaved postings (and 5% of the index) before a run writes a new snapshot

logger = logging.getLogger(__name__)


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

    def lookup_arrays(self, keys: Iterable[int]) -> list[np.ndarray]:
        """The values posted under each key, in the keys' order, as arrays (no Python list per value)."""
        query = np.fromiter(keys, dtype=np.uint64)
        found = [np.empty(0, dtype=np.int64)] * len(query)
        if len(self.keys) and len(query):
            left = np.searchsorted(self.keys, query, side="left")
            right = np.searchsorted(self.keys, query, side="right")
            found = [self.values[lo:hi] for lo, hi in zip(left.tolist(), right.tolist(), strict=True)]
        if self.recent:
            for i, key in enumerate(query.tolist()):
                if key in self.recent:
                    found[i] = np.concatenate([found[i], np.asarray(self.recent[key], dtype=np.int64)])
        return found

    def lookup_each(self, keys: Iterable[int]) -> list[list[int]]:
        """The values posted under each key, in the keys' order."""
        return [values.tolist() for values in self.lookup_arrays(keys)]

    def _compact(self) -> None:
        keys = np.fromiter((k for k, vs in self.recent.items() for _ in vs), dtype=np.uint64, count=self.recent_count)
        values = np.fromiter((v for vs in self.recent.values() for v in vs), dtype=np.int64, count=self.recent_count)
        self.recent.clear()
        self.recent_count = 0
        self._merge(keys, values)

    def _merge(self, keys: np.ndarray, values: np.ndarray) -> None:
        # Sort only the additions and insert them after equal keys: O(n) for an index of n, and
        # the same order a full stable sort would give (postings are added in seq order).
        order = np.argsort(keys.astype(np.uint64), kind="stable")
        keys, values = keys.astype(np.uint64)[order], values.astype(np.int64)[order]
        at = np.searchsorted(self.keys, keys, side="right")
        self.keys, self.values = np.insert(self.keys, at, keys), np.insert(self.values, at, values)

    def folded(self) -> tuple[np.ndarray, np.ndarray]:
        """All postings as two sorted arrays (the recent additions folded in)."""
        if self.recent_count:
            self._compact()
        return self.keys, self.values


class _Counts:
    """key -> count, as a sorted key array with counts plus a dict of recent additions."""

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.uint64)
        self.counts = np.empty(0, dtype=np.int64)
        self.recent: Counter[int] = Counter()

    def add(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """Add ``counts[i]`` to key ``keys[i]``."""
        if len(keys) > COMPACT_AFTER // 4:
            self._merge(keys, counts)
            return
        for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
            self.recent[key] += count
        if len(self.recent) > COMPACT_AFTER:
            self.folded()

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The count of each key (0 for a key never added), in the keys' order."""
        found = np.zeros(len(keys), dtype=np.int64)
        if len(self.keys) and len(keys):
            at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
            hit = self.keys[at] == keys
            found[hit] = self.counts[at[hit]]
        if self.recent:
            found += np.fromiter((self.recent.get(k, 0) for k in keys.tolist()), dtype=np.int64, count=len(keys))
        return found

    def folded(self) -> tuple[np.ndarray, np.ndarray]:
        """All counts as two arrays sorted by key (the recent additions folded in)."""
        if self.recent:
            keys = np.fromiter(self.recent.keys(), dtype=np.uint64, count=len(self.recent))
            counts = np.fromiter(self.recent.values(), dtype=np.int64, count=len(self.recent))
            self.recent.clear()
            self._merge(keys, counts)
        return self.keys, self.counts

    def _merge(self, keys: np.ndarray, counts: np.ndarray) -> None:
        merged, at = np.unique(np.concatenate([self.keys, keys.astype(np.uint64)]), return_inverse=True)
        self.counts = np.bincount(at, weights=np.concatenate([self.counts, counts]), minlength=len(merged)).astype(
            np.int64
        )
        self.keys = merged


class CandidateIndex:
    """In-memory view of the persisted candidate postings, kept current with ``refresh``."""

    def __init__(self, snapshot: str | Path | None = None) -> None:
        self.snapshot = Path(snapshot) if snapshot else None
        self.load_seconds = 0.0
        self.reset()

    def reset(self) -> None:
        """Forget all that was loaded: the next ``refresh`` loads the index again (its snapshot, then the database).

        A transaction reads its own writes: one that stored a clustering block, had the index read it for
        the next block, then rolled back, leaves rows in the index that were never committed
        (``pipeline.run.ingest.store_batch``).
        """
        self.max_seq = 0
        self.bands = _Postings()
        self.postings = _Postings()
        self.story_names: list[str] = []
        self._story_numbers: dict[str, int] | None = {}
        self.redirects: dict[str, str] = {}
        self.retired: set[int] = set()  # seqs of revised articles' old versions: their band postings match nothing
        self.rows = StoredRows()  # centroids, signatures and term vectors of stored candidates
        self.term_counts = _Counts()  # term key -> stored articles (exact copies aside) holding the term
        self.documents = 0  # stored articles counted in ``term_counts``
        self.snapshot_seq = 0  # the last article the loaded (or saved) snapshot covers
        self._snapshot_size = 0  # postings in that snapshot
        self._rewrite_snapshot = False  # the snapshot found was corrupt or outdated: the next save replaces it
        self._started = False

    @classmethod
    def for_database(cls, db: str | Path) -> CandidateIndex:
        """An index that keeps its snapshot beside the database file (none for in-memory databases)."""
        return cls(None if str(db) == ":memory:" else snapshot_path(db))

    def refresh(self, store: Store) -> int:
        """Load postings added since the last refresh (all of them the first time); returns how many."""
        started = time.perf_counter()
        if not self._started:
            self._started = True
            self._load_snapshot(store)
            self.redirects.update(store.merges_since(0, self.max_seq))
            self.retired.update(store.retired_seqs(0, self.max_seq))
        since = self.max_seq
        top = store.max_seq()
        if top <= since:
            self.load_seconds += time.perf_counter() - started
            return 0
        self.rows.refresh(store, since, top)
        band_keys, band_seqs = store.band_rows(since, top)
        self.bands.add(band_keys, band_seqs)
        term_keys, term_counts, documents = store.term_document_counts(since, top)
        self.term_counts.add(term_keys, term_counts)
        self.documents += documents
        term_keys, story_ids = store.posting_rows(since, top)
        self.postings.add(term_keys, np.fromiter((self._number(s) for s in story_ids), dtype=np.int64))
        merges = store.merges_since(since, top)
        self.redirects.update(merges)
        self.retired.update(store.retired_seqs(since, top))
        for merged in merges:  # deleted from the store; lookups resolve to the survivor
            self.rows.overlay.pop(merged, None)
        self.max_seq = top
        self.load_seconds += time.perf_counter() - started
        return len(band_keys) + len(term_keys)

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many stored articles (exact copies aside) hold each term, as of the last refresh."""
        counts = self.term_counts.get(np.fromiter((term_key(t) for t in terms), dtype=np.uint64, count=len(terms)))
        return dict(zip(terms, counts.tolist(), strict=True))

    def near_duplicate_candidates(self, band_keys: Iterable[int]) -> set[int]:
        """Seqs of stored articles sharing at least one LSH band key (a revised article's old version aside)."""
        return self.bands.lookup(band_keys) - self.retired

    def candidate_stories(self, terms: dict[str, float], limit: int) -> set[str]:
        """Ids of the ``limit`` live stories whose postings best match the weighted query terms."""
        numbers, weights = [], []
        for weight, posted in zip(terms.values(), self.postings.lookup_arrays(term_key(t) for t in terms), strict=True):
            if len(posted) > MAX_POSTINGS_PER_TERM:
                continue  # a term in that many stories' top terms cannot tell them apart
            numbers.append(posted)
            weights.append(np.full(len(posted), weight))
        if not numbers:
            return set()
        # Summed per story in the terms' order (bincount adds in array order), best first, ties by number:
        # the order stories were first posted (``story_rank``), so never by id, which follows the input's path.
        stories, at = np.unique(np.concatenate(numbers), return_inverse=True)
        scores = np.bincount(at, weights=np.concatenate(weights))
        best = np.lexsort((stories, -scores))[:limit]
        return {self.resolve(self.story_names[n]) for n in stories[best].tolist()}

    def story_rank(self, story_id: str) -> int | None:
        """A stored story's place in ingestion order: the order stories were first posted (None if never).

        Stories are posted batch by batch, each batch's in the order they were founded, so this orders
        stories by when they began, whatever their ids: what clustering breaks ties by.
        """
        return self._numbers().get(story_id)

    def load_stories(self, story_ids: Iterable[str], posting_terms: int) -> dict[str, StoryState]:
        """Centroids and extents of stored stories (ids merged away are skipped), as of the last refresh."""
        return self.rows.load_stories(story_ids, posting_terms)

    def story_scores(
        self, queries: Sequence[dict[str, float]], pairs: Iterable[tuple[int, str]], average: bool = False
    ) -> dict[tuple[int, str], float]:
        """Cosine of query ``i`` with stored story ``s``'s centroid, per (i, s) pair (as of the last refresh)."""
        return self.rows.story_scores(queries, pairs, average)

    def signatures(self, store: Store, seqs: Iterable[int]) -> dict[int, tuple[np.ndarray, ArticleRef]]:
        """MinHash signatures and placement of stored articles, by seq (their story ids need resolving)."""
        return self.rows.signatures(store, seqs)

    def vectors(self, store: Store, seqs: Iterable[int]) -> dict[int, dict[str, float]]:
        """Term vectors of stored articles, by seq."""
        return self.rows.vectors(store, seqs)

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

    def _numbers(self) -> dict[str, int]:
        if self._story_numbers is None:  # built on first need after a snapshot load
            self._story_numbers = {name: i for i, name in enumerate(self.story_names)}
        return self._story_numbers

    def _number(self, story_id: str) -> int:
        numbers = self._numbers()
        number = numbers.get(story_id)
        if number is None:
            number = numbers[story_id] = len(self.story_names)
            self.story_names.append(story_id)
        return number

    # ---- snapshot ---------------------------------------------------------------------------------

    def save(self, store: Store, force: bool = False) -> bool:
        """Write a new snapshot when enough postings are not yet in one (or ``force``); returns whether it did.

        Call it outside a write transaction: it first reads what is committed, so the snapshot never
        covers an article that a crash could still roll back.
        """
        if self.snapshot is None:
            return False
        self.refresh(store)
        unsaved = len(self.bands) + len(self.postings) - self._snapshot_size
        force = force or self._rewrite_snapshot
        if not force and (unsaved < SNAPSHOT_AFTER or unsaved < 0.05 * self._snapshot_size):
            return False
        database_id, anchor = store.database_id(), store.article_at(self.max_seq)
        if database_id is None:
            return False
        band_keys, band_seqs = self.bands.folded()
        post_keys, post_stories = self.postings.folded()
        df_keys, df_counts = self.term_counts.folded()
        self.snapshot.mkdir(parents=True, exist_ok=True)
        version = self.snapshot / f"v{self.max_seq}-{uuid.uuid4().hex[:8]}"
        version.mkdir()
        if self.rows.loaded and self.rows.base_seq == self.max_seq and not self.rows.overlay:
            save_arrays(self.rows.arrays, version)  # already as of now
        else:
            build_arrays(store, self.max_seq, version)
        arrays = {
            "band_keys": band_keys, "band_seqs": band_seqs, "posting_keys": post_keys, "posting_stories": post_stories,
            "story_names": np.array(self.story_names, dtype=f"S{max((len(n) for n in self.story_names), default=1)}"),
            "df_keys": df_keys, "df_counts": df_counts,
        }  # fmt: skip
        for name, array in arrays.items():
            np.save(version / f"{name}.npy", array)
        files = {path.name: [path.stat().st_size, file_checksum(path)] for path in sorted(version.glob("*.npy"))}
        manifest = {"format": SNAPSHOT_FORMAT, "database_id": database_id, "max_seq": self.max_seq,
                    "anchor_article": anchor, "postings": len(band_keys) + len(post_keys),
                    "documents": self.documents, "files": files}  # fmt: skip
        (version / "manifest.json").write_text(json.dumps(manifest))
        pointer = self.snapshot / f"CURRENT.{os.getpid()}.tmp"
        pointer.write_text(version.name)
        os.replace(pointer, self.snapshot / "CURRENT")  # atomic: readers see the old or the new snapshot
        for old in self.snapshot.iterdir():
            if old.is_dir() and old.name != version.name:
                shutil.rmtree(old, ignore_errors=True)  # a process still mapping it keeps its pages
        self.snapshot_seq, self._snapshot_size = self.max_seq, manifest["postings"]
        self._rewrite_snapshot = False
        self.rows.load(map_arrays(version), self.max_seq)  # mapped: the pages read so far are all it keeps
        return True

    def _load_snapshot(self, store: Store) -> None:
        """Map the snapshot's arrays if it is whole and belongs to this database; otherwise start empty."""
        if self.snapshot is None:
            return
        version, manifest, problem = verified_snapshot(self.snapshot)
        if version is None:
            return
        if problem is None and manifest.get("format") != SNAPSHOT_FORMAT:
            self._rewrite_snapshot = True  # an older layout: ignored, and replaced by this run's save
            return
        if problem is None:
            try:
                arrays = {name: mapped(version / f"{name}.npy") for name in INDEX_ARRAYS}
                rows = map_arrays(version)
            except (OSError, ValueError) as exc:
                problem = f"unreadable: {exc}"
        if problem is not None:
            logger.warning(
                "index snapshot %s ignored (%s): the index is read from the database instead and the "
                "snapshot rewritten at the end of this run",
                version,
                problem,
            )
            self._rewrite_snapshot = True
            return
        valid = (
            manifest.get("database_id") == store.database_id()
            and manifest["max_seq"] <= store.max_seq()
            and store.article_at(manifest["max_seq"]) == manifest.get("anchor_article")
        )
        if not valid:
            return
        self.bands.keys, self.bands.values = arrays["band_keys"], arrays["band_seqs"]
        self.postings.keys, self.postings.values = arrays["posting_keys"], arrays["posting_stories"]
        self.story_names = [n.decode("ascii") for n in arrays["story_names"].tolist()]
        self.term_counts.keys, self.term_counts.counts = arrays["df_keys"], arrays["df_counts"]
        self.documents = int(manifest["documents"])
        self._story_numbers = None
        self.max_seq = self.snapshot_seq = manifest["max_seq"]
        self._snapshot_size = manifest["postings"]
        self.rows.load(rows, self.max_seq)


def snapshot_path(db: str | Path) -> Path:
    """Where the index snapshot of database file ``db`` lives."""
    db = Path(db)
    return db.with_name(db.name + ".index")


def snapshot_problems(db: str | Path) -> list[str]:
    """A corrupt candidate-index snapshot beside database ``db`` as a problem saying what to do (else empty)."""
    if str(db) == ":memory:":
        return []
    version, _, problem = verified_snapshot(snapshot_path(db))
    if problem is None:
        return []
    return [
        f"corrupt index snapshot {version}: {problem}. Ingests ignore it and read the index from the "
        f"database; the next ingest rewrites it (or delete {snapshot_path(db)})"
    ]


def file_checksum(path: Path) -> str:
    """The xxh3_64 of a file's bytes as hex, read in chunks."""
    digest = xxhash.xxh3_64()
    buffer = bytearray(CHECKSUM_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as file:
        while read := file.readinto(buffer):
            digest.update(view[:read])
    return digest.hexdigest()


def verified_snapshot(folder: Path) -> tuple[Path | None, dict, str | None]:
    """The current snapshot version in ``folder``, its manifest, and what is wrong with its files (None if whole).

    The version is None when there is no snapshot. An older format's files are not checked (its
    manifest records no checksums): callers ignore such a snapshot. A snapshot replaced while it was
    checked (another process saved a newer one) is checked again, so a reader never blames a
    half-removed old version.
    """
    for _ in range(3):
        try:
            name = (folder / "CURRENT").read_text().strip()
        except FileNotFoundError:
            return None, {}, None
        except OSError as exc:
            return folder, {}, f"unreadable CURRENT: {exc}"
        version = folder / name
        manifest, problem = _check_files(version)
        try:
            replaced = (folder / "CURRENT").read_text().strip() != name
        except OSError:
            replaced = False
        if problem is None or not replaced:
            break
    return version, manifest, problem


def _check_files(version: Path) -> tuple[dict, str | None]:
    """A snapshot version's manifest and the first file that does not match it (size first, then checksum)."""
    try:
        manifest = json.loads((version / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        return {}, f"unreadable manifest: {exc}"
    if not isinstance(manifest, dict):
        return {}, "manifest is not a JSON object"
    if manifest.get("format") != SNAPSHOT_FORMAT:
        return manifest, None
    files = manifest.get("files")
    expected = {f"{name}.npy" for name in INDEX_ARRAYS + ARRAYS}
    if not isinstance(files, dict) or set(files) != expected or not manifest.keys() >= MANIFEST_KEYS:
        return manifest, "incomplete manifest"
    for name, record in sorted(files.items()):
        path = version / name
        try:
            size, checksum = record
            actual = path.stat().st_size
            if actual != size:
                return manifest, f"{name} is {actual} bytes, {size} expected (truncated or overwritten)"
            if file_checksum(path) != checksum:
                return manifest, f"{name} does not match its checksum (corrupt)"
        except OSError as exc:
            return manifest, f"{name} unreadable: {exc}"
        except (TypeError, ValueError):
            return manifest, f"incomplete manifest entry for {name}"
    return manifest, None
