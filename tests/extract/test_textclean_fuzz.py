"""Hypothesis properties of the text cleaner beyond 'never invents lines' (tests/extract/test_textclean.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.extract.textclean import clean_dump

FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# Lines a saved page is made of: prose, furniture, odd whitespace and separators, control characters.
LINE = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Zs", "Zl", "Zp"]), max_size=8),
    st.sampled_from(
        [
            " date 2021-08-19 Example News",
            " date 2024-02-30 An impossible date in the header line",
            "By Jane Doe | Reuters",
            "RELATED ARTICLES",
            "Page 2 of 3",
            "Officials from both parties met on Friday to discuss regional stability and the pressure they face.",
            "The meeting lasted more than two hours, and both sides said they would meet again next year.",
            "The meeting lasted more than two hours, and both sides said so on Friday. Copyright © 2021 Reuters.",
            "Copyright 2021 The Associated Press. All rights reserved.",
            "© 2021",
            "\u00a0\u2003\ufeff",
            "x" * 5000,
        ]
    ),
)
DUMP = st.tuples(st.lists(LINE, max_size=60), st.sampled_from(["\n", "\r\n", "\r", "\n\n"])).map(
    lambda t: t[1].join(t[0])
)


@FUZZ
@given(DUMP)
def test_paragraphs_are_single_spaced_lines_without_blanks(raw: str) -> None:
    text = clean_dump(raw).text
    assert text == text.strip()
    for paragraph in text.split("\n\n") if text else []:
        assert paragraph, "no empty paragraph"
        assert paragraph == " ".join(paragraph.split()), "one space between words, no other whitespace"


@FUZZ
@given(DUMP)
def test_never_invents_words(raw: str) -> None:
    cleaned = clean_dump(raw)
    words = set(raw.split())
    assert set(cleaned.text.split()) <= words
    assert cleaned.title is None or set(cleaned.title.split()) <= words


@FUZZ
@given(DUMP)
def test_is_deterministic_and_keeps_no_more_paragraphs_than_lines(raw: str) -> None:
    first, second = clean_dump(raw), clean_dump(raw)
    assert first == second
    lines = [line for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.split()]
    assert len(first.text.split("\n\n")) <= max(1, len(lines))


@FUZZ
@given(st.lists(LINE, min_size=1, max_size=5), st.integers(min_value=2, max_value=100))
def test_long_repetitive_dumps_are_handled(lines: list[str], times: int) -> None:
    # Pages repeat menus and captions many times; the cleaner must cope (and stay linear, not blow up).
    cleaned = clean_dump("\n".join(lines * times))
    assert set(cleaned.text.split()) <= set(" ".join(lines).split())
