"""Paywall: find the subscription, consent and site-template sentences in article text, and remove them.

A paywalled page keeps its headline and a sentence or two of lead; the rest is the site's gate
("Subscribe to continue reading. Already a subscriber? Log in.") and template (cookie banner,
newsletter box, copyright line), the same words on every page of the site. Left in, they make
unrelated teasers of one site near-duplicates of each other.

Lines are split into sentences, and a sentence is boilerplate when it *opens* with one of the
phrases below: a phrase in the middle of a sentence is the story quoting it ("the banner said
'we use cookies'"), not the banner. Gate sentences are the evidence that a page is paywalled;
consent and template sentences (and bare "Subscribe" or "Log in" links) are removed without being
taken for a paywall, so a menu with a "Subscribe" link is still just too short.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from pipeline.words import word_count

__all__ = ["Stripped", "boilerplate_kind", "strip_boilerplate"]

# Words a gate sentence may open with before its phrase ("Please log in to continue", "Or subscribe ...").
_LEAD_IN = r"(?:(?:please|or|and|then|simply|just|now|so)\W+)*"
_SUBSCRIBER = r"(?:paid |paying |digital |premium |our )*(?:subscriber|member)"
_PRICE = r"(?:[$£€]|\d+ ?(?:cents?|p)\b|per (?:week|month|year)|a (?:week|month|year)|/ ?(?:week|month|year|wk|mo))"

# (pattern, at most this many words in the sentence): the limit keeps the looser phrases from taking a
# long sentence of the story that happens to open with them.
GATE_PHRASES: tuple[tuple[str, int], ...] = (
    (r"subscribe (?:now |today )?(?:to|and) (?:continue|keep|read|unlock|get|access|see|view|enjoy)\b", 40),
    (r"subscribe (?:now |today )?for (?:full|unlimited|complete|just|only|as little)\b", 40),
    (rf"subscribe (?:now |today )?for {_PRICE}", 40),
    (r"(?:already|are you) (?:a |an )?(?:existing |current |paying |print |digital )?subscriber\b", 20),
    (r"already (?:a |an )?(?:existing |current |paying )?member\b", 8),
    (r"(?:log|sign) ?in (?:now |here |today )?to (?:continue|keep reading|read|view|access|unlock|see|get)\b", 40),
    (
        r"(?:log|sign) ?in or (?:subscribe\b|(?:register|sign up|create (?:a |an )?(?:free )?account) to "
        r"(?:continue|keep|read|view|access|unlock|see)\b)",
        40,
    ),
    (r"get (?:unlimited|full|instant|complete|all|premium)[- ](?:digital |online )?access\b", 50),
    (r"(?:unlimited|full|all)[- ]access (?:for|from|to all)\b", 40),
    (r"cancel (?:at )?any ?time\b", 15),
    (
        rf"(?:this|the) (?:full )?(?:content|article|story|page|feature|piece) is "
        rf"(?:(?:only|exclusively|available|reserved|exclusive) )*(?:for|to) {_SUBSCRIBER}s",
        30,
    ),
    (rf"(?:this|the) (?:full )?(?:content|article|story|page|feature|piece) is (?:a )?{_SUBSCRIBER}s?[- ]only", 30),
    (rf"(?:only |exclusively )?(?:available )?(?:to|for) {_SUBSCRIBER}s(?: only)?\W*$", 8),
    (rf"{_SUBSCRIBER}s?[- ]only(?: content| article| story)?\W*$", 6),
    (
        r"to (?:continue|keep) reading(?: this (?:article|story))?,? "
        r"(?:please|you (?:must|need|will need|have to)|simply|subscribe|log|sign|create|become|register|join)\b",
        40,
    ),
    (r"create (?:a |your )?free account\b", 30),
    (r"your subscription (?:supports|helps|funds|makes|keeps|gives|includes|pays)\b", 25),
    (
        rf"(?:get |buy |start |unlock |enjoy )?(?:unlimited |full |complete |all[- ])?digital (?:access|subscription)\b"
        rf".{{0,80}}(?:{_PRICE}|subscri|any device)",
        40,
    ),
    (r"(?:start|try|begin) (?:your |a )?(?:\d+[- ]day |\d+[- ]month )?free trial\b", 30),
    (r"you(?:'ve| have) (?:reached|used|read|hit) [\w ]{0,40}?\bfree (?:articles?|stor(?:y|ies)|reads)\b", 30),
    (r"you have \d+ free (?:articles|stories) (?:left|remaining)\b", 30),
    (r"this is your (?:last|final) free (?:article|story)\b", 30),
    (r"(?:become|join as) (?:a |an )?(?:subscriber|member) (?:to|today|now|and)\b", 30),
    (r"(?:unlock|read) (?:this|the full|the rest of this) (?:article|story)\b", 15),
)
TEMPLATE_PHRASES: tuple[tuple[str, int], ...] = (
    (r"we (?:and our (?:\w+ )?partners )?use cookies\b", 60),
    (r"(?:this|our) (?:site|website) uses cookies\b", 60),
    (r"(?:accept|reject|allow) (?:all|essential|necessary|optional)? ?cookies\b", 12),
    (r"(?:accept|reject) all\W*$", 3),
    (r"(?:manage|cookie|privacy) (?:preferences|settings|options)\W*$", 4),
    (r"by (?:continuing to (?:use|browse)|using|clicking)\b.{0,40}\b(?:site|website|cookies|accept)\b", 40),
    (
        r"(?:subscribe|sign up|register) (?:now |today |here )?(?:to|for) (?:our|the|my) (?:free )?(?:[\w-]+ ){0,3}"
        r"newsletters?\b",
        25,
    ),
    (r"(?:subscribe|sign up|log ?in|sign ?in|sign ?out|log ?out|my account|subscribe now|subscribe today)\W*$", 3),
    (r"all rights reserved\b", 15),
    (r"copyright (?:©|\(c\)|\d{4})", 15),
    (r"this material may not be (?:published|reproduced|copied)\b", 20),
    (r"(?:manage|update|cancel) your subscription\W*$", 5),
)

_NEWLINE = re.compile("\n")
# A sentence ends at . ! ? or … before white space, but not after an initial ("Thomas W. Malone").
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])(?<!\b[A-Z]\.)\s+")
# Once a line holds a cookie banner's sentence, its other sentences about cookies and consent are the banner's.
_CONSENT_TALK = re.compile(r"\bcookies?\b|\bconsent\b|privacy (?:policy|notice|settings)", re.I)
_OPENING_MARKS = re.compile(r"^[\s•·▪►*>»|–—-]+")  # bullets and arrows, never quotes: a quote is the story's
# Every phrase above holds one of these (lower case). Only the lines holding one are split into sentences;
# finding them costs a substring search of the text per keyword (~1.5 us a keyword on a 2 kB text), so the
# list is short: one broad keyword ("log", "sign", "access") rather than each phrase's own.
# tests/extract/test_paywall.py checks that every kind of phrase is found through them.
_KEYWORDS = (
    *("subscri", "member", "cookie", "log", "sign", "account", "access", "cancel", "reading", "unlock", "free"),
    *("article", "story", "newsletter", "reserved", "copyright", "material", "accept all", "reject all", "manage"),
    *("privacy", "continuing", "clicking", "by using"),
)


@dataclass(frozen=True)
class _Phrases:
    """One kind's phrases: all of them in one pattern (one match call a sentence), then each with its limit."""

    kind: str
    joined: re.Pattern[str]
    each: tuple[tuple[re.Pattern[str], int], ...]

    @classmethod
    def compile(cls, kind: str, phrases: tuple[tuple[str, int], ...]) -> _Phrases:
        """Compile a kind's (pattern, word limit) pairs."""
        alternation = "|".join(f"(?:{pattern})" for pattern, _ in phrases)
        each = tuple((re.compile(_LEAD_IN + pattern, re.I), limit) for pattern, limit in phrases)
        return cls(kind, re.compile(f"{_LEAD_IN}(?:{alternation})", re.I), each)

    def matches(self, sentence: str) -> bool:
        """Whether the sentence opens with one of the phrases and is no longer than that phrase allows."""
        if not self.joined.match(sentence):
            return False
        words = word_count(sentence)
        return any(words <= limit and pattern.match(sentence) for pattern, limit in self.each)


_KINDS = (_Phrases.compile("paywall", GATE_PHRASES), _Phrases.compile("template", TEMPLATE_PHRASES))


@dataclass(frozen=True)
class Stripped:
    """Text with its boilerplate sentences removed, and how many of each kind were."""

    text: str
    paywall: int
    """Subscription or paywall sentences removed: the evidence that the page is a paywalled teaser."""
    template: int
    """Consent, newsletter, copyright and bare sign-in sentences removed."""


def boilerplate_kind(sentence: str) -> str | None:
    """'paywall' or 'template' for a boilerplate sentence, None for a sentence of the story."""
    text = _OPENING_MARKS.sub("", " ".join(sentence.replace("’", "'").split()))
    return next((phrases.kind for phrases in _KINDS if phrases.matches(text)), None)


def strip_boilerplate(text: str) -> Stripped:
    """Remove boilerplate sentences line by line; lines without any are kept as they were.

    Line breaks come back as ``\\n`` (``\\r\\n`` and ``\\r`` are read as ``clean_dump`` reads them).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    numbers = _lines_with_keywords(text)
    if not numbers:
        return Stripped(text, 0, 0)
    lines = text.split("\n")
    paywall = template = 0
    for number in numbers:
        sentences = _SENTENCE_BREAK.split(lines[number].strip())
        kinds = _sentence_kinds(sentences)
        if any(kinds):
            paywall += kinds.count("paywall")
            template += kinds.count("template")
            lines[number] = " ".join(s for s, kind in zip(sentences, kinds, strict=True) if kind is None)
    return Stripped("\n".join(lines), paywall, template)


def _lines_with_keywords(text: str) -> list[int]:
    """Numbers of the lines that hold a keyword of some phrase, in order."""
    low = text.lower()  # lower() may change the length, never the line breaks
    hits = []
    for keyword in _KEYWORDS:
        at = low.find(keyword)
        while at >= 0:
            hits.append(at)
            at = low.find(keyword, at + len(keyword))
    if not hits:
        return []
    ends = [match.start() for match in _NEWLINE.finditer(low)]
    return sorted({bisect.bisect(ends, at) for at in hits})


def _sentence_kinds(sentences: list[str]) -> list[str | None]:
    """The boilerplate kind of each sentence of one line (None for the story's)."""
    kinds = [boilerplate_kind(sentence) for sentence in sentences]
    pairs = list(zip(sentences, kinds, strict=True))
    if any(kind and _CONSENT_TALK.search(sentence) for sentence, kind in pairs):  # a cookie banner
        return [kind or ("template" if _CONSENT_TALK.search(sentence) else None) for sentence, kind in pairs]
    return kinds
