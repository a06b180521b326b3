"""wordfreq's word lists as memory-mapped lookup tables, built once per machine.

Term weights read each word's Zipf frequency from wordfreq. wordfreq loads a language's list as a
Python dict of 300k-700k words (``get_frequency_dict``): 0.15-0.5 s in every process that meets
the language. Preparation workers are processes started for each run, so on a page mix of ten
languages each of them spent ~2.5 s loading lists, ~2.5 ms a page in ``bench/ingest_throughput.py``.

Here each language's list is turned once into three sorted arrays in the user's cache folder: a
63-bit xxh64 key per word, an independent 32-bit xxh32 check, and the word's frequency exactly as
wordfreq's dict holds it. A process maps the arrays in microseconds and looks a word up by binary
search; ``fingerprint.zipf_of`` then follows wordfreq's own steps with it. A word counts as listed
only when both hashes match: a false match has odds of about 2^-95 a lookup.

The cache folder is ``$STORYLINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/storyline``, else
``~/.cache/storyline``; a table is written to a temporary folder and renamed into place, so
processes building the same language at once never see half a table. When the folder cannot be
written (or a table cannot be built), ``table`` returns None and callers use wordfreq's dict.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import xxhash

FORMAT = 2  # 2: frequencies, not Zipf values
_ARRAYS = ("keys", "checks", "freqs")
_tables: dict[tuple[str | None, str], WordTable | None] = {}


class WordTable:
    """One language's word frequencies, by word (sorted hash keys, binary search)."""

    def __init__(self, keys: np.ndarray, checks: np.ndarray, freqs: np.ndarray) -> None:
        if not (len(keys) == len(checks) == len(freqs)):
            raise ValueError("word table arrays differ in length")
        self.keys, self.checks, self.freqs = keys, checks, freqs

    def __len__(self) -> int:
        return len(self.keys)

    def freq(self, word: str) -> float | None:
        """The word's frequency in wordfreq's list, None when it is not listed."""
        return self.freq_many([word])[0]

    def freq_many(self, words: list[str]) -> list[float | None]:
        """Each word's frequency (None: not listed), found with one vectorised binary search for all."""
        data = [word.encode("utf-8") for word in words]
        keys = np.fromiter((xxhash.xxh64_intdigest(b) >> 1 for b in data), dtype=np.int64, count=len(data))
        at = self.keys.searchsorted(keys)
        inside = at < len(self.keys)
        at = np.where(inside, at, 0)
        checks = np.fromiter((xxhash.xxh32_intdigest(b) for b in data), dtype=np.uint32, count=len(data))
        found = inside & (self.keys[at] == keys) & (self.checks[at] == checks)
        return [float(f) if hit else None for f, hit in zip(self.freqs[at].tolist(), found.tolist(), strict=True)]


def cache_root() -> Path:
    """The folder Storyline keeps machine-local caches in."""
    explicit = os.environ.get("STORYLINE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "storyline"


def table(lang: str) -> WordTable | None:
    """The mapped table of ``lang`` (built on first use on this machine); None if it cannot be had."""
    cache_key = (os.environ.get("STORYLINE_CACHE_DIR"), lang)  # called for every new term: no Path built
    if cache_key not in _tables:
        _tables[cache_key] = _load_or_build(cache_root(), lang)
    return _tables[cache_key]


def _folder(root: Path) -> Path:
    from importlib.metadata import version

    return root / f"wordfreq-{version('wordfreq')}-table{FORMAT}"


def _load_or_build(root: Path, lang: str) -> WordTable | None:
    try:
        folder = _folder(root)
        target = folder / lang
        for attempt in range(2):
            if not target.exists():
                _build(folder, lang)
            try:
                return WordTable(*[np.load(target / f"{n}.npy", mmap_mode="r").view(np.ndarray) for n in _ARRAYS])
            except (OSError, ValueError):
                if attempt:
                    raise
                shutil.rmtree(target, ignore_errors=True)  # damaged: built again once
    except (OSError, ValueError):
        pass
    return None  # unwritable or damaged cache: wordfreq itself serves instead


def _build(folder: Path, lang: str) -> None:
    from wordfreq import get_frequency_dict

    words = get_frequency_dict(lang, "best")
    encoded = [w.encode("utf-8") for w in words]
    keys = np.fromiter((xxhash.xxh64_intdigest(b) >> 1 for b in encoded), dtype=np.int64, count=len(encoded))
    checks = np.fromiter((xxhash.xxh32_intdigest(b) for b in encoded), dtype=np.uint32, count=len(encoded))
    freqs = np.fromiter(words.values(), dtype=np.float64, count=len(words))
    order = np.argsort(keys, kind="stable")
    keys, checks, freqs = keys[order], checks[order], freqs[order]
    if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():
        raise ValueError(f"two words of wordfreq's {lang} list share a hash key")
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / f".{lang}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    scratch.mkdir()
    try:
        for name, array in zip(_ARRAYS, (keys, checks, freqs), strict=True):
            np.save(scratch / f"{name}.npy", array)
        try:
            os.rename(scratch, folder / lang)  # atomic; fails if another process got there first
        except OSError:
            if not (folder / lang).exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
