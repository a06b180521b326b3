"""The DuckLake copy (pipeline/store/lake/): complete, incremental, exactly once, and never in the writer's way."""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import duckdb
import pytest
from conftest import ROOT, SEEDS, ecb_records, write_jsonl
from reliability import cli_process, start_forkserver

from bench.corpus import make_records
from bench.pgserver import PostgresServer, postgres_bin
from pipeline.cli import main
from pipeline.errors import LakeError
from pipeline.run.ingest import ingest_paths
from pipeline.settings import ClusterSettings, ExtractSettings, LakeSettings, Settings
from pipeline.store import Store
from pipeline.store.lake import publish as lakemod
from pipeline.store.lake.publish import PUBLISHED_TABLES, connect, publish, read_marks
from pipeline.store.lake.upkeep import compact, disagreements

VIEWS = ("story_overview", "story_variants", "story_aliases", "source_activity", "input_activity")
KILLS = 8
SEED = 20261207


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A database after a first ingest, and a later one after a second ingest that also merged old stories.

    The second run is an ECB+ topic whose stories merge and 150 more articles, some copies of the first run's:
    it adds articles and rewrites stories (and members) the first run stored.
    """
    folder = tmp_path_factory.mktemp("lake-stores")
    records = make_records(450, seed=5)
    first = write_jsonl(folder / "first.jsonl", records[:300])
    second = folder / "second"
    second.mkdir()
    write_jsonl(second / "more.jsonl", records[300:])
    write_jsonl(second / "topic25.jsonl", ecb_records({25}))
    (second / "empty.txt").write_text("")  # a rejection
    before = str(folder / "before.duckdb")
    # in this process, without pauses for readers: the lake tests are about what the batches stored
    fast = {"batch_size": 50, "reader_gap_seconds": 0.0, "extract": ExtractSettings(workers=1)}
    ingest_paths([first], Settings(db=before, **fast))
    after = str(folder / "after.duckdb")
    shutil.copyfile(before, after)
    ingest_paths([second], Settings(db=after, **fast))
    return before, after


def lake_at(folder: Path) -> LakeSettings:
    return LakeSettings(url=f"ducklake:sqlite:{folder / 'catalog.sqlite'}")


@pytest.fixture(scope="module")
def first_publication(stores: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``lake/``, the first database published to a new lake, and ``copy/``, a copy of it.

    ``restore`` puts the copy back at ``lake/``: the catalog records its data folder's absolute path, so a
    copy of a lake is that lake only at the path it was published at.
    """
    before, _ = stores
    folder = tmp_path_factory.mktemp("lake-first-publication")
    publish(before, lake_at(folder / "lake"))
    shutil.copytree(folder / "lake", folder / "copy")
    return folder


def restore(first_publication: Path) -> LakeSettings:
    """The lake as the first database's publication left it (catalog and data files), whatever was done to it."""
    shutil.rmtree(first_publication / "lake", ignore_errors=True)
    shutil.copytree(first_publication / "copy", first_publication / "lake")
    return lake_at(first_publication / "lake")


@pytest.fixture
def published(first_publication: Path) -> LakeSettings:
    """A lake with the first database published to it: one publication, its snapshot, nothing else."""
    return restore(first_publication)


def fingerprints(con: duckdb.DuckDBPyConnection, at: str = "") -> dict[str, tuple]:
    """Rows and an order-free hash of every published table and analyst view (``at``: an AT clause).

    One query (one snapshot of a lake) on one thread: the tables are small; a query a table on two threads
    took 0.34 s of CPU on a lake, this 0.14 s.
    """
    names = [name for name in (*PUBLISHED_TABLES, *VIEWS) if not (at and name in VIEWS)]
    sql = " UNION ALL ".join(
        f"SELECT '{name}', count(*), sum(hash(t)) FROM (SELECT * FROM {name} {at}) t" for name in names
    )
    con.execute("SET threads = 1")
    try:
        rows = {name: (count, digest) for name, count, digest in con.execute(sql).fetchall()}
    finally:
        con.execute("RESET threads")
    return {name: rows[name] for name in names}


def store_fingerprints(db: str) -> dict[str, tuple]:
    with duckdb.connect(db, read_only=True) as con:
        return fingerprints(con)


def lake_fingerprints(lake: LakeSettings, at: str = "") -> dict[str, tuple]:
    con = connect(lake)
    try:
        return fingerprints(con, at)
    finally:
        con.close()


def test_publication_copies_every_table_and_view(stores: tuple[str, str], tmp_path: Path) -> None:
    before, _ = stores
    lake = lake_at(tmp_path)
    report = publish(before, lake)
    assert report.publication == 1 and report.rows["articles"] == 300
    assert disagreements(before, lake) == []
    calls = (  # the macros of docs/data.md, in the lake
        "story_timeline((SELECT story_id FROM stories ORDER BY article_count DESC, story_id LIMIT 1))",
        "stories_between('2000-01-01', '2100-01-01')",
        "spreading(100000, 1)",
        "spreading(100000, 1, as_of := localtimestamp + INTERVAL 1 DAY)",
        "spreading(1, 1, as_of := TIMESTAMP '2000-01-01')",
    )
    con = connect(lake)
    try:
        assert fingerprints(con) == store_fingerprints(before)
        answers = [con.execute(f"SELECT count(*), sum(hash(t)) FROM {call} t").fetchall() for call in calls]
    finally:
        con.close()
    with duckdb.connect(before, read_only=True) as con:
        assert answers == [con.execute(f"SELECT count(*), sum(hash(t)) FROM {call} t").fetchall() for call in calls]
    counts = [n for ((n, _),) in answers]
    assert all(counts[:-1]) and counts[-1] == 0, counts


def test_next_publication_writes_only_what_changed_as_one_snapshot(
    stores: tuple[str, str], published: LakeSettings
) -> None:
    before, after = stores
    lake = published
    with duckdb.connect(after, read_only=True) as con:
        new, total = con.execute("SELECT count(*) FILTER (WHERE seq > 300), count(*) FROM articles").fetchall()[0]
        merged = con.execute("SELECT count(*) FROM story_merges").fetchall()[0][0]
        rewritten, in_changed_stories = con.execute(
            "SELECT count(*) FILTER (WHERE seq <= 300 AND updated_seq > 300), count(*) FILTER (WHERE seq <= 300 AND "
            "story_id IN (SELECT story_id FROM stories WHERE updated_seq > 300))  FROM articles"
        ).fetchall()[0]
    report = publish(after, lake)
    assert merged > 0, "the second run must rewrite stories the first one published"
    # the new articles, plus the older ones the run rewrote (moved, or changed their relation or canonical):
    # not every member of the stories it changed, nor the whole table
    assert 0 < rewritten < in_changed_stories
    assert report.rows["articles"] == new + rewritten < total
    assert publish(after, lake).skipped == "up to date"
    con = connect(lake)
    try:
        assert fingerprints(con) == store_fingerprints(after)
        snapshots = con.execute("SELECT snapshot_id FROM lake.snapshots() WHERE commit_message IS NOT NULL").fetchall()
        assert [s for (s,) in snapshots] == [1, 2]
        # time travel: the lake as the first publication left it is the first database
        assert fingerprints(con, "AT (VERSION => 1)") == {
            k: v for k, v in store_fingerprints(before).items() if k not in VIEWS
        }
    finally:
        con.close()


def test_a_database_from_before_updated_seq_publishes_the_members_of_changed_stories(
    stores: tuple[str, str], published: LakeSettings, tmp_path: Path
) -> None:
    """Rows an older Storyline rewrote carry no ``updated_seq``: the members of the stories it changed are
    published, as before the column, and the lake agrees with the database."""
    _, after = stores
    db = str(tmp_path / "older.duckdb")
    shutil.copyfile(after, db)
    with duckdb.connect(db) as con:
        con.execute("UPDATE articles SET updated_seq = NULL")  # as the v3 writer left them
    lake = published
    report = publish(db, lake)
    with duckdb.connect(db, read_only=True) as con:
        expected = con.execute(
            "SELECT count(*) FROM articles WHERE seq > 300 OR story_id IN "
            "(SELECT story_id FROM stories WHERE updated_seq > 300 UNION SELECT merged_story_id FROM story_merges "
            "WHERE seq > 300)"
        ).fetchall()[0][0]
    assert report.rows["articles"] == expected
    members = (
        "SELECT count(*), sum(hash(article_id, story_id, relation, is_canonical, canonical_similarity)) FROM articles"
    )
    con = connect(lake)
    try:
        theirs = con.execute(members).fetchall()
    finally:
        con.close()
    with duckdb.connect(db, read_only=True) as con:
        assert theirs == con.execute(members).fetchall()
    assert disagreements(db, lake) == []


def test_a_revised_article_and_its_replaced_version_reach_the_lake(seeds_dir: Path, tmp_path: Path) -> None:
    """A changed file revises its article in the database; the next publication carries the new text and the
    replaced version (``revisions``), and the lake agrees with the database."""
    db, lake = str(tmp_path / "revised.duckdb"), lake_at(tmp_path)
    ingest_paths([seeds_dir], Settings(db=db))
    publish(db, lake)
    seed = sorted(seeds_dir.iterdir())[0]
    seed.write_text(seed.read_text(encoding="utf-8") + "\n\nCorrection: an earlier version misnamed the city.\n")
    assert ingest_paths([seeds_dir], Settings(db=db)).revised == 1
    publish(db, lake)
    assert disagreements(db, lake) == []
    con = connect(lake)
    try:
        assert fingerprints(con) == store_fingerprints(db)
        assert con.execute("SELECT count(*) FROM revisions").fetchall() == [(1,)]
        revised = con.execute("SELECT text FROM articles WHERE revision = 2").fetchall()
    finally:
        con.close()
    assert len(revised) == 1 and "Correction: an earlier version" in revised[0][0]


def test_a_writer_opens_a_sqlite_catalog_itself_only_to_put_it_in_wal_mode(
    published: LakeSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing a Python sqlite3 handle drops this process's POSIX locks on the file, a lake session's included:
    a catalog already in WAL mode is never opened that way again."""
    catalog = Path(published.url.removeprefix("ducklake:sqlite:"))
    with closing(sqlite3.connect(catalog)) as con:  # no lake session is open in this process yet
        assert con.execute("PRAGMA journal_mode").fetchall() == [("wal",)]
    rollback = tmp_path / "other.sqlite"  # a catalog another tool made, in SQLite's default mode
    with closing(sqlite3.connect(rollback)) as con:
        con.execute("CREATE TABLE t (x)")
    assert not lakemod._in_wal_mode(rollback) and not lakemod._in_wal_mode(tmp_path / "missing.sqlite")
    lakemod._write_ahead_log(rollback)
    assert lakemod._in_wal_mode(rollback)

    def no_sqlite3(*args: object, **kwargs: object) -> None:
        raise AssertionError("the catalog was opened with Python's sqlite3")

    monkeypatch.setattr(lakemod.sqlite3, "connect", no_sqlite3)
    lakemod._write_ahead_log(rollback)
    connect(published, read_only=False).close()


def test_the_database_is_free_while_the_lake_is_written(
    stores: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, after = stores
    db = str(tmp_path / "copy.duckdb")
    shutil.copyfile(after, db)
    writes = []
    original = lakemod._write_table

    def write_and_take_the_lock(*args, **kwargs):  # type: ignore[no-untyped-def]
        with Store.open(db, wait_seconds=0) as store:  # the writer's lock, at once
            writes.append(store.max_seq())
        return original(*args, **kwargs)

    monkeypatch.setattr(lakemod, "_write_table", write_and_take_the_lock)
    publish(db, lake_at(tmp_path / "lake"))
    assert len(writes) == len(PUBLISHED_TABLES)


@pytest.mark.slow
def test_sigkill_at_any_point_leaves_the_previous_snapshot_and_the_next_publishes_once(
    stores: tuple[str, str], first_publication: Path
) -> None:
    before, after = stores
    rng = random.Random(SEED)
    old, new = store_fingerprints(before), store_fingerprints(after)
    # How long a whole publication process takes here (start-up included): kills land within it. The shorter
    # of two: the first reads the database cold, and a busy moment of the machine would stretch one alone, so
    # that kills drawn from it land after the trials' publications have ended.
    start_forkserver()  # the processes' forkserver: its own start-up is no part of the first one's
    durations = []
    for _ in range(2):
        reference = restore(first_publication)
        started = time.monotonic()
        assert cli_process("publish", "--db", after, "--lake", reference.url).wait() == 0
        durations.append(time.monotonic() - started)
    duration = min(durations)
    landed: Counter[str] = Counter()
    for trial in range(KILLS):
        lake = restore(first_publication)  # a lake with the first database published, the killed one's "before"
        data = Path(f"{lake.url.removeprefix('ducklake:sqlite:')}.files")
        files_before = sum(1 for p in data.rglob("*") if p.is_file())
        process = cli_process("publish", "--db", after, "--lake", lake.url)
        in_write = trial % 2 == 1
        if in_write:  # as soon as it writes the lake's Parquet files, before its commit
            while process.poll() is None and sum(1 for p in data.rglob("*") if p.is_file()) == files_before:
                time.sleep(0.002)
        try:  # the random delay, unless the publication ends first
            process.wait(timeout=rng.uniform(0.0, 0.02 if in_write else 0.9 * duration))
            landed["after_exit"] += 1
        except subprocess.TimeoutExpired:
            landed["in_write" if in_write else "anywhere"] += 1
        process.send_signal(signal.SIGKILL)
        process.communicate()
        # One session for the checks and the next publication, as a run's publications share one.
        con = connect(lake, read_only=False)
        try:
            state = fingerprints(con)
            assert state in (old, new), f"trial {trial}: the lake is neither the previous snapshot nor the next"
            landed["committed"] += state == new
            publish(after, lake, con=con)
            assert fingerprints(con) == new, f"trial {trial}: the next publication did not complete it once"
            assert con.execute("SELECT count(*) - count(DISTINCT article_id) FROM articles").fetchall() == [(0,)]
        finally:
            con.close()
        assert disagreements(after, lake) == []
    print(f"\nlake crash test: {dict(landed)}")
    assert landed["after_exit"] <= KILLS // 4, "most kills must land while the publication runs"
    assert landed["in_write"] >= KILLS // 4, "kills must land while the lake is being written"
    assert landed["committed"] < KILLS, "some kills must land before the commit"


def test_check_lake_reports_a_lake_that_disagrees(stores: tuple[str, str], published: LakeSettings, capsys) -> None:
    before, after = stores
    lake = published
    assert main(["check", "--db", before, "--lake-url", lake.url]) == 0
    assert "agrees" in capsys.readouterr().out
    assert main(["check", "--db", after, "--lake-url", lake.url]) == 1  # behind: not published yet
    assert "run `storyline publish` first" in capsys.readouterr().out
    con = connect(lake, read_only=False)
    try:
        con.execute("UPDATE articles SET story_id = 'sffffffffffffffff' WHERE seq = 1")
    finally:
        con.close()
    assert main(["check", "--db", before, "--lake-url", lake.url]) == 1
    out = capsys.readouterr().out
    assert "story membership differs" in out and "articles whose story is missing" in out


def test_a_lake_takes_one_database_only(published: LakeSettings, settings: Settings) -> None:
    lake = published
    ingest_paths([SEEDS], settings)
    with pytest.raises(LakeError, match="publish each database to its own lake"):
        publish(settings.db, lake)


def test_sql_on_the_lake_while_a_writer_holds_the_database(
    stores: tuple[str, str], published: LakeSettings, tmp_path: Path, capsys
) -> None:
    before, _ = stores
    db = str(tmp_path / "busy.duckdb")
    shutil.copyfile(before, db)
    lake = published  # the database's publication: it is a copy of the first database
    with Store.open(db):  # the writer holds the file
        code = main(["sql", "--db", db, "--lake-url", lake.url, "--format", "jsonl",
                     "SELECT count(*) AS n FROM story_overview"])  # fmt: skip
        assert code == 0
        with duckdb.connect(before, read_only=True) as con:
            expected = con.execute("SELECT count(*) FROM stories").fetchall()[0][0]
        assert json.loads(capsys.readouterr().out) == {"n": expected}
        assert main(["stories", "--db", db, "--lake-url", lake.url, "--limit", "3"]) == 0
        assert main(["show", "--db", db, "--lake-url", lake.url]) == 0


def test_runs_publish_mid_run_and_at_their_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = LakeSettings(url=f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}", every_batches=1)
    settings = Settings(  # in this process, without pauses for readers: the test is about the lake
        db=str(tmp_path / "run.duckdb"), batch_size=40, lake=lake, reader_gap_seconds=0.0,
        extract=ExtractSettings(workers=1), cluster=ClusterSettings(block_size=40),
    )  # fmt: skip
    corpus = write_jsonl(tmp_path / "feed.jsonl", make_records(200, seed=9))
    connections = []
    monkeypatch.setattr(lakemod, "connect", lambda *a, **k: connections.append(a) or connect(*a, **k))
    ingest_paths([corpus], settings)
    assert len(connections) == 1, "every publication of the run goes through one lake connection"
    assert disagreements(settings.db, lake) == []
    con = connect(lake)
    try:
        marks = read_marks(con)
        # 5 batches: a publication between each two, none after the last but the run's own at its end
        assert marks.publication == 5 and marks.article_seq == 200
        assert con.execute("SELECT status FROM runs").fetchall() == [("completed",)]
    finally:
        con.close()


def test_compaction_merges_files_and_keeps_the_data(stores: tuple[str, str], published: LakeSettings, capsys) -> None:
    _, after = stores
    lake = published
    publish(after, lake)
    done = compact(after, LakeSettings(url=lake.url, expire_after_days=0, rewrite_deleted=0.0))
    assert done.snapshots_expired >= 2 and done.files_after < done.files_before
    con = connect(lake)
    try:
        assert fingerprints(con) == store_fingerprints(after)
        with pytest.raises(duckdb.Error):  # expired: time travel reaches back expire_after_days only
            fingerprints(con, "AT (VERSION => 1)")
    finally:
        con.close()
    assert main(["publish", "--db", after, "--lake", lake.url, "--compact"]) == 0
    assert "compacted" in capsys.readouterr().out


@pytest.fixture(scope="session")
def postgres():
    """One real PostgreSQL server for the session (initdb in a temp folder, 127.0.0.1 only)."""
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
    server = PostgresServer().start()
    yield server
    server.stop()


def test_a_postgres_catalog_serves_readers_in_other_processes(
    stores: tuple[str, str], postgres: PostgresServer, tmp_path: Path
) -> None:
    before, after = stores
    url = "ducklake:postgres:" + postgres.create_database("storyline_lake")
    lake = LakeSettings(url=url, data_path=str(tmp_path / "files"))
    publish(before, lake)
    counts = {
        str(store_fingerprints(db)["story_overview"][0]) for db in (before, after)
    }  # what a reader may see: either snapshot
    absent = str(tmp_path / "elsewhere.duckdb")  # readers on "other machines" have no database file at all
    sql = "SELECT count(*) AS n FROM story_overview"
    readers = [cli_process("sql", "--db", absent, "--lake-url", url, "--format", "csv", sql) for _ in range(3)]
    writer = cli_process("publish", "--db", after, "--lake", url, "--data-path", lake.data_path or "")
    readers += [cli_process("sql", "--db", absent, "--lake-url", url, "--format", "csv", sql) for _ in range(2)]
    for reader in readers:
        out, err = reader.communicate(timeout=120)
        assert reader.returncode == 0, err
        assert out.splitlines()[1] in counts
    assert writer.wait(timeout=120) == 0
    assert lake_fingerprints(lake) == store_fingerprints(after)
    assert disagreements(after, lake) == []


def test_a_column_the_database_gains_reaches_the_lake(
    stores: tuple[str, str], published: LakeSettings, tmp_path: Path
) -> None:
    before, _ = stores
    db = str(tmp_path / "evolving.duckdb")
    shutil.copyfile(before, db)
    lake = published  # the database's publication: it is a copy of the first database
    with duckdb.connect(db) as con:  # as a later schema might: a new column, filled for new rows only
        con.execute("ALTER TABLE articles ADD COLUMN embargo_until TIMESTAMPTZ")
        con.execute(
            "UPDATE articles SET embargo_until = TIMESTAMPTZ '2021-08-20 10:00:00+00', updated_seq = 301 "
            "WHERE seq = 300"
        )
    report = publish(db, lake)
    assert report.rows["articles"] >= 1
    con = connect(lake)
    try:
        assert con.execute("SELECT count(embargo_until) FROM articles").fetchall() == [(1,)]
    finally:
        con.close()
    assert disagreements(db, lake) == []


def test_the_sql_examples_of_docs_lake_run_on_a_lake(stores: tuple[str, str], published: LakeSettings) -> None:
    before, after = stores
    lake = published
    publish(after, lake)
    with duckdb.connect(before, read_only=True) as con:  # a story of the first snapshot
        story = con.execute("SELECT story_id FROM stories ORDER BY article_count DESC LIMIT 1").fetchall()[0][0]
    text = (ROOT / "docs" / "lake.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 4
    stand_ins = {  # the docs' paths, ids and moments, for this lake's
        "/srv/storyline/lake/catalog.sqlite": lake.url.removeprefix("ducklake:sqlite:"),
        "s4044bfb1edcb5792": story,
        "now() - INTERVAL 1 DAY": "now()",
        "VERSION => 3": "VERSION => 1",
        "SNAPSHOT_TIME '2026-12-06 09:00:00'": "SNAPSHOT_VERSION 1",
    }
    con = duckdb.connect()
    try:
        lakemod.load_extensions(con, lake.url or "")
        answers = []
        for block in blocks:
            for old, new in stand_ins.items():
                block = block.replace(old, new)
            for statement in duckdb.extract_statements(block):
                rows = con.execute(statement).fetchall()
            answers.append(rows)
    finally:
        con.close()
    assert all(answers), answers  # top stories; snapshots; articles then; the story's timeline then


def test_only_a_publishers_session_skips_extension_signature_checks(published: LakeSettings) -> None:
    """A publisher runs Storyline's SQL only; a read-only lake session may run a user's (`storyline sql --lake`)."""
    setting = "SELECT current_setting('allow_unsigned_extensions')"
    with closing(connect(published, read_only=False)) as publisher:
        assert publisher.execute(setting).fetchall() == [(True,)]
    with closing(connect(published, read_only=True)) as reader:
        assert reader.execute(setting).fetchall() == [(False,)]
