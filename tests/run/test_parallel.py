"""Parallel preparation: worker processes give exactly what the in-process path gives, in order."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from conftest import SHARED, ecb_records, shared_data_missing, write_jsonl
from machinefaults import faulty_title

from pipeline.errors import EnvironmentFailure
from pipeline.models import KEPT_REJECTIONS, IngestReport, RawDocument, Rejection
from pipeline.run.ingest import ingest_documents, ingest_paths
from pipeline.run.parallel import MIN_PARALLEL_DOCUMENTS, PreparePool
from pipeline.run.prepare import batched, prepare_batch
from pipeline.settings import ExtractSettings, Settings
from pipeline.sources.files import read_paths

HTML_PAGES = SHARED / "data" / "html-eval" / "html"


def _mixed_jsonl(path: Path) -> Path:
    """Real HTML pages, real news texts and bad lines, interleaved."""
    pages = sorted(HTML_PAGES.glob("*.html.gz"))[:30]
    if not pages:
        shared_data_missing(HTML_PAGES)
    texts = ecb_records({1, 2})[:40]
    lines = []
    for number, page in enumerate(pages):
        html = gzip.decompress(page.read_bytes()).decode("utf-8", "replace")
        lines.append(json.dumps({"id": f"page{number}", "html": html}))
        lines.append(json.dumps({"id": texts[number]["id"], "text": texts[number]["text"]}))
        if number % 10 == 0:
            lines.append("{not json")
    lines += [json.dumps({"id": r["id"], "text": r["text"]}) for r in texts[30:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_worker_processes_prepare_exactly_what_one_process_does(tmp_path: Path) -> None:
    data = _mixed_jsonl(tmp_path / "mixed.jsonl")
    settings = Settings(extract=ExtractSettings(workers=2))
    batches = list(batched(read_paths([data]), 50))
    assert len(batches[0]) >= MIN_PARALLEL_DOCUMENTS
    with PreparePool(settings) as pool:
        parallel = list(pool.prepare_all(batches))
    local = [prepare_batch(batch, replace(settings, extract=ExtractSettings(workers=1))) for batch in batches]
    assert parallel == local
    assert any(p.rejections for p in parallel) and sum(len(p.items) for p in parallel) > 50


def test_ingest_stores_the_same_whatever_the_number_of_workers(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "ecb.jsonl", [{"id": r["id"], "text": r["text"]} for r in ecb_records({3, 4})])
    query = "SELECT article_id, external_id, story_id, variant_group, relation FROM articles ORDER BY seq"
    stored = []
    for workers in (1, 2):
        db = str(tmp_path / f"w{workers}.duckdb")
        ingest_paths([data], Settings(db=db, batch_size=64, extract=ExtractSettings(workers=workers)))
        with duckdb.connect(db, read_only=True) as con:
            stored.append(con.execute(query).fetchall())
    assert stored[0] == stored[1] and len(stored[0]) > 40


def test_small_batches_stay_in_process(tmp_path: Path) -> None:
    settings = Settings(extract=ExtractSettings(workers=2))
    batch = list(read_paths([write_jsonl(tmp_path / "few.jsonl", [{"id": "1", "text": "short text " * 20}])]))
    with PreparePool(settings) as pool:
        assert len(pool.prepare(batch).items) == 1
        assert pool._executor is None  # no worker was started for one document


def test_a_report_keeps_a_bounded_number_of_rejection_examples() -> None:
    total = IngestReport()
    for number in range(30):
        rejections = [Rejection(f"line{number}-{i}", "malformed_jsonl", "bad") for i in range(10)]
        total.add(IngestReport(read=10, rejected=10, rejections=rejections))
    assert total.rejected == 300 and len(total.rejections) == KEPT_REJECTIONS
    assert total.rejections[0].source_uri == "line0-0"  # the first ones are kept, in order


def test_workers_setting_must_be_positive() -> None:
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="workers"):
        ExtractSettings(workers=0)


def test_workers_see_the_parents_environment_of_now_not_of_when_their_forkserver_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = [{"id": r["id"], "text": r["text"]} for r in ecb_records({1})][:MIN_PARALLEL_DOCUMENTS]
    batch = list(read_paths([write_jsonl(tmp_path / "ecb.jsonl", texts)]))
    settings = Settings(extract=ExtractSettings(workers=2))
    with PreparePool(settings) as pool:  # starts the forkserver (if not already) with today's environment
        first = pool.prepare(batch)
    cache = tmp_path / "later-cache"
    monkeypatch.setenv("STORYLINE_CACHE_DIR", str(cache))
    with PreparePool(settings) as pool:
        again = pool.prepare(batch)
    assert again == first
    assert list(cache.glob("wordfreq-*/en")), "the workers built their English word table in the new cache folder"


@pytest.mark.parametrize("fault", ["efbig", "memory"])
def test_a_machine_fault_in_a_worker_stops_the_run_as_in_process(tmp_path: Path, fault: str) -> None:
    """Workers raise what the in-process path raises: the run fails, nothing is recorded as rejected."""
    texts = ecb_records({1})[:MIN_PARALLEL_DOCUMENTS]
    documents = [
        RawDocument(f"doc-{r['id']}", "text", r["text"], title=faulty_title(f"Title {r['id']}", fault)) for r in texts
    ]
    failures = {}
    for workers in (1, 2):
        db = str(tmp_path / f"w{workers}.duckdb")
        settings = Settings(db=db, batch_size=len(documents), extract=ExtractSettings(workers=workers))
        with pytest.raises(EnvironmentFailure) as raised:
            ingest_documents(documents, settings, ["faulty"])
        failures[workers] = type(raised.value.cause)
        with duckdb.connect(db, read_only=True) as con:
            assert con.execute("SELECT status, rejected FROM runs").fetchall() == [("failed", 0)]
            assert con.execute("SELECT count(*) FROM rejections").fetchone() == (0,)
    assert failures[1] is failures[2] is (MemoryError if fault == "memory" else OSError)
