"""Sources: turn paths (files, folders, JSONL) into raw documents, or rejections with a reason.

Everything here streams: folders are walked lazily and JSONL is read line by line, so a multi-GB
input never sits in memory. Decoding is strict: bytes that are not text are a rejection. Bytes that
are not UTF-8 and declare no charset are read in the legacy encoding a detector finds (windows-1252
and its kin), and rejected when none fits.
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, overload

import orjson

from pipeline.errors import EnvironmentFailure, is_environment_error
from pipeline.models import RawDocument, Rejection

TEXT_SUFFIXES = {".txt": "text", ".text": "text", ".html": "html", ".htm": "html"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))

Item = RawDocument | Rejection


@dataclass(frozen=True)
class JsonlLine:
    """One JSONL record read but not parsed yet: ``parse()`` is ``parse_jsonl_line`` on it.

    A page record is ~150 kB of JSON. Parsed where it was read, its decoding (0.3 ms) and the pickling
    of its text to a preparation worker (0.2 ms) fell on the one reading process, which also clusters
    and writes every batch; parsed by the worker that prepares it, the reader only hands on bytes.
    """

    line: bytes
    where: str
    max_bytes: int = 10_000_000

    def parse(self) -> Item:
        """The raw document of this record, or the rejection saying what is wrong with it."""
        return parse_jsonl_line(self.line, self.where, self.max_bytes)


def parsed(item: Item | JsonlLine) -> Item:
    """A raw document or rejection, parsing the item first if it is a JSONL line read with ``parse=False``."""
    return item.parse() if isinstance(item, JsonlLine) else item


@overload
def read_paths(paths: Iterable[str | Path], max_bytes: int = ..., parse: Literal[True] = ...) -> Iterator[Item]: ...
@overload
def read_paths(paths: Iterable[str | Path], max_bytes: int = ..., parse: bool = ...) -> Iterator[Item | JsonlLine]: ...
def read_paths(
    paths: Iterable[str | Path], max_bytes: int = 10_000_000, parse: bool = True
) -> Iterator[Item | JsonlLine]:
    """Yield a raw document or a rejection for every file under the given files and folders.

    With ``parse=False``, each JSONL line within the size limit comes as a ``JsonlLine`` for the consumer
    to parse (``parsed``); what the reader itself rejects (missing files, over-long lines) is a rejection.
    """
    for path in map(Path, paths):
        if not path.exists():
            yield Rejection(_uri(path), "missing_path", f"no such file or folder: {path}")
        elif path.is_dir():
            for child in _walk(path):
                yield from read_file(child, max_bytes, parse)
        else:
            yield from read_file(path, max_bytes, parse)


def count_files(paths: Iterable[str | Path]) -> int:
    """How many input files the paths hold (for progress reporting)."""
    total = 0
    for path in map(Path, paths):
        total += sum(1 for _ in _walk(path)) if path.is_dir() else 1
    return total


def read_file(path: Path, max_bytes: int = 10_000_000, parse: bool = True) -> Iterator[Item | JsonlLine]:
    """Yield the document(s) of one file: one for text and HTML, one per line for JSONL (see ``read_paths``)."""
    suffix, compressed = _suffix(path)
    uri = _uri(path)
    if suffix in JSONL_SUFFIXES:
        yield from read_jsonl(path, max_bytes, parse)
        return
    kind = TEXT_SUFFIXES.get(suffix)
    if kind is None:
        yield Rejection(uri, "unsupported_type", f"no reader for files ending in {suffix or '(no suffix)'!r}")
        return
    data = _read_bytes(path, compressed, max_bytes)
    if isinstance(data, str):
        yield Rejection(uri, *data.split(":", 1))
        return
    text = decode(data, html=kind == "html")
    if isinstance(text, Rejection):
        yield Rejection(uri, text.reason, text.detail)
        return
    yield RawDocument(source_uri=uri, kind=kind, content=text)


READ_BUFFER = 1 << 20
"""Bytes read at a time from a JSONL file."""


def read_jsonl(path: Path, max_bytes: int = 10_000_000, parse: bool = True) -> Iterator[Item | JsonlLine]:
    """Yield one raw document per JSONL line, or a rejection naming the line and what is wrong.

    Lines are read with a bounded ``readline``, so one enormous line is skipped in chunks rather
    than held in memory. A byte-order mark opening any line is dropped (concatenated files).
    With ``parse=False`` a line within the size limit comes as a ``JsonlLine``, parsed by the consumer.
    """
    uri = _uri(path)
    _, compressed = _suffix(path)
    try:
        # A page record is ~150 kB: readline through the default 8 kB buffer refills it ~20 times a
        # line (0.2 ms a record on the one reading process); a 1 MB buffer reads a record in one go.
        fh = _open_jsonl(path, compressed)
    except OSError as exc:
        yield Rejection(uri, "unreadable", f"cannot open: {_why_unreadable(exc, path)}")
        return
    number = 0
    with fh:
        try:
            while line := fh.readline(max_bytes + 1):
                number += 1
                where = f"{uri}#line={number}"
                if len(line) > max_bytes and not line.endswith(b"\n"):
                    size = len(line) + _skip_rest_of_line(fh)
                    yield Rejection(where, "too_large", f"line is over {size:,} bytes, the limit is {max_bytes:,}")
                    continue
                line = line.removeprefix(codecs.BOM_UTF8)
                if not is_blank(line):
                    yield parse_jsonl_line(line, where, max_bytes) if parse else JsonlLine(line, where, max_bytes)
        except (OSError, EOFError, zlib.error) as exc:  # corrupt or truncated .gz: keep what was read
            why = _why_unreadable(exc, path) if isinstance(exc, OSError) else exc
            yield Rejection(f"{uri}#line={number + 1}", "unreadable", f"cannot read past line {number}: {why}")


def _open_jsonl(path: Path, compressed: bool) -> BinaryIO:
    """The file for reading (the caller closes it)."""
    if compressed:
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile reads as a binary file
    return open(path, "rb", buffering=READ_BUFFER)


def _skip_rest_of_line(fh: BinaryIO, chunk: int = 1 << 20) -> int:
    """Read past the end of the current line; returns how many bytes were skipped."""
    skipped = 0
    while part := fh.readline(chunk):
        skipped += len(part)
        if part.endswith(b"\n"):
            break
    return skipped


def _parse_json(line: bytes) -> tuple[Any, bool]:
    """Parse one JSON text: orjson (a 100 kB page record ~4x faster, on the one reading process), else json.

    orjson refuses what json refuses and more (invalid UTF-8, lone surrogates, NaN, deep nesting); json
    then either accepts the line or raises the error that names what is wrong. Returns the value and
    whether its strings may hold lone surrogates (only json lets a ``\\ud800`` escape through).
    """
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line.decode("utf-8")), True
    if isinstance(record, dict) and isinstance(record.get("id"), float):
        return json.loads(line), True  # orjson reads integers past 64 bits as floats: keep every digit of an id
    return record, False


def is_blank(data: str | bytes) -> bool:
    """Empty or only white space: ``not data.strip()``, without copying a whole page to tell.

    ``isspace`` knows the same white space as ``strip`` and stops at the first other character.
    """
    return not data or data.isspace()


def _has_text(value: object) -> bool:
    """A string with something besides white space."""
    return isinstance(value, str) and not is_blank(value)


def parse_jsonl_line(line: bytes, where: str, max_bytes: int = 10_000_000) -> Item:
    """Parse one JSONL record (``id``, ``url``, ``html`` or ``text``, ``title``, ``published_at``, ``source``)."""
    if len(line) > max_bytes:
        return Rejection(where, "too_large", f"record is {len(line):,} bytes, the limit is {max_bytes:,}")
    try:
        record, unchecked = _parse_json(line)
    except UnicodeDecodeError as exc:
        return Rejection(where, "encoding", f"line is not valid UTF-8 (byte {exc.start})")
    except json.JSONDecodeError as exc:
        return Rejection(where, "malformed_jsonl", f"not valid JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:
        return Rejection(where, "malformed_jsonl", "the JSON is nested too deeply to be a news record")
    if not isinstance(record, dict):
        return Rejection(where, "malformed_jsonl", f"expected a JSON object, got {type(record).__name__}")
    html, text = record.get("html"), record.get("text")
    body = html if _has_text(html) else text
    if not _has_text(body):
        return Rejection(where, "malformed_jsonl", "record has no non-empty 'html' or 'text' field")
    if unchecked and (bad := _unencodable_field(record)):
        return Rejection(where, "encoding", f"field {bad!r} holds an unpaired surrogate escape, not a character")
    external_id = record.get("id")
    external_id = None if external_id is None else str(external_id)
    base = where.split("#", 1)[0]
    uri = f"{base}#id={external_id}" if external_id is not None else where
    published = parse_timestamp(record.get("published_at"))  # optional metadata: unparseable means undated
    return RawDocument(
        source_uri=uri,
        kind="html" if body is html else "text",
        content=body,
        external_id=external_id,
        url=_str_or_none(record.get("url")),
        title=_str_or_none(record.get("title")),
        published_ts=published,
        source=_str_or_none(record.get("source")),
    )


def _unencodable_field(record: dict[str, Any]) -> str | None:
    """The first string field JSON decoded into text UTF-8 cannot hold (a lone ``\\ud800`` escape)."""
    for key in ("html", "text", "id", "url", "title", "source"):
        value = record.get(key)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return key
    return None


def decode(data: bytes, html: bool = False) -> str | Rejection:
    """Decode bytes to text strictly: BOM, then a declared HTML charset, then UTF-8; else a rejection."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                return Rejection("", "encoding", f"invalid {codec} after its byte-order mark (byte {exc.start})")
            return Rejection("", "empty", "the document holds only whitespace") if is_blank(text) else text
    if is_blank(data):
        detail = "the document is empty (0 bytes)" if not data else "the document holds only whitespace"
        return Rejection("", "empty", detail)
    if utf16 := _utf16_without_bom(data):
        return Rejection(
            "", "encoding", f"looks like {utf16} text without a byte-order mark; save it as UTF-8 or with a BOM"
        )
    if looks_binary(data):
        return Rejection("", "binary", "the file holds binary data (NUL or control bytes), not text")
    codec, declared = "utf-8", False
    if html and (match := _META_CHARSET.search(data[:4096])):
        try:
            codec, declared = codecs.lookup(match.group(1).decode("ascii", "replace").lower()).name, True
        except LookupError:
            codec = "utf-8"
    try:
        return data.decode(codec)  # the fast path: UTF-8 (or the declared charset) needs no detection
    except UnicodeDecodeError as exc:
        text = data.decode(codec, errors="replace")
        if not declared and not _mostly_utf8(text):
            # More bad sequences than good non-ASCII characters: a legacy encoding, not UTF-8 with stray bytes.
            legacy = decode_legacy(data)
            if legacy is not None:
                return legacy
            return Rejection(
                "", "encoding", f"not valid {codec} text (bad byte at offset {exc.start}) nor any legacy encoding"
            )
        # Browsers show a page with a few stray bytes; so do we, when they are rare enough to be noise.
        if html and text.count("\ufffd") <= max(1, len(data) // 2000):
            return text
        return Rejection("", "encoding", f"not valid {codec} text (bad byte at offset {exc.start})")


def _mostly_utf8(text: str) -> bool:
    """Whether text decoded from UTF-8 with replacement holds more good non-ASCII characters than bad bytes."""
    bad = text.count("\ufffd")
    return len(text) - len(text.encode("ascii", "ignore")) - bad > bad


# Legacy encodings of news pages and dumps, tried by the detector: the Windows code pages (cp1252 also
# reads ISO-8859-1, as browsers read it), KOI8-R and the East Asian multi-byte ones. The detector
# cannot tell the Latin code pages apart on short text; ``decode_legacy`` breaks the tie.
LEGACY_ENCODINGS = (
    "cp1252", "cp1250", "cp1251", "koi8_r", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp874",
    "shift_jis", "euc_jp", "gb18030", "big5", "euc_kr",
)  # fmt: skip
_CHAOS_MARGIN = 0.05  # readings this close to the detector's best are equally good ones
_ODD_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Sk", "No"})  # ˝ ˇ ¹ ³: what a wrong code page shows


def decode_legacy(data: bytes) -> str | None:
    """The text of bytes in a legacy encoding (charset_normalizer's detection), or None when none fits.

    The detector tells scripts apart well but not the Latin code pages (it reads French windows-1252 as
    Baltic cp1257: "Déją vu"). Among the readings about as clean as its best, and windows-1252's when
    the best is a Latin code page, the one with the fewest odd characters (controls, modifier accents,
    superscript digits) wins, then windows-1252, as browsers default to it, then the detector's order:
    a Polish cp1250 text read as cp1252 shows "Rz¹d", so it stays cp1250. Hungarian or Lithuanian text,
    whose letters are letters in windows-1252 too, is read as windows-1252 unless it declares a charset.
    """
    from charset_normalizer import from_bytes  # deferred: only legacy bytes need it (imports in ~0.1 s)

    matches = list(from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS)))
    if not matches:
        return None
    best_chaos = min(m.chaos for m in matches)
    readings = [
        (_odd_characters(text), "cp1252" not in m.could_be_from_charset, rank, text)
        for rank, m in enumerate(matches)
        if m.chaos <= best_chaos + _CHAOS_MARGIN and (text := str(m))
    ]
    if matches[0].encoding in _LATIN_CODE_PAGES and all(reading[1] for reading in readings):
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            pass  # bytes windows-1252 leaves undefined (0x81, 0x8d, ...): not it
        else:
            readings.append((_odd_characters(text), False, len(readings), text))
    return min(readings)[3] if readings else None


_LATIN_CODE_PAGES = frozenset({"cp1250", "cp1252", "cp1254", "cp1257"})


def _odd_characters(text: str) -> int:
    return sum(1 for ch in text if ch > "\x7f" and unicodedata.category(ch) in _ODD_CATEGORIES)


def looks_binary(data: bytes) -> bool:
    """True for data with NUL bytes or mostly control characters in its first 8 KB."""
    head = data[:8192]
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls > len(head) * 0.05


def _utf16_without_bom(data: bytes) -> str | None:
    """'UTF-16 LE'/'UTF-16 BE' when NULs sit at every other byte, as in UTF-16 Latin text; else None."""
    head = data[:2048]
    if len(head) < 16:
        return None
    odd, even = head[1::2], head[0::2]
    if odd.count(0) > len(odd) * 0.7 and even.count(0) < len(even) * 0.1:
        return "UTF-16 LE"
    if even.count(0) > len(even) * 0.7 and odd.count(0) < len(odd) * 0.1:
        return "UTF-16 BE"
    return None


def parse_timestamp(value: object) -> datetime | None:
    """When a record says it was published, in UTC (naive), from an ISO 8601 or RFC 822 string; None when
    absent or unparseable.

    A time with an offset (``2021-08-19T23:30-05:00``, ``Thu, 19 Aug 2021 23:30:00 EST``) is converted to
    UTC. A time without one, and a bare date (as midnight), are taken as UTC as written: nothing says
    otherwise, and a date stays the same date.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        return datetime.combine(date.fromisoformat(text[:10]), time())
    except ValueError:
        pass
    try:  # feeds and mail-style headers: "Sat, 21 Nov 2026 10:00:00 GMT"
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    # The mail parser reads any year below 100 as two-digit ("0001" as 2001); a four-digit year is
    # taken as written, so Go's zero time stays year 1 (and is dropped as implausible), not 2001.
    written = _MAIL_YEAR.search(text)
    if written and len(written.group(1)) == 4 and int(written.group(1)) != parsed.year:
        try:
            parsed = parsed.replace(year=int(written.group(1)))
        except ValueError:  # year 0000, or 29 February of a year that has none
            return None
    return _utc(parsed)


def _utc(moment: datetime) -> datetime | None:
    """A parsed time as naive UTC (None when the offset carries it past year 1 or 9999: a placeholder)."""
    if moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        return None


def parse_date(value: object) -> date | None:
    """The UTC date of ``parse_timestamp`` (None when absent or unparseable)."""
    moment = parse_timestamp(value)
    return None if moment is None else moment.date()


_MAIL_YEAR = re.compile(r"\b\d{1,2}\s+[A-Za-z]{3,}\.?\s+(\d{2,4})\b")


EARLIEST_DATE = date(1990, 1, 1)
"""The earliest publication date taken at face value (older ones are placeholders, not news)."""


def plausible_date(day: date | None, today: date | None = None) -> date | None:
    """The date when it could be a news article's publication date, else None (the article stays, undated).

    Broken feeds and CMSs write placeholders: Go's zero time (``0001-01-01``), ``9999-12-31`` for
    "never", epoch dates. Kept, they break date arithmetic near ``date.min``/``date.max`` and a
    far-future one becomes a story's canonical article and sorts first. So dates before 1990 or more
    than a day after ``today`` (UTC; the day allows for time zones ahead of UTC) are dropped.
    """
    if day is None:
        return None
    today = today or datetime.now(UTC).date()
    return day if EARLIEST_DATE <= day <= today + timedelta(days=1) else None


def plausible_time(moment: datetime | None, today: date | None = None) -> datetime | None:
    """The time when its UTC date passes ``plausible_date``, else None."""
    return moment if moment is not None and plausible_date(moment.date(), today) else None


def _walk(folder: Path) -> Iterator[Path]:
    for child in sorted(folder.rglob("*")):
        # A symlink that resolves to nothing (missing target, loop) is an input that cannot be read, not a skip.
        if (child.is_file() or _broken_link(child)) and not any(
            part.startswith(".") for part in child.relative_to(folder).parts
        ):
            yield child


def _broken_link(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def _suffix(path: Path) -> tuple[str, bool]:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        return (suffixes[-2] if len(suffixes) > 1 else ""), True
    return (suffixes[-1] if suffixes else ""), False


def _read_bytes(path: Path, compressed: bool, max_bytes: int) -> bytes | str:
    """The file's bytes, or 'reason:detail' when it cannot be read within the size cap."""
    if _broken_link(path):
        return "unreadable:a broken symbolic link (its target is missing, or links loop back on themselves)"
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return f"too_large:file is {size:,} bytes, the limit is {max_bytes:,}"
        if not compressed:
            return path.read_bytes()
        with gzip.open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return f"unreadable:cannot read: {_why_unreadable(exc, path)}"
    except (EOFError, zlib.error) as exc:
        return f"unreadable:cannot read: {exc}"
    if len(data) > max_bytes:
        return f"too_large:decompressed size exceeds the limit of {max_bytes:,} bytes"
    return data


def _why_unreadable(exc: OSError, path: Path) -> str:
    """Why an input file cannot be read, for its rejection; raises EnvironmentFailure when the machine is at fault.

    No memory or no file handles says nothing about the file: the run stops and the file stays unread. A file
    this user may not read is the input's fault (its permissions), so it is rejected, and the reason says so.
    """
    if is_environment_error(exc, permissions=False):
        raise EnvironmentFailure(exc, f"reading {path}") from exc
    if isinstance(exc, PermissionError):
        return f"{exc.strerror or exc} (the file's permissions do not let this user read it)"
    return str(exc.strerror or exc)


def _uri(path: Path) -> str:
    if _broken_link(path):  # resolve() fails on a symlink loop
        return path.absolute().as_uri()
    return path.resolve().as_uri() if path.is_absolute() or path.exists() else str(path)


def _str_or_none(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
