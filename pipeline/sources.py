"""Sources: turn paths (files, folders, JSONL) into raw documents, or rejections with a reason.

Everything here streams: folders are walked lazily and JSONL is read line by line, so a multi-GB
input never sits in memory. Decoding is strict: bytes that are not text are a rejection.
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path

from .models import RawDocument, Rejection

TEXT_SUFFIXES = {".txt": "text", ".text": "text", ".html": "html", ".htm": "html"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))

Item = RawDocument | Rejection


def read_paths(paths: Iterable[str | Path], max_bytes: int = 10_000_000) -> Iterator[Item]:
    """Yield a raw document or a rejection for every file under the given files and folders."""
    for path in map(Path, paths):
        if not path.exists():
            yield Rejection(_uri(path), "missing_path", f"no such file or folder: {path}")
        elif path.is_dir():
            for child in _walk(path):
                yield from read_file(child, max_bytes)
        else:
            yield from read_file(path, max_bytes)


def count_files(paths: Iterable[str | Path]) -> int:
    """How many input files the paths hold (for progress reporting)."""
    total = 0
    for path in map(Path, paths):
        total += sum(1 for _ in _walk(path)) if path.is_dir() else 1
    return total


def read_file(path: Path, max_bytes: int = 10_000_000) -> Iterator[Item]:
    """Yield the document(s) of one file: one for text and HTML, one per line for JSONL."""
    suffix, compressed = _suffix(path)
    uri = _uri(path)
    if suffix in JSONL_SUFFIXES:
        yield from read_jsonl(path, max_bytes)
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


def read_jsonl(path: Path, max_bytes: int = 10_000_000) -> Iterator[Item]:
    """Yield one raw document per JSONL line, or a rejection naming the line and what is wrong."""
    uri = _uri(path)
    _, compressed = _suffix(path)
    opener = gzip.open if compressed else open
    try:
        fh = opener(path, "rb")
    except OSError as exc:
        yield Rejection(uri, "unreadable", f"cannot open: {exc.strerror or exc}")
        return
    number = 0
    with fh:
        try:
            for number, line in enumerate(fh, start=1):
                if number == 1 and line.startswith(codecs.BOM_UTF8):
                    line = line[len(codecs.BOM_UTF8) :]
                if line.strip():
                    yield parse_jsonl_line(line, f"{uri}#line={number}", max_bytes)
        except (OSError, EOFError) as exc:  # corrupt or truncated .gz: keep what was read, reject the rest
            yield Rejection(f"{uri}#line={number + 1}", "unreadable", f"cannot read past line {number}: {exc}")


def parse_jsonl_line(line: bytes, where: str, max_bytes: int = 10_000_000) -> Item:
    """Parse one JSONL record (``id``, ``url``, ``html`` or ``text``, ``title``, ``published_at``, ``source``)."""
    if len(line) > max_bytes:
        return Rejection(where, "too_large", f"record is {len(line):,} bytes, the limit is {max_bytes:,}")
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Rejection(where, "encoding", f"line is not valid UTF-8 (byte {exc.start})")
    except json.JSONDecodeError as exc:
        return Rejection(where, "malformed_jsonl", f"not valid JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(record, dict):
        return Rejection(where, "malformed_jsonl", f"expected a JSON object, got {type(record).__name__}")
    html, text = record.get("html"), record.get("text")
    body = html if isinstance(html, str) and html.strip() else text
    if not isinstance(body, str) or not body.strip():
        return Rejection(where, "malformed_jsonl", "record has no non-empty 'html' or 'text' field")
    external_id = record.get("id")
    external_id = None if external_id is None else str(external_id)
    base = where.split("#", 1)[0]
    uri = f"{base}#id={external_id}" if external_id is not None else where
    published = parse_date(record.get("published_at"))
    return RawDocument(
        source_uri=uri,
        kind="html" if body is html else "text",
        content=body,
        external_id=external_id,
        url=_str_or_none(record.get("url")),
        title=_str_or_none(record.get("title")),
        published_at=published,
        source=_str_or_none(record.get("source")),
    )


def decode(data: bytes, html: bool = False) -> str | Rejection:
    """Decode bytes to text strictly: BOM, then a declared HTML charset, then UTF-8; else a rejection."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                return Rejection("", "encoding", f"invalid {codec} after its byte-order mark (byte {exc.start})")
            return text if text.strip() else Rejection("", "empty", "the document holds only whitespace")
    if not data.strip():
        return Rejection("", "empty", "the document is empty")
    if looks_binary(data):
        return Rejection("", "binary", "the file holds binary data (NUL or control bytes), not text")
    codec = "utf-8"
    if html and (match := _META_CHARSET.search(data[:4096])):
        declared = match.group(1).decode("ascii", "replace").lower()
        try:
            codec = codecs.lookup(declared).name
        except LookupError:
            codec = "utf-8"
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        if html:
            # Browsers show a page with a few stray bytes; so do we, when they are rare enough to be noise.
            text = data.decode(codec, errors="replace")
            if text.count("\ufffd") <= max(1, len(data) // 2000):
                return text
        return Rejection("", "encoding", f"not valid {codec} text (bad byte at offset {exc.start})")


def looks_binary(data: bytes) -> bool:
    """True for data with NUL bytes or mostly control characters in its first 8 KB."""
    head = data[:8192]
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls > len(head) * 0.05


def parse_date(value: object) -> date | None:
    """A date from an ISO date/datetime string (or None when absent or unparseable)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _walk(folder: Path) -> Iterator[Path]:
    for child in sorted(folder.rglob("*")):
        if child.is_file() and not any(part.startswith(".") for part in child.relative_to(folder).parts):
            yield child


def _suffix(path: Path) -> tuple[str, bool]:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        return (suffixes[-2] if len(suffixes) > 1 else ""), True
    return (suffixes[-1] if suffixes else ""), False


def _read_bytes(path: Path, compressed: bool, max_bytes: int) -> bytes | str:
    """The file's bytes, or 'reason:detail' when it cannot be read within the size cap."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return f"too_large:file is {size:,} bytes, the limit is {max_bytes:,}"
        if not compressed:
            return path.read_bytes()
        with gzip.open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except (OSError, EOFError) as exc:
        return f"unreadable:cannot read: {getattr(exc, 'strerror', None) or exc}"
    if len(data) > max_bytes:
        return f"too_large:decompressed size exceeds the limit of {max_bytes:,} bytes"
    return data


def _uri(path: Path) -> str:
    return path.resolve().as_uri() if path.is_absolute() or path.exists() else str(path)


def _str_or_none(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
