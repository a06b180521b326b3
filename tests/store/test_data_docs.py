"""docs/data.md cannot drift from the live schema, and every SQL example in the docs runs through `storyline sql`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from conftest import ROOT, SEEDS, ecb_records, write_jsonl

from pipeline.cli import main
from pipeline.run.ingest import ingest_paths
from pipeline.settings import Settings

DOCS = ROOT / "docs" / "data.md"
# Sample calls for every table macro, to learn their output columns.
MACRO_CALLS = {
    "stories_between": "stories_between('2000-01-01', '2100-01-01')",
    "story_timeline": "story_timeline('s-none')",
    "spreading": "spreading(24, 1)",
}
# Examples whose answer is legitimately empty on the test database (they look at another moment).
EMPTY_ALLOWED = ("as_of := TIMESTAMP",)


@pytest.fixture(scope="module")
def docs_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Seeds, one ECB+ topic whose stories merge, one rejected file, and one seed corrected after it was stored
    (a revision): every example has something to show."""
    folder = tmp_path_factory.mktemp("docs-db")
    inputs = folder / "inputs"
    inputs.mkdir()
    for seed in SEEDS.iterdir():
        (inputs / seed.name).write_bytes(seed.read_bytes())
    (inputs / "empty.txt").write_text("")
    write_jsonl(inputs / "topic25.jsonl", ecb_records({25}))
    db = str(folder / "docs.duckdb")
    ingest_paths([inputs], Settings(db=db))
    corrected = sorted(inputs.glob("001_*.txt"))[0]
    corrected.write_text(corrected.read_text(encoding="utf-8") + "\n\nThis article was updated on Friday.\n")
    assert ingest_paths([inputs], Settings(db=db)).revised == 1
    return db


def _sections(text: str) -> dict[str, str]:
    """Heading -> the text under it, for every heading level."""
    parts = re.split(r"^(#{2,4} .*)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _section_for(name: str, sections: dict[str, str]) -> str:
    for heading, body in sections.items():
        if f"`{name}`" in heading or f"`{name}(" in heading:
            return body
    raise AssertionError(f"docs/data.md has no heading naming `{name}`")


def _live_objects(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    objects = {}
    for (name,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
    ).fetchall():
        objects[name] = [r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall()]
    return objects


def test_every_table_view_and_column_is_documented(docs_db: str) -> None:
    sections = _sections(DOCS.read_text(encoding="utf-8"))
    with duckdb.connect(docs_db, read_only=True) as con:
        objects = _live_objects(con)
    assert {"articles", "stories", "story_overview", "source_activity", "spreading_stories"} <= objects.keys()
    missing = [
        f"{name}.{column}"
        for name, columns in objects.items()
        for column in columns
        if f"`{column}`" not in _section_for(name, sections) and name != "spreading_stories"
    ]
    assert not missing, f"columns not described in docs/data.md: {missing}"


def test_every_macro_and_its_columns_are_documented(docs_db: str) -> None:
    sections = _sections(DOCS.read_text(encoding="utf-8"))
    with duckdb.connect(docs_db, read_only=True) as con:
        macros = {
            r[0]
            for r in con.execute(
                "SELECT function_name FROM duckdb_functions() WHERE schema_name = 'main' AND NOT internal "
                "AND function_type IN ('macro', 'table_macro')"
            ).fetchall()
        }
        assert macros == MACRO_CALLS.keys(), "a macro was added or removed: update MACRO_CALLS and docs/data.md"
        columns = {m: [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {call}").fetchall()] for m, call in
                   MACRO_CALLS.items()}  # fmt: skip
    story_overview = _section_for("story_overview", sections)
    for macro, names in columns.items():
        body = _section_for(macro, sections)
        # stories_between returns story_overview's columns and says so.
        undocumented = [c for c in names if f"`{c}`" not in body and f"`{c}`" not in story_overview]
        assert not undocumented, f"{macro} columns not described: {undocumented}"


def _sql_blocks(path: Path) -> list[str]:
    return re.findall(r"```sql\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_sql_examples_run_through_storyline_sql_and_answer(docs_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """As an analyst runs them: `storyline sql` opens the file read-only, and the last statement's rows print."""
    blocks = _sql_blocks(DOCS)
    assert len(blocks) >= 8
    for sql in blocks:
        code = main(["sql", "--db", docs_db, "--format", "jsonl", sql])
        out, err = capsys.readouterr()
        assert code == 0, f"example failed: {err}\n{sql}"
        rows = [json.loads(line) for line in out.splitlines()]
        if not any(marker in sql for marker in EMPTY_ALLOWED):
            assert rows, f"example returned no rows on the seed database:\n{sql}"


def test_sql_examples_elsewhere_in_the_docs_run(docs_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Other pages' examples (docs/operations.md) run too; their tables may be empty without live sources.

    docs/lake.md's read a published lake (ATTACH, time travel): tests/store/test_lake.py runs them on one.
    """
    pages = [path for path in sorted(DOCS.parent.glob("*.md")) if path not in (DOCS, DOCS.parent / "lake.md")]
    others = [(path, sql) for path in pages for sql in _sql_blocks(path)]
    assert others
    for path, sql in others:
        code = main(["sql", "--db", docs_db, sql])
        assert code == 0, f"{path.name} example failed: {capsys.readouterr().err}\n{sql}"


def test_views_answer_the_common_questions(docs_db: str) -> None:
    with duckdb.connect(docs_db, read_only=True) as con:
        seeds_story = con.execute(
            "SELECT story_id, source_count, rewrites FROM story_overview WHERE list_contains(sources, 'Alexa')"
        ).fetchall()
        assert seeds_story and seeds_story[0][1:] == (5, 4)
        timeline = con.execute("SELECT position, published_at FROM story_timeline(?)", [seeds_story[0][0]]).fetchall()
        assert [r[0] for r in timeline] == [1, 2, 3, 4, 5]
        dated = [r[1] for r in timeline if r[1] is not None]
        assert dated == sorted(dated) and timeline[-1][1] is None  # undated last
        window = con.execute("SELECT story_id FROM stories_between('2021-08-24', '2021-08-26')").fetchall()
        assert (seeds_story[0][0],) in window
        assert not con.execute("SELECT * FROM stories_between('1990-01-01', '1990-12-31')").fetchall()
        # Everything was ingested moments ago: spreading now, not spreading a year ago.
        spreading = {r[0] for r in con.execute("SELECT story_id FROM spreading(1, 5)").fetchall()}
        assert seeds_story[0][0] in spreading
        assert not con.execute("SELECT * FROM spreading(1, 1, as_of := now()::TIMESTAMP - INTERVAL 1 YEAR)").fetchall()
        refused = con.execute("SELECT input, rejection_reasons FROM input_activity WHERE rejections > 0").fetchall()
        assert len(refused) == 1 and refused[0][0].endswith("empty.txt") and refused[0][1] == ["empty"]
        assert (
            con.execute("SELECT sum(articles) FROM source_activity").fetchall()[0][0]
            == con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
        )


def test_merged_ids_resolve_through_story_aliases(docs_db: str) -> None:
    with duckdb.connect(docs_db, read_only=True) as con:
        merged = con.execute("SELECT merged_story_id, into_story_id FROM story_merges").fetchall()
        assert merged, "ECB+ topic 25 no longer produces a story merge; pick another fixture for this test"
        old, _ = merged[0]
        current = con.execute("SELECT current_story_id FROM story_aliases WHERE story_id = ?", [old]).fetchall()
        assert current and con.execute("SELECT count(*) FROM stories WHERE story_id = ?", current[0]).fetchall() == [
            (1,)
        ]
        timeline = con.execute("SELECT DISTINCT story_id FROM story_timeline(?)", [old]).fetchall()
        assert timeline == current


def test_docs_name_the_new_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in ("storyline search", "storyline report", "storyline sql", "--format parquet"):
        assert command in readme
    assert Path(ROOT / "docs" / "search.md").is_file()
