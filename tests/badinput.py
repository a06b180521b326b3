# ruff: noqa: E501  (KINDS is a table: one kind a line reads better than wrapped calls)
"""A corpus of bad input files, generated at test time (nothing large is committed).

Each ``BadKind`` writes one file into a folder and names the rejection it must end as: its
reason code and a phrase of the sentence explaining it. JSONL kinds put one bad line between good
records, which must still be stored. ``GOOD`` writes the documents that must be stored whatever
sits next to them, including inputs that look odd but are fine (UTF-16 with a byte-order mark,
CRLF line ends, a byte-order mark in the middle of concatenated JSONL, blank lines, placeholder dates).
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ARTICLE = (
    "The city council approved the new budget on Tuesday after a long debate about road repairs and school "
    "funding. Council members said the plan would raise spending on public transport by ten percent next year. "
    "Residents who attended the meeting asked for more money for parks, libraries and street lighting in the "
    "older districts. The mayor said the budget was balanced and promised a review of the tax rates in spring."
)


def good_line(name: str, n: int) -> str:
    """A valid JSONL record, unique per file and position."""
    return json.dumps({"id": f"{name}-{n}", "text": f"{ARTICLE} Record {name} {n}.", "source": "Gazette"})


def html_page(body: str, head: str = "<title>Page</title>") -> str:
    """A minimal HTML document around a body."""
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def article_html(title: str) -> str:
    """A real-looking article page."""
    paragraphs = "".join(f"<p>{ARTICLE} Paragraph {i} of {title}.</p>" for i in range(3))
    return html_page(f"<nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{paragraphs}</article>")


@dataclass(frozen=True)
class BadKind:
    """One kind of bad input: the file to write, and the rejection it must become."""

    name: str
    filename: str
    reason: str
    phrase: str  # appears in the rejection's sentence (case-insensitive)
    write: Callable[[Path], None]
    root_reads_it: bool = False  # permission bits do not stop root: skip the kind when running as root

    @property
    def jsonl(self) -> bool:
        """A JSONL kind: one bad line among good ones."""
        return self.filename.endswith(".jsonl")


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _text(data: str) -> Callable[[Path], None]:
    return _bytes(data.encode("utf-8"))


def _jsonl(bad: bytes | str) -> Callable[[Path], None]:
    """Good line, the bad line, good line."""

    def write(path: Path) -> None:
        raw = bad.encode("utf-8") if isinstance(bad, str) else bad
        path.write_bytes(
            good_line(path.stem, 1).encode() + b"\n" + raw + b"\n" + good_line(path.stem, 2).encode() + b"\n"
        )

    return write


def _png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + bytes(range(256)) * 8
    )


def _huge_page(path: Path) -> None:
    """A 100 MB HTML page, written in chunks."""
    chunk = f"<p>{ARTICLE}</p>\n".encode() * 256
    with path.open("wb") as fh:
        fh.write(b"<html><body>")
        for _ in range(100 * 1024 * 1024 // len(chunk) + 1):
            fh.write(chunk)
        fh.write(b"</body></html>")


def _nested_divs(path: Path) -> None:
    path.write_text(html_page("<div>" * 100_000 + "deep" + "</div>" * 100_000), encoding="utf-8")


def _gzip_bomb(path: Path) -> None:
    """11 MB of text in a ~11 KB gzip: over the 10 MB decompressed cap."""
    with gzip.open(path, "wb", compresslevel=9) as fh:
        for _ in range(11):
            fh.write(b"a " * (512 * 1024))


def _truncated_gz(path: Path) -> None:
    data = gzip.compress((ARTICLE * 50).encode())
    path.write_bytes(data[: len(data) // 2])


def _unreadable(path: Path) -> None:
    path.write_text(ARTICLE, encoding="utf-8")
    path.chmod(0)


def _dangling_symlink(path: Path) -> None:
    os.symlink(path.parent / "no-such-target.txt", path)


def _symlink_loop(path: Path) -> None:
    other = path.parent.parent / f"{path.parent.name}-loop-b.txt"  # outside the folder: one rejection, not two
    os.symlink(other, path)
    os.symlink(path, other)


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
    + ']>\n<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
    "<description>&lol9;</description></item></channel></rss>\n"
)

KINDS: tuple[BadKind, ...] = (
    # --- whole files: empty, binary, encodings ------------------------------------------------------------
    BadKind("empty file", "empty.txt", "empty", "empty", _bytes(b"")),
    BadKind("whitespace only", "blank.html", "empty", "whitespace", _bytes(b" \n\t\r\n   \n")),
    BadKind("PNG bytes named .html", "photo.html", "binary", "binary", _bytes(_png())),
    BadKind("PDF named .txt", "report.txt", "binary", "binary", _bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 4)),
    BadKind("zip archive named .txt", "archive.txt", "binary", "binary", _bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(600))),
    BadKind("NUL bytes inside text", "nul.txt", "binary", "NUL", _text(ARTICLE[:200] + "\x00\x00" + ARTICLE[200:])),
    BadKind("control characters", "controls.txt", "binary", "control", _text("".join(f"{w}\x01\x02\x03\x04 " for w in ARTICLE.split()))),
    # UTF-8 (its accents are valid sequences) with a broken one: not a legacy encoding, not guessed at
    BadKind("invalid UTF-8", "invalid-utf8.txt", "encoding", "UTF-8", _bytes(("Grüße aus Köln — café. " + ARTICLE[:100]).encode() + b"\xc3\x28\xa0\xa1" + ARTICLE.encode()[100:])),
    BadKind("bytes no text encoding reads", "undecodable.txt", "encoding", "legacy encoding", _bytes(bytes(range(128, 256)) * 8)),
    BadKind("UTF-16 LE without a byte-order mark", "utf16-nobom.txt", "encoding", "UTF-16", _bytes(ARTICLE.encode("utf-16-le"))),
    BadKind("UTF-16 BE without a byte-order mark", "utf16be-nobom.html", "encoding", "UTF-16", _bytes(article_html("Sixteen").encode("utf-16-be"))),
    BadKind("latin-1 page declaring UTF-8", "mislabelled.html", "encoding", "utf-8", _bytes(html_page("<p>" + "Ça coûte très cher à Zürich. " * 60 + "</p>", '<meta charset="utf-8">').encode("latin-1"))),
    BadKind("invalid bytes after a UTF-8 BOM", "bom-invalid.txt", "encoding", "byte-order mark", _bytes(b"\xef\xbb\xbf" + b"\xff\xfe\xfd" * 20 + ARTICLE.encode())),
    # --- size and structure ---------------------------------------------------------------------------------
    BadKind("100 MB page", "huge.html", "too_large", "limit", _huge_page),
    BadKind("gzip bomb (11 MB of text in 11 KB)", "bomb.txt.gz", "too_large", "decompressed", _gzip_bomb),
    BadKind("corrupt .gz", "corrupt.txt.gz", "unreadable", "cannot read", _bytes(b"\x1f\x8b\x08\x00" + bytes(range(200)))),
    BadKind("truncated .gz", "truncated.html.gz", "unreadable", "cannot read", _truncated_gz),
    BadKind("empty .gz", "empty.txt.gz", "empty", "empty", _bytes(gzip.compress(b""))),
    BadKind("100,000 nested divs", "nested.html", "no_content", "no article text", _nested_divs),
    BadKind("a single 1 MB word", "one-word.txt", "too_short", "word", _text("x" * 1_000_000)),
    # --- pages that are not articles ------------------------------------------------------------------------
    BadKind("only scripts and styles", "scripts.html", "no_content", "no article text", _text(html_page("<script>" + "var a = 1;" * 500 + "</script><style>body{color:red}</style>"))),
    BadKind("login page", "login.html", "too_short", "word", _text(html_page("<form><h1>Sign in</h1><label>Email</label><input name=email><label>Password</label><input type=password><button>Log in</button><a href=/reset>Forgot your password?</a></form>"))),
    BadKind("404 page saved as HTML", "404.html", "too_short", "word", _text(html_page("<h1>404 Not Found</h1><p>The page you requested could not be found.</p>", "<title>404 Not Found</title>"))),
    BadKind("HTML truncated before the article", "truncated.html", "too_short", "word", _text("<!DOCTYPE html><html><head><title>News</title></head><body><nav><a href='/'>Home</a> | <a href='/world'>World</a></nav><art")),
    BadKind("unclosed-tag soup", "soup.html", "too_short", "word", _text("<html><body><div><span><b><i><div><p>Menu<p>Home<li>World<li>Sport" + "<div><span>" * 200)),
    BadKind("billion-laughs feed dropped in as .html", "feed.html", "no_content", "no article text", _text(BILLION_LAUGHS)),
    BadKind("navigation-only text dump", "menu.txt", "too_short", "word", _text("Home\n\nWorld\n\nSport\n\nBusiness\n\nSign in\n\nSubscribe")),
    BadKind("paywalled teaser page", "paywalled.html", "paywalled", "paywall", _text(html_page("<article><h1>Council closes the Elm Street library</h1><p>The council voted on Tuesday to close the branch.</p><div class=paywall><p>Subscribe to continue reading.</p><p>Already a subscriber? Log in to continue.</p><p>Get unlimited access to local journalism for just $1 a week. Cancel anytime.</p></div></article><footer><p>We use cookies to personalise content. Accept all cookies.</p></footer>"))),
    BadKind("too few words", "short.txt", "too_short", "word", _text("Breaking news soon.")),
    # --- paths ------------------------------------------------------------------------------------------------
    BadKind("unsupported extension (.pdf)", "paper.pdf", "unsupported_type", ".pdf", _bytes(b"%PDF-1.4 not read")),
    BadKind("feed XML file (.xml) with entity expansion", "feed.xml", "unsupported_type", ".xml", _text(BILLION_LAUGHS)),
    BadKind("file without an extension", "README", "unsupported_type", "no suffix", _text(ARTICLE)),
    BadKind("file without read permission", "secret.txt", "unreadable", "permission", _unreadable, root_reads_it=True),
    BadKind("dangling symlink", "gone.txt", "unreadable", "symbolic link", _dangling_symlink),
    BadKind("symlink loop", "loop-a.txt", "unreadable", "symbolic link", _symlink_loop),
    # --- JSONL lines (between good records, which are stored) ----------------------------------------------------
    BadKind("JSONL: not JSON", "not-json.jsonl", "malformed_jsonl", "not valid JSON", _jsonl("hello, this is not json")),
    BadKind("JSONL: truncated line", "truncated-line.jsonl", "malformed_jsonl", "not valid JSON", _jsonl('{"id": "t", "text": "The council appro')),
    BadKind("JSONL: array instead of object", "array.jsonl", "malformed_jsonl", "JSON object", _jsonl('["id", "text"]')),
    BadKind("JSONL: null", "null.jsonl", "malformed_jsonl", "JSON object", _jsonl("null")),
    BadKind("JSONL: no text or html", "no-body.jsonl", "malformed_jsonl", "'html' or 'text'", _jsonl('{"id": "x", "title": "Only a title"}')),
    BadKind("JSONL: text is not a string", "text-list.jsonl", "malformed_jsonl", "'html' or 'text'", _jsonl('{"id": "x", "text": ["a", "b"]}')),
    BadKind("JSONL: html is a number", "html-number.jsonl", "malformed_jsonl", "'html' or 'text'", _jsonl('{"id": "x", "html": 42}')),
    BadKind("JSONL: invalid UTF-8", "bad-utf8.jsonl", "encoding", "UTF-8", _jsonl(b'{"id": "u", "text": "caf\xe9 ' + ARTICLE.encode() + b'"}')),
    BadKind("JSONL: lone surrogate escape", "surrogate.jsonl", "encoding", "surrogate", _jsonl('{"id": "s", "text": "' + ARTICLE + ' \\ud800"}')),
    BadKind("JSONL: 100,000-deep nesting", "deep.jsonl", "malformed_jsonl", "nested", _jsonl("[" * 100_000 + "]" * 100_000)),
    BadKind("JSONL: line over the size cap", "huge-line.jsonl", "too_large", "limit", _jsonl(json.dumps({"id": "h", "text": "word " * 2_200_000}))),
)  # fmt: skip


def write_bad(folder: Path) -> list[BadKind]:
    """Write every bad kind into ``folder`` (but those root could read anyway, when root); returns them."""
    kinds = [k for k in KINDS if not (k.root_reads_it and running_as_root())]
    for kind in kinds:
        kind.write(folder / kind.filename)
    return kinds


def running_as_root() -> bool:
    """Whether permission bits are ignored for this process."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def write_good(folder: Path) -> int:
    """Write documents that must be stored (including odd-but-valid ones); returns how many articles."""
    (folder / "good.txt").write_text(f"Council passes budget\n\n{ARTICLE} Text file.", encoding="utf-8")
    (folder / "good.html").write_text(article_html("Council passes budget"), encoding="utf-8")
    (folder / "good-utf16-bom.txt").write_bytes(f"Budget vote\n\n{ARTICLE} UTF-16 with BOM.".encode("utf-16"))
    (folder / "good-latin1-declared.html").write_bytes(
        html_page(
            "<article>" + f"<p>{ARTICLE} Zürich café.</p>" * 3 + "</article>", '<meta charset="iso-8859-1">'
        ).encode("latin-1")
    )
    # Legacy encodings, declared nowhere: detected (curly quotes, é and — are bytes 0x93 0xe9 0x97 in cp1252).
    (folder / "good-cp1252.html").write_bytes(
        html_page(f"<article><p>{LEGACY_TEXT} {ARTICLE}</p>" * 3 + "</article>").encode("cp1252")
    )
    (folder / "good-latin1.txt").write_bytes(f"Budget vote\n\n{ARTICLE} Café résumé à la crème, 5 £.".encode("latin-1"))
    with gzip.open(folder / "good.txt.gz", "wt", encoding="utf-8") as fh:
        fh.write(f"Council passes budget\n\n{ARTICLE} Gzipped.")
    lines = [good_line("good-feed", 1), "", "   ", good_line("good-feed", 2)]  # blank lines are skipped
    (folder / "good-feed.jsonl").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")  # CRLF line ends
    concatenated = "\ufeff" + good_line("cat", 1) + "\n" + "\ufeff" + good_line("cat", 2) + "\n"  # `cat a b`
    (folder / "concatenated.jsonl").write_text(concatenated, encoding="utf-8")
    dated = [json.dumps({**json.loads(good_line("odd-dates", n)), "published_at": day}) for n, day in ODD_DATES.items()]
    (folder / "odd-dates.jsonl").write_text("\n".join(dated) + "\n", encoding="utf-8")
    return 7 + 2 + 2 + len(ODD_DATES)


LEGACY_TEXT = "“Déjà vu,” said the café’s owner — José Müller."


ODD_DATES = {  # record number: published_at; placeholders are stored as no date, beside a real one
    1: "0001-01-01",  # Go's zero time
    2: "Mon, 01 Jan 0001 00:00:00 +0000",  # the same in an RSS pubDate
    3: "9999-12-31",  # "never"
    4: "2021-08-25",
}
