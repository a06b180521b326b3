"""Words in any script, including those written without spaces between words.

Chinese and Japanese (Han, Hiragana, Katakana) and Thai put no spaces between words, so splitting
on whitespace makes a whole paragraph one "word". Here each letter of those scripts counts as one
word (the usual convention for CJK length limits: a Chinese word is 1-2 characters, and a count
per character errs on the generous side), and every other script is split on whitespace as before.
Text with no character of those scripts is counted exactly as ``len(text.split())``.
"""

from __future__ import annotations

import re

import regex

__all__ = ["SPACELESS_LETTER", "has_spaceless", "spaced", "word_count"]

SPACELESS_LETTER = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\u30fc\uff70](?<=\p{L})", regex.V1)
"""One letter of a script written without spaces between words (the long-vowel mark ー included)."""

# Punctuation and spaces of CJK text (ideographic space, 、。「」, fullwidth ！（），： ...): not words.
_SPACELESS_PUNCTUATION = r"\u3000-\u303f\u30fb\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
_SPACELESS_ANY = regex.compile(
    rf"[\p{{Han}}\p{{Hiragana}}\p{{Katakana}}\p{{Thai}}{_SPACELESS_PUNCTUATION}\u30fc\uff70]", regex.V1
)


# Characters far from every spaceless script (Latin, Greek, Cyrillic, Arabic, Devanagari, Hangul, general
# punctuation, emoji ...), as plain ranges: the standard library scans a run of them ~12x faster than the
# Unicode-property search above, and a text made only of them, as most are, has no spaceless letter.
# tests/test_words.py checks over every code point that no SPACELESS_LETTER is among them.
_SURELY_SPACED_RUN = re.compile(
    r"[\x00-\u0dff\u0e80-\u2e7f\u2fe0-\u2fff\ua000-\uf8ff\ufb00-\uff65\uffa0-\U00016fdf"
    r"\U00017000-\U0001afef\U0001b300-\U0001ffff\U00040000-\U0010ffff]*"
)


def has_spaceless(text: str) -> bool:
    """Whether the text holds a letter of a script written without spaces (the slow paths need it)."""
    run = _SURELY_SPACED_RUN.match(text)  # matches always, if only the empty string
    start = run.end() if run else 0
    return start < len(text) and SPACELESS_LETTER.search(text, start) is not None


def word_count(text: str) -> int:
    """How many words the text holds: one per letter of a spaceless script, plus whitespace-separated words."""
    if not has_spaceless(text):
        return len(text.split())
    letters = len(SPACELESS_LETTER.findall(text))
    return letters + len(_SPACELESS_ANY.sub(" ", text).split())


def spaced(text: str) -> str:
    """The text with a space either side of every letter of a spaceless script: its words for splitting."""
    if not has_spaceless(text):
        return text
    return SPACELESS_LETTER.sub(r" \g<0> ", text)
