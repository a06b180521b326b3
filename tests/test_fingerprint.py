from __future__ import annotations

from pathlib import Path

import numpy as np
from datasketch import LeanMinHash, MinHash

from pipeline.fingerprint import (
    TermWeighter,
    band_keys,
    content_hash,
    estimate_jaccard,
    minhash,
    normalise,
    shingles,
    zipf_of,
)
from pipeline.settings import ClusterSettings, FingerprintSettings

ROOT = Path(__file__).resolve().parent.parent


def test_content_hash_ignores_case_space_and_punctuation() -> None:
    assert content_hash("Hello,   World!\n\nNext line.") == content_hash("hello world next line")
    assert content_hash("hello world") != content_hash("hello there world")


def test_minhash_estimates_jaccard() -> None:
    settings = FingerprintSettings()
    words = [f"w{i}" for i in range(400)]
    a, b = " ".join(words), " ".join(words[:300] + [f"x{i}" for i in range(100)])
    true = len(set(shingles(a, 3)) & set(shingles(b, 3))) / len(set(shingles(a, 3)) | set(shingles(b, 3)))
    estimate = minhash(a, settings).jaccard(minhash(b, settings))
    assert abs(estimate - true) < 0.1


def test_signatures_stay_datasketch_compatible() -> None:
    settings = FingerprintSettings()
    mh = minhash("the quick brown fox jumps over the lazy dog again and again", settings)
    lean = LeanMinHash(seed=settings.seed, hashvalues=mh.hashvalues.astype(np.uint32))
    assert lean.jaccard(LeanMinHash(mh)) == 1.0
    assert isinstance(mh, MinHash) and len(mh.hashvalues) == settings.num_perm


def test_band_keys_are_deterministic_and_shared_by_equal_bands() -> None:
    settings = FingerprintSettings()
    sig = minhash("some text about a storm hitting the coast of Brittany", settings).hashvalues
    other = sig.copy()
    other[0] += 1
    keys, keys_other = band_keys(sig, settings), band_keys(other, settings)
    assert keys == band_keys(sig.copy(), settings) and len(keys) == settings.lsh_bands
    assert keys[0] != keys_other[0] and keys[1:] == keys_other[1:]
    assert estimate_jaccard(sig, other) == (settings.num_perm - 1) / settings.num_perm


def test_terms_favour_rare_words_and_names() -> None:
    weighter = TermWeighter(ClusterSettings())
    vector = weighter.vector(None, "The minister said that Masahisa Sato met Taiwanese legislators in Taipei.", "en")
    assert "the" not in vector and "that" not in vector and "said" not in vector
    assert vector["sato"] > vector["minister"] and vector["taipei"] > vector["met"]
    assert abs(sum(w * w for w in vector.values()) - 1.0) < 1e-9


def test_normalise_folds_unicode_forms() -> None:
    assert normalise("Ｆｕｌｌ‐width “quotes”") == normalise("full width quotes")


def test_term_vectors_of_chinese_and_japanese_pages_need_no_optional_tokenizers() -> None:
    weighter = TermWeighter(ClusterSettings())
    assert weighter.vector(None, "歌手蔡健雅今天在台北举行演唱会。", "zh")
    assert weighter.vector(None, "東京で大きな地震がありました。", "ja")


def test_zipf_of_matches_wordfreq() -> None:
    """The one-lookup path gives wordfreq's own value for every term of real articles in four languages."""
    from wordfreq import zipf_frequency

    from pipeline.fingerprint import _WORD, _term

    texts = {"en": "\n".join(path.read_text(encoding="utf-8") for path in sorted((ROOT / "seeds").iterdir()))}
    texts["de"] = "Die Bundesregierung hat am Mittwoch in Berlin über die Straßenbahn und Größe der Städte beraten."
    texts["fr"] = "Le gouvernement français a annoncé mercredi une réforme de l'assurance chômage à Paris."
    texts["tr"] = "İstanbul'da Işık ailesi için büyük bir tören düzenlendi; Ilgaz ve İzmir'den konuklar geldi."
    checked = 0
    for lang, text in texts.items():
        for token in _WORD.findall(text):
            term = _term(token)
            if len(term) >= 2 and not term[0].isdigit():
                assert zipf_of(term, lang) == zipf_frequency(term, lang), (term, lang)
                checked += 1
    assert checked > 500
    assert zipf_of("qzxwvjk", "en") == 0.0 and zipf_of("the", "en") > 7
