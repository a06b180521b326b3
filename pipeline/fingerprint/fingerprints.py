"""Fingerprint: what clustering compares. Three levels, one per relation.

* ``content_hash``: hash of the normalised text; equal hashes are exact copies.
* MinHash signature over word shingles (``sketch.ShingleMinHash``: vectorised, datasketch-compatible
  signatures), with LSH band keys for candidate lookup; estimated Jaccard finds syndicated near-duplicates.
* A weighted term vector: salient words and names. With ``cluster.evidence = "language"`` (the
  default) weighted by how rare they are in the language (wordfreq's frequencies act as a fixed,
  corpus-independent IDF); with ``"corpus"``, stemmed and weighed at clustering by how rare they
  are in the stored news, the language's frequencies as the prior (``pipeline.fingerprint.evidence``).
  Stories are compared on these vectors.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import math
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import regex
import xxhash

from pipeline.fingerprint.evidence import document_chance, idf, stemmer, weigh
from pipeline.fingerprint.sketch import ShingleMinHash
from pipeline.fingerprint.wordtable import WordTable, table
from pipeline.models import Article, Fingerprint
from pipeline.models.vectors import dot
from pipeline.settings import ClusterSettings, FingerprintSettings
from pipeline.words import SPACELESS_LETTER, has_spaceless, spaced

if TYPE_CHECKING:
    from datasketch import LeanMinHash

# Words, and numbers kept whole with their separators ("52-3", "9:30", "6.1"): scores, ages,
# tolls and dates tell look-alike events apart better than any word.
_WORD = regex.compile(r"\p{L}[\p{L}\p{M}'’]*|\p{N}+(?:[.,:\-–/]\p{N}+)*")
# A sentence ends at whitespace after . ! ? or …, at a line break, or at a double quote. The first word
# of each sentence is the first word after such a break (no word contains one); matched against the
# text after a line break, this finds the text's first word too.
_FIRST_WORD = regex.compile(rf"(?:[.!?…]\s|\n|[\"“”])[^\p{{L}}\p{{N}}]*({_WORD.pattern})")
_NON_WORD = regex.compile(r"[^\p{L}\p{N}]+")
_POSSESSIVE = ("'s", "’s")
STOP_ZIPF = 5.4  # words this common (the, said, would, ...) carry no story signal
MAX_WEIGHT = 4.5
NUMBER_WEIGHT = 6.0  # tuned on ECB+ dev: numbers separate twin events (pair AUC 0.914 -> 0.928)
TOKEN_CACHE_SIZE = 200_000  # tokens remembered per language by a TermWeighter (~30 MB at most)


def normalise(text: str) -> str:
    """Case-, accent-form- and punctuation-insensitive form of a text, for hashing and shingling."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", text).split())


def content_hash(text: str) -> str:
    """Hash of the normalised text: two articles with equal hashes are exact copies."""
    return _hash_normalised(normalise(text))


def _hash_normalised(normalised: str) -> str:
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=16).hexdigest()


def shingles(text: str, size: int) -> list[bytes]:
    """Word shingles of the normalised text (the whole text when shorter than one shingle).

    In scripts written without spaces (Chinese, Japanese, Thai) each letter is a word: a shingle is
    ``size`` characters there, and a text in them is many shingles, not one.
    """
    words = spaced(normalise(text)).split()
    if len(words) <= size:
        return [" ".join(words).encode("utf-8")] if words else []
    return list({" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)})


def sketcher(settings: FingerprintSettings) -> ShingleMinHash:
    """The MinHash sketch these settings describe (cheap to build: permutations are memoised)."""
    return ShingleMinHash(settings.num_perm, settings.seed, settings.shingle_size)


def signatures(texts: Sequence[str], settings: FingerprintSettings) -> np.ndarray:
    """MinHash signatures (uint32, one row per text) of the texts' word shingles."""
    return sketcher(settings).signatures([normalised_words(text) for text in texts])


def normalised_words(text: str) -> list[bytes]:
    """The shingling words of ``normalise(text)``, UTF-8 encoded (without building the joined string).

    A letter of a script written without spaces is a word of its own (``shingles``).
    """
    # Every character the substitution keeps is a letter or number, never whitespace, so splitting the
    # encoded bytes on ASCII whitespace gives exactly spaced(normalise(text)).split().
    return spaced(_NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold())).encode("utf-8").split()


def minhash(text: str, settings: FingerprintSettings) -> LeanMinHash:
    """The text's signature as a datasketch ``LeanMinHash`` (for ``jaccard``, ``MinHashLSH`` ...)."""
    from datasketch import LeanMinHash  # deferred: datasketch imports scipy (0.7 s); the pipeline never needs it

    return LeanMinHash(seed=settings.seed, hashvalues=signatures([text], settings)[0])


def band_keys(signature: np.ndarray, settings: FingerprintSettings) -> tuple[int, ...]:
    """One LSH key per band: articles sharing any band key are near-duplicate candidates."""
    rows = settings.lsh_rows
    values = np.ascontiguousarray(signature, dtype=np.uint32)
    return tuple(
        xxhash.xxh64_intdigest(values[b * rows : (b + 1) * rows].tobytes(), seed=b) >> 1
        for b in range(settings.lsh_bands)
    )


def estimate_jaccard(a: np.ndarray | tuple[int, ...], b: np.ndarray | tuple[int, ...]) -> float:
    """Fraction of equal signature positions: the MinHash estimate of Jaccard similarity."""
    a, b = np.asarray(a), np.asarray(b)
    return float(np.count_nonzero(a == b)) / len(a)


class TermWeighter:
    """Turns an article into what stories are compared on, in the database's ``cluster.evidence`` mode.

    ``language``: an L2-normalised vector of salient terms weighted by their rarity in the language.
    ``corpus``: the article's evidence (stemmed terms with counts) and each term's language prior,
    weighed by the stored corpus's document frequencies at clustering (``pipeline.fingerprint.evidence``).
    """

    def __init__(self, settings: ClusterSettings):
        self.settings = settings
        self._zipf: dict[str, dict[str, float]] = {}  # word -> Zipf frequency per language (both modes)
        # token -> (term, weight) per language: most tokens of an article were seen before, and this
        # turns the per-token work into one lookup (the vector is the hot loop of fingerprinting).
        self._tokens: dict[str, dict[str, tuple[str, float]]] = {}
        # token -> (stemmed term, document chance, or None for a token that is no evidence) per language
        self._evidence_tokens: dict[str, dict[str, tuple[str, float | None]]] = {}

    def vector(self, title: str | None, text: str, language: str | None) -> dict[str, float]:
        """Weighted terms of an article: (1 + log tf) x rarity in the language, names boosted, top N kept."""
        lang = _wordfreq_language(language)
        known = self._tokens.setdefault(lang, {})
        if len(known) > TOKEN_CACHE_SIZE:  # bounded: a firehose brings an endless vocabulary
            known.clear()
        # Every occurrence of a token counts; a capitalised token met inside a sentence (not as its first
        # word) at least once is a name and weighs ``name_boost`` times more. Occurrences are counted per
        # distinct token (two C-level regex passes and Counters), not weighed one by one.
        whole = f"{title}\n{text}" if title else text
        occurrences = Counter(tokens(whole))
        at_start = Counter(_FIRST_WORD.findall(f"\n{whole}"))
        # One look-up a token in the (large, cache-unfriendly) token cache, and a second only for new ones.
        entries = list(map(known.get, occurrences))
        if None in entries:
            self._learn(
                [token for token, entry in zip(occurrences, entries, strict=True) if entry is None], lang, known
            )
            entries = list(map(known.__getitem__, occurrences))
        name_boost = self.settings.name_boost
        counts: dict[str, int] = {}
        boost: dict[str, float] = {}
        for (token, n), (term, weight) in zip(occurrences.items(), entries, strict=True):
            if weight <= 0.0:
                continue
            counts[term] = counts.get(term, 0) + n
            if n > at_start.get(token, 0) and token[0].isupper():  # capitalised inside a sentence: a name
                weight *= name_boost
            if weight > boost.get(term, 0.0):
                boost[term] = weight
        # Heaviest first, ties by term: sorted as (-weight, term) pairs, which needs no key function.
        top = sorted([(-(1.0 + math.log(c)) * boost[t], t) for t, c in counts.items()])[: self.settings.article_terms]
        norm = math.sqrt(sum([w * w for w, _ in top])) or 1.0
        return {t: -w / norm for w, t in top}

    def evidence(self, title: str | None, text: str, language: str | None) -> tuple[dict[str, float], dict[str, float]]:
        """An article's evidence (stemmed term -> 1 + log tf, top N) and each term's document chance.

        Headline words count twice. Years, weekdays, months, words as common as "said" and
        one-character tokens are no evidence of one event. Names get no boost: how rare a name is in
        the news decides its weight. The top ``article_terms`` terms are kept, ranked by evidence
        times their language-prior idf.
        """
        lang = _wordfreq_language(language)
        known = self._evidence_tokens.setdefault(lang, {})
        if len(known) > TOKEN_CACHE_SIZE:
            known.clear()
        occurrences = Counter(tokens(f"{title}\n{text}" if title else text))
        if title:
            occurrences.update(tokens(title))
        new = [token for token in occurrences if token not in known]
        if new:
            self._learn_evidence(new, lang, known)
        counts: Counter[str] = Counter()
        chances: dict[str, float] = {}
        for token, n in occurrences.items():
            term, chance = known[token]
            if chance is None:
                continue
            counts[term] += n
            if chance > chances.get(term, -1.0):
                chances[term] = chance
        evidence = {t: 1.0 + math.log(c) for t, c in counts.items()}
        if len(evidence) > self.settings.article_terms:
            ranked = sorted(evidence.items(), key=lambda kv: (-kv[1] * idf(0.0, 0.0, chances[kv[0]]), kv[0]))
            evidence = dict(ranked[: self.settings.article_terms])
        return evidence, {t: chances[t] for t in evidence}

    def _learn(self, tokens: list[str], lang: str, known: dict[str, tuple[str, float]]) -> None:
        """Add tokens first met to the token cache, looking their terms' frequencies up in one go."""
        terms = [_term(token) for token in tokens]
        for token, term, zipf in zip(tokens, terms, self._zipfs_of(terms, lang), strict=True):
            known[token] = (term, _weight(term, zipf))

    def _learn_evidence(self, tokens: list[str], lang: str, known: dict[str, tuple[str, float | None]]) -> None:
        """Add tokens first met to the evidence token cache (stemmed, with their document chance)."""
        words = [_term(token) for token in tokens]
        stem = stemmer(lang)
        for token, word, zipf in zip(tokens, words, self._zipfs_of(words, lang), strict=True):
            known[token] = (word if word[:1].isdigit() else stem(word), _chance(word, zipf, lang))

    def _zipfs_of(self, terms: list[str], lang: str) -> list[float]:
        """Each term's Zipf frequency in the language, the words not met before looked up in one go.

        Numbers and one-letter terms are never looked up (their weight does not depend on it): 0.0.
        """
        known = self._zipf.setdefault(lang, {})
        if len(known) > TOKEN_CACHE_SIZE:
            known.clear()
        zipfs = list(map(known.get, terms))
        if None in zipfs:
            new = list({t for t, z in zip(terms, zipfs, strict=True) if z is None and _looked_up(t)})
            if new:
                known.update(zip(new, zipfs_of(new, lang), strict=True))
            zipfs = [known.get(t, 0.0) for t in terms]
        return zipfs

    def _weight(self, term: str, lang: str) -> float:
        """A term's weight in ``language`` vectors, its frequency read through this weighter's cache."""
        return _weight(term, self._zipfs_of([term], lang)[0])


def _looked_up(term: str) -> bool:
    """Whether a term's weight depends on its frequency in the language (numbers and single letters: no)."""
    return len(term) >= 2 and not term[0].isdigit()


def _weight(term: str, zipf: float) -> float:
    """A term's weight in ``language`` vectors, from its Zipf frequency: the rarer, the heavier."""
    if term[0].isdigit():
        # "2" is in every other article; "95", "1923", "52-3" or "6.1" pin an event down.
        return NUMBER_WEIGHT if len(term) >= 2 else NUMBER_WEIGHT / 3
    if len(term) < 2 or zipf >= STOP_ZIPF:
        return 0.0
    return min(MAX_WEIGHT, max(0.5, STOP_ZIPF + 0.6 - zipf))


def _chance(word: str, zipf: float, lang: str) -> float | None:
    """A word's document chance in the language, or None when it is no evidence of one event."""
    if len(word) < 2:
        return None  # "a", "2": in every other article
    if word[0].isdigit():
        # "95", "52-3" or "6.1" pin an event down; a year only dates it.
        return None if _YEAR.fullmatch(word) else 0.0
    if zipf >= STOP_ZIPF or word in _GENERIC.get(lang, ()):
        return None
    return document_chance(zipf)


_YEAR = regex.compile(r"(?:19|20)\d\d")
# Words that place an article in time or attribute it, in any story: no evidence of which event it tells.
_GENERIC = {
    "en": frozenset(
        """monday tuesday wednesday thursday friday saturday sunday january february march april may june july
        august september october november december today yesterday tomorrow tonight weekend said says told
        according reported reports""".split()
    )
}


def zipfs_of(terms: Sequence[str], lang: str) -> list[float]:
    """``zipf_of`` of each term: the plain ones looked up in one vectorised search, the rest one by one."""
    words = table(lang)
    if words is None:  # no cache folder: wordfreq itself
        from wordfreq import zipf_frequency

        return [zipf_frequency(term, lang) for term in terms]
    plain = [_plain(term, lang) for term in terms]
    freqs = iter(words.freq_many([token for token in plain if token is not None]))
    return [
        _zipf_tokenised(term, lang, words) if token is None else _zipf_from_freq(next(freqs) or 0.0)
        for term, token in zip(terms, plain, strict=True)
    ]


def _plain(term: str, lang: str) -> str | None:
    """The one plain token wordfreq looks ``term`` up as, or None when its own tokeniser must decide."""
    if term.isascii():
        return term if term.isalpha() and term.islower() else None
    return _plain_token(term, lang)


def zipf_of(term: str, lang: str) -> float:
    """wordfreq's ``zipf_frequency(term, lang)``, read from a memory-mapped copy of its word list.

    wordfreq loads a language's list as a dict in every process (0.15-0.5 s each; preparation
    workers start for every run) and tokenises its argument on every call (~50 us; a worker meets
    ~100k distinct terms in a run of a thousand pages). Here the list is a table built once per
    machine (``pipeline.fingerprint.wordtable``) and wordfreq's steps are followed with it. A term that is
    already one plain token (lower-case ASCII letters, or letters of one alphabet that case folding
    and the language's normal form leave unchanged, in a language whose preprocessing is only
    that) is looked up as it is; any other term goes through wordfreq's own tokeniser. The values
    are wordfreq's to the last digit (``test_zipf_of_matches_wordfreq``).
    """
    return zipfs_of([term], lang)[0]


def _zipf_tokenised(term: str, lang: str, words: WordTable) -> float:
    """A term that is not one plain token: wordfreq's tokeniser, then its sum over the tokens, with the table."""
    from wordfreq.numbers import digit_freq, smash_numbers
    from wordfreq.tokens import lossy_tokenize

    # wordfreq's _word_frequency with the table for its dict: 1/f = 1/f1 + 1/f2 + ... over the tokens.
    one_over = 0.0
    for token in lossy_tokenize(term, lang):
        smashed = smash_numbers(token)
        freq = words.freq(smashed)
        if freq is None:
            return _zipf_from_freq(0.0)
        if smashed != token:
            freq *= digit_freq(token)
        one_over += 1.0 / freq
    return _zipf_from_freq(1.0 / one_over if one_over else 0.0)


def _plain_token(term: str, lang: str) -> str | None:
    """What wordfreq looks ``term`` up as, when its preprocessing makes it one plain token; else None."""
    form = _plain_form(lang)
    if form is None:
        return None
    token = unicodedata.normalize(form, term).casefold()
    if _ONE_ALPHABET.fullmatch(token) is None or not unicodedata.is_normalized(form, token):
        return None
    return token


# Letters of one spaced alphabet: a run of them is one wordfreq token ("日本s" or "covidー" are two).
_ONE_ALPHABET = regex.compile(r"\p{Latin}+|\p{Greek}+|\p{Cyrillic}+", regex.V1)


@functools.cache
def _plain_form(lang: str) -> str | None:
    """The normal form wordfreq puts ``lang`` text in, if that and case folding are all its preprocessing does."""
    from wordfreq.language_info import get_language_info

    info = get_language_info(lang)
    plain = info["tokenizer"] == "regex" and not info["remove_marks"] and not info["dotless_i"]
    plain = plain and not (info["diacritics_under"] or info["transliteration"] or info["lookup_transliteration"])
    return info["normal_form"] if plain else None


@functools.lru_cache(maxsize=8192)  # wordfreq's frequencies come in a few hundred steps
def _zipf_from_freq(freq: float) -> float:
    """A word-list frequency on the Zipf scale, rounded as wordfreq rounds it (unlisted words: 0.0)."""
    unrounded = max(freq, _MIN_FREQ)
    rounded = round(unrounded, math.floor(-math.log(unrounded, 10)) + 3)  # 3 significant digits
    return round(math.log(rounded, 10) + 9, 2)


_MIN_FREQ = 1e-9  # Zipf 0: wordfreq's floor for a word it has never seen


def warm_up() -> None:
    """Import what term weighting imports on first use: wordfreq's tokeniser and language data.

    Deferred for the command line's start-up, but a preparation worker meets its first accented or
    hyphenated word within a page or two: imported there, they cost ~0.1 s of CPU in every worker of
    every run (wordfreq, langcodes, ftfy); imported by the forkserver the workers fork from, nothing.
    """
    for module in ("wordfreq.language_info", "wordfreq.numbers", "wordfreq.tokens"):
        importlib.import_module(module)


def fingerprint_article(article: Article, weighter: TermWeighter, settings: FingerprintSettings) -> Fingerprint:
    """All three fingerprints of one article."""
    return fingerprint_articles([article], weighter, settings)[0]


def fingerprint_articles(
    articles: Sequence[Article], weighter: TermWeighter, settings: FingerprintSettings
) -> list[Fingerprint]:
    """All three fingerprints of each article, signatures computed for the whole batch at once."""
    normalised = [normalise(article.text) for article in articles]
    sigs = sketcher(settings).signatures([spaced(text).encode("utf-8").split() for text in normalised])
    corpus = weighter.settings.evidence == "corpus"
    out = []
    for article, text, sig in zip(articles, normalised, sigs, strict=True):
        if corpus:
            evidence, chances = weighter.evidence(article.title, article.text, article.language)
            terms = weigh(evidence, chances, {}, 0.0)
        else:
            evidence, chances = {}, {}
            terms = weighter.vector(article.title, article.text, article.language)
        out.append(
            Fingerprint(
                content_hash=_hash_normalised(text),
                signature=tuple(sig.tolist()),
                band_keys=band_keys(sig, settings),
                terms=terms,
                evidence=evidence,
                chances=chances,
            )
        )
    return out


def cosine(a: dict[str, float], b: dict[str, float], b_norm: float | None = None) -> float:
    """Cosine similarity of two sparse vectors (``a`` assumed unit length)."""
    if len(a) > len(b):
        a, b = b, a
    product = dot(a, b)
    if b_norm is None:
        return product
    return product / b_norm if b_norm else 0.0


def top_shared_terms(a: dict[str, float], b: dict[str, float], n: int = 8) -> tuple[str, ...]:
    """The terms contributing most to the similarity of two vectors."""
    shared = [(a[t] * b[t], t) for t in a.keys() & b.keys()]
    return tuple(t for _, t in sorted(shared, reverse=True)[:n])


def tokens(text: str) -> list[str]:
    """The text's words and numbers (``_WORD``); a run of a script written without spaces gives its character bigrams.

    "東京都で火災" has no spaces to split on: as one token it would match only itself, so it becomes
    "東京", "京都", "都で", "で火", "火災" (a one-letter run stays one letter). Text without such a
    script is tokenised exactly as before, so stored vectors of other languages do not change.
    """
    found = _WORD.findall(text)
    if not has_spaceless(text):
        return found
    out: list[str] = []
    for token in found:
        if not has_spaceless(token):
            out.append(token)
            continue
        for piece in _SPACELESS_RUN.split(token):
            if has_spaceless(piece):
                out.extend([piece] if len(piece) == 1 else [piece[i : i + 2] for i in range(len(piece) - 1)])
            elif piece:
                out.extend(_WORD.findall(piece))
    return out


_SPACELESS_RUN = regex.compile(rf"((?:{SPACELESS_LETTER.pattern})+)", regex.V1)


def _term(token: str) -> str:
    term = token.casefold()
    for suffix in _POSSESSIVE:
        if term.endswith(suffix):
            term = term[: -len(suffix)]
    return term.strip("'’")


# wordfreq's languages, less zh, ja and ko: looking words up in those needs optional tokenizers
# (jieba, MeCab) that are not installed, and a missing module must not end a run on a Chinese page.
_WORDFREQ_LANGS = frozenset(
    (
        "ar bn bs bg ca hr cs da nl en fi fr de el he hi hu is id it lv lt mk ms nb fa pl pt ro ru "
        "sl sk sr es sv fil ta tr uk ur vi"
    ).split()
)


def _wordfreq_language(language: str | None) -> str:
    return language if language in _WORDFREQ_LANGS else "en"
