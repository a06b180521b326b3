"""The DuckDB store: transactions, locking, schema guard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path

import duckdb
import pytest
from reliability import rows

from pipeline.cli import main
from pipeline.cluster.candidates import CandidateIndex
from pipeline.errors import StoreBusyError, StoreError
from pipeline.run.ingest import ingest_paths, store_batch
from pipeline.run.prepare import prepare_batch
from pipeline.settings import Settings
from pipeline.sources.files import read_paths
from pipeline.store import Store
from pipeline.store.schema import SCHEMA_VERSION


def count(db: str, table: str) -> int:
    with duckdb.connect(db, read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def test_a_failed_batch_leaves_nothing_behind(seeds_dir: Path, settings: Settings, monkeypatch) -> None:
    prepared = prepare_batch(list(read_paths([seeds_dir])), settings)
    with Store.open(settings.db) as store:
        run_id = store.begin_run(["seeds"])

        def crash(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("simulated crash after the articles were inserted")

        monkeypatch.setattr(store, "write_stories", crash)
        with pytest.raises(RuntimeError):
            store_batch(store, CandidateIndex(), run_id, prepared, settings)
    for table in ("articles", "stories", "story_postings", "lsh_bands", "article_vectors", "article_signatures"):
        assert count(settings.db, table) == 0, table

    monkeypatch.undo()
    ingest_paths([seeds_dir], settings)
    assert count(settings.db, "articles") == 5 and count(settings.db, "stories") == 1


@contextmanager
def lock_held_by_another_process(db: str, read_only: bool = False) -> Iterator[subprocess.Popen[str]]:
    """A plain DuckDB session in another process holding ``db`` (as an analyst's tool would) until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({db!r}, read_only={read_only}); "
         "print('ok', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_busy_database_is_reported_not_corrupted(settings: Settings) -> None:
    Store.open(settings.db).close()
    with lock_held_by_another_process(settings.db), pytest.raises(StoreBusyError, match="locked by another process"):
        Store.open(settings.db, wait_seconds=0.5)
    Store.open(settings.db).close()


def test_a_readers_session_holding_the_lock_is_named_with_what_to_do(settings: Settings) -> None:
    """An analyst's read-only session blocks ingest: the error names its PID and says how to free it."""
    Store.open(settings.db).close()
    with lock_held_by_another_process(settings.db, read_only=True) as holder, pytest.raises(StoreBusyError) as raised:
        Store.open(settings.db, wait_seconds=0.3)
    message = str(raised.value)
    assert f"(PID {holder.pid})" in message and "python" in message
    assert "close it" in message and "snapshot" in message and "storyline sql" in message


def test_newer_schema_is_refused(settings: Settings) -> None:
    with Store.open(settings.db) as store:
        store._con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema v999"):
        Store.open(settings.db)


def test_read_only_open_of_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no Storyline database"):
        Store.open(tmp_path / "none.duckdb", read_only=True)


def test_a_database_file_another_process_is_still_creating_is_waited_for(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ingests started at once on a new path: one finds the file the other has created but not yet
    written DuckDB's header to. It waits, as for a busy lock, and opens the database once it is whole."""
    Path(settings.db).write_bytes(b"")  # created a moment ago, no header yet
    whole = tmp_path / "whole.duckdb"
    duckdb.connect(str(whole)).close()
    waits: list[float] = []

    def creator_finishes(seconds: float) -> None:  # the other process completes the file while this one waits
        waits.append(seconds)
        whole.replace(settings.db)

    monkeypatch.setattr("pipeline.store.connection.time.sleep", creator_finishes)
    with Store.open(settings.db) as store:
        assert store._has_table("meta")
    assert len(waits) == 1


def test_an_invalid_database_file_is_refused_at_once(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file nobody is writing that is not a DuckDB database is an error now, not something to wait for."""
    Path(settings.db).write_text("not a database", encoding="utf-8")
    an_hour_ago = Path(settings.db).stat().st_mtime - 3600
    os.utime(settings.db, (an_hour_ago, an_hour_ago))

    def no_waiting(seconds: float) -> None:
        raise AssertionError(f"waited {seconds} s for a file nobody is creating")

    monkeypatch.setattr("pipeline.store.connection.time.sleep", no_waiting)
    with pytest.raises(StoreError, match="not a valid DuckDB database file"):
        Store.open(settings.db)


def test_a_batchs_vectors_in_memory_are_what_the_store_gives_back(seeds_dir: Path, settings: Settings) -> None:
    """Saving stories reads the batch's own vectors from memory: they must equal the stored FLOAT[] ones."""
    from pipeline.store import stored_vector

    ingest_paths([seeds_dir], settings)
    prepared = prepare_batch(list(read_paths([seeds_dir])), settings)
    with Store.open(settings.db, read_only=True) as store:
        seqs = dict(store._con.execute("SELECT source_uri, seq FROM articles").fetchall())
        back = store.vectors(list(seqs.values()))
    assert len(back) == len(prepared.items) == 5
    for article, fp in prepared.items:
        assert stored_vector(fp.terms) == back[seqs[article.source_uri]]
        assert list(stored_vector(fp.terms)) == list(fp.terms)  # term order kept too


V1_SCHEMA = Path(__file__).parents[1] / "fixtures" / "schema_v1.sql"


def v1_database(seeds_dir: Path, tmp_path: Path) -> str:
    """A database as Storyline wrote it before ``published_ts`` (schema v1): the v1 DDL, holding the seed story."""
    source = str(tmp_path / "source.duckdb")
    ingest_paths([seeds_dir], Settings(db=source))
    old = str(tmp_path / "v1.duckdb")
    with duckdb.connect(old) as con:
        con.execute(V1_SCHEMA.read_text(encoding="utf-8"))
        con.execute(f"ATTACH '{source}' AS source_db (READ_ONLY)")
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'v1' AND table_type = 'BASE TABLE'"
        ).fetchall()
        for (table,) in tables:
            names = con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'v1' AND table_name = ?",
                [table],
            ).fetchall()
            columns = ", ".join(f'"{name}"' for (name,) in names)
            con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM source_db.{table}")
        con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        con.execute("UPDATE meta SET value = 'v1' WHERE key = 'schema_digest'")
    return old


def article_columns(db: str) -> list[str]:
    with duckdb.connect(db, read_only=True) as con:
        return [r[0] for r in con.execute("DESCRIBE articles").fetchall()]


def test_a_v1_database_is_read_as_it_is_and_brought_to_utc_times_by_the_next_writer(
    seeds_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = v1_database(seeds_dir, tmp_path)
    assert "published_ts" not in article_columns(old)
    with duckdb.connect(old, read_only=True) as con:
        (story_id,) = con.execute("SELECT story_id FROM stories").fetchall()[0]
        dates = dict(con.execute("SELECT article_id, published_at FROM articles").fetchall())
    assert sorted(map(str, dates.values())) == ["2021-08-19", "2021-08-19", "2021-08-25", "None", "None"]

    # Readers open it read-only, so nothing migrates it: they work from the date.
    assert main(["show", story_id, "--db", old]) == 0
    assert main(["report", story_id, "--html", str(tmp_path / "story.html"), "--db", old]) == 0
    capsys.readouterr()
    assert main(["export", "--format", "jsonl", "--db", old]) == 0
    exported = {r["article_id"]: r["published_ts"] for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert exported == {a: day and f"{day}T00:00:00" for a, day in dates.items()}
    assert "published_ts" not in article_columns(old)

    # The next writer adds the column, filled from the stored date (midnight), and the views that use it.
    with Store.open(old) as store:
        backfilled = dict(store._con.execute("SELECT article_id, published_ts FROM articles").fetchall())
        assert backfilled == {a: day and datetime.combine(day, time()) for a, day in dates.items()}
        assert store._query("SELECT value FROM meta WHERE key = 'schema_version'") == [{"value": str(SCHEMA_VERSION)}]
        timeline = store._query("SELECT published_ts FROM story_timeline(?) ORDER BY position", [story_id])
        assert [r["published_ts"] for r in timeline][:2] == [datetime(2021, 8, 19)] * 2

    # ...and keeps working: a copy published at 01:30 on the 19th at UTC+14 (11:30 UTC on the 18th) is
    # earlier than every stored article, so it becomes the canonical.
    text = (seeds_dir / "004_1c7e295f2962abb3.txt").read_text(encoding="utf-8").split("\n", 1)[1]
    record = {"id": "east", "text": text, "source": "Pacific Wire", "published_at": "2021-08-19T01:30+14:00"}
    (tmp_path / "east.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    ingest_paths([tmp_path / "east.jsonl"], Settings(db=old))
    with duckdb.connect(old, read_only=True) as con:
        canonical = con.execute(
            "SELECT a.external_id, a.published_ts, s.first_published FROM stories s "
            "JOIN articles a ON a.article_id = s.canonical_article_id"
        ).fetchall()
    assert canonical == [("east", datetime(2021, 8, 18, 11, 30), date(2021, 8, 18))]
    assert main(["check", "--db", old]) == 0


def test_merges_in_one_batch_move_articles_and_links_as_one_merge_after_another(
    seeds_dir: Path, settings: Settings
) -> None:
    """B into C, then C into A: every article ends in A, a link the survivor already has is dropped, a link
    between the two merged stories becomes a self-link and goes, and each merge is recorded as it was made."""
    from pipeline.models import StoryMerge

    ingest_paths([seeds_dir], settings)  # one story of five articles: A
    with Store.open(settings.db) as store:
        con = store._con
        ((a,),) = con.execute("SELECT story_id FROM stories").fetchall()
        for other in ("sB", "sC", "sX"):
            con.execute(
                "INSERT INTO stories SELECT * REPLACE (? AS story_id) FROM stories WHERE story_id = ?", [other, a]
            )
        seqs = [seq for (seq,) in con.execute("SELECT seq FROM articles ORDER BY seq").fetchall()]
        con.execute("UPDATE articles SET story_id = 'sB' WHERE seq = ?", [seqs[2]])
        con.execute("UPDATE articles SET story_id = 'sC' WHERE seq IN (?, ?)", [seqs[3], seqs[4]])
        for story, related in (("sB", "sX"), ("sC", "sX"), ("sX", "sC"), (a, "sB")):
            con.execute("INSERT INTO story_links VALUES (?, ?, 'continues', 0.3, 'a0', 'r0')", [story, related])
        with store.transaction():
            store.apply_merges([StoryMerge("sB", "sC", "a1", 10, 0.4), StoryMerge("sC", a, "a2", 11, 0.5)], "r1", 11)

    moved = rows(settings.db, "SELECT DISTINCT story_id, updated_seq FROM articles WHERE seq > ?", [seqs[1]])
    assert moved == [(a, 11)]
    assert rows(settings.db, "SELECT story_id FROM stories ORDER BY 1") == sorted([(a,), ("sX",)])
    links = rows(settings.db, "SELECT story_id, related_story_id FROM story_links ORDER BY 1, 2")
    assert links == sorted([(a, "sX"), ("sX", a)])
    merges = rows(settings.db, "SELECT merged_story_id, into_story_id, seq, run_id FROM story_merges ORDER BY seq")
    assert merges == [("sB", "sC", 10, "r1"), ("sC", a, 11, "r1")]


def test_only_writers_skip_extension_signature_checks_and_a_users_sql_never_does(tmp_path: Path) -> None:
    """Writers run Storyline's SQL only and load extensions from the pinned packages; a read-only store may run
    a user's SQL (`storyline sql`), so no statement a user writes can load an unsigned extension."""
    from pipeline.errors import QueryError
    from pipeline.store.usersql import run_statements

    db = str(tmp_path / "x.duckdb")
    setting = "SELECT current_setting('allow_unsigned_extensions')"
    with Store.open(db) as writer:
        assert writer._con.execute(setting).fetchall() == [(True,)]
    with Store.open(db, read_only=True) as reader:
        with pytest.raises(QueryError, match="while database is running"):  # DuckDB: a start-up setting only
            run_statements(reader, "SET allow_unsigned_extensions = true")
        result = run_statements(reader, setting)
    assert result is not None and result.rows == [(False,)]


def test_a_writer_joins_a_database_this_process_already_opened_with_duckdbs_defaults(tmp_path: Path) -> None:
    """A notebook's own connection to the file: a writer shares it (with its signature checks), as DuckDB allows."""
    db = str(tmp_path / "x.duckdb")
    with Store.open(db):
        pass
    with duckdb.connect(db) as own:
        with Store.open(db) as writer:
            writer._con.execute("INSERT INTO meta VALUES ('shared', 'yes')")
            assert writer._con.execute("SELECT current_setting('allow_unsigned_extensions')").fetchall() == [(False,)]
        assert own.execute("SELECT value FROM meta WHERE key = 'shared'").fetchall() == [("yes",)]
