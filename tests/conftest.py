"""Shared fixtures. Tests run offline; the few that need Prefect share one temporary server for the whole run.

The suite runs on pytest-xdist workers (``-n auto`` in pyproject.toml's addopts). Expensive things are built
once per run, not once per worker: the Prefect server (``prefectserver``, owned by the controller), the word
tables (one cache folder, inherited by the workers), and each module's module-scoped fixtures (their tests
run on one worker: ``xdistgroups``).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from prefectserver import Remote, RunServer

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
ECB_DEV = SHARED / "data" / "ecbplus-dev.jsonl"
# real web pages with extraction ground truth (STORYLINE_SHARED points elsewhere when the data lives there)
HTML_EVAL = Path(os.environ.get("STORYLINE_SHARED", SHARED)) / "data" / "html-eval"

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Word tables (pipeline/fingerprint/wordtable.py) are built in a folder of this run, not the user's cache;
# set here, before any worker process starts, so workers inherit it: preparation workers, and xdist workers,
# which use the controller's folder (tables are renamed into place, so building one at once is safe).
if not (os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("STORYLINE_TEST_CACHE_DIR")):
    _CACHE = tempfile.mkdtemp(prefix="storyline-test-cache-")
    os.environ["STORYLINE_TEST_CACHE_DIR"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, True)
os.environ["STORYLINE_CACHE_DIR"] = os.environ["STORYLINE_TEST_CACHE_DIR"]


def shared_data_missing(path: Path) -> None:
    """Skip a test whose ../shared data is absent, or fail it where the data must be there.

    ``.ci/run`` sets ``STORYLINE_REQUIRE_SHARED_DATA=1`` (as does any ``CI`` environment): there a
    missing file is a broken checkout of the data, never a reason to pass quietly.
    """
    message = f"shared data not found at {path}"
    if os.environ.get("STORYLINE_REQUIRE_SHARED_DATA") == "1" or os.environ.get("CI"):
        pytest.fail(message + " (required here: STORYLINE_REQUIRE_SHARED_DATA=1 or CI is set)")
    pytest.skip(message)


@pytest.fixture
def seeds_dir(tmp_path: Path) -> Path:
    """A private copy of the seed folder (tests may add files to it)."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "test.duckdb")


@pytest.fixture
def settings(db_path: str):
    from pipeline.settings import Settings

    return Settings(db=db_path)


def ecb_records(topics: set[int] | None = None) -> list[dict]:
    """ECB+ dev records (real news with gold story labels), optionally only some topics."""
    if not ECB_DEV.exists():
        shared_data_missing(ECB_DEV)
    rows = [json.loads(line) for line in ECB_DEV.open(encoding="utf-8")]
    return [r for r in rows if topics is None or r["topic"] in topics]


def copy_database(db: Path, target: Path) -> Path:
    """Copy a database file and the files a run leaves beside it, named after it (``.wal``, the candidate
    index snapshot ``.index/``), to ``target``: the copy is that database (same id), in another place."""
    for path in db.parent.glob(f"{db.name}*"):
        destination = target.with_name(target.name + path.name.removeprefix(db.name))
        if path.is_dir():
            shutil.copytree(path, destination)
        else:
            shutil.copy2(path, destination)
    return target


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: one worker more than this process may use cores. Many tests wait on other processes (CLI
    runs, serve, Prefect and PostgreSQL servers, a slow local site) and a third worker on 2 cores fills those
    waits: measured on the quiet 2-core machine, the suite took 331 s on 2 workers, 285-300 s on 3, 315 s on 4."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own rule reads it
    return len(os.sched_getaffinity(0)) + 1


PREFECT = pytest.StashKey["RunServer | Remote"]()


def pytest_configure(config: pytest.Config) -> None:
    """The run's Prefect server: owned here, or on an xdist worker the controller's (started on demand)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "storyline_prefect" in workerinput:
        address, key = workerinput["storyline_prefect"]
        config.stash[PREFECT] = Remote(address, bytes.fromhex(key))
    else:
        config.stash[PREFECT] = RunServer()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist controller: tell each worker where to ask for the run's Prefect server and where to write
    its test groups (``xdistgroups``)."""
    server = node.config.stash[PREFECT]
    assert isinstance(server, RunServer)
    broker = server.broker()
    node.workerinput["storyline_prefect"] = (broker.address, broker.authkey.hex())
    node.workerinput["storyline_groups"] = str(_groups_folder(node.config))


GROUPS = pytest.StashKey[Path]()


def _groups_folder(config: pytest.Config) -> Path:
    if GROUPS not in config.stash:
        config.stash[GROUPS] = Path(tempfile.mkdtemp(prefix="storyline-xdist-groups-"))
    return config.stash[GROUPS]


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist=loadgroup``, with the groups tests/xdistgroups.py finds (xdist's own misses them on pytest 9.2)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdistgroups import GroupScheduling

    return GroupScheduling(config, log, _groups_folder(config))


def pytest_unconfigure(config: pytest.Config) -> None:
    if PREFECT in config.stash:
        config.stash[PREFECT].stop()  # on workers a no-op: the controller stops it after every worker ended
    if GROUPS in config.stash:
        shutil.rmtree(config.stash[GROUPS], ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker: hand the slow tests out first (the collection order is the order the controller
    hands tests out in), so that no long test starts last while the other worker idles. The tests that need
    the run's Prefect server come in the middle: after the other slow tests, because the server takes ~12 s
    to start (on one core, from the end of collection) and workers handed Prefect tests first only waited
    for it; before the other quick ones, because they wait on their flow runs and servers, and at the end
    of the run those waits left the cores idle."""
    if "storyline_groups" in getattr(config, "workerinput", {}):
        items.sort(key=_hand_out_rank)  # stable: otherwise as collected


# (slow, needs the Prefect server) -> when it is handed out
_HAND_OUT_RANKS = {(True, False): 0, (True, True): 1, (False, True): 2, (False, False): 3}


def _hand_out_rank(item: pytest.Item) -> int:
    """0: slow, 1: slow and on Prefect, 2: on Prefect, 3: the rest."""
    return _HAND_OUT_RANKS[item.get_closest_marker("slow") is not None, _needs_prefect(item)]


def _needs_prefect(item: pytest.Item) -> bool:
    """Whether the test uses the run's Prefect server."""
    return "prefect_server" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """On an xdist worker, write the test groups before the collection is reported (tests/xdistgroups.py).
    Start the Prefect server now, while other tests run, if a selected test will need it."""
    workerinput = getattr(session.config, "workerinput", {})
    if "storyline_groups" in workerinput:
        from xdistgroups import groups_of, write_groups

        write_groups(Path(workerinput["storyline_groups"]), workerinput["workerid"], groups_of(session.items))
    if any(_needs_prefect(item) for item in session.items):
        session.config.stash[PREFECT].prepare()


@pytest.fixture(scope="session")
def prefect_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The run's temporary Prefect server (SQLite in a temporary folder) as this process's API, as
    ``prefect.testing.utilities.prefect_test_harness`` would set it, without a server per process."""
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    url = request.config.stash[PREFECT].url()
    import prefect.context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: url}),
        prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()),
    ):
        yield
        # what the harness does before it stops its server: send the logs and events still queued
        APILogWorker.drain_all()
        EventsWorker.drain_all()


@pytest.fixture
def prefect_api_url(prefect_server: None) -> str:
    """The session server's API address, for a `storyline` subprocess to use instead of starting its own."""
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


LIVE_SITE = ROOT / "tests" / "fixtures" / "live" / "site"


@pytest.fixture
def live_site(tmp_path: Path):
    """A real HTTP news site on 127.0.0.1 over a private copy of tests/fixtures/live/site."""
    from livesite import LiveSite

    root = tmp_path / "site"
    shutil.copytree(LIVE_SITE, root)
    with LiveSite(root) as site:
        yield site


@pytest.fixture
def fast_fetch():
    """Fetch settings with tiny timeouts and backoff, so failure cases take fractions of a second."""
    from pipeline.settings import FetchSettings

    return FetchSettings(
        connect_timeout=1.0, read_timeout=0.5, total_timeout=1.0, retries=2, backoff=0.01, backoff_max=0.05,
        max_bytes=200_000, per_host_rate=1000.0, per_host_concurrency=4, workers=4,
    )  # fmt: skip
