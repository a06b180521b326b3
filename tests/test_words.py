from __future__ import annotations

from cjk_texts import JA_QUAKE, ZH_FLOOD
from hypothesis import given
from hypothesis import strategies as st

from pipeline.words import SPACELESS_LETTER, has_spaceless, spaced, word_count


def test_each_letter_of_a_spaceless_script_is_a_word() -> None:
    assert word_count("东京都で火災") == 6
    assert word_count("深圳市周二启动应急响应。") == 11  # 。 is no word
    assert word_count("苹果公司（Apple）周二发布了 3 款新手机") == 13 + 2  # Apple and 3 are words too
    assert word_count("ภาษาไทย") + word_count("ที่") == 8  # Thai letters; a vowel sign or tone mark is no letter
    assert word_count(ZH_FLOOD) > 80 and word_count(JA_QUAKE) > 80


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",))))
def test_text_without_spaceless_scripts_counts_as_whitespace_words(text: str) -> None:
    if not has_spaceless(text):
        assert word_count(text) == len(text.split())
        assert spaced(text) == text


def test_spaced_scripts_keep_whitespace_counts() -> None:
    for text in ("Правительство в среду обсудило", "قال الناشط الحقوقي", "서울 중앙지법은 16일", "a — b"):
        assert word_count(text) == len(text.split())


def test_no_spaceless_letter_is_among_the_characters_skipped_as_surely_spaced() -> None:
    # has_spaceless skips a run of these before its Unicode-property search: every code point is checked.
    from pipeline.words import _SURELY_SPACED_RUN

    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    letters = SPACELESS_LETTER.findall(every)
    assert len(letters) > 100_000  # Han, kana and Thai: the search found them
    assert not [c for c in letters if _SURELY_SPACED_RUN.fullmatch(c)]
    assert not has_spaceless(every.translate({ord(c): None for c in letters}))
    assert all(has_spaceless(f"Tokyo’s {c}!") for c in letters[::997])
