"""Clean plain-text page dumps: keep the article, drop the page furniture around it.

A dump is what a browser's "save as text" or a scraper leaves: an optional header line
`` date YYYY-MM-DD <title or site>``, navigation, the headline, a byline and timestamp, caption
lines (often twice: alt text and caption), photo credits, the body, pagination ("1 of 2"),
tag lists, and blocks like "RELATED ARTICLES" or "MOST POPULAR" full of other headlines.

The cleaner works on lines: it classifies each one (prose, headline-like short line, furniture)
and keeps prose plus the short lines that sit inside the body. Metadata found on the way (header
date, byline author, site) is returned, not thrown away. A copyright notice ending a paragraph
("... in services. Copyright © 2020 Reuters.") is cut from it; the paragraph stays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pipeline.words import word_count

HEADER = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s*(.*)$")
BLOCK_HEADINGS = re.compile(
    r"^(related( articles| stories| news| content| coverage| posts)?|most (popular|read|viewed|shared)"
    r"|read (more|next|also)|more (from|on|stories|news)\b.*|you (may|might) (also )?like"
    r"|recommended( for you| stories)?|trending( now| stories)?|top stories|latest (news|stories)"
    r"|popular (now|stories)|editor'?s picks|also read|see also|sponsored( content| stories)?"
    r"|advertisement|share this( article| story)?|comments?|leave a (comment|reply))\s*:?$",
    re.I,
)
STANDALONE_FURNITURE = re.compile(
    r"^(source link|advertisement|skip to (main )?content|sign up|subscribe( now)?|share( on \w+)?"
    r"|print|email|follow us.*|click here.*|back to top|log ?in|register|menu|search|close"
    r"|listen to (this )?article.*|\d+ min(ute)? read|photo|video|image)\s*\.?$",
    re.I,
)
PAGINATION = re.compile(r"^(page\s+)?\d+\s*(of|/)\s*\d+$", re.I)
NUMBER_ONLY = re.compile(r"^[\d\s.,:/+%-]+$")
TIMESTAMP = re.compile(
    r"^(updated|published|posted|last updated|first published)?\s*:?\s*"
    r"(\d{4}[/.-]\d{1,2}[/.-]\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
    r"|\w+\.? \d{1,2},? \d{4}|\d{1,2} \w+\.? \d{4})"
    r"([ ,T]*\d{1,2}:\d{2}(:\d{2})?\s*([ap]\.?m\.?)?)?\s*([A-Z]{2,4}([+-]\d{1,2}(:\d{2})?)?)?$",
    re.I,
)
BYLINE = re.compile(r"^(by|written by|words by|story by)\s+(.+)$", re.I)
BYLINE_SEPARATOR = re.compile(r"\s*(?:[,|;•·]|\s[-–—]\s)\s*")
NOT_NAMES = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july "
    "august september october november december the then now late early noon midnight".split()
)
LINK_LINE = re.compile(
    r"^(read more|read also|also read|related|see also|more|watch|listen|recommended|click here)\s*[:>»|-]\s*\S", re.I
)
NAV_ITEM = re.compile(r"^([•·▪►*>-]|\d{1,2}[.)])\s+\S")
COPYRIGHT = re.compile(r"©|(?<!\w)\(c\)\s+(\d{4}|[A-Z])")
# A copyright notice ending a line ("Copyright © 2020 Reuters.", "© AFP 2021", "... All rights reserved."):
# it names a year or reserves rights, which a photo credit ("©Jane Doe/Getty") does not. A "©" may start
# it anywhere; "(c)" and the word "copyright" only at a sentence start, since prose uses both in passing.
COPYRIGHT_NOTICE = re.compile(
    r"(?:(?:^|(?<=[.!?…\"”’')\]])\s)\s*(?:copyright\b\s*(?:©|\(c\))?|\(c\)|(?=all rights reserved\b))|\s*©)"
    r"\s*(?:(?:[^\s©]{1,40}\s+){0,5}?(?:19|20)\d{2}\b|[^©]{0,80}?\ball rights reserved\b)[^©]{0,200}$",
    re.I,
)
NOTICE_MAX_CHARS = 400  # longer than any COPYRIGHT_NOTICE match: only a line's tail is searched
# A photo credit ending a caption: the sign and a few words of names or agencies ("©Jane Doe/Getty").
PHOTO_CREDIT_AT_END = re.compile(r"(?:©|(?<!\w)\(c\)\s+(?=\d|[A-Z]))\s*\S+(?:\s+\S+){0,7}$")
CREDIT_ANYWHERE = re.compile(r"\bphoto(graph)?s?\s*(:|by|credit)|\bimage\s*(:|credit)|\bcredit:|\bpicture:", re.I)
CREDIT_AT_END = re.compile(
    r"(\((getty|ap|afp|reuters|epa|shutterstock|istock|alamy)[^)]*\)"
    r"|/(getty|afp|reuters|ap|epa|shutterstock)( images)?\)?|\bvia getty images)\s*\.?$",
    re.I,
)
SENTENCE_END = re.compile(r"[.!?…\"”’')\]]$")
# Characters a terminal acts on instead of showing: C0 and C1 controls but newline and tab (ESC starts the
# sequences that retitle a window or clear a screen; BEL ends some), and bidi overrides and isolates
# (U+202A-U+202E, U+2066-U+2069), which reorder what follows them, so a title can read as something else.
UNSAFE_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The ones that separate lines or words (str.split splits on them) become a space, so words stay apart.
_SEPARATOR_CONTROLS = "\r\x0b\x0c\x1c\x1d\x1e\x1f\x85"
_UNSAFE_TABLE = {
    code: " " if chr(code) in _SEPARATOR_CONTROLS else None
    for code in [
        *range(0x00, 0x09),
        *range(0x0B, 0x20),
        *range(0x7F, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ]
}


@dataclass(frozen=True)
class CleanText:
    """The article found in a dump, with the metadata met on the way."""

    text: str
    title: str | None
    published_at: date | None
    author: str | None
    sitename: str | None


def clean_dump(raw: str) -> CleanText:
    """Split a plain-text page dump into title, clean body text and metadata."""
    lines = [_normalise_space(line) for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    published, header_title, sitename = None, None, None
    if lines and (match := HEADER.match(lines[0])):
        published = _iso_date(match.group(1))
        rest = match.group(2).strip()
        if _words(rest) >= 4:
            header_title = rest
        elif rest:
            sitename = rest
        lines = lines[1:]
    lines = [line for line in lines if line]
    lines = _drop_repeated(lines)
    lines, author = _drop_furniture(lines)
    lines = _drop_blocks(lines)
    title, body = _split_title(lines, header_title)
    body = _trim_edges(body)
    if not body and title and title != header_title:
        body = [title]  # a headline-only item (a news flash): its headline is its whole text
    return CleanText(
        text="\n\n".join(body),
        title=title,
        published_at=published,
        author=author,
        sitename=sitename,
    )


def strip_unsafe_characters(text: str) -> str:
    """The text without control characters (newline and tab kept) or bidi overrides and isolates."""
    return text.translate(_UNSAFE_TABLE) if UNSAFE_CHARACTERS.search(text) else text


def is_prose(line: str) -> bool:
    """A line that reads like running text: long, or a full sentence of some length."""
    words = _words(line)
    return words >= 16 or (words >= 7 and bool(SENTENCE_END.search(line)))


def _drop_repeated(lines: list[str]) -> list[str]:
    """Drop lines that repeat the line just before them, and that line too.

    In dumps a line printed twice in a row is a link, a caption over its alt text or a
    headline teaser: never the article's own prose.
    """
    doubled = {i for i in range(1, len(lines)) if lines[i] == lines[i - 1] and not is_long_paragraph(lines[i])}
    doubled |= {i - 1 for i in doubled}
    return [line for i, line in enumerate(lines) if i not in doubled]


def is_long_paragraph(line: str) -> bool:
    """Very long lines are paragraphs even when repeated (a pull quote may repeat a sentence)."""
    return _words(line) >= 40


def _drop_furniture(lines: list[str]) -> tuple[list[str], str | None]:
    """Drop single furniture lines (nav items, counters, timestamps, credits); keep the byline's author."""
    author = None
    kept = []
    body_started = False
    for line in lines:
        line = strip_copyright_notice(line)
        if not line:
            continue
        name = _byline_author(line) if author is None and not body_started else None
        if name:
            author = name
            continue
        if _is_furniture_line(line):
            continue
        kept.append(line)
        body_started = body_started or is_prose(line)
    return kept, author


def _byline_author(line: str) -> str | None:
    """The author's name when the line is a byline ("By Jane Doe | Reuters"), else None."""
    match = BYLINE.match(line)
    if not match or _words(line) > 14 or (_words(line) > 6 and line.endswith(".")):
        return None
    name = BYLINE_SEPARATOR.split(match.group(2), maxsplit=1)[0].strip()
    words = name.split()
    if not 1 <= len(words) <= 5 or words[0].casefold() in NOT_NAMES:
        return None
    if not all(w[0].isupper() or w.casefold() in ("and", "de", "van", "von", "da", "del", "le") for w in words):
        return None
    return name


def strip_copyright_notice(line: str) -> str:
    """A prose line without the copyright notice ending it; a line that is only a notice becomes ''."""
    if not is_prose(line) or not (match := COPYRIGHT_NOTICE.search(line, max(0, len(line) - NOTICE_MAX_CHARS))):
        return line  # short lines with a notice are credit lines as a whole: is_photo_credit drops them
    return line[: match.start()].rstrip()


def is_photo_credit(line: str) -> bool:
    """A credit line, or a caption ending in a photo credit ("...in Taipei. ©Jane Doe/Getty").

    A short line is one when it holds a copyright sign or credit words anywhere ("Photo: AP",
    "© 2020 Reuters"); prose only when it ends in a credit, so text that mentions one keeps its words.
    """
    if CREDIT_AT_END.search(line):
        return True
    if is_prose(line):
        return bool(PHOTO_CREDIT_AT_END.search(line))
    return bool(COPYRIGHT.search(line) or CREDIT_ANYWHERE.search(line))


def _is_furniture_line(line: str) -> bool:
    if is_photo_credit(line):
        return True
    if LINK_LINE.match(line) and _words(line) <= 25:
        return True
    if is_prose(line):
        return False
    return bool(
        PAGINATION.match(line)
        or NUMBER_ONLY.match(line)
        or TIMESTAMP.match(line)
        or STANDALONE_FURNITURE.match(line)
        or (NAV_ITEM.match(line) and _words(line) <= 6)
    )


def _drop_blocks(lines: list[str]) -> list[str]:
    """Drop 'RELATED ARTICLES'-style blocks: the heading and the short lines under it."""
    kept: list[str] = []
    in_block = False
    for line in lines:
        if BLOCK_HEADINGS.match(line):
            in_block = True
            continue
        if in_block and not is_prose(line):
            continue
        in_block = False
        kept.append(line)
    return kept


def _split_title(lines: list[str], header_title: str | None) -> tuple[str | None, list[str]]:
    """Take the headline: the header's title, else the last short line before the body starts.

    Short lines before the first paragraph are navigation, kickers and decks; the headline is
    the first of them that reads like one (several words, no trailing colon).
    """
    first_prose = next((i for i, line in enumerate(lines) if is_prose(line)), len(lines))
    lead = lines[:first_prose]
    title = header_title
    title_index = None
    if title is None:
        for i, line in enumerate(lead):
            if 3 <= _words(line) <= 30 and not line.endswith(":"):
                title, title_index = line, i
                break
    elif header_title in lead:
        title_index = lead.index(header_title)
    # Keep a deck (a sentence-like line right after the headline); drop other lead furniture.
    kept_lead = [
        line for i, line in enumerate(lead) if i != title_index and _words(line) >= 8 and i > (title_index or -1)
    ]
    return (title.strip() if title else None), kept_lead + lines[first_prose:]


def _trim_edges(body: list[str]) -> list[str]:
    """Drop runs of short non-sentence lines (tag lists, link lists) and trailing furniture.

    Short lines inside the body are kept when they are isolated (a subheading); a run of three
    or more short lines, or short lines after the last paragraph, is a list of links or tags.
    """
    keep = [True] * len(body)
    i = 0
    while i < len(body):
        if _is_short(body[i]):
            j = i
            while j < len(body) and _is_short(body[j]):
                j += 1
            if j - i >= 3 or j == len(body):
                for k in range(i, j):
                    keep[k] = False
            i = j
        else:
            i += 1
    return [line for line, k in zip(body, keep, strict=True) if k]


def _is_short(line: str) -> bool:
    return not is_prose(line) and _words(line) <= 8 and not SENTENCE_END.search(line)


def _words(text: str) -> int:
    return word_count(text)


def _normalise_space(line: str) -> str:
    return " ".join(line.replace("\u00a0", " ").split())


def _iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
