"""Bad input: every kind in tests/badinput.py ends as one rejection with a clear reason, the rest is stored.

One run ingests a folder holding all the bad kinds (files and JSONL lines) next to good documents,
including odd-but-valid ones (UTF-16 with a BOM, CRLF JSONL, BOMs inside concatenated JSONL,
blank lines, which are skipped, not rejected).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from badinput import KINDS, LEGACY_TEXT, ODD_DATES, BadKind, running_as_root, write_bad, write_good
from reliability import rows

from pipeline.models import IngestReport
from pipeline.run.ingest import ingest_paths
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.integrity import consistency_problems

MIN_KINDS = 30


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, IngestReport, list[BadKind], int]:
    """The corpus folder, the database, the run's report, the kinds written and the good article count."""
    folder = tmp_path_factory.mktemp("bad-input") / "corpus"
    folder.mkdir()
    kinds = write_bad(folder)
    good = write_good(folder)
    db = str(folder.parent / "bad.duckdb")
    report = ingest_paths([folder], Settings(db=db))
    return folder, db, report, kinds, good


def file_uri(folder: Path, name: str) -> str:
    return (folder.resolve() / name).as_uri()


def test_corpus_has_enough_kinds(run: tuple) -> None:
    _, _, _, kinds, _ = run
    print(f"\nbad-input kinds: {len(KINDS)} defined, {len(kinds)} exercised here")
    assert len(KINDS) >= MIN_KINDS
    assert len({k.name for k in KINDS}) == len(KINDS) and len({k.filename for k in KINDS}) == len(KINDS)


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_each_kind_is_one_rejection_with_a_clear_reason(run: tuple, kind: BadKind) -> None:
    folder, db, _, _, _ = run
    if kind.root_reads_it and running_as_root():
        pytest.skip("root reads files whatever their permission bits")
    uri = file_uri(folder, kind.filename)
    found = rows(
        db,
        "SELECT reason, detail FROM rejections WHERE source_uri = ? OR starts_with(source_uri, ?)",
        [uri, uri + "#"],
    )
    assert len(found) == 1, f"{kind.name}: expected one rejection, got {found}"
    reason, detail = found[0]
    assert reason == kind.reason, f"{kind.name}: {reason}: {detail}"
    assert kind.phrase.lower() in detail.lower() and len(detail.split()) >= 3, detail
    stored = rows(db, "SELECT count(*) FROM articles WHERE starts_with(source_uri, ?)", [uri])[0][0]
    assert stored == (2 if kind.jsonl else 0), "the good records around a bad JSONL line are stored"


def test_everything_good_in_the_same_run_is_stored(run: tuple) -> None:
    _, db, report, kinds, good = run
    expected = good + 2 * sum(k.jsonl for k in kinds)
    assert report.new == expected
    assert report.rejected == len(kinds)
    assert rows(db, "SELECT count(*) FROM articles")[0][0] == expected
    names = {Path(u.split("#")[0]).name for (u,) in rows(db, "SELECT source_uri FROM articles")}
    assert {"good.txt", "good.html", "good-utf16-bom.txt", "good-latin1-declared.html", "good.txt.gz"} <= names
    assert {"good-cp1252.html", "good-latin1.txt"} <= names
    assert {"good-feed.jsonl", "concatenated.jsonl", "odd-dates.jsonl"} <= names
    with Store.open(db, read_only=True) as store:
        assert consistency_problems(store) == []


def test_placeholder_dates_are_stored_as_no_date(run: tuple) -> None:
    """0001-01-01 and 9999-12-31 in a story of dated articles: kept, undated, and never the canonical."""
    folder, db, _, _, _ = run
    uri = file_uri(folder, "odd-dates.jsonl")
    stored = rows(db, "SELECT external_id, published_at FROM articles WHERE starts_with(source_uri, ?)", [uri])
    assert {n: str(day) for n, day in stored} == {f"odd-dates-{n}": "None" for n in (1, 2, 3)} | {
        "odd-dates-4": ODD_DATES[4]
    }
    canonical = rows(
        db, "SELECT a.external_id FROM stories s JOIN articles a ON a.article_id = s.canonical_article_id "
        "WHERE s.story_id = (SELECT story_id FROM articles WHERE external_id = 'odd-dates-1')",
    )  # fmt: skip
    assert canonical == [("odd-dates-4",)]


def test_legacy_encodings_are_stored_with_their_characters(run: tuple) -> None:
    """A windows-1252 page and a latin-1 dump, neither declaring a charset: decoded, not rejected or garbled."""
    folder, db, _, _, _ = run
    text = {
        name: rows(db, "SELECT text FROM articles WHERE source_uri = ?", [file_uri(folder, name)])[0][0]
        for name in ("good-cp1252.html", "good-latin1.txt")
    }
    assert LEGACY_TEXT in text["good-cp1252.html"]
    assert "Café résumé à la crème, 5 £." in text["good-latin1.txt"]
