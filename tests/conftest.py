"""Shared fixtures. Tests run offline; the few that need Prefect share one temporary server."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
ECB_DEV = SHARED / "data" / "ecbplus-dev.jsonl"
# real web pages with extraction ground truth (STORYLINE_SHARED points elsewhere when the data lives there)
HTML_EVAL = Path(os.environ.get("STORYLINE_SHARED", SHARED)) / "data" / "html-eval"

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Word tables (pipeline/fingerprint/wordtable.py) are built in a folder of this session, not the user's cache;
# set here, before any worker process starts, so workers inherit it.
_CACHE = tempfile.mkdtemp(prefix="storyline-test-cache-")
os.environ["STORYLINE_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)


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


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory):
    """One temporary Prefect server (SQLite in a temp PREFECT_HOME) for the whole session."""
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


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
