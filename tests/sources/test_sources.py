"""pipeline.sources.files: files and folders become raw documents, and every bad input a rejection with a reason."""

from __future__ import annotations

import codecs
import errno
import gzip
import json
from datetime import date, datetime
from pathlib import Path

import pytest

import pipeline.sources.files as sources_module
from pipeline.errors import EnvironmentFailure
from pipeline.models import RawDocument, Rejection
from pipeline.sources.files import (
    JsonlLine,
    count_files,
    parse_date,
    parse_timestamp,
    parsed,
    plausible_date,
    read_file,
    read_paths,
)

ARTICLE = "Officials from Japan and Taiwan held their first security talks on Friday.\n"


def write(path: Path, data: bytes | str) -> Path:
    """Create ``path`` (and its folders) holding ``data`` (str is written as UTF-8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def jsonl(path: Path, *lines: object, compress: bool = False) -> Path:
    """A JSONL file: dicts/lists are dumped as JSON, strings and bytes are written as they are."""
    out = []
    for line in lines:
        if isinstance(line, bytes):
            out.append(line)
        elif isinstance(line, str):
            out.append(line.encode("utf-8"))
        else:
            out.append(json.dumps(line).encode("utf-8"))
    data = b"\n".join(out) + b"\n"
    return write(path, gzip.compress(data) if compress else data)


def read(*paths: Path | str, max_bytes: int = 10_000_000) -> list[RawDocument | Rejection]:
    items = list(read_paths(paths, max_bytes=max_bytes))
    # Ingest reads JSONL lines unparsed and has the workers parse them: every reading test checks both ways.
    assert [parsed(item) for item in read_paths(paths, max_bytes=max_bytes, parse=False)] == items
    return items


def only(items: list[RawDocument | Rejection]) -> RawDocument | Rejection:
    assert len(items) == 1, items
    return items[0]


def docs(items: list[RawDocument | Rejection]) -> list[RawDocument]:
    return [item for item in items if isinstance(item, RawDocument)]


def rejections(items: list[RawDocument | Rejection]) -> list[Rejection]:
    return [item for item in items if isinstance(item, Rejection)]


def assert_rejected(items: list[RawDocument | Rejection], reason: str) -> Rejection:
    item = only(items)
    assert isinstance(item, Rejection), f"expected a rejection ({reason}), got {item!r}"
    assert item.reason == reason, item
    assert item.detail.strip(), "a rejection must say what is wrong"
    return item


# --- folders -------------------------------------------------------------------------------------------------


def test_folder_is_read_recursively_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path / "b.txt", "second document text")
    write(tmp_path / "a.txt", "first document text")
    write(tmp_path / "sub" / "c.html", "<p>third document</p>")
    write(tmp_path / "sub" / "deeper" / "d.txt", "fourth document text")

    items = read(tmp_path)

    assert all(isinstance(item, RawDocument) for item in items), items
    names = [Path(item.source_uri).name for item in items]
    assert names == ["a.txt", "b.txt", "c.html", "d.txt"]
    assert [item.content for item in items][:2] == ["first document text", "second document text"]


def test_folder_order_is_stable_across_calls(tmp_path: Path) -> None:
    for name in ["z.txt", "m.txt", "a.txt", "k/b.txt", "k/a.txt"]:
        write(tmp_path / name, f"text of {name}")
    assert [i.source_uri for i in read(tmp_path)] == [i.source_uri for i in read(tmp_path)]


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "visible.txt", "visible text")
    write(tmp_path / ".hidden.txt", "hidden text")
    write(tmp_path / ".git" / "HEAD.txt", "hidden folder text")
    write(tmp_path / "sub" / ".DS_Store", b"\x00\x01binary")
    write(tmp_path / "sub" / ".cache" / "x.txt", "hidden nested text")
    write(tmp_path / "sub" / "kept.txt", "nested visible text")

    items = read(tmp_path)

    assert [Path(i.source_uri).name for i in items] == ["kept.txt", "visible.txt"]
    assert all(isinstance(i, RawDocument) for i in items)


def test_folder_inside_a_hidden_parent_is_still_read(tmp_path: Path) -> None:
    # Only the parts below the folder asked for count: a project under ~/.local is not "hidden".
    folder = tmp_path / ".local" / "news"
    write(folder / "a.txt", "some article text")
    assert [i.content for i in docs(read(folder))] == ["some article text"]


def test_empty_folder_yields_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert read(tmp_path / "empty") == []


def test_count_files_matches_the_files_read(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a text")
    write(tmp_path / "sub" / "b.html", "<p>b</p>")
    write(tmp_path / ".hidden.txt", "hidden")
    assert count_files([tmp_path]) == 2 == len(read(tmp_path))


def test_files_and_folders_can_be_mixed_in_one_call(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    write(folder / "a.txt", "folder text")
    single = write(tmp_path / "single.txt", "single text")
    contents = [i.content for i in docs(read(folder, single))]
    assert contents == ["folder text", "single text"]


def test_path_given_as_str(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", ARTICLE)
    assert only(read(str(path))).content == ARTICLE


# --- file kinds ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.txt", "text"),
        ("a.text", "text"),
        ("a.html", "html"),
        ("a.htm", "html"),
        ("UPPER.TXT", "text"),
        ("Upper.HTML", "html"),
        ("news.2021-08-19.txt", "text"),
    ],
)
def test_text_and_html_files(tmp_path: Path, name: str, kind: str) -> None:
    path = write(tmp_path / name, "<p>Grüße aus Taipei — “quoted”</p>")
    item = only(read(path))
    assert isinstance(item, RawDocument)
    assert item.kind == kind
    assert item.content == "<p>Grüße aus Taipei — “quoted”</p>"
    assert item.source_uri.startswith("file://")
    assert item.source_uri.endswith(Path(name).name)
    assert item.external_id is None


@pytest.mark.parametrize(("name", "kind"), [("a.txt.gz", "text"), ("a.html.gz", "html"), ("a.htm.gz", "html")])
def test_gzipped_text_and_html_files(tmp_path: Path, name: str, kind: str) -> None:
    path = write(tmp_path / name, gzip.compress("Grüße aus Köln, a gzipped page.".encode()))
    item = only(read(path))
    assert isinstance(item, RawDocument)
    assert (item.kind, item.content) == (kind, "Grüße aus Köln, a gzipped page.")


@pytest.mark.parametrize("name", ["a.jsonl", "a.ndjson", "a.jsonl.gz"])
def test_jsonl_files_plain_and_gzipped(tmp_path: Path, name: str) -> None:
    records = [{"id": "a", "text": "first record"}, {"id": "b", "html": "<p>second record</p>"}]
    path = jsonl(tmp_path / name, *records, compress=name.endswith(".gz"))
    items = read(path)
    assert all(isinstance(i, RawDocument) for i in items), items
    assert [(i.external_id, i.kind, i.content) for i in items] == [
        ("a", "text", "first record"),
        ("b", "html", "<p>second record</p>"),
    ]


# --- bad inputs become rejections ----------------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    rejection = assert_rejected(read(tmp_path / "nope.txt"), "missing_path")
    assert "nope.txt" in rejection.source_uri


def test_empty_file(tmp_path: Path) -> None:
    assert_rejected(read(write(tmp_path / "empty.txt", b"")), "empty")


@pytest.mark.parametrize("blank", [b"   ", b"\n\n\n", b" \t\r\n \n", b"\r\n"])
def test_whitespace_only_file_is_empty(tmp_path: Path, blank: bytes) -> None:
    assert_rejected(read(write(tmp_path / "blank.txt", blank)), "empty")


def test_empty_gzipped_file(tmp_path: Path) -> None:
    assert_rejected(read(write(tmp_path / "empty.txt.gz", gzip.compress(b""))), "empty")


@pytest.mark.parametrize(
    "data",
    [codecs.BOM_UTF8, codecs.BOM_UTF8 + b"  \n\t\n", "  \n".encode("utf-16")],
    ids=["utf8-bom-only", "utf8-bom-whitespace", "utf16-whitespace"],
)
def test_byte_order_mark_with_no_text_is_empty(tmp_path: Path, data: bytes) -> None:
    assert_rejected(read(write(tmp_path / "bom.txt", data)), "empty")


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
        b"Some text with a NUL\x00 byte in the middle",
        bytes(range(1, 32)) * 20,  # control bytes without any NUL
    ],
    ids=["png", "zip", "nul-in-text", "control-bytes"],
)
def test_binary_file(tmp_path: Path, data: bytes) -> None:
    assert_rejected(read(write(tmp_path / "image.txt", data)), "binary")


def test_binary_html_file(tmp_path: Path) -> None:
    assert_rejected(read(write(tmp_path / "page.html", b"<html>\x00\x00\x00</html>")), "binary")


@pytest.mark.parametrize(
    "data",
    [
        "Grüße, café ".encode() + b"caf\xe9 au lait",
        "Köln — café ".encode() + b"\xff\xfd broken start",
        "Grüße ".encode() + "truncated ü".encode()[:-1] + b" x",
    ],
    ids=["latin1-byte", "invalid-lead", "truncated-sequence"],
)
def test_invalid_utf8(tmp_path: Path, data: bytes) -> None:
    """UTF-8 text (its other accents are valid sequences) with broken bytes is not guessed at as a legacy encoding."""
    assert "UTF-8" in assert_rejected(read(write(tmp_path / "bad.txt", data)), "encoding").detail.upper()


UNDECODABLE = bytes(range(128, 256))  # every high byte in a row: no encoding reads it as text


def test_invalid_utf8_inside_gzip(tmp_path: Path) -> None:
    rejection = assert_rejected(read(write(tmp_path / "bad.txt.gz", gzip.compress(UNDECODABLE * 4))), "encoding")
    assert "legacy encoding" in rejection.detail


LEGACY = [
    ("cp1252", "“Déjà vu,” said the café’s owner — José Müller, 5 €."),
    ("latin-1", "Grüße aus Köln: café, naïve, ½ £."),
    ("cp1250", "Rząd w środę omówił w Warszawie źródła energii i ceny węgla."),
    ("cp1251", "Правительство в среду обсудило в Москве ёлочные базары и цены на жильё."),
    ("shift_jis", "気象庁によると、十五日未明に福島県沖を震源とする地震があり、宮城県で最大震度五強を観測した。"),
    ("gb18030", "受强降雨影响，深圳市周二启动防汛一级应急响应，全市中小学停课一天。"),
]


@pytest.mark.parametrize(("codec", "text"), LEGACY, ids=[c for c, _ in LEGACY])
@pytest.mark.parametrize("suffix", [".txt", ".html"])
def test_legacy_encoding_without_a_declaration_is_detected(tmp_path: Path, codec: str, text: str, suffix: str) -> None:
    body = f"<html><head><title>Page</title></head><body><p>{text}</p><p>{text}</p></body></html>"
    page = body if suffix == ".html" else f"{text}\n\n{text}\n"
    item = only(read(write(tmp_path / f"page{suffix}", page.encode(codec))))
    assert isinstance(item, RawDocument), item
    assert item.content == page


def test_utf8_needs_no_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import charset_normalizer

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("valid UTF-8 went to the detector")

    monkeypatch.setattr(charset_normalizer, "from_bytes", refuse)
    text = "Grüße aus Köln — 東京 and Taipei “quoted”\n"
    assert only(read(write(tmp_path / "u.txt", text.encode()))).content == text
    assert only(read(write(tmp_path / "u.html", f"<p>{text}</p>".encode()))).content == f"<p>{text}</p>"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_byte_order_mark_decodes(tmp_path: Path, codec: str) -> None:
    text = "Grüße aus Köln — 東京 and Taipei\n"
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(codec, b"")
    item = only(read(write(tmp_path / "bom.txt", bom + text.encode(codec))))
    assert isinstance(item, RawDocument), item
    assert item.content == text  # no BOM left in the text


def test_utf16_without_bom_is_not_text(tmp_path: Path) -> None:
    item = only(read(write(tmp_path / "u16.txt", "plain ascii words".encode("utf-16-le"))))
    assert isinstance(item, Rejection)
    assert item.reason in {"binary", "encoding"}


CP1252_TEXT = "Grüße, café, naïve “quotes” – 5 €"
LATIN1_TEXT = "Grüße, café, naïve, ½ £"


@pytest.mark.parametrize(
    ("meta", "codec", "body"),
    [
        ('<meta charset="windows-1252">', "cp1252", CP1252_TEXT),
        ("<meta charset=windows-1252>", "cp1252", CP1252_TEXT),
        ('<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">', "latin-1", LATIN1_TEXT),
        ("<META HTTP-EQUIV='content-type' CONTENT='text/html; charset=ISO-8859-1'>", "latin-1", LATIN1_TEXT),
        ('<meta charset="iso-8859-15">', "iso-8859-15", "Grüße, café, 5 €"),
    ],
)
def test_html_declared_charset_decodes(tmp_path: Path, meta: str, codec: str, body: str) -> None:
    page = f"<html><head>{meta}<title>Test</title></head><body><p>{body}</p></body></html>"
    item = only(read(write(tmp_path / "page.html", page.encode(codec))))
    assert isinstance(item, RawDocument), item
    assert item.kind == "html"
    assert body in item.content


def test_html_declared_charset_inside_gzip(tmp_path: Path) -> None:
    page = '<html><head><meta charset="windows-1252"></head><body><p>café “x”</p></body></html>'
    item = only(read(write(tmp_path / "page.html.gz", gzip.compress(page.encode("cp1252")))))
    assert isinstance(item, RawDocument), item
    assert "café “x”" in item.content


def test_html_unknown_charset_falls_back_to_utf8(tmp_path: Path) -> None:
    page = '<html><head><meta charset="no-such-codec"></head><body><p>Grüße</p></body></html>'
    item = only(read(write(tmp_path / "page.html", page.encode())))
    assert isinstance(item, RawDocument), item
    assert "Grüße" in item.content


def test_html_declared_utf8_with_latin1_bytes_is_rejected(tmp_path: Path) -> None:
    page = '<html><head><meta charset="utf-8"></head><body><p>Grüße</p></body></html>'
    assert_rejected(read(write(tmp_path / "page.html", page.encode("latin-1"))), "encoding")


def test_meta_charset_is_ignored_in_text_files(tmp_path: Path) -> None:
    # A .txt file is not HTML: the declaration is text (read as koi8-r, café would be Cyrillic).
    text = '<meta charset="koi8-r"> café “x”'
    assert only(read(write(tmp_path / "dump.txt", text.encode("cp1252")))).content == text


def test_too_large_file(tmp_path: Path) -> None:
    rejection = assert_rejected(read(write(tmp_path / "big.txt", "x" * 101), max_bytes=100), "too_large")
    assert "big.txt" in rejection.source_uri


def test_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    item = only(read(write(tmp_path / "limit.txt", "x" * 100), max_bytes=100))
    assert isinstance(item, RawDocument)


def test_gzip_bomb_is_too_large(tmp_path: Path) -> None:
    path = write(tmp_path / "bomb.txt.gz", gzip.compress(b"a" * 100_000))
    assert path.stat().st_size < 1_000
    assert_rejected(read(path, max_bytes=1_000), "too_large")


def test_corrupt_gzip_text_file_is_rejected(tmp_path: Path) -> None:
    assert isinstance(only(read(write(tmp_path / "bad.txt.gz", b"this is not gzip data"))), Rejection)


def test_truncated_gzip_text_file_is_rejected(tmp_path: Path) -> None:
    data = gzip.compress(ARTICLE.encode() * 50)[:-20]
    assert isinstance(only(read(write(tmp_path / "cut.txt.gz", data))), Rejection)


@pytest.mark.parametrize("name", ["doc.pdf", "data.json", "page.xml", "README", "archive.tar.gz", "notes.gz"])
def test_unsupported_type(tmp_path: Path, name: str) -> None:
    rejection = assert_rejected(read(write(tmp_path / name, "some text content")), "unsupported_type")
    assert rejection.source_uri.endswith(name)


def test_bad_inputs_do_not_stop_good_files_in_the_same_call(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write(folder / "01_good.txt", "good one")
    write(folder / "02_empty.txt", b"")
    write(folder / "03_binary.txt", b"\x00\x01\x02\x03")
    write(folder / "04_undecodable.txt", UNDECODABLE)
    write(folder / "05_big.txt", "y" * 500)
    write(folder / "06_image.png", b"\x89PNG")
    jsonl(folder / "07_records.jsonl", {"id": 1, "text": "record one"}, "{broken", {"id": 3, "text": "record three"})
    write(folder / "08_good.html", "<p>good two</p>")
    missing = tmp_path / "missing.txt"
    after = write(tmp_path / "after.txt", "good after")

    items = read(folder, missing, after, max_bytes=200)

    assert [(type(i).__name__, i.content if isinstance(i, RawDocument) else i.reason) for i in items] == [
        ("RawDocument", "good one"),
        ("Rejection", "empty"),
        ("Rejection", "binary"),
        ("Rejection", "encoding"),
        ("Rejection", "too_large"),
        ("Rejection", "unsupported_type"),
        ("RawDocument", "record one"),
        ("Rejection", "malformed_jsonl"),
        ("RawDocument", "record three"),
        ("RawDocument", "<p>good two</p>"),
        ("Rejection", "missing_path"),
        ("RawDocument", "good after"),
    ]
    assert all(r.detail for r in rejections(items))


# --- JSONL ---------------------------------------------------------------------------------------------------


def test_malformed_line_is_rejected_and_its_neighbours_parsed(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "in.jsonl",
        {"id": "1", "text": "before the bad line"},
        '{"id": "2", "text": "unterminated',
        {"id": "3", "text": "after the bad line"},
    )
    items = read(path)
    assert len(items) == 3
    first, bad, last = items
    assert isinstance(first, RawDocument) and first.content == "before the bad line"
    assert isinstance(bad, Rejection) and bad.reason == "malformed_jsonl"
    assert bad.source_uri.endswith("#line=2")
    assert isinstance(last, RawDocument) and last.content == "after the bad line"


def test_unparsed_lines_are_handed_on_as_bytes_and_parse_as_the_reader_would(tmp_path: Path) -> None:
    big = {"id": "4", "text": "x" * 300}
    path = jsonl(tmp_path / "in.jsonl", {"id": "1", "text": ARTICLE}, "", "not json", big)
    items = list(read_paths([path], max_bytes=200, parse=False))
    assert [type(item) for item in items] == [JsonlLine, JsonlLine, Rejection]  # blank skipped, too large rejected
    assert items[1].where.endswith("#line=3") and items[2].reason == "too_large"
    assert [parsed(item) for item in items] == read(path, max_bytes=200)
    assert isinstance(parsed(items[0]), RawDocument) and parsed(items[1]).reason == "malformed_jsonl"


def test_blank_lines_are_skipped_but_still_counted(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "in.jsonl", {"text": "first"}, "", "   ", "not json")
    items = read(path)
    assert [type(i) for i in items] == [RawDocument, Rejection]
    assert items[1].source_uri.endswith("#line=4")


@pytest.mark.parametrize(
    "line",
    ['[{"text": "inside an array"}]', '"just a string"', "42", "null", "true"],
    ids=["array", "string", "number", "null", "bool"],
)
def test_line_that_is_not_an_object(tmp_path: Path, line: str) -> None:
    rejection = assert_rejected(read(jsonl(tmp_path / "in.jsonl", line)), "malformed_jsonl")
    assert rejection.source_uri.endswith("#line=1")


@pytest.mark.parametrize(
    "record",
    [
        {"id": 1, "title": "No body"},
        {"id": 1, "html": "", "text": ""},
        {"id": 1, "html": "   ", "text": "\n\t"},
        {"id": 1, "html": None, "text": None},
        {"id": 1, "html": 42, "text": ["not", "a", "string"]},
    ],
    ids=["no-fields", "empty-strings", "blank-strings", "nulls", "not-strings"],
)
def test_record_without_html_or_text(tmp_path: Path, record: dict) -> None:
    assert_rejected(read(jsonl(tmp_path / "in.jsonl", record)), "malformed_jsonl")


def test_line_with_invalid_utf8(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "in.jsonl", {"text": "good"}, b'{"text": "caf\xe9"}', {"text": "good too"})
    items = read(path)
    assert [i.reason if isinstance(i, Rejection) else i.content for i in items] == ["good", "encoding", "good too"]
    assert items[1].source_uri.endswith("#line=2")


def test_line_over_max_bytes(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "in.jsonl", {"text": "short"}, {"text": "long " * 100}, {"text": "short too"})
    items = read(path, max_bytes=200)
    assert [i.reason if isinstance(i, Rejection) else i.content for i in items] == ["short", "too_large", "short too"]


def test_record_with_html_is_html(tmp_path: Path) -> None:
    doc = only(read(jsonl(tmp_path / "in.jsonl", {"id": "x", "html": "<p>Hello</p>"})))
    assert isinstance(doc, RawDocument)
    assert (doc.kind, doc.content) == ("html", "<p>Hello</p>")


def test_record_with_text_is_text(tmp_path: Path) -> None:
    doc = only(read(jsonl(tmp_path / "in.jsonl", {"id": "x", "text": "Hello world"})))
    assert isinstance(doc, RawDocument)
    assert (doc.kind, doc.content) == ("text", "Hello world")


def test_record_with_both_prefers_html(tmp_path: Path) -> None:
    doc = only(read(jsonl(tmp_path / "in.jsonl", {"html": "<p>from html</p>", "text": "from text"})))
    assert (doc.kind, doc.content) == ("html", "<p>from html</p>")


def test_record_with_blank_html_falls_back_to_text(tmp_path: Path) -> None:
    doc = only(read(jsonl(tmp_path / "in.jsonl", {"html": "  ", "text": "from text"})))
    assert (doc.kind, doc.content) == ("text", "from text")


def test_record_fields_are_carried_over(tmp_path: Path) -> None:
    record = {
        "id": "story-7",
        "url": "https://news.example.com/a/7",
        "title": "Japan and Taiwan hold talks",
        "published_at": "2021-08-19",
        "source": "Example Wire",
        "text": "Body of the story.",
        "extra": "ignored",
    }
    path = jsonl(tmp_path / "in.jsonl", record)
    doc = only(read(path))
    assert doc == RawDocument(
        source_uri=f"{path.resolve().as_uri()}#id=story-7",
        kind="text",
        content="Body of the story.",
        external_id="story-7",
        url="https://news.example.com/a/7",
        title="Japan and Taiwan hold talks",
        published_ts=datetime(2021, 8, 19),
        source="Example Wire",
    )


def test_record_string_fields_are_stripped_and_blank_means_absent(tmp_path: Path) -> None:
    record = {"text": "body", "title": "  A title  ", "url": "   ", "source": "", "published_at": " "}
    doc = only(read(jsonl(tmp_path / "in.jsonl", record)))
    assert (doc.title, doc.url, doc.source, doc.published_ts) == ("A title", None, None, None)


def test_record_non_string_fields_are_ignored(tmp_path: Path) -> None:
    record = {"text": "body", "title": 12, "url": ["x"], "source": {"name": "x"}, "published_at": 1629331200}
    doc = only(read(jsonl(tmp_path / "in.jsonl", record)))
    assert isinstance(doc, RawDocument)
    assert (doc.title, doc.url, doc.source, doc.published_ts) == (None, None, None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-08-19", datetime(2021, 8, 19)),
        ("2021-08-19T10:15:00Z", datetime(2021, 8, 19, 10, 15)),
        ("2021-08-19T10:15:00+08:00", datetime(2021, 8, 19, 2, 15)),
        ("2021-08-19T23:30-05:00", datetime(2021, 8, 20, 4, 30)),
        ("2021-08-19 10:15:00", datetime(2021, 8, 19, 10, 15)),
        ("Thu, 19 Aug 2021 10:15:00 GMT", datetime(2021, 8, 19, 10, 15)),  # RSS / mail style
        ("not a date", None),
    ],
)
def test_record_published_at_is_read_in_utc(tmp_path: Path, value: str, expected: datetime | None) -> None:
    doc = only(read(jsonl(tmp_path / "in.jsonl", {"text": "body", "published_at": value})))
    assert isinstance(doc, RawDocument)
    assert doc.published_ts == expected


@pytest.mark.parametrize(("raw_id", "expected"), [(12345, "12345"), ("12345", "12345"), (0, "0"), ("a/b c", "a/b c")])
def test_external_id_is_a_string(tmp_path: Path, raw_id: object, expected: str) -> None:
    path = jsonl(tmp_path / "in.jsonl", {"id": raw_id, "text": "body"})
    doc = only(read(path))
    assert isinstance(doc, RawDocument)
    assert doc.external_id == expected
    assert isinstance(doc.external_id, str)
    assert doc.source_uri == f"{path.resolve().as_uri()}#id={expected}"


def test_large_numeric_id_keeps_every_digit(tmp_path: Path) -> None:
    doc = only(read(jsonl(tmp_path / "in.jsonl", '{"id": 1234567890123456789012, "text": "body"}')))
    assert doc.external_id == "1234567890123456789012"


def test_record_without_id_is_named_by_line(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "in.jsonl", {"text": "one"}, {"text": "two"})
    items = read(path)
    assert [d.external_id for d in items] == [None, None]
    assert [d.source_uri for d in items] == [f"{path.resolve().as_uri()}#line={n}" for n in (1, 2)]


def test_jsonl_source_uris_are_distinct(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "in.jsonl", *({"id": n, "text": f"record {n}"} for n in range(5)))
    uris = [d.source_uri for d in read(path)]
    assert len(set(uris)) == 5
    assert all(u.endswith(f"#id={n}") for n, u in enumerate(uris))


def test_gzipped_jsonl_keeps_line_numbers_and_ids(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "in.jsonl.gz", {"id": "a", "text": "one"}, "[1, 2]", compress=True)
    first, bad = read(path)
    assert first.source_uri.endswith("in.jsonl.gz#id=a")
    assert bad.reason == "malformed_jsonl" and bad.source_uri.endswith("in.jsonl.gz#line=2")


def test_crlf_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", b'{"id": 1, "text": "one"}\r\n{"id": 2, "text": "two"}\r\n')
    assert [d.content for d in docs(read(path))] == ["one", "two"]


def test_jsonl_with_utf8_bom(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", codecs.BOM_UTF8 + b'{"id": 1, "text": "one"}\n{"id": 2, "text": "two"}\n')
    items = read(path)
    assert [i.content if isinstance(i, RawDocument) else i.reason for i in items] == ["one", "two"]


def test_corrupt_gzipped_jsonl_is_a_rejection(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl.gz", b'{"id": 1, "text": "not actually gzipped"}\n')
    after = write(tmp_path / "after.txt", "still read")
    items = read(path, after)
    assert isinstance(items[0], Rejection)
    assert isinstance(items[-1], RawDocument) and items[-1].content == "still read"


def test_truncated_gzipped_jsonl_is_a_rejection(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(b'{"id": %d, "text": "record"}\n' % n for n in range(200)))
    path = write(tmp_path / "cut.jsonl.gz", data[: len(data) // 2])
    after = write(tmp_path / "after.txt", "still read")
    items = read(path, after)
    assert any(isinstance(i, Rejection) for i in items)
    assert isinstance(items[-1], RawDocument) and items[-1].content == "still read"


def test_read_file_on_a_single_jsonl(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "in.jsonl", {"id": 1, "text": "one"})
    assert [d.external_id for d in read_file(path)] == ["1"]


# --- parse_date ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-08-19", date(2021, 8, 19)),
        ("2021-08-19T11:36:00", date(2021, 8, 19)),
        ("2021-08-19T11:36:00Z", date(2021, 8, 19)),
        ("2021-08-19T11:36:00.123456Z", date(2021, 8, 19)),
        ("2021-08-19T11:36:00+08:00", date(2021, 8, 19)),
        ("2021-08-19T23:30:00-05:00", date(2021, 8, 20)),  # the UTC date, not the calendar date as written
        ("2021-08-20T01:30:00+14:00", date(2021, 8, 19)),
        ("2021-08-19 11:36", date(2021, 8, 19)),
        ("  2021-08-19  ", date(2021, 8, 19)),
        ("2020-02-29", date(2020, 2, 29)),
        ("2021-02-30", None),
        ("2021-13-01", None),
        ("2021-08", None),
        ("Aug 19, 2021", None),
        ("19/08/2021", None),
        ("yesterday", None),
        ("", None),
        ("   ", None),
        (None, None),
        (20210819, None),
        (1629331200.0, None),
        ("Sat, 21 Nov 2026 10:00:00 GMT", date(2026, 11, 21)),
        ("Sat, 21 Nov 26 10:00:00 GMT", date(2026, 11, 21)),  # a two-digit year is this century's
        ("Mon, 01 Jan 0001 00:00:00 +0000", date(1, 1, 1)),  # Go's zero time: year 1, not 2001
        ("Mon, 01 Jan 0099 00:00:00 +0000", date(99, 1, 1)),
        ("Sat, 01 Jan 0000 00:00:00 +0000", None),
        ("Fri, 31 Dec 9999 23:59:59 +0000", date(9999, 12, 31)),
    ],
)
def test_parse_date(value: object, expected: date | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Issue 19: east of UTC the calendar date is later, yet the moment earlier.
        ("2021-08-19T23:30-05:00", datetime(2021, 8, 20, 4, 30)),
        ("2021-08-20T01:30+14:00", datetime(2021, 8, 19, 11, 30)),
        ("2021-08-19T23:30:00.5-0500", datetime(2021, 8, 20, 4, 30, 0, 500000)),  # htmldate's offset form
        ("2021-08-19T11:36:00Z", datetime(2021, 8, 19, 11, 36)),
        ("2021-08-19T11:36:00", datetime(2021, 8, 19, 11, 36)),  # no offset: taken as UTC as written
        ("2021-08-19", datetime(2021, 8, 19)),  # a bare date: midnight, UTC
        ("2021-08-19T25:00", datetime(2021, 8, 19)),  # a broken time keeps its date
        ("Thu, 19 Aug 2021 23:30:00 -0500", datetime(2021, 8, 20, 4, 30)),  # RSS pubDate
        ("Thu, 19 Aug 2021 23:30:00 EST", datetime(2021, 8, 20, 4, 30)),
        ("Fri, 20 Aug 2021 01:30:00 +1400", datetime(2021, 8, 19, 11, 30)),
        ("Thu, 19 Aug 2021 23:30:00 -0000", datetime(2021, 8, 19, 23, 30)),  # RFC 5322: zone unknown
        ("Mon, 01 Jan 0001 00:00:00 +0100", None),  # before year 1 in UTC: a placeholder, not a time
        ("9999-12-31T23:59:59-01:00", None),
        ("not a date", None),
        (None, None),
    ],
)
def test_parse_timestamp_converts_offsets_to_utc(value: object, expected: datetime | None) -> None:
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize(
    ("day", "kept"),
    [
        (date.min, False),  # Go's zero time, .NET's DateTime.MinValue
        (date(1970, 1, 1), False),  # the Unix epoch
        (date(1989, 12, 31), False),
        (date(1990, 1, 1), True),
        (date(2026, 11, 21), True),
        (date(2026, 11, 22), True),  # tomorrow: already today east of UTC
        (date(2026, 11, 23), False),
        (date.max, False),  # "never"
    ],
)
def test_plausible_date(day: date, kept: bool) -> None:
    assert plausible_date(day, today=date(2026, 11, 21)) == (day if kept else None)
    assert plausible_date(None) is None


def test_plausible_date_is_relative_to_today() -> None:
    from datetime import UTC, datetime

    today = datetime.now(UTC).date()
    assert plausible_date(today) == today and plausible_date(date(today.year + 1, 1, 1)) is None


def test_is_blank_is_not_strip() -> None:
    """The blank check that does not copy a page answers as ``not data.strip()`` does, for text and bytes."""
    import random

    from pipeline.sources.files import is_blank

    rng = random.Random(5)
    characters = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\u2028", "\u3000", "\u200b", "a"]
    for _ in range(5000):
        text = "".join(rng.choices(characters, k=rng.randint(0, 6)))
        assert is_blank(text) == (not text.strip()), repr(text)
        data = text.encode("utf-8")
        assert is_blank(data) == (not data.strip()), repr(data)


def test_an_input_this_user_may_not_read_is_rejected_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file's permissions are the input's fault: a rejection whose reason names them."""
    path = tmp_path / "locked.txt"
    path.write_text("Some article text.\n", encoding="utf-8")

    def denied(self: Path) -> bytes:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    [rejection] = list(read_paths([path]))
    assert isinstance(rejection, Rejection) and rejection.reason == "unreadable"
    assert "permissions do not let this user read it" in rejection.detail


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENOMEM])
def test_a_machine_fault_while_reading_inputs_stops_instead_of_rejecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    text, jsonl = tmp_path / "a.txt", tmp_path / "b.jsonl"
    text.write_text("Some article text.\n", encoding="utf-8")
    jsonl.write_text('{"text": "Some article text."}\n', encoding="utf-8")

    def fail(*args: object, **kwargs: object) -> bytes:
        raise OSError(code, "the machine failed")

    monkeypatch.setattr(Path, "read_bytes", fail)
    monkeypatch.setattr(sources_module, "_open_jsonl", fail)
    for path in (text, jsonl):
        with pytest.raises(EnvironmentFailure):
            list(read_paths([path]))
