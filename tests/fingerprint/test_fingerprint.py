from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from datasketch import LeanMinHash, MinHash

from pipeline.fingerprint.fingerprints import (
    TermWeighter,
    band_keys,
    content_hash,
    estimate_jaccard,
    minhash,
    normalise,
    shingles,
    zipf_of,
    zipfs_of,
)
from pipeline.settings import ClusterSettings, FingerprintSettings

ROOT = Path(__file__).resolve().parents[2]


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


def _vector_token_by_token(weighter: TermWeighter, title: str | None, text: str, lang: str) -> dict[str, float]:
    """The term vector as first written: sentence by sentence, one token at a time (the oracle)."""
    import math
    from collections import Counter

    import regex

    from pipeline.fingerprint.fingerprints import _WORD, _term

    counts: Counter[str] = Counter()
    boost: dict[str, float] = {}
    for sentence in regex.split(r"(?<=[.!?…])\s+|\n+|[\"“”]", f"{title}\n{text}" if title else text):
        for position, token in enumerate(_WORD.findall(sentence)):
            term = _term(token)
            weight = weighter._weight(term, lang)
            if weight <= 0.0:
                continue
            counts[term] += 1
            if position > 0 and token[0].isupper():
                weight *= weighter.settings.name_boost
            boost[term] = max(weight, boost.get(term, 0.0))
    scored = {t: (1.0 + math.log(c)) * boost[t] for t, c in counts.items()}
    top = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[: weighter.settings.article_terms]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {t: w / norm for t, w in top}


def test_term_vectors_count_each_occurrence_and_boost_names_inside_sentences() -> None:
    texts = [
        (None, "Sato met Aso. Aso said “Sato is here.” Then SATO left!\n\nsato, sato… Sato?"),
        ("Taipei talks", 'Officials met in Taipei. "Taipei," one said, "is calm." In 2024, 52-3 and 6.1 mattered.'),
        ("", "... . ! ? — Le ministre. L’état d’une nation: Ça va? Über 95 Männer trafen sich in Köln."),
        ("Merkel's visit", "Merkel’s aides and Merkel's critics: MERKEL, merkel. Berlin; Berlin. berlin"),
    ]
    for lang in ("en", "de", "fr"):
        weighter = TermWeighter(ClusterSettings())
        for title, text in texts * 2:  # the second pass reads the token cache
            vector = weighter.vector(title, text, lang)
            expected = _vector_token_by_token(weighter, title, text, lang)
            assert vector == expected and list(vector) == list(expected)
    named = TermWeighter(ClusterSettings()).vector(None, "Sato arrived. Later we met Sato. Aso arrived.", "en")
    alone = TermWeighter(ClusterSettings()).vector(None, "Sato arrived. Aso arrived. Aso left.", "en")
    assert named["sato"] > named["aso"] and alone["sato"] < alone["aso"]  # boosted only when met inside


def test_normalise_folds_unicode_forms() -> None:
    assert normalise("Ｆｕｌｌ‐width “quotes”") == normalise("full width quotes")


def test_term_vectors_of_chinese_and_japanese_pages_need_no_optional_tokenizers() -> None:
    weighter = TermWeighter(ClusterSettings())
    assert weighter.vector(None, "歌手蔡健雅今天在台北举行演唱会。", "zh")
    assert weighter.vector(None, "東京で大きな地震がありました。", "ja")


def test_zipf_of_matches_wordfreq() -> None:
    """The one-lookup path gives wordfreq's own value for every term of real articles in four languages."""
    from wordfreq import zipf_frequency

    from pipeline.fingerprint.fingerprints import _WORD, _term

    texts = {"en": "\n".join(path.read_text(encoding="utf-8") for path in sorted((ROOT / "seeds").iterdir()))}
    texts["de"] = "Die Bundesregierung hat am Mittwoch in Berlin über die Straßenbahn und Größe der Städte beraten."
    texts["fr"] = "Le gouvernement français a annoncé mercredi une réforme de l'assurance chômage à Paris."
    texts["tr"] = "İstanbul'da Işık ailesi için büyük bir tören düzenlendi; Ilgaz ve İzmir'den konuklar geldi."
    texts["ru"] = "Правительство в среду обсудило в Москве ёлочные базары и цены на жильё."
    texts["el"] = "Η κυβέρνηση συζήτησε την Τετάρτη στην Αθήνα το νέο νομοσχέδιο για τις λέξεις."
    texts["pl"] = "Rząd w środę omówił w Warszawie źródła energii i ceny węgla."
    texts["ro"] = "Guvernul a discutat miercuri la București despre același proiect, acelaşi buget."
    texts["en"] += " 日本s covidー ﬁnance naïve café doesn't o'keeffe covid19 mp3s"  # scripts, ligature, digits
    texts["de"] += " Stra\u00dfe Grösse fu\u0308r rock'n'rolls"  # sharp s, a decomposed umlaut
    texts["ar"] = "قال الناشط الحقوقي السوداني خالد عبد الكريم لـ الصباح"
    checked = 0
    for lang, text in texts.items():
        terms = [t for t in map(_term, _WORD.findall(text)) if len(t) >= 2 and not t[0].isdigit()]
        expected = [zipf_frequency(term, lang) for term in terms]
        assert [zipf_of(term, lang) for term in terms] == expected, lang
        assert zipfs_of(terms, lang) == expected, lang  # the batched lookup new words take
        checked += len(terms)
    assert checked > 500
    assert zipf_of("qzxwvjk", "en") == 0.0 and zipf_of("the", "en") > 7


def test_word_tables_are_built_once_mapped_and_optional(tmp_path: Path, monkeypatch) -> None:
    """A table holds wordfreq's frequency for every word of its list, is mapped from disk once
    built, and an unwritable cache folder falls back to wordfreq itself with the same values."""
    from importlib.metadata import version

    from wordfreq import get_frequency_dict, zipf_frequency

    from pipeline.cluster.storedrows import is_mapped
    from pipeline.fingerprint import wordtable

    monkeypatch.setenv("STORYLINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(wordtable, "_tables", {})
    built = wordtable.table("fr")
    words = get_frequency_dict("fr", "best")
    assert built is not None and len(built) == len(words)
    assert all(built.freq(w) == f for w, f in words.items())  # the whole list
    assert built.freq("qzxwvjkplm") is None
    sample = [*list(words)[::997], "qzxwvjkplm", "", "l’état"]
    assert built.freq_many(sample) == [built.freq(w) for w in sample]  # the vectorised lookup agrees
    monkeypatch.setattr(wordtable, "_tables", {})
    mapped = wordtable.table("fr")
    assert is_mapped(mapped.keys) and is_mapped(mapped.freqs)
    folder = f"wordfreq-{version('wordfreq')}-table{wordtable.FORMAT}"  # a new wordfreq gets new tables
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [folder]
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("STORYLINE_CACHE_DIR", str(blocked))
    monkeypatch.setattr(wordtable, "_tables", {})
    assert wordtable.table("fr") is None
    for term in ("maison", "l’état", "d’une", "covid19"):
        assert zipf_of(term, "fr") == zipf_frequency(term, "fr")


# Texts in scripts written with spaces: real news (seeds, ECB+ dev) and sentences of other alphabets.
_SPACED_TEXTS = {
    "ru": "Правительство в среду обсудило в Москве ёлочные базары и цены на жильё. Министр финансов "
    "Антон Силуанов сказал, что бюджет на 2027 год будет принят до конца ноября.",
    "ar": "قال الناشط الحقوقي السوداني خالد عبد الكريم لـ الصباح إن الحكومة أفرجت عن 52 معتقلا في الخرطوم يوم الأحد.",
    "ko": "서울 중앙지법은 16일 전직 장관에게 징역 3년을 선고했다. 재판부는 증거가 충분하다고 밝혔다.",
    "el": "Η κυβέρνηση συζήτησε την Τετάρτη στην Αθήνα το νέο νομοσχέδιο για τις λέξεις.",
    "de": "Die Bundesregierung hat am Mittwoch in Berlin über die Straßenbahn und Größe der Städte beraten.",
}
# sha256 of every text's shingles, signature, band keys, content hash, term vector and evidence,
# computed before scripts without spaces were split into characters: those are stored, and text in
# other scripts must keep them to the last bit (new signatures would not match the old ones).
_SPACED_PINS = {
    "seeds": "28d1e601bca9657b83fd95fb36cb4c5ac52f8c6dc9b8cd439ae40f99eec1d1d0",
    "ecb": "49282b9c7b4f0d6c85c7f6e6cec783ca18808a264d61c2900293dd5bc880d499",
    "other": "cb41462019f76d78976f1a2be8bdd3f825cf610cfe2febfc96980f7e2c1a8f0a",
}


def _fingerprint_digest(texts: list[tuple[str | None, str, str]]) -> str:
    import hashlib

    from pipeline.fingerprint.fingerprints import fingerprint_articles, signatures
    from pipeline.models import Article

    settings = FingerprintSettings()
    parts = []
    for mode in ("language", "corpus"):
        weighter = TermWeighter(ClusterSettings(evidence=mode))
        articles = [Article(source_uri=f"t{i}", title=t, text=x, language=lang) for i, (t, x, lang) in enumerate(texts)]
        for (_, text, _), fp in zip(texts, fingerprint_articles(articles, weighter, settings), strict=True):
            parts.append((sorted(shingles(text, 3)), sorted(shingles(text, 5)), fp.content_hash, fp.signature))
            parts.append(
                (fp.band_keys, sorted(fp.terms.items()), sorted(fp.evidence.items()), sorted(fp.chances.items()))
            )
    parts.append(signatures([x for _, x, _ in texts], settings).tolist())
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def test_fingerprints_of_spaced_scripts_are_unchanged() -> None:
    """Latin, Cyrillic, Arabic, Hangul, Greek text: the same shingles, signatures and vectors as stored ones."""
    from conftest import ecb_records

    seeds = [(None, p.read_text(encoding="utf-8"), "en") for p in sorted((ROOT / "seeds").iterdir())]
    ecb = [(r.get("title"), r["text"], "en") for r in ecb_records()[:40]]
    other = [(None, text, lang) for lang, text in _SPACED_TEXTS.items()]
    found = {"seeds": _fingerprint_digest(seeds), "ecb": _fingerprint_digest(ecb), "other": _fingerprint_digest(other)}
    assert found == _SPACED_PINS


def test_chinese_stories_shingle_by_character() -> None:
    """Without spaces a Chinese text was one word: every two texts of one length-class looked alike."""
    from cjk_texts import ZH_CARS, ZH_FLOOD, ZH_FLOOD_EDITED

    settings = FingerprintSettings()
    assert len(shingles(ZH_FLOOD, settings.shingle_size)) > 50

    def similarity(a: str, b: str) -> float:
        return minhash(a, settings).jaccard(minhash(b, settings))

    assert similarity(ZH_FLOOD, ZH_FLOOD_EDITED) >= settings.near_duplicate_threshold
    assert similarity(ZH_FLOOD, ZH_CARS) < 0.1
    assert content_hash(ZH_FLOOD) != content_hash(ZH_FLOOD_EDITED)


def _evidence_terms(weighter: TermWeighter, title: str | None, text: str, language: str) -> dict[str, float]:
    return weighter.evidence(title, text, language)[0]


def test_chinese_and_japanese_terms_are_character_bigrams() -> None:
    from cjk_texts import JA_QUAKE, ZH_CARS, ZH_FLOOD, ZH_FLOOD_EDITED

    from pipeline.fingerprint.fingerprints import cosine

    for mode in ("language", "corpus"):
        weighter = TermWeighter(ClusterSettings(evidence=mode))
        vector = weighter.vector if mode == "language" else functools.partial(_evidence_terms, weighter)
        flood, edited, cars = (vector(None, t, "zh") for t in (ZH_FLOOD, ZH_FLOOD_EDITED, ZH_CARS))
        assert "深圳" in flood and "降雨" in flood and max(map(len, flood)) == 2
        assert "地震" in vector(None, JA_QUAKE, "ja")
        if mode == "language":
            assert cosine(flood, edited) > 0.7 and cosine(flood, cars) < 0.2
    from pipeline.fingerprint.fingerprints import tokens

    assert tokens("东京都で火災、Apple社の3人") == ["东京", "京都", "都で", "で火", "火災", "Apple", "社の", "3", "人"]
