"""The vectorised MinHash sketch: datasketch-compatible signatures and faithful Jaccard estimates."""

from __future__ import annotations

import random

import numpy as np
import pytest
from conftest import ecb_records
from datasketch import LeanMinHash, MinHash, MinHashLSH

from pipeline.errors import ConfigError, ParameterMismatchError
from pipeline.fingerprint.fingerprints import minhash, normalise, shingles, signatures
from pipeline.fingerprint.sketch import ShingleMinHash
from pipeline.run.ingest import open_for_run
from pipeline.settings import SIGNATURE_SCHEME, FingerprintSettings, Settings
from pipeline.store import Store


def _words(text: str) -> list[bytes]:
    return normalise(text).encode("utf-8").split()


def _edited(text: str, rng: random.Random, keep: float) -> str:
    """A copy with about (1 - keep) of its words replaced: a controlled drop in shingle overlap."""
    return " ".join(w if rng.random() < keep else f"edit{rng.randrange(10**6)}" for w in text.split())


def _exact_jaccard(a: str, b: str) -> float:
    sa, sb = set(shingles(a, 3)), set(shingles(b, 3))
    return len(sa & sb) / len(sa | sb)


def test_signature_is_what_datasketch_computes_from_the_same_shingle_hashes() -> None:
    sketch = ShingleMinHash(num_perm=128, seed=1, shingle_size=3)
    docs = [_words(r["text"]) for r in ecb_records({1, 2})[:20]] + [[], [b"one"], [b"two", b"words"]]
    sigs = sketch.signatures(docs)
    for words, sig in zip(docs, sigs, strict=True):
        reference = MinHash(num_perm=128, seed=1, hashfunc=int)  # datasketch permutes the hashes we give it
        reference.update_batch([int(h) for h in sketch.shingle_hashes(words)])
        assert np.array_equal(reference.hashvalues.astype(np.uint32), sig)
    assert sigs.dtype == np.uint32 and sigs.shape == (len(docs), 128)
    assert (sigs[-3] == np.iinfo(np.uint32).max).all()  # empty text: datasketch's empty signature


def test_estimated_jaccard_agrees_with_datasketch_and_with_exact_jaccard() -> None:
    rng = random.Random(7)
    texts = [r["text"] for r in ecb_records({3, 4, 5, 6}) if len(r["text"].split()) > 150][:40]
    pairs = [(t, _edited(t, rng, keep=rng.choice((0.98, 0.9, 0.8, 0.7)))) for t in texts]
    pairs += [(texts[i], texts[i + 1]) for i in range(0, 20, 2)]  # different articles: near zero
    settings = FingerprintSettings()
    ours, theirs, exact = [], [], []
    for a, b in pairs:
        ours.append(minhash(a, settings).jaccard(minhash(b, settings)))
        ma, mb = MinHash.bulk([shingles(a, 3), shingles(b, 3)], num_perm=128, seed=1)  # datasketch defaults
        theirs.append(ma.jaccard(mb))
        exact.append(_exact_jaccard(a, b))
    ours_error = np.abs(np.array(ours) - exact)
    theirs_error = np.abs(np.array(theirs) - exact)
    assert np.mean(ours_error) < 0.04 and np.max(ours_error) < 0.15
    assert np.mean(ours_error) < np.mean(theirs_error) + 0.015  # as faithful as datasketch's own hashing
    assert np.mean(np.abs(np.array(ours) - theirs)) < 0.05
    assert min(exact) < 0.05 < 0.5 < max(exact)  # the pairs span the range


def test_signatures_work_in_leanminhash_and_minhashlsh() -> None:
    settings = FingerprintSettings()
    texts = [r["text"] for r in ecb_records({7, 8}) if len(r["text"].split()) > 100][:12]
    copy = _edited(texts[0], random.Random(1), keep=0.97)
    sigs = signatures([*texts, copy], settings)
    lsh = MinHashLSH(threshold=0.5, num_perm=settings.num_perm)
    for number, sig in enumerate(sigs[:-1]):
        lsh.insert(f"doc{number}", LeanMinHash(seed=settings.seed, hashvalues=sig))
    query = LeanMinHash(seed=settings.seed, hashvalues=sigs[-1])
    assert lsh.query(query) == ["doc0"]
    assert query.jaccard(LeanMinHash(seed=settings.seed, hashvalues=sigs[0])) > 0.8


def test_word_order_matters_and_short_texts_have_one_shingle() -> None:
    sketch = ShingleMinHash(num_perm=64, seed=3, shingle_size=3)
    forward, backward = sketch.signatures([[b"a", b"b", b"c", b"d"], [b"d", b"c", b"b", b"a"]])
    assert not np.array_equal(forward, backward)
    assert len(sketch.shingle_hashes([b"a", b"b"])) == 1 and len(sketch.shingle_hashes([b"a", b"b", b"c", b"d"])) == 2


def test_bad_sketch_parameters_name_the_value() -> None:
    with pytest.raises(ConfigError, match="shingle_size"):
        ShingleMinHash(shingle_size=0)
    with pytest.raises(ConfigError, match="num_perm"):
        ShingleMinHash(num_perm=-1)


def test_a_database_built_by_the_old_signature_scheme_is_refused(db_path: str) -> None:
    settings = Settings(db=db_path)
    assert settings.stored_parameters()["fingerprint.scheme"] == SIGNATURE_SCHEME
    old = {k: v for k, v in settings.stored_parameters().items() if k != "fingerprint.scheme"}  # v1 databases
    with Store.open(db_path) as store:
        store.check_parameters(old)
    with pytest.raises(ParameterMismatchError, match=r"fingerprint\.scheme"):
        open_for_run(settings, ["input"])


def _datasketch_formula(a: int, b: int, h: int) -> int:
    """datasketch's permuted value, in Python integers: ((a * h + b) mod 2**64) mod (2**61 - 1), low 32 bits."""
    return ((a * h + b) % 2**64) % (2**61 - 1) & 0xFFFFFFFF


def test_permutation_is_exact_at_the_modular_reduction_edges() -> None:
    p = 2**61 - 1
    # With a = 1, x = h + b: place x where the mod-p reduction wraps (x mod 2**61 + x >> 61 >= p) or
    # nearly does, including x = p (true value 0) and x = 2**64 - 1; plus random large (a, b).
    h = 12345
    edges = [p, 2**61 + p - 3, 3 * 2**61 + p - 2, 7 * 2**61 + p, 2**64 - 1, 2**61, 5 * 2**61 + p - 5]
    rng = random.Random(3)
    pairs = [(1, x - h) for x in edges] + [(rng.randrange(1, p), rng.randrange(p)) for _ in range(9)]
    a, b = np.array([x for x, _ in pairs], np.uint64), np.array([y for _, y in pairs], np.uint64)
    sketch = ShingleMinHash(num_perm=len(pairs), permutations=(a, b))
    for hashes in ([h], [h, 99, 2**32 - 1], [rng.randrange(2**32) for _ in range(1500)]):
        expected = [min(_datasketch_formula(int(x), int(y), v) for v in hashes) for x, y in pairs]
        assert sketch.signature_of_hashes(np.array(hashes, np.uint64)).tolist() == expected


def test_normalised_words_are_the_words_of_the_normalised_text() -> None:
    from pipeline.fingerprint.fingerprints import normalised_words

    for text in [
        "Ｆｕｌｌ‐width “quotes”\u2003and\u00a0spaces",
        "Ünïcödé — ﬁne\tTABS\n\nlines",
        "",
        "  ",
        "e\u0301t\u00e9",
    ]:
        assert normalised_words(text) == normalise(text).encode("utf-8").split()
    for record in ecb_records({9})[:20]:
        assert normalised_words(record["text"]) == normalise(record["text"]).encode("utf-8").split()


def test_permutations_are_datasketchs_own_draw() -> None:
    from pipeline.fingerprint.sketch import _permutations

    for num_perm, seed in ((128, 1), (64, 7), (16, 123456)):
        a, b = MinHash(num_perm=num_perm, seed=seed).permutations
        ours_a, ours_b = _permutations(num_perm, seed)
        assert np.array_equal(ours_a[:, 0], a) and np.array_equal(ours_b[:, 0], b)
