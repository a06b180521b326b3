"""The storyline command line, called in-process (the flow path is in test_flows.py)."""

from __future__ import annotations

import errno
import importlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import SEEDS, copy_database

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def seeds_ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the seeds ingested by `storyline ingest --no-prefect` into a database of their own."""
    folder = tmp_path_factory.mktemp("cli-seeds")
    shutil.copytree(SEEDS, folder / "seeds")
    assert main(["ingest", "--no-prefect", "--db", str(folder / "test.duckdb"), str(folder / "seeds")]) == 0
    return folder / "test.duckdb"


@pytest.fixture
def seeded_db(seeds_ingested: Path, db_path: str) -> None:
    """Fills ``db_path`` with a private copy of that database, for a test to read or change."""
    copy_database(seeds_ingested, Path(db_path))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_prints_a_summary(seeds_dir: Path, db_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ingest", "--no-prefect", "--db", db_path, str(seeds_dir))
    assert code == 0
    assert "read 5, new 5" in out and "rewrites 4" in out and "stories created 1" in out


def test_a_batch_size_below_the_clustering_block_is_reported_rounded_up(
    seeds_dir: Path, db_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "ingest", "--no-prefect", "--db", db_path, "--batch-size", "7", str(seeds_dir))
    assert code == 0
    assert "each transaction stores 200 documents: batch size 7 rounded up to whole clustering blocks of 200" in err
    assert "each transaction" not in run(capsys, "ingest", "--no-prefect", "--db", db_path, str(seeds_dir))[2]


def test_db_defaults_to_env(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STORYLINE_DB", str(tmp_path / "env.duckdb"))
    assert run(capsys, "ingest", "--no-prefect", str(seeds_dir))[0] == 0
    assert (tmp_path / "env.duckdb").exists()


def test_export_stories_and_show(seeds_dir: Path, db_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "ingest", "--no-prefect", "--db", db_path, str(seeds_dir))

    code, out, _ = run(capsys, "export", "--format", "jsonl", "--db", db_path)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(records) == 5
    required = {"article_id", "external_id", "source_uri", "title", "published_at", "published_ts", "story_id"}
    assert required | {"variant_group", "relation", "is_canonical"} <= records[0].keys()
    assert len({r["story_id"] for r in records}) == 1
    assert sum(r["is_canonical"] for r in records) == 1
    assert len({r["variant_group"] for r in records}) == 5

    code, out, _ = run(capsys, "stories", "--db", db_path)
    assert code == 0 and records[0]["story_id"] in out and "1 story" in out

    code, out, _ = run(capsys, "show", records[0]["story_id"], "--db", db_path)
    assert code == 0
    assert out.count("rewrite") >= 4 and "canonical" in out and "shared:" in out
    assert "Japan and Taiwan hold talks to counter Chinese aggression" in out


def test_show_lists_variants_in_utc_order_with_their_utc_times(
    seeds_dir: Path, tmp_path: Path, db_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19: 01:30 at UTC+14 on the 20th came before 23:30 at UTC-5 on the 19th."""
    texts = [path.read_text(encoding="utf-8").split("\n", 1)[1] for path in sorted(seeds_dir.glob("*.txt"))]
    days = ["2021-08-18", "2021-08-19T23:30-05:00", "2021-08-20T01:30+14:00"]
    records = [{"id": f"z{i}", "text": texts[i], "published_at": day} for i, day in enumerate(days)]
    ingest_jsonl(capsys, db_path, tmp_path / "zones.jsonl", *records)
    with duckdb.connect(db_path, read_only=True) as con:
        ids = dict(con.execute("SELECT external_id, article_id FROM articles").fetchall())
        (story_id,) = con.execute("SELECT story_id FROM stories").fetchall()[0]

    code, out, _ = run(capsys, "show", story_id, "--db", db_path)

    assert code == 0
    assert out.index(ids["z0"]) < out.index(ids["z2"]) < out.index(ids["z1"])
    assert f"{ids['z2']}  2021-08-19 11:30 UTC" in out and f"{ids['z1']}  2021-08-20 04:30 UTC" in out
    assert f"{ids['z0']}  2021-08-18 " in out  # a bare date is shown as a date


def test_show_unknown_story(db_path: str, seeded_db: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "show", "s-nope", "--db", db_path)
    assert code == 1 and "no story" in err


def test_reading_a_missing_database_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "stories", "--db", str(tmp_path / "none.duckdb"))
    assert code == 1 and "storyline ingest" in err


def test_nothing_ingested_exits_non_zero(tmp_path: Path, db_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "ingest", "--no-prefect", "--db", db_path, str(tmp_path / "missing"))
    assert code == 1 and "missing_path" in err


def test_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[cluster]\nrewrite_threshold = 7\n")
    code, _, err = run(capsys, "ingest", "--no-prefect", "--config", str(config), str(tmp_path))
    assert code == 2 and "rewrite_threshold" in err


def test_extract_reads_stdin_and_writes_jsonl(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    html = (
        "<html><head><title>Flood closes bridge</title></head><body><article>"
        + "<p>The river rose two metres overnight and the old bridge was closed to traffic by the city.</p>"
        + "<p>Engineers will inspect the piers on Monday before deciding when buses can cross again.</p>"
        + "<p>Residents of the lower town were told to move cars away from the quays until the water falls.</p>"
        + "</article></body></html>"
    )
    lines = [
        json.dumps({"id": "h1", "url": "https://example.org/a", "html": html}),
        "{not json",
        json.dumps({"id": 7, "text": "Flood closes bridge\n\nFirst paragraph of a plain text story, long enough."}),
    ]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(("\n".join(lines) + "\n").encode())))

    code, out, err = run(capsys, "extract")

    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["id"] for r in records] == ["h1", "7"]
    assert {"id", "title", "text", "published_at", "published_ts", "author", "sitename", "language"} <= records[
        0
    ].keys()
    assert "river rose two metres" in records[0]["text"] and records[0]["language"] == "en"
    assert records[1]["title"] == "Flood closes bridge"
    assert "malformed_jsonl" in err and "2 extracted, 1 rejected" in err


QUAKE = (
    "A strong earthquake shook the northern coast of the island early on Sunday, cutting power to thousands "
    "of homes and closing the two main ports until engineers could inspect the quays."
)
BUDGET = (
    "Parliament passed the national budget late on Tuesday after a night of debate, raising spending on "
    "schools and hospitals while freezing the pay of senior civil servants for two years."
)
FERRY = (
    "Ferry crews walked out on Friday over a dispute about rosters, stranding hundreds of passengers at the "
    "harbour and forcing the operator to cancel every crossing to the islands until Monday."
)
ECLIPSE = (
    "Astronomers expect thousands of visitors in the desert town for the total solar eclipse, the first "
    "visible from the region in more than a century, and hotels are already fully booked."
)


def ingest_jsonl(capsys: pytest.CaptureFixture[str], db_path: str, path: Path, *records: dict) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert run(capsys, "ingest", "--no-prefect", "--db", db_path, str(path))[0] == 0


def test_stories_lists_untitled_and_undated_stories_by_latest_activity(
    tmp_path: Path, db_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    soon = (date.today() + timedelta(days=1)).isoformat()  # after every ingest time (and still plausible): the latest
    ingest_jsonl(capsys, db_path, tmp_path / "1.jsonl", {"id": "quake", "text": QUAKE},
                 {"id": "eclipse", "text": ECLIPSE, "published_at": soon})  # fmt: skip
    ingest_jsonl(capsys, db_path, tmp_path / "2.jsonl", {"id": "budget", "text": BUDGET, "published_at": "2021-05-04"})
    ingest_jsonl(capsys, db_path, tmp_path / "3.jsonl", {"id": "ferry", "text": FERRY})
    story_of = {
        r["external_id"]: r["story_id"] for r in map(json.loads, run(capsys, "export", "--db", db_path)[1].splitlines())
    }

    code, out, _ = run(capsys, "stories", "--db", db_path)

    assert code == 0 and "4 stories" in out
    order = sorted(story_of, key=lambda name: out.index(story_of[name]))
    assert order == ["eclipse", "ferry", "budget", "quake"]  # then by last ingest, the undated ones included
    assert "A strong earthquake shook the northern coast of the island…" in out
    assert "Parliament passed the national budget late on Tuesday after…" in out


def test_stories_shows_titles_when_there_are_some(
    tmp_path: Path, db_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest_jsonl(capsys, db_path, tmp_path / "1.jsonl", {"id": "quake", "title": "Quake hits the north", "text": QUAKE})
    out = run(capsys, "stories", "--db", db_path)[1]
    assert "Quake hits the north" in out and "A strong earthquake" not in out


# lxml_html_clean blocked before anything imports it, as in an install where pip dropped it.
WITHOUT_HTML_CLEAN = (
    "import sys; sys.modules['lxml_html_clean'] = None; from pipeline.cli import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.mark.parametrize("command", ["ingest", "extract"])
def test_missing_extraction_dependency_fails_at_once_with_one_line(tmp_path: Path, command: str) -> None:
    """Not one extract_failed rejection per page: the install is broken, and the command says how to fix it."""
    page = (Path(__file__).parents[1] / "fixtures" / "live" / "site" / "news" / "story-1.html").read_text()
    records = tmp_path / "pages.jsonl"
    records.write_text("".join(json.dumps({"id": f"p{i}", "html": page}) + "\n" for i in range(3)))
    argv = ["ingest", "--no-prefect", "--db", str(tmp_path / "t.duckdb")] if command == "ingest" else ["extract"]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_HTML_CLEAN, *argv, str(records)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "rejected" not in done.stderr, done.stderr
    assert "lxml_html_clean" in lines[0] and "-m pip install lxml_html_clean" in lines[0]


# What a hostile record puts in a title: retitle the terminal window (OSC ... BEL), clear the screen,
# reverse what follows (RLO), a C1 control, and rich markup.
HOSTILE_TITLE = "Quake \x1b]0;owned\x07\x1b[2Jhits \u202enorth\u202c the [bold red]north\x9b"
TERMINAL_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e", "\u202c")


def _shown_commands(db_path: str, story_id: str, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    outputs = {}
    for argv in (["stories"], ["show", story_id], ["search", "quake"]):
        code, out, err = run(capsys, *argv, "--db", db_path)
        assert code == 0, err
        outputs[argv[0]] = out
    return outputs


def test_control_and_bidi_characters_are_stripped_from_stored_titles_and_text(
    tmp_path: Path, db_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = QUAKE.replace("island", "island\x1b[2J\u2066") + "\x07"
    ingest_jsonl(capsys, db_path, tmp_path / "1.jsonl", {"id": "quake", "title": HOSTILE_TITLE, "text": text})
    record = json.loads(run(capsys, "export", "--format", "jsonl", "--db", db_path)[1].splitlines()[0])
    with duckdb.connect(db_path, read_only=True) as con:
        stored_text, stored_title = con.execute("SELECT text, title FROM articles").fetchall()[0]
    assert record["title"] == stored_title == "Quake ]0;owned[2Jhits north the [bold red]north"
    assert not any(c in stored_text for c in TERMINAL_CONTROLS) and "the island[2J early on" in stored_text
    for command, out in _shown_commands(db_path, record["story_id"], capsys).items():
        assert not any(c in out for c in TERMINAL_CONTROLS), command
        assert "[bold red]north" in out, command  # shown as text, not taken for markup


def test_controls_left_in_an_old_database_are_shown_escaped(
    tmp_path: Path, db_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest_jsonl(capsys, db_path, tmp_path / "1.jsonl", {"id": "quake", "title": "Quake hits", "text": QUAKE})
    with duckdb.connect(db_path) as con:  # as a database written before extraction stripped them
        con.execute("UPDATE articles SET title = ?, text = replace(text, 'island', ?)", [HOSTILE_TITLE, "isl\x1band"])
        con.execute("UPDATE stories SET title = ?", [HOSTILE_TITLE])
        story_id = con.execute("SELECT story_id FROM stories").fetchall()[0][0]
    for command, out in _shown_commands(db_path, story_id, capsys).items():
        assert not any(c in out for c in TERMINAL_CONTROLS), command
        assert "\\x1b]0;owned\\x07" in out and "\\u202e" in out, command


def test_sql_prints_the_last_statement_as_a_table_csv_or_jsonl(
    db_path: str, seeded_db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    query = "SELECT 1 AS ignored; SELECT title, source_count, sources, NULL AS nothing FROM story_overview"

    code, out, _ = run(capsys, "sql", "--db", db_path, query)
    assert code == 0 and "1 row" in out and "Japan" in out and "NULL" in out and "ignored" not in out

    code, out, _ = run(capsys, "sql", "--db", db_path, "--format", "csv", query)
    header, row = out.splitlines()
    assert code == 0 and header == "title,source_count,sources,nothing" and ",5,000_f6fcc1670fe0f26c.txt | " in row

    code, out, _ = run(capsys, "sql", "--db", db_path, "--format", "jsonl", query)
    (record,) = map(json.loads, out.splitlines())
    assert code == 0 and record["source_count"] == 5 and "Alexa" in record["sources"] and record["nothing"] is None
    # intervals and timestamps, which JSON lacks, come out as text
    code, out, _ = run(capsys, "sql", "--db", db_path, "--format", "jsonl",
                       "SELECT finished_at - started_at AS took, started_at FROM runs")  # fmt: skip
    assert code == 0 and "T" in json.loads(out)["started_at"]


def test_sql_runs_the_table_macros(db_path: str, seeded_db: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sql", "--db", db_path, "--format", "jsonl",
                         "SELECT position FROM story_timeline((SELECT story_id FROM stories))")  # fmt: skip
    assert code == 0, err
    assert [json.loads(line)["position"] for line in out.splitlines()] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM no_such_table", "Table with name no_such_table does not exist"),
        ("SELEC 1", "syntax error"),
        ("SELECT 1; SELEC 2", "syntax error"),
        ("  ;  ", "no SQL statement"),
    ],
)
def test_sql_errors_are_one_line_and_exit_2(
    db_path: str, seeded_db: None, capsys: pytest.CaptureFixture[str], sql: str, expected: str
) -> None:
    code, out, err = run(capsys, "sql", "--db", db_path, sql)
    assert code == 2 and not out
    assert len(err.strip().splitlines()) == 1 and expected in err and err.startswith("storyline: error:")


@pytest.mark.parametrize("sql", ["DELETE FROM stories", "UPDATE stories SET title = 'x'", "CREATE TABLE t (a INT)"])
def test_sql_refuses_writes_saying_the_database_is_read_only(
    db_path: str, seeded_db: None, capsys: pytest.CaptureFixture[str], sql: str
) -> None:
    code, _, err = run(capsys, "sql", "--db", db_path, sql)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "opened read-only" in err
    with duckdb.connect(db_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM stories WHERE title = 'x'").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM stories").fetchall() == [(1,)]


def test_sql_shows_stored_text_not_markup_or_controls(
    tmp_path: Path, db_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest_jsonl(capsys, db_path, tmp_path / "1.jsonl", {"id": "quake", "title": "Quake hits", "text": QUAKE})
    # chr() builds what an old database may hold: an OSC sequence, BEL, RLO and rich markup
    sql = "SELECT 'Quake ' || chr(27) || ']0;owned' || chr(7) || chr(8238) || ' [bold red]north' AS \"[i]t\""
    code, out, _ = run(capsys, "sql", "--db", db_path, sql)
    assert code == 0 and "[bold red]north" in out and "[i]t" in out
    assert not any(c in out for c in TERMINAL_CONTROLS) and "\\x1b]0;owned\\x07\\u202e" in out


def test_sql_on_a_missing_database_says_to_ingest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sql", "--db", str(tmp_path / "none.duckdb"), "SELECT 1")
    assert code == 1 and "storyline ingest" in err


def test_check_reports_a_corrupt_index_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import ecb_records, write_jsonl

    from pipeline.cluster.candidates import CandidateIndex, snapshot_path
    from pipeline.run.ingest import ingest_paths
    from pipeline.settings import Settings
    from pipeline.store import Store

    db = str(tmp_path / "s.duckdb")
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", ecb_records({1}))], Settings(db=db))
    with Store.open(db, read_only=True) as store:
        assert CandidateIndex.for_database(db).save(store, force=True)
    assert run(capsys, "check", "--db", db)[0] == 0
    version = snapshot_path(db) / (snapshot_path(db) / "CURRENT").read_text().strip()
    signatures = version / "article_signatures.npy"
    size = signatures.stat().st_size
    with open(signatures, "r+b") as file:  # a zeroed block of the right size: only the checksum can tell
        file.seek(size - 64)
        file.write(bytes(64))
    code, out, _ = run(capsys, "check", "--db", db)
    assert code == 1
    assert "corrupt index snapshot" in out and "article_signatures.npy" in out and "next ingest rewrites it" in out


def test_a_machine_fault_is_one_line_and_exit_code_3(
    seeds_dir: Path, db_path: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def file_too_large(*args, **kwargs):
        raise OSError(errno.EFBIG, "File too large")

    monkeypatch.setattr(importlib.import_module("pipeline.extract.article"), "_extract_text", file_too_large)
    code, _, err = run(capsys, "ingest", "--no-prefect", "--db", db_path, str(seeds_dir))
    assert code == 3
    lines = err.strip().splitlines()
    assert lines[-1].startswith("storyline: error: the machine failed while extracting ")
    assert "File too large" in lines[-1] and "Traceback" not in err


def _unprivileged() -> list[str]:
    """A command prefix that runs without root (whose writes ignore permission bits), or skips the test."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permission bits would be ignored")
    return ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


def _shared_folder(seeds_dir: Path) -> Path:
    """A folder another user may write, holding a database whose last batch is in its write-ahead log."""
    folder = Path(tempfile.mkdtemp(prefix="storyline-wal-"))
    shutil.copytree(seeds_dir, folder / "seeds")
    # Extract in the ingesting process: a worker started as another user may not run root's interpreter.
    (folder / "one.toml").write_text("[extract]\nworkers = 1\n", encoding="utf-8")
    from pipeline.store import Store

    with Store.open(folder / "a.duckdb") as store:  # a run's row, left in the log (no checkpoint on close)
        store.begin_run(["seeds"])
    assert (folder / "a.duckdb.wal").exists()
    if os.geteuid() == 0:
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, 65534, 65534)
    return folder


@pytest.mark.parametrize("read_only", ["log", "folder"])
def test_an_unwritable_write_ahead_log_is_one_line_naming_the_file(seeds_dir: Path, read_only: str) -> None:
    prefix = _unprivileged()
    folder = _shared_folder(seeds_dir)
    try:
        if read_only == "log":
            (folder / "a.duckdb.wal").chmod(0o444)
        else:  # with the log checkpointed away, DuckDB would create it on the first commit
            duckdb.connect(str(folder / "a.duckdb")).execute("CHECKPOINT").close()
            folder.chmod(0o555)
        db, config = str(folder / "a.duckdb"), str(folder / "one.toml")
        ingest = ["ingest", "--no-prefect", str(folder / "seeds"), "--db", db, "--config", config]
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "pipeline.cli", *ingest],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    named = "a.duckdb.wal" if read_only == "log" else str(folder)
    assert named in done.stderr and "Permission denied" in done.stderr, done.stderr


def test_a_commit_that_cannot_write_the_log_is_one_line_naming_the_database(seeds_dir: Path) -> None:
    """The log becomes unwritable after the open (a disk remounted, a chmod): the batch's commit says so."""
    prefix = _unprivileged()
    folder = _shared_folder(seeds_dir)
    script = (
        "import os, sys\n"
        "from pipeline.store import Store\n"
        "from pipeline.errors import StorylineError\n"
        f"store = Store.open({str(folder / 'a.duckdb')!r})\n"
        f"os.chmod({str(folder / 'a.duckdb.wal')!r}, 0o444)\n"
        "try:\n"
        "    with store.transaction():\n"
        "        store.begin_run(['again'])\n"
        "except StorylineError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        shutil.rmtree(folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("EnvironmentFailure "), done.stdout
    assert str(folder / "a.duckdb") in done.stdout and "Permission denied" in done.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_stops_on_ctrl_c_and_on_systemds_stop_alike_and_a_second_signal_acts_at_once(signum: int) -> None:
    """`storyline serve` (tests/flows/test_serve.py runs it) takes SIGINT and SIGTERM the same way: the first asks
    for a clean stop, the handler it replaced is back for a second one, and both are restored on leaving."""
    from pipeline.cli.live import stop_on_signals

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    second: list[int] = []
    signal.signal(signum, lambda number, _frame: second.append(number))
    replaced = signal.getsignal(signum)
    stop = threading.Event()
    try:
        with stop_on_signals(stop):
            os.kill(os.getpid(), signum)
            assert stop.is_set() and not second
            os.kill(os.getpid(), signum)
            assert second == [signum]
        assert signal.getsignal(signum) is replaced
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
