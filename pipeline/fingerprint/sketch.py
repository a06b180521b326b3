"""ShingleMinHash: vectorised MinHash over word shingles, datasketch-compatible.

Each word is hashed once (xxh64); a shingle's hash combines its words' hashes with numpy uint64
arithmetic (distinct odd multipliers keep it order-sensitive, a murmur3 finaliser mixes it) and keeps
the high 32 bits. The permutations are datasketch's own: ``(a, b)`` drawn exactly as
``datasketch.MinHash(num_perm, seed)`` draws them, applied with its formula
``((a * h + b) mod (2**61 - 1)) & (2**32 - 1)``, minimum over shingles. A signature is therefore the
``hashvalues`` a datasketch ``MinHash(num_perm, seed, hashfunc=...)`` would hold after updating it with
the same 32-bit shingle hashes: ``LeanMinHash(seed=seed, hashvalues=sig)`` and ``MinHashLSH`` accept it.

Why not datasketch itself: it hashes every shingle string in Python (joined, encoded, hashed one call
each) and runs the permutations per document; here a document costs one hash call per word and the
permutations of a whole batch run as one array expression (see ``bench/minhash_speed.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import xxhash

from pipeline.errors import ConfigError
from pipeline.settings import SIGNATURE_SCHEME as SCHEME  # stored with the data: another scheme is refused

_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint32((1 << 32) - 1)
_SHIFT_61 = np.uint64(61)
_WRAPPED_BELOW = 7  # a wrapped permuted value reads 0..6 (or 2**32 - 1): see ShingleMinHash._permuted_min
_SHIFT_32 = np.uint64(32)
# Odd 64-bit constants (golden ratio and murmur3/xxhash primes), one multiplier per word position.
_POSITION_MULTIPLIERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53],
    dtype=np.uint64,
)
_FMIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT_33 = np.uint64(33)
# Shingles permuted per array expression: 128 x 512 x 20 bytes of work arrays stay in L2 cache, which
# measured 3-4x faster than one expression over a whole document or batch.
_COLUMNS_PER_BLOCK = 512


class ShingleMinHash:
    """MinHash signatures of word sequences, computed for many documents at once."""

    def __init__(
        self,
        num_perm: int = 128,
        seed: int = 1,
        shingle_size: int = 3,
        permutations: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        if not isinstance(num_perm, int) or num_perm <= 0:
            raise ConfigError(f"num_perm must be a positive integer, got {num_perm!r}")
        if not isinstance(shingle_size, int) or not 0 < shingle_size <= len(_POSITION_MULTIPLIERS):
            raise ConfigError(f"shingle_size must be 1..{len(_POSITION_MULTIPLIERS)}, got {shingle_size!r}")
        self.num_perm, self.seed, self.shingle_size = num_perm, seed, shingle_size
        if permutations is None:
            self._a, self._b = _permutations(num_perm, seed)
        else:  # injected (a, b), as datasketch's ``permutations=`` argument
            a, b = (np.asarray(p, dtype=np.uint64).reshape(-1, 1) for p in permutations)
            if len(a) != num_perm or len(b) != num_perm:
                raise ConfigError(f"permutations must hold {num_perm} (a, b) pairs, got {len(a)} and {len(b)}")
            self._a, self._b = a, b

    def shingle_hashes(self, words: Sequence[bytes]) -> np.ndarray:
        """32-bit hashes of the word shingles (the whole sequence when shorter than one shingle)."""
        if not words:
            return np.empty(0, dtype=np.uint64)
        tokens = np.fromiter((xxhash.xxh64_intdigest(w) for w in words), dtype=np.uint64, count=len(words))
        size = min(self.shingle_size, len(tokens))
        count = len(tokens) - size + 1
        with np.errstate(over="ignore"):  # uint64 arithmetic wraps modulo 2**64 on purpose
            mixed = tokens[:count] * _POSITION_MULTIPLIERS[0]
            for offset in range(1, size):
                mixed += tokens[offset : offset + count] * _POSITION_MULTIPLIERS[offset]
            mixed ^= mixed >> _SHIFT_33
            mixed *= _FMIX_1
            mixed ^= mixed >> _SHIFT_33
            mixed *= _FMIX_2
            mixed ^= mixed >> _SHIFT_33
        return mixed >> _SHIFT_32

    def signature(self, words: Sequence[bytes]) -> np.ndarray:
        """The uint32 signature of one word sequence (all 2**32 - 1 when it is empty, as datasketch)."""
        return self.signatures([words])[0]

    def signatures(self, documents: Sequence[Sequence[bytes]]) -> np.ndarray:
        """One uint32 signature row per document (each a sequence of normalised, UTF-8 encoded words)."""
        out = np.empty((len(documents), self.num_perm), dtype=np.uint32)
        scratch = _Scratch(self.num_perm)  # reused by every block: no allocation or page faults per document
        for row, words in enumerate(documents):
            out[row] = self.signature_of_hashes(self.shingle_hashes(words), scratch)
        return out

    def signature_of_hashes(self, hashes: np.ndarray, scratch: _Scratch | None = None) -> np.ndarray:
        """The uint32 signature of a set of 32-bit shingle hashes (datasketch's ``update_batch`` + ``hashvalues``)."""
        scratch = scratch or _Scratch(self.num_perm)
        signature = np.full(self.num_perm, _MAX_HASH, dtype=np.uint32)
        hashes = np.asarray(hashes, dtype=np.uint64)
        blocks = -(-len(hashes) // _COLUMNS_PER_BLOCK)
        for block in np.array_split(hashes, blocks) if blocks else ():
            np.minimum(signature, self._permuted_min(block, scratch), out=signature)
        return signature

    def _permuted_min(self, hashes: np.ndarray, scratch: _Scratch) -> np.ndarray:
        """Per permutation, the minimum over these shingle hashes of datasketch's permuted value.

        datasketch computes ``((a * h + b) mod 2**64) mod p & (2**32 - 1)`` with p = 2**61 - 1. With
        x = a * h + b = hi * 2**61 + lo (hi < 8), x mod p is lo + hi, less p when lo + hi >= p, because
        2**61 = 1 mod p. Only the low 32 bits are kept, and those of lo + hi are those of x + hi: so
        low32(x + (x >> 61)) is the answer, one array pass cheaper than the fold and far cheaper than `%`,
        except for "wrapped" values (lo + hi >= p, probability 2**-58 each), which read one less than their
        true value: 0..6 instead of 1..7, or 2**32 - 1 instead of 0. A block whose minimum is below 7 or
        whose maximum is 2**32 - 1 may hold one, and is recomputed with the full reduction.

        low32(x + hi) is low32(x) + hi modulo 2**32, so the add runs on 32-bit arrays: half the memory
        traffic of adding in 64 bits (the sketch 13% faster on 600-word articles, bench/minhash_speed.py).
        """
        n = len(hashes)
        x, hi, low = scratch.x[:, :n], scratch.high[:, :n], scratch.low[:, :n]
        np.multiply(self._a, hashes[None, :], out=x)  # wraps modulo 2**64, exactly as datasketch's
        np.add(x, self._b, out=x)
        np.copyto(low, x, casting="unsafe")  # the low 32 bits: datasketch's `& max_hash`
        np.right_shift(x, _SHIFT_61, out=hi, casting="unsafe")  # 0..7
        np.add(low, hi, out=low)  # wraps modulo 2**32, as the low 32 bits of x + hi do
        mins = low.min(axis=1)
        if mins.min() < _WRAPPED_BELOW or low.max() == _MAX_HASH:
            return self._permuted_min_exact(hashes, scratch)
        return mins

    def _permuted_min_exact(self, hashes: np.ndarray, scratch: _Scratch) -> np.ndarray:
        """The same minimum through the full reduction modulo p (the rare path)."""
        n = len(hashes)
        x, y, low = scratch.x[:, :n], scratch.y[:, :n], scratch.low[:, :n]
        np.multiply(self._a, hashes[None, :], out=x)
        np.add(x, self._b, out=x)
        np.bitwise_and(x, _MERSENNE, out=y)
        np.right_shift(x, _SHIFT_61, out=x)
        np.add(y, x, out=y)
        y[y >= _MERSENNE] -= _MERSENNE
        np.copyto(low, y, casting="unsafe")
        return low.min(axis=1)


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's own (a, b) draw for this seed, as read-only columns.

    The draw is ``datasketch.MinHash._init_permutations``, statement for statement (a test compares it
    with ``MinHash(num_perm, seed).permutations``): importing datasketch pulls in scipy, 0.7 s of start-up
    in every worker process and CLI call, for two arrays. Memoised because drawing them costs ~1 ms
    (256 RandomState calls) and callers fingerprint one article at a time; the result is a pure
    function of its arguments and is never written to.
    """
    gen = np.random.RandomState(seed)
    draws = [
        (gen.randint(1, _MERSENNE, dtype=np.uint64), gen.randint(0, _MERSENNE, dtype=np.uint64))
        for _ in range(num_perm)
    ]
    a, b = np.array(draws, dtype=np.uint64).T
    columns = a.astype(np.uint64)[:, None], b.astype(np.uint64)[:, None]
    for column in columns:
        column.setflags(write=False)
    return columns


class _Scratch:
    """Work arrays for one block of shingles, sized to stay in a core's cache."""

    def __init__(self, num_perm: int) -> None:
        shape = (num_perm, _COLUMNS_PER_BLOCK)
        self.x, self.y = np.empty(shape, np.uint64), np.empty(shape, np.uint64)
        self.low, self.high = np.empty(shape, np.uint32), np.empty(shape, np.uint32)


__all__ = ["SCHEME", "ShingleMinHash"]
