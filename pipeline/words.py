"""Words in any script, including those written without spaces between words.

Chinese and Japanese (Han, Hiragana, Katakana) and Thai put no spaces between words, so splitting
on whitespace makes a whole paragraph one "word". Here each letter of those scripts counts as one
word (the usual convention for CJK length limits: a Chinese word is 1-2 characters, and a count
per character errs on the generous side), and every other script is split on whitespace as before.
Text with no character of those scripts is counted exactly as ``len(text.split())``.
"""

from __future__ import annotations

import regex

__all__ = ["SPACELESS_LETTER", "has_spaceless", "spaced", "word_count"]

SPACELESS_LETTER = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\u30fc\uff70](?<=\p{L})", regex.V1)
"""One letter of a script written without spaces between words (the long-vowel mark ー included)."""

# Punctuation and spaces of CJK text (ideographic space, 、。「」, fullwidth ！（），： ...): not words.
_SPACELESS_PUNCTUATION = r"\u3000-\u303f\u30fb\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
_SPACELESS_ANY = regex.compile(
    rf"[\p{{Han}}\p{{Hiragana}}\p{{Katakana}}\p{{Thai}}{_SPACELESS_PUNCTUATION}\u30fc\uff70]", regex.V1
)


def has_spaceless(text: str) -> bool:
    """Whether the text holds a letter of a script written without spaces (the slow paths need it)."""
    return SPACELESS_LETTER.search(text) is not None


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
