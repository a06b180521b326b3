"""Hypothesis fuzzing of the JSONL reader: arbitrary bytes never raise, one result per non-blank line."""

from __future__ import annotations

import codecs
import gzip
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.models import RawDocument, Rejection
from pipeline.sources.files import parse_jsonl_line, read_jsonl

CAP = 400  # a small size cap so the too-large path is exercised
FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
REASONS = {"malformed_jsonl", "encoding", "too_large", "unreadable"}

SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
RECORD = st.dictionaries(
    st.sampled_from(["id", "url", "html", "text", "title", "published_at", "source", "extra"]),
    st.one_of(SCALAR, st.lists(SCALAR, max_size=3), st.sampled_from(["2021-08-19", "Thu, 19 Aug 2021 10:00:00 GMT"])),
    max_size=7,
)
LINE = st.one_of(
    st.binary(max_size=CAP + 60),
    RECORD.map(lambda r: json.dumps(r).encode()),
    RECORD.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8")),
    st.sampled_from(
        [b"", b"   ", b"\t\r", codecs.BOM_UTF8, codecs.BOM_UTF8 + b'{"id": 1, "text": "a b c"}', b"[" * 5000]
    ),
).map(lambda line: line.replace(b"\n", b" "))


def expected_results(lines: list[bytes]) -> int:
    """Lines that must yield exactly one document or rejection: non-blank, or too long to look at."""
    return sum(1 for line in lines if len(line) > CAP or line.removeprefix(codecs.BOM_UTF8).strip())


def check(items: list[RawDocument | Rejection]) -> None:
    for item in items:
        if isinstance(item, Rejection):
            assert item.reason in REASONS and len(item.detail.split()) >= 3
        else:
            assert item.content.strip()
            item.content.encode("utf-8")  # storable: no lone surrogates
            assert item.kind in ("text", "html")


@FUZZ
@given(st.lists(LINE, max_size=30), st.booleans())
def test_every_nonblank_line_is_one_document_or_one_rejection(tmp_path_factory, lines, final_newline) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "feed.jsonl"
    path.write_bytes(b"\n".join(lines) + (b"\n" if final_newline else b""))
    items = list(read_jsonl(path, max_bytes=CAP))
    assert len(items) == expected_results(lines)
    check(items)


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_gzip_bytes_never_raise(tmp_path_factory, data: bytes) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "feed.jsonl.gz"
    path.write_bytes(data)
    check(list(read_jsonl(path, max_bytes=CAP)))


@FUZZ
@given(st.lists(LINE, max_size=20), st.integers(min_value=0, max_value=200))
def test_a_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path_factory, lines, cut) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "feed.jsonl.gz"
    data = gzip.compress(b"\n".join(lines) + b"\n")
    path.write_bytes(data[: max(0, len(data) - cut)])
    items = list(read_jsonl(path, max_bytes=CAP))
    check(items)
    assert len(items) <= expected_results(lines) + 1  # at most one 'unreadable' for the damaged tail


@FUZZ
@given(RECORD)
def test_records_become_a_document_exactly_when_they_have_a_body(record: dict) -> None:
    item = parse_jsonl_line(json.dumps(record).encode(), "file:///f.jsonl#line=1", CAP)
    body = record.get("html") if isinstance(record.get("html"), str) and record["html"].strip() else record.get("text")
    has_body = isinstance(body, str) and bool(body.strip())
    if len(json.dumps(record)) > CAP:
        assert isinstance(item, Rejection) and item.reason == "too_large"
    elif not has_body:
        assert isinstance(item, Rejection) and item.reason == "malformed_jsonl"
    else:
        assert isinstance(item, RawDocument) and item.content == body
