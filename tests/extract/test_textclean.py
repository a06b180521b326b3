"""pipeline.extract.textclean.clean_dump: the article and its metadata out of a plain-text page dump."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.extract.textclean import CleanText, clean_dump, strip_unsafe_characters

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

TITLE = "Japan and Taiwan hold first security talks"
P1 = (
    "Officials from the ruling parties of Japan and Taiwan held their first security dialogue on Friday, "
    "discussing regional stability and the pressure both face from Beijing."
)
P2 = (
    "The virtual meeting brought together two lawmakers from each side, who spoke for more than two hours "
    "about defence cooperation."
)
P3 = "China's foreign ministry said it firmly opposed any official exchanges with Taiwan and urged caution."


def seed(prefix: str) -> CleanText:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return clean_dump(path.read_text(encoding="utf-8"))


def paragraphs(cleaned: CleanText) -> list[str]:
    return cleaned.text.split("\n\n") if cleaned.text else []


def dump(*lines: str) -> str:
    """A dump with the lines given, paragraphs separated by blank lines as browsers save them."""
    return "\n\n".join(lines)


# --- the five seeds ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "title"),
    [
        ("000", "Japan dismisses China’s warnings and invites Taiwan to a quick security meeting."),
        ("001", "Japan and Taiwan hold talks to counter Chinese aggression"),
        ("002", "Japan and Taiwan Officials To Hold Security Talks Over Joint China Threat"),
        ("003", "Japan, Taiwan ruling parties to hold 1st-ever security talks over China threat"),
        (
            "004",
            "China warns Japan against holding security talks with Taiwan under the auspices of a political party.",
        ),
    ],
)
def test_seed_title(prefix: str, title: str) -> None:
    cleaned = seed(prefix)
    assert cleaned.title == title
    assert title not in paragraphs(cleaned), "the headline is not repeated as a body paragraph"


@pytest.mark.parametrize(
    ("prefix", "published"),
    [
        ("000", date(2021, 8, 25)),
        ("001", None),
        ("002", None),
        ("003", date(2021, 8, 19)),
        ("004", date(2021, 8, 19)),
    ],
)
def test_seed_header_date(prefix: str, published: date | None) -> None:
    assert seed(prefix).published_at == published


@pytest.mark.parametrize(
    ("prefix", "sentences"),
    [
        (
            "000",
            [
                "Despite repeated warnings from the Chinese government, a breakthrough security dialogue between "
                "ruling party officials from Japan and Taiwan will materialize this week.",
                "DPP spokesperson Hsieh Pei-fen told the press on Wednesday that Taiwanese MPs would join Friday’s "
                "bilateral security talks via video link at the party’s Taipei headquarters.",
                "“That is how critical the situation in Taiwan is to us.",
            ],
        ),
        (
            "001",
            [
                "The ruling parties in Japan and Taiwan will hold their first bilateral security talks on Friday",
                "Sato and Taku Otsuka, another Liberal Democratic Party member in charge of national defense issues, "
                "will hold online talks with colleagues of Taiwan’s ruling Democratic Progressive Party.",
                "“China firmly opposes all forms of official exchanges between Taiwan and countries with diplomatic "
                "relations.”",
            ],
        ),
        (
            "002",
            [
                "Ruling party officials from Japan and Taiwan are set to convene for bilateral talks",
                "Taiwan's participants had yet to be finalized, the report added.",
                "Like most countries in the world, Japan has no official diplomatic relations with Taiwan",
                "Wallace noted the use of party links as",
                "China, which has voiced opposition to any official and unofficial exchanges with Taiwan, is likely "
                "to lodge fresh diplomatic protests with Japan.",
            ],
        ),
        (
            "003",
            [
                "TAIPEI (Taiwan News) — Officials from the ruling parties of Japan and Taiwan are planning to hold "
                "bilateral talks for the first time",
                "The talks will be held online as soon as this month.",
                "The Taiwan participants have not yet been finalized, according to the report.",
            ],
        ),
        (
            "004",
            [
                "Following reports of a proposed party-level security dialogue between Tokyo and Taipei",
                "The war ended in 1895 with the Treaty of Shimonoseki",
                "Meanwhile, in the Taiwan Strait, People's Liberation Army airplanes have flown closer to Taiwan than "
                "at any other time in history.",
            ],
        ),
    ],
)
def test_seed_keeps_key_paragraphs(prefix: str, sentences: list[str]) -> None:
    text = seed(prefix).text
    for sentence in sentences:
        assert sentence in text


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_seed_text_is_clean_paragraphs(prefix: str) -> None:
    paras = paragraphs(seed(prefix))
    assert len(paras) >= 5
    assert all(p and p == p.strip() and "\n" not in p for p in paras)
    assert len(paras) == len(set(paras)), "no paragraph is repeated"


@pytest.mark.parametrize(
    "headline",
    [
        "Chinese media threatens war with US over Taiwan troops typo",
        "US commitment to Taiwan 'remains as strong as it's ever been': Sullivan",
        "Chinese media claims US will abandon Taiwan like Afghanistan",
        "Japan’s defense minister says Taiwan’s 'defense stability' important for global stability",
        "French warship confirmed to be anchored off west coast of Taiwan",
        "Thailand dethrones Taiwan on Popcat medal table",
        "Taiwan claws its way past Thailand to regain Popcat gold",
        "China to build airport in sea near Taiwan",
    ],
)
def test_seed_003_drops_related_and_popular_headlines(headline: str) -> None:
    assert headline not in seed("003").text


@pytest.mark.parametrize(
    "furniture",
    ["Chinese media threatens war", "French warship", "Popcat", "RELATED ARTICLES", "MOST POPULAR", "Updated :"],
)
def test_seed_003_has_no_block_furniture(furniture: str) -> None:
    assert furniture not in seed("003").text


def test_seed_003_drops_nav_tags_caption_counter_and_timestamps() -> None:
    cleaned = seed("003")
    paras = paragraphs(cleaned)
    text = cleaned.text
    assert "Directory of Taiwan" not in text
    assert "Home" not in paras and "Politics" not in paras
    assert not any(p.endswith(("Home", "Politics")) and len(p.split()) <= 3 for p in paras)
    assert "Taiwanese and Japanese flags" not in text
    assert "566" not in paras
    assert not any(re.fullmatch(r"\d+", p) for p in paras)
    for tag in ["Taiwan-Japan relations", "Taiwan-Japan ties", "Japan-Taiwan friendship", "war with China"]:
        assert tag not in paras
    assert "Taiwan-Japan relations" not in text
    assert "2021/08/19 11:36" not in text
    assert "Keoni Everington" not in text, "the byline is metadata, not text"


def test_seed_003_byline_author() -> None:
    assert seed("003").author == "Keoni Everington"


def test_seed_001_drops_photo_credit_and_source_link() -> None:
    cleaned = seed("001")
    assert "©" not in cleaned.text
    assert "Getty" not in cleaned.text
    assert "Source link" not in cleaned.text
    assert "Taiwan update" not in paragraphs(cleaned)


def test_seed_002_drops_pagination() -> None:
    paras = paragraphs(seed("002"))
    assert "1 of 2" not in paras
    assert not any(p.strip() == "1 of 2" for p in paras)


@pytest.mark.parametrize("prefix", ["000", "001", "002", "004"])
def test_seed_without_byline_has_no_author(prefix: str) -> None:
    assert seed(prefix).author is None


# --- synthetic dumps: one kind of furniture at a time --------------------------------------------------------


def assert_only_article(cleaned: CleanText, *expected: str) -> None:
    assert cleaned.title == TITLE
    assert paragraphs(cleaned) == list(expected or (P1, P2, P3))


@pytest.mark.parametrize("line", ["Page 2 of 3", "page 1 of 12", "Page 1 / 4", "2/3", "1 of 2", "3 of 3"])
def test_pagination_lines_are_dropped(line: str) -> None:
    assert_only_article(clean_dump(dump(TITLE, P1, line, P2, line, P3, line)))


@pytest.mark.parametrize(
    "line",
    [
        "2021/08/19 11:36",
        "2021-08-19",
        "19.08.2021",
        "08/19/2021",
        "Updated : 2021-08-19 13:43 GMT+08:00",
        "Updated: 2021-08-19 13:43",
        "Published August 19, 2021 11:36 AM EDT",
        "August 19, 2021",
        "Aug. 19, 2021 10:15 p.m. ET",
        "19 August 2021",
        "Posted: 19 Aug 2021",
        "Last updated: 2021-08-20T10:15:00",
    ],
)
def test_timestamp_lines_are_dropped(line: str) -> None:
    assert_only_article(clean_dump(dump(TITLE, line, P1, P2, line, P3)))


@pytest.mark.parametrize(
    ("byline", "author"),
    [
        ("By Jane Doe", "Jane Doe"),
        ("by Jane Doe", "Jane Doe"),
        ("BY JANE DOE", "JANE DOE"),
        ("Written by Jane Doe", "Jane Doe"),
        ("By Jane Doe, Staff Writer", "Jane Doe"),
        ("By Keoni Everington, Taiwan News, Staff Writer", "Keoni Everington"),
    ],
)
def test_byline_becomes_author(byline: str, author: str) -> None:
    cleaned = clean_dump(dump(TITLE, byline, P1, P2, P3))
    assert cleaned.author == author
    assert_only_article(cleaned)


def test_pipe_byline_is_dropped_from_text() -> None:
    cleaned = clean_dump(dump(TITLE, "By Jane Doe | Reuters", P1, P2, P3))
    assert_only_article(cleaned)
    assert "Reuters" not in cleaned.text


def test_pipe_byline_author_is_the_name_only() -> None:
    assert clean_dump(dump(TITLE, "By Jane Doe | Reuters", P1, P2, P3)).author == "Jane Doe"


def test_only_the_first_byline_before_the_body_is_used() -> None:
    cleaned = clean_dump(dump(TITLE, "By Jane Doe", P1, P2, P3, "By John Roe"))
    assert cleaned.author == "Jane Doe"
    assert "John Roe" not in cleaned.author


def test_lede_starting_with_by_is_not_a_byline() -> None:
    lede = "By Friday, officials from both parties had agreed on an agenda for the talks."
    cleaned = clean_dump(dump(TITLE, lede, P2, P3))
    assert paragraphs(cleaned) == [lede, P2, P3]
    assert cleaned.author is None


@pytest.mark.parametrize(
    "nav",
    [
        ["• Home", "• World", "• Asia"],
        ["· News", "· Politics", "· Sport"],
        ["1. Home", "2. Politics"],
        ["1) Home", "2) World news", "3) Opinion"],
        ["- News", "- Business", "- Markets today"],
        ["* Home", "* Video"],
        ["► Latest", "► Most read"],
        ["  • Directory of Taiwan", "  1. Home", "  2. Politics"],
    ],
)
def test_bullet_navigation_lists_are_dropped(nav: list[str]) -> None:
    cleaned = clean_dump("\n".join([*nav, TITLE, "", P1, "", P2, "", P3]))
    assert_only_article(cleaned)


def test_repeated_caption_lines_are_dropped() -> None:
    caption = "Flags of Japan and Taiwan flutter in Taipei"
    cleaned = clean_dump(dump(TITLE, caption, caption, P1, P2, P3))
    assert_only_article(cleaned)
    assert "Flags of Japan" not in cleaned.text


def test_repeated_caption_with_credit_is_dropped() -> None:
    caption = "Taiwanese and Japanese flags (Getty Images)"
    assert_only_article(clean_dump(dump(TITLE, caption, caption, P1, P2, P3)))


def test_repeated_long_paragraph_is_kept() -> None:
    quote = (
        "We will continue to work with like-minded partners across the region to keep the peace, to defend the "
        "rules that have served all of us so well for so long, and to make sure that no country can change the "
        "status quo by force or coercion, whatever it says in public."
    )
    assert len(quote.split()) >= 40
    cleaned = clean_dump(dump(TITLE, P1, quote, quote, P2))
    assert quote in cleaned.text


@pytest.mark.parametrize(
    "line",
    [
        "Photo: Getty Images",
        "Photograph: Carl Court/Getty Images",
        "Image credit: Reuters",
        "© AFP 2021",
        "Photo: AP",
        "(Getty Images)",
        "© 2020 Reuters",
        "Copyright 2021 The Associated Press. All rights reserved.",
        "Copyright © 2021 The Associated Press. All rights reserved. This material may not be published, "
        "broadcast, rewritten or redistributed.",
        "Taiwanese and Japanese flags (Reuters)",
        "The two leaders met in Taipei on Friday, an official said. ©Sebastián Vivallo Oñate/Getty",
        "The two leaders met in Taipei on Friday before the talks began, an official said (AP Photo/Chiang Ying-ying)",
    ],
)
def test_photo_credit_lines_are_dropped(line: str) -> None:
    assert_only_article(clean_dump(dump(TITLE, P1, line, P2, P3)))


RATES = (
    "The central bank raised rates by half a point on Tuesday, its third rise this year, "
    "citing stubborn inflation in services."
)


@pytest.mark.parametrize(
    "notice",
    [
        "Copyright © 2020 Reuters.",
        "© 2020 Reuters",
        "(c) 2021 The Associated Press. All rights reserved.",
        "Copyright 2021 The Associated Press. All rights reserved. This material may not be published, "
        "broadcast, rewritten or redistributed.",
        "© AFP 2021",
    ],
)
def test_trailing_copyright_notice_is_cut_from_prose(notice: str) -> None:
    assert clean_dump(f"{RATES} {notice}").text == RATES
    assert_only_article(clean_dump(dump(TITLE, P1, f"{P2} {notice}", P3)))


@pytest.mark.parametrize(
    "prose",
    [
        "Shares in the toy maker, whose logo carries a © sign on every box it sells, fell sharply after the results.",
        "The court ruled on Monday. Copyright holders welcomed the decision, which ends a decade-long dispute.",
        "The band's label said in a statement that (c) 2020 releases were unaffected by the ruling on Friday.",
    ],
    ids=["sign-inside", "copyright-word", "c-inside"],
)
def test_prose_mentioning_copyright_is_kept(prose: str) -> None:
    assert clean_dump(prose).text == prose
    assert_only_article(clean_dump(dump(TITLE, P1, prose, P2, P3)), P1, prose, P2, P3)


@pytest.mark.parametrize(
    "prose",
    [
        "A photo by an Associated Press photographer showed the two delegations shaking hands before the meeting.",
        "Under section 3(c) of the act, the ministry must publish a report on the talks within ninety days.",
    ],
    ids=["photo-by", "section-c"],
)
def test_prose_mentioning_photos_or_clauses_is_kept(prose: str) -> None:
    assert_only_article(clean_dump(dump(TITLE, P1, prose, P2, P3)), P1, prose, P2, P3)


@pytest.mark.parametrize(
    "line",
    ["Advertisement", "Source link", "Skip to content", "Share on Facebook", "3 min read", "Subscribe now", "Print"],
)
def test_standalone_furniture_lines_are_dropped(line: str) -> None:
    assert_only_article(clean_dump(dump(TITLE, line, P1, line, P2, P3, line)))


@pytest.mark.parametrize(
    "heading", ["READ MORE:", "Read more", "RELATED ARTICLES", "MOST POPULAR", "You may also like"]
)
def test_link_blocks_are_dropped(heading: str) -> None:
    block = "\n".join(
        [heading, "China warns Japan over Taiwan talks", "US commitment to Taiwan remains strong", "2021/08/18 13:06"]
    )
    cleaned = clean_dump(dump(TITLE, P1, block, P2, P3))
    assert_only_article(cleaned)
    assert "China warns Japan" not in cleaned.text


def test_link_block_at_the_end_is_dropped() -> None:
    block = "\n".join(["RELATED ARTICLES", "Headline one about Taiwan", "Headline one about Taiwan", "Second one"])
    assert_only_article(clean_dump(dump(TITLE, P1, P2, P3, block)))


def test_inline_read_more_link_is_dropped() -> None:
    cleaned = clean_dump(dump(TITLE, P1, "READ MORE: China warns Japan over Taiwan talks", P2, P3))
    assert_only_article(cleaned)


@pytest.mark.parametrize(
    "tags",
    [
        ["Taiwan-Japan relations", "Japan-Taiwan ties", "Chinese invasion", "war with China"],
        ["Tags: Taiwan, Japan, China"],
        ["Taiwan", "Japan"],
    ],
)
def test_trailing_tag_lists_are_dropped(tags: list[str]) -> None:
    assert_only_article(clean_dump(dump(TITLE, P1, P2, P3) + "\n" + "\n".join(tags)))


def test_run_of_short_lines_inside_the_body_is_dropped() -> None:
    links = "\n".join(["Taiwan", "Japan", "China", "Security"])
    assert_only_article(clean_dump(dump(TITLE, P1, links, P2, P3)))


def test_isolated_subheading_inside_the_body_is_kept() -> None:
    cleaned = clean_dump(dump(TITLE, P1, "What comes next", P2, P3))
    assert_only_article(cleaned, P1, "What comes next", P2, P3)


def test_deck_after_the_headline_is_kept() -> None:
    deck = "Security talks over military threat posed by China to take place as early as August"
    cleaned = clean_dump(dump("Home", TITLE, deck, P1, P2))
    assert cleaned.title == TITLE
    assert paragraphs(cleaned) == [deck, P1, P2]


def test_everything_at_once() -> None:
    raw = "\n".join(
        [
            " date 2021-08-19 Example News",
            "  • Home",
            "  • World",
            TITLE,
            "",
            "By Jane Doe, Staff Writer",
            "2021/08/19 11:36",
            "Flags of Japan and Taiwan (Getty Images)",
            "Flags of Japan and Taiwan (Getty Images)",
            "",
            P1,
            "",
            "Advertisement",
            "",
            P2,
            "",
            "Page 1 of 2",
            "",
            P3,
            "Taiwan-Japan relations",
            "war with China",
            "",
            "READ MORE:",
            "Another headline about Taiwan",
            "Another headline about Taiwan",
            "Source link",
        ]
    )
    cleaned = clean_dump(raw)
    assert cleaned == CleanText(
        text="\n\n".join([P1, P2, P3]),
        title=TITLE,
        published_at=date(2021, 8, 19),
        author="Jane Doe",
        sitename="Example News",
    )


# --- header line and edge cases ------------------------------------------------------------------------------


def test_header_with_a_long_rest_is_the_title() -> None:
    cleaned = clean_dump(dump(f" date 2021-08-25 {TITLE}", P1, P2))
    assert (cleaned.title, cleaned.published_at, cleaned.sitename) == (TITLE, date(2021, 8, 25), None)
    assert paragraphs(cleaned) == [P1, P2]


def test_header_with_a_short_rest_is_the_site() -> None:
    cleaned = clean_dump(dump(" date 2021-08-19 Taiwan News", TITLE, P1, P2))
    assert (cleaned.title, cleaned.published_at, cleaned.sitename) == (TITLE, date(2021, 8, 19), "Taiwan News")


def test_header_with_an_impossible_date() -> None:
    cleaned = clean_dump(dump(f"date 2021-02-30 {TITLE}", P1, P2))
    assert cleaned.published_at is None
    assert cleaned.title == TITLE
    assert "2021-02-30" not in cleaned.text


def test_header_is_only_read_from_the_first_line() -> None:
    cleaned = clean_dump(dump(TITLE, P1, "date 2021-08-19 Taiwan News", P2))
    assert cleaned.published_at is None


def test_no_header_no_date() -> None:
    cleaned = clean_dump(dump(TITLE, P1, P2))
    assert (cleaned.published_at, cleaned.author, cleaned.sitename) == (None, None, None)


def test_headline_only_dump_is_its_own_text() -> None:
    cleaned = clean_dump("Earthquake strikes off the coast of northern Japan")
    assert cleaned.title == "Earthquake strikes off the coast of northern Japan"
    assert cleaned.text == "Earthquake strikes off the coast of northern Japan"


@pytest.mark.parametrize("raw", ["", "   ", "\n\n\n", " \t\r\n\u00a0\n"])
def test_empty_dump(raw: str) -> None:
    cleaned = clean_dump(raw)
    assert cleaned.text == ""
    assert cleaned.title is None


def test_line_endings_and_spaces_are_normalised() -> None:
    nbsp_p1, spaced_p2 = P1.replace(" ", "\u00a0"), P2.replace(" ", "   ")
    raw = f"{TITLE}\r\n\r\n{nbsp_p1}\r\n\r\n  {spaced_p2}  \r{P3}\t"
    assert_only_article(clean_dump(raw))


# --- properties ----------------------------------------------------------------------------------------------


NOTICE = re.compile(r"©|\(c\)|copyright|all rights reserved", re.I)


def normalised_lines(raw: str) -> set[str]:
    return {" ".join(line.split()) for line in re.split(r"\r\n|\r|\n", raw)}


def check_invariants(raw: str) -> None:
    cleaned = clean_dump(raw)
    lines = normalised_lines(raw)
    allowed = lines | {cleaned.title}
    for paragraph in paragraphs(cleaned):
        cut = any(line.startswith(f"{paragraph} ") and NOTICE.search(line[len(paragraph) :]) for line in lines)
        assert paragraph in allowed or cut, f"{paragraph!r} is not a line of the input, nor one without its notice"
    if cleaned.title is not None:
        assert cleaned.title
        assert "\n" not in cleaned.title
        assert cleaned.title in "\n".join(normalised_lines(raw))
    assert cleaned.published_at is None or isinstance(cleaned.published_at, date)
    for field in (cleaned.author, cleaned.sitename):
        assert field is None or field in " ".join(raw.split())


FURNITURE_AND_PROSE = st.sampled_from(
    [
        "",
        " date 2021-08-19 Example News",
        " date 2021-08-19 Japan and Taiwan hold first security talks",
        "date 9999-99-99 x",
        "• Home",
        "1. Politics",
        "Page 2 of 3",
        "1 of 2",
        "566",
        "By Jane Doe | Reuters",
        "By Keoni Everington, Taiwan News, Staff Writer",
        "2021/08/19 11:36",
        "Updated : 2021-08-19 13:43 GMT+08:00",
        "Taiwanese and Japanese flags (Getty Images)",
        "© 2020 Reuters",
        f"{P2} Copyright © 2020 Reuters.",
        "READ MORE:",
        "RELATED ARTICLES",
        "Source link",
        TITLE,
        P1,
        P2,
        P3,
        "Taiwan-Japan relations",
    ]
)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_never_raises_and_never_invents_lines(raw: str) -> None:
    check_invariants(raw)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(FURNITURE_AND_PROSE, st.text(max_size=40)), max_size=40), st.sampled_from(["\n", "\r\n"]))
def test_dump_like_inputs_never_invent_lines(lines: list[str], newline: str) -> None:
    check_invariants(newline.join(lines))


def test_strip_unsafe_characters_removes_terminal_controls_and_bidi_overrides() -> None:
    hostile = "Title\x1b]0;x\x07\x1b[2J \u202eevil\u202c \u2066iso\u2069 c1\x9b\x85end\r\nline\ttab\x00"
    assert strip_unsafe_characters(hostile) == "Title]0;x[2J evil iso c1 end \nline\ttab"
    assert strip_unsafe_characters("Ünïcödé — “quotes”, émoji 🙂\n\tand arabic مرحبا") == (
        "Ünïcödé — “quotes”, émoji 🙂\n\tand arabic مرحبا"
    )
