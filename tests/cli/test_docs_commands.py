"""Every ``storyline ...`` command in a code block of README.md and docs/*.md runs and exits 0.

The commands run in-process (``pipeline.cli.main``) against a database ingested from the seeds, with
``$STORYLINE_DB`` pointing at it and a fresh working directory, as a reader would type them after
``make run``. Placeholders (``STORY_ID``, ``DIR``, ...) are filled in from ``PLACEHOLDERS``; commands that
need the network, a Prefect server or a long run are listed by ``skip_reason`` and not run here.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS

from pipeline.cli import main
from pipeline.run.ingest import ingest_paths
from pipeline.settings import LakeSettings, Settings
from pipeline.store import Store
from pipeline.store.lake.publish import publish

DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Live sources fetch over the network (tests/run/test_live.py and test_sources.py serve them locally instead).
NETWORK_FLAGS = {"--feed", "--sitemap", "--urls", "--sources"}
# A story id shown as an example in docs/alerts.md; it stands for a real one.
EXAMPLE_STORY_IDS = {"s3f2a9c0d1e4b5a67"}


def skip_reason(argv: list[str]) -> str | None:
    """The documented allow-list: why a command is shown in the docs but not run by this test."""
    if argv[0] == "serve":
        return "runs until stopped, with a Prefect server (tests/flows/test_serve.py)"
    if argv[0] == "ingest" and NETWORK_FLAGS & set(argv):
        return "live sources need the network (tests/run/test_live.py serves a local site)"
    if argv[0] == "ingest" and "--no-prefect" not in argv:
        return "a Prefect flow starts a temporary server (tests/flows/test_flows.py)"
    return None


def documented_commands() -> list[tuple[str, str]]:
    """(file, command line) for every line starting with ``storyline `` inside a fenced code block."""
    found = []
    for path in DOC_FILES:
        for block in re.findall(r"^```[^\n]*\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.S | re.M):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.strip().removeprefix("$ ")
                if line.startswith("storyline "):
                    found.append((path.relative_to(ROOT).as_posix(), line))
    return found


COMMANDS = documented_commands()
COMMAND_IDS = [f"{doc}: {shlex.join(shlex.split(line, comments=True))}" for doc, line in COMMANDS]


def test_the_docs_show_storyline_commands() -> None:
    files = {name for name, _ in COMMANDS}
    assert {"README.md", "docs/data.md", "docs/search.md", "docs/report.md", "docs/alerts.md"} <= files
    assert any(line.startswith("storyline sql ") for name, line in COMMANDS if name == "README.md")
    assert not any("duckdb -readonly" in line for _, line in COMMANDS)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """A database of the seeds, and what the placeholders stand for (a snapshot is a copy of it)."""
    folder = tmp_path_factory.mktemp("docs-commands")
    db = str(folder / "storyline.duckdb")
    ingest_paths([SEEDS], Settings(db=db))
    snapshot = folder / "snapshot" / "storyline-snapshot.duckdb"
    snapshot.parent.mkdir()
    shutil.copy(db, snapshot)
    with Store.open(db, read_only=True) as store:
        story_id = store._query("SELECT story_id FROM stories LIMIT 1")[0]["story_id"]
    lake = f"ducklake:sqlite:{folder / 'storyline.lake.sqlite'}"  # docs/lake.md's commands read a published lake
    publish(db, LakeSettings(url=lake))
    placeholders = {"STORY_ID": story_id, "path/storyline-snapshot.duckdb": str(snapshot)}
    placeholders["ducklake:sqlite:storyline.lake.sqlite"] = lake
    return db, placeholders | dict.fromkeys(EXAMPLE_STORY_IDS, story_id)


@pytest.mark.parametrize(("doc", "line"), COMMANDS, ids=COMMAND_IDS)
def test_documented_command_runs(
    doc: str, line: str, seeded: tuple[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = shlex.split(line, comments=True)[1:]
    if reason := skip_reason(argv):
        pytest.skip(reason)
    assert not {"|", ">", "<", "&&"} & set(argv), f"{doc}: shell operators are not run by this test: {line}"
    db, placeholders = seeded
    placeholders = placeholders | {"DIR": str(tmp_path / "export")}
    monkeypatch.setenv("STORYLINE_DB", db)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # search --lake keeps its replica there
    monkeypatch.delenv("STORYLINE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # files a command writes (story.html) land here
    assert main([placeholders.get(arg, arg) for arg in argv]) == 0, f"{doc}: {line}"
