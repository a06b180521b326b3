"""The HTML story page: content, diffs against the canonical, escaping, merged ids, and a real browser render."""

from __future__ import annotations

import itertools
import re
import shutil
import struct
import subprocess
import zlib
from datetime import date
from pathlib import Path

import pytest
from conftest import SEEDS, ecb_records, write_jsonl

from pipeline.cli import main
from pipeline.errors import StorylineError
from pipeline.run.ingest import ingest_paths
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.storypage.build import compare_texts, load_report, outlet_name, write_report

CANONICAL_SEED = "004_1c7e295f2962abb3.txt"


@pytest.fixture(scope="module")
def story_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Seeds plus an edited syndicated copy and an exact copy of the canonical seed; returns (db, story id)."""
    folder = tmp_path_factory.mktemp("report")
    inputs = folder / "inputs"
    shutil.copytree(SEEDS, inputs)
    original = (SEEDS / CANONICAL_SEED).read_text(encoding="utf-8")
    paragraphs = original.split("\n\n")
    edited = "\n\n".join(paragraphs[:-2]).replace("routine press briefing", "regular press conference")
    edited = edited.replace("solemnly", "firmly").replace(" date 2021-08-19", " date 2021-08-20", 1)
    (inputs / "005_copy.txt").write_text(edited + "\n\nReporting by the Wire Desk.\n", encoding="utf-8")
    (inputs / "006_exact.txt").write_text(original.replace(" date 2021-08-19", " date 2021-08-21", 1), "utf-8")
    db = str(folder / "report.duckdb")
    ingest_paths([inputs], Settings(db=db))
    with Store.open(db, read_only=True) as store:
        story_id = store._query("SELECT story_id FROM stories")[0]["story_id"]
    return db, story_id


@pytest.fixture(scope="module")
def story_html(story_db: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("page") / "story.html"
    with Store.open(story_db[0], read_only=True) as store:
        write_report(store, story_db[1], path)
    return path, path.read_text(encoding="utf-8")


def _cards(html: str) -> dict[str, str]:
    """Variant cards by relation badge text (the first card of each kind)."""
    cards = {}
    for card in re.findall(r'<section class="card">(.*?)</section>', html, flags=re.S):
        badge = re.search(r'<div class="head"><span class="badge"[^>]*>([^<]+)</span>', card)
        if badge and badge.group(1) not in cards:
            cards[badge.group(1)] = card
    return cards


def test_page_shows_the_story_timeline_canonical_and_every_variant(story_html: tuple[Path, str]) -> None:
    _, html = story_html
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "China warns Japan against holding security talks with Taiwan" in html
    assert html.count("<circle") == 7  # one dot per article on the timeline
    assert "undated" in html and "19 Aug 2021" in html
    for outlet in ("Alexa", "000_f6fcc1670fe0f26c.txt", "005_copy.txt", "006_exact.txt"):
        assert outlet in html
    assert "Variants (6) against the canonical" in html
    assert html.count("Joined the story on:") >= 5  # stored 'why' terms
    assert "Chosen as canonical" in html and "Hua Chunying" in html


def test_page_is_self_contained(story_html: tuple[Path, str]) -> None:
    _, html = story_html
    for external in ("<script", "<link", "src=", "@import", "url(", "<iframe"):
        assert external not in html


def test_copies_get_a_word_diff_and_rewrites_highlighted_shared_text(story_html: tuple[Path, str]) -> None:
    cards = _cards(story_html[1])
    copy, exact, rewrite = cards["near-duplicate"], cards["exact copy"], cards["rewrite"]
    assert "<del>routine press briefing</del> <ins>regular press conference</ins>" in copy
    assert "<del>solemnly</del> <ins>firmly</ins>" in copy
    assert "unchanged words" in copy and "Wire Desk." in copy
    assert "Word for word the same text" in exact and "<del>" not in exact
    assert "<del>" not in rewrite.split('<div class="text">')[1] and '<mark class="term">' in rewrite
    assert "shares little running text" in rewrite


def test_stored_text_is_escaped(tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script> Officials & <b>friends</b>'
    text = (
        "The city council voted on Tuesday to close the old bridge <img src=x onerror=alert(1)> after "
        "engineers found cracks in two of its piers, and buses will be diverted until repairs are done."
    )
    db = str(tmp_path / "x.duckdb")
    ingest_paths([write_jsonl(tmp_path / "x.jsonl", [{"id": "h", "title": hostile, "text": text, "source": "<i>"}])],
                 Settings(db=db))  # fmt: skip
    with Store.open(db, read_only=True) as store:
        story_id = store._query("SELECT story_id FROM stories")[0]["story_id"]
        html = write_report(store, story_id, tmp_path / "x.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<img" not in html and "<b>friends" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html and "&lt;img src=x" in html


def test_merged_story_ids_resolve_to_the_survivor(tmp_path: Path) -> None:
    db = str(tmp_path / "t25.duckdb")
    ingest_paths([write_jsonl(tmp_path / "t25.jsonl", ecb_records({25}))], Settings(db=db))
    with Store.open(db, read_only=True) as store:
        merges = store._query("SELECT merged_story_id, into_story_id FROM story_merges")
        assert merges, "ECB+ topic 25 no longer produces a story merge; pick another fixture for this test"
        report = load_report(store, merges[0]["merged_story_id"])
        html = write_report(store, merges[0]["merged_story_id"], tmp_path / "m.html").read_text(encoding="utf-8")
    assert report.story_id == store_resolved(db, merges[0]["merged_story_id"]) != report.requested_id
    assert "was merged into this story" in html and "absorbed story" in html


def store_resolved(db: str, story_id: str) -> str:
    with Store.open(db, read_only=True) as store:
        return store.resolve_story(story_id)


def test_compare_texts_chooses_diff_or_highlighting() -> None:
    base = "The river rose two metres overnight and the old bridge was closed to traffic by the city council."
    same = compare_texts(base, base, "exact", ())
    assert same.mode == "identical" and same.ratio == 1.0
    edited = compare_texts(base, base.replace("two metres", "three metres"), "near_duplicate", ())
    assert edited.mode == "diff" and (edited.inserted, edited.deleted) == (1, 1)
    assert "<del>two</del> <ins>three</ins>" in edited.html
    rewrite_text = "Flooding shut the old bridge, the council said, as the river kept rising."
    rewrite = compare_texts(base, rewrite_text, "rewrite", ("bridge", "river", "council"))
    assert rewrite.mode == "terms" and rewrite.ratio < 0.5 and '<mark class="term">bridge</mark>,' in rewrite.html
    quoted_text = (
        "Heavy rain in the hills sent water into the valley for a third day. Officials said the old bridge was "
        "closed to traffic, and schools in the lower town will stay shut until the weekend at least."
    )
    quoted = compare_texts(base, quoted_text, "rewrite", ())
    assert quoted.shared_passages == 1 and '<mark class="passage">' in quoted.html


def test_outlet_names_are_short() -> None:
    assert outlet_name("Reuters", None, None, "file:///x.jsonl#id=1") == "Reuters"
    assert outlet_name(None, None, "https://www.example.org/a/b", "file:///x.html") == "example.org"
    assert outlet_name(None, None, None, "file:///data/feeds/x.jsonl#id=42") == "x.jsonl #42"
    assert outlet_name(None, None, None, "file:///data/My%20Page.txt") == "My Page.txt"


def test_cli_report(story_db: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out" / "page.html"
    assert main(["report", story_db[1], "--html", str(target), "--db", story_db[0]]) == 0
    assert target.is_file() and "Wrote" in capsys.readouterr().out
    assert main(["report", "s-nope", "--html", str(target), "--db", story_db[0]]) == 1
    assert "no story 's-nope'" in capsys.readouterr().err
    with Store.open(story_db[0], read_only=True) as store, pytest.raises(StorylineError, match="directory"):
        write_report(store, story_db[1], tmp_path)


@pytest.mark.parametrize(
    "stored",
    [[date.min], [date.max], [date.min, date.max, date(2021, 8, 20)]],
    ids=["all-0001-01-01", "all-9999-12-31", "both-ends-and-a-real-date"],
)
def test_report_draws_any_stored_date(tmp_path: Path, stored: list[date], capsys: pytest.CaptureFixture[str]) -> None:
    """A database written before implausible dates were dropped holds year-1 and year-9999 dates."""
    db = str(tmp_path / "old.duckdb")
    shutil.copytree(SEEDS, tmp_path / "seeds")
    ingest_paths([tmp_path / "seeds"], Settings(db=db))
    with Store.open(db) as store:
        seqs = [row["seq"] for row in store._query("SELECT seq FROM articles ORDER BY seq")]
        for seq, day in zip(seqs, itertools.cycle(stored), strict=False):
            store._con.execute("UPDATE articles SET published_at = ? WHERE seq = ?", [day, seq])
        store._con.execute("UPDATE stories SET first_published = ?, last_published = ?", [min(stored), max(stored)])
        story_id = store._query("SELECT story_id FROM stories")[0]["story_id"]
    target = tmp_path / "old.html"
    assert main(["report", story_id, "--html", str(target), "--db", db]) == 0, capsys.readouterr().err
    assert f"{max(stored):%d %b}" in target.read_text(encoding="utf-8")


# ---- a real browser --------------------------------------------------------------------------------


def _chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def _decode_png(data: bytes) -> tuple[int, int, list[bytes], int]:
    """Width, height, unfiltered rows and bytes per pixel of an 8-bit RGB/RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw, stride = zlib.decompress(idat), width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, rows, bpp


@pytest.mark.slow
def test_headless_chromium_renders_the_page(story_html: tuple[Path, str], tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary on this machine (apt-get install chromium)")
    shot = tmp_path / "story.png"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,2000",
         story_html[0].as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert shot.is_file(), done.stderr[-2000:]
    width, height, rows, bpp = _decode_png(shot.read_bytes())
    assert (width, height) == (1280, 2000)
    pixels = {row[i : i + 3] for row in rows[::4] for i in range(0, len(row), bpp * 4)}
    assert len(pixels) > 200  # text, badges, highlights and the gradient header: not a blank page
    header = rows[100][640 * bpp : 640 * bpp + 3]  # the header band is a blue gradient when the CSS applied
    assert header[2] > header[0] + 60, header
    page = rows[1900][20 * bpp : 20 * bpp + 3]  # the page background beside the cards is light grey
    assert min(page) > 230, page
