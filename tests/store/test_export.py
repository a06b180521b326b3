"""Parquet and CSV exports for BI tools: one file per table, read back, replaced atomically."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from conftest import SEEDS, copy_database, write_jsonl

from pipeline.cli import main
from pipeline.errors import ConfigError
from pipeline.run.ingest import ingest_paths
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.export import EXPORT_TABLES, MANIFEST, export_tables


@pytest.fixture(scope="module")
def seeds_ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds and a rejected file ingested into ``export.duckdb`` (in a folder of its own)."""
    folder = tmp_path_factory.mktemp("export-seeds")
    (folder / "bad.bin").write_bytes(b"\x00\x01\x02" * 100)  # a rejection, so that table is not empty
    ingest_paths([SEEDS, folder / "bad.bin"], Settings(db=str(folder / "export.duckdb")))
    return folder / "export.duckdb"


@pytest.fixture
def seeds_db(seeds_ingested: Path, tmp_path: Path) -> str:
    """A private copy of that database, for a test to read or change."""
    return str(copy_database(seeds_ingested, tmp_path / "export.duckdb"))


def _live_counts(db: str) -> dict[str, int]:
    with duckdb.connect(db, read_only=True) as con:
        return {
            name: con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0] for name, sql in EXPORT_TABLES.items()
        }


def test_parquet_export_reads_back_with_pyarrow(seeds_db: str, tmp_path: Path) -> None:
    out = tmp_path / "bi"
    with Store.open(seeds_db, read_only=True) as store:
        report = export_tables(store, out, "parquet")
    live = _live_counts(seeds_db)
    assert report.rows == live and live["articles"] == 5 and live["rejections"] == 1
    for name, rows in live.items():
        table = pq.read_table(out / f"{name}.parquet")
        assert table.num_rows == rows, name
    articles = pq.read_table(out / "articles.parquet").to_pylist()
    assert {a["story_id"] for a in articles} == {pq.read_table(out / "stories.parquet").to_pylist()[0]["story_id"]}
    assert any(a["shared_terms"] for a in articles)  # lists stay lists in Parquet
    assert "centroid_weights" not in pq.read_table(out / "stories.parquet").column_names
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["format"] == "parquet" and manifest["tables"]["articles"]["rows"] == 5


def test_csv_export_reads_back_with_duckdb(seeds_db: str, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    with Store.open(seeds_db, read_only=True) as store:
        export_tables(store, out, "csv")
    live = _live_counts(seeds_db)
    with duckdb.connect() as con:
        for name, rows in live.items():
            found = con.execute(
                "SELECT count(*) FROM read_csv(?, header = true)", [str(out / f"{name}.csv")]
            ).fetchall()
            assert found[0][0] == rows, name
        texts = dict(
            con.execute(
                "SELECT article_id, text FROM read_csv(?, header = true)", [str(out / "articles.csv")]
            ).fetchall()
        )
        overview = con.execute(
            "SELECT sources FROM read_csv(?, header = true)", [str(out / "story_overview.csv")]
        ).fetchall()
    with duckdb.connect(seeds_db, read_only=True) as con:
        assert texts == dict(
            con.execute("SELECT article_id, text FROM articles").fetchall()
        )  # commas, quotes, newlines
    assert " | " in overview[0][0] and "[" not in overview[0][0]  # lists as plain text


def test_export_replaces_a_previous_export_and_leaves_nothing_behind(seeds_db: str, tmp_path: Path) -> None:
    out = tmp_path / "bi"
    with Store.open(seeds_db, read_only=True) as store:
        export_tables(store, out, "csv")
    (out / "stale.txt").write_text("from an older export")
    text = "A strong earthquake shook the coastal city of Valparaiso on Tuesday night, cutting power to thousands."
    more = write_jsonl(tmp_path / "more.jsonl", [{"id": "x1", "text": text}])
    ingest_paths([more], Settings(db=seeds_db))
    with Store.open(seeds_db, read_only=True) as store:
        report = export_tables(store, out, "parquet")
    assert report.rows["articles"] == 6 and pq.read_table(out / "articles.parquet").num_rows == 6
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, *(f"{n}.parquet" for n in EXPORT_TABLES)])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_export_never_replaces_a_directory_it_did_not_write(seeds_db: str, tmp_path: Path) -> None:
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    (tmp_path / "afile").write_text("x")
    with Store.open(seeds_db, read_only=True) as store:
        with pytest.raises(ConfigError, match="does not hold a Storyline export"):
            export_tables(store, precious, "parquet")
        with pytest.raises(ConfigError, match="not a directory"):
            export_tables(store, tmp_path / "afile", "csv")
        with pytest.raises(ConfigError, match="unknown export format"):
            export_tables(store, tmp_path / "new", "xlsx")
    assert (precious / "notes.txt").read_text() == "keep me"


def test_cli_export_formats(seeds_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--db", seeds_db, "--format", "parquet", str(tmp_path / "p")]) == 0
    assert "articles.parquet: 5 row(s)" in capsys.readouterr().out
    assert main(["export", "--db", seeds_db, "--format", "csv", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "runs.csv").is_file()
    assert main(["export", "--db", seeds_db, "--format", "csv"]) == 2
    assert "needs a directory" in capsys.readouterr().err
    assert main(["export", "--db", seeds_db, "--format", "jsonl", str(tmp_path / "j")]) == 2
    assert main(["export", "--db", seeds_db]) == 0  # jsonl to stdout, as before
    assert len(capsys.readouterr().out.splitlines()) == 5


def test_revisions_are_exported_without_their_term_lists(tmp_path: Path) -> None:
    db = str(tmp_path / "revised.duckdb")
    record = {"id": "w-1", "source": "Wire", "text": "The council voted to close the harbour bridge to cars in March."}
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", [record])], Settings(db=db))
    updated = {**record, "text": record["text"] + " Buses may still cross until the repairs begin."}
    ingest_paths([write_jsonl(tmp_path / "b.jsonl", [updated])], Settings(db=db))
    with Store.open(db, read_only=True) as store:
        report = export_tables(store, tmp_path / "bi", "parquet")
    revisions = pq.read_table(tmp_path / "bi" / "revisions.parquet")
    assert report.rows["revisions"] == 1 and revisions.to_pylist()[0]["text"] == record["text"]
    assert "terms" not in revisions.column_names
