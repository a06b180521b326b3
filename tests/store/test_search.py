"""Full-text search: ranking, filters, bound parameters, and keeping the snapshot index current."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS, ecb_records, write_jsonl

import pipeline.store.search as search_module
from pipeline.cli import main
from pipeline.cluster.candidates import CandidateIndex
from pipeline.errors import SearchError
from pipeline.run.ingest import ingest_paths, open_for_run, store_batch
from pipeline.run.prepare import prepare_batch
from pipeline.settings import Settings
from pipeline.sources.files import read_paths
from pipeline.store import Store
from pipeline.store.search import (
    FTS_SCHEMA,
    append_to_search_index,
    build_search_index,
    corpus_state,
    ensure_search_index,
    index_state,
    load_fts,
    make_snippet,
    search_stories,
)

HOSTILE = ["'; DROP TABLE articles; --", 'taiwan" OR 1=1 --', "talks; DELETE FROM stories", "%' _ \\ ''", "'"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """Seeds plus ECB+ topic 1 (two rehab stories) with outlets and dates; returns (db, external id -> gold)."""
    folder = tmp_path_factory.mktemp("search")
    records = []
    for number, record in enumerate(ecb_records({1})):
        records.append(
            {
                "id": record["id"],
                "text": record["text"],
                "source": f"Outlet {number % 3}",
                "published_at": f"2013-05-0{1 + number % 3}",
            }
        )
    write_jsonl(folder / "topic1.jsonl", records)
    db = str(folder / "search.duckdb")
    ingest_paths([SEEDS, folder / "topic1.jsonl"], Settings(db=db))
    gold = {r["id"]: r["cluster"] for r in ecb_records({1})}
    return db, gold


def _gold_of(store: Store, article_id: str, gold: dict[str, str]) -> str | None:
    rows = store._query("SELECT external_id FROM articles WHERE article_id = ?", [article_id])
    return gold.get(rows[0]["external_id"]) if rows else None


def test_ingest_leaves_an_index_covering_every_article(corpus: tuple[str, dict[str, str]]) -> None:
    with Store.open(corpus[0], read_only=True) as store:
        state = index_state(store)
        assert state is not None and state.covers(corpus_state(store)) and state.articles == 44


def test_stories_are_ranked_by_their_best_article(corpus: tuple[str, dict[str, str]]) -> None:
    db, gold = corpus
    with Store.open(db, read_only=True) as store:
        reid = search_stories(store, "Tara Reid Promises treatment", limit=5)
        lohan = search_stories(store, "Lohan Betty Ford lawyer", limit=5)
        seeds = search_stories(store, "Japan Taiwan security dialogue", limit=5)
        assert _gold_of(store, reid[0].best_article_id, gold) == "1_1"
        assert _gold_of(store, lohan[0].best_article_id, gold) == "1_2"
    assert seeds[0].source_count == 5 and seeds[0].matched_articles == 5
    assert seeds[0].title and "Taiwan" in seeds[0].title
    for hits in (reid, lohan, seeds):
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert any("Reid" in reid[0].snippet.text[s:e] for s, e in reid[0].snippet.highlights)


def test_since_and_source_filter_articles(corpus: tuple[str, dict[str, str]]) -> None:
    with Store.open(corpus[0], read_only=True) as store:
        everything = search_stories(store, "rehab", limit=50)
        outlet = search_stories(store, "rehab", source="outlet 1", limit=50)
        late = search_stories(store, "rehab", since=date(2013, 5, 3), limit=50)
        future = search_stories(store, "rehab", since=date(2030, 1, 1), limit=50)
        per_outlet = store._query(
            "SELECT count(*) AS n FROM articles WHERE source = 'Outlet 1' AND (text ILIKE '%rehab%')"
        )[0]["n"]
    total = sum(h.matched_articles for h in everything)
    assert 0 < sum(h.matched_articles for h in outlet) <= per_outlet < total
    assert 0 < sum(h.matched_articles for h in late) < total
    assert not future


@pytest.mark.parametrize("query", HOSTILE)
def test_user_text_is_bound_never_run(corpus: tuple[str, dict[str, str]], query: str) -> None:
    db = corpus[0]
    with Store.open(db, read_only=True) as store:
        before = corpus_state(store)
        search_stories(store, query, source=query, limit=5)
        search_stories(store, query, limit=5)
    with Store.open(db, read_only=True) as store:
        assert corpus_state(store) == before
        assert store._query("SELECT count(*) AS n FROM stories")[0]["n"] > 0


def test_hostile_query_through_the_cli(corpus: tuple[str, dict[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["search", "--db", corpus[0], "--format", "jsonl", "Taiwan'; DROP TABLE articles; --"])
    out, _ = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and records and {"story_id", "title", "score", "snippet", "source_count"} <= records[0].keys()
    with Store.open(corpus[0], read_only=True) as store:
        assert corpus_state(store).articles == 44


def test_cli_table_output(corpus: tuple[str, dict[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["search", "--db", corpus[0], "Lindsay Lohan", "--since", "2013-05-01", "--limit", "3"])
    out, _ = capsys.readouterr()
    assert code == 0 and "matching 'Lindsay Lohan'" in out and "Lohan" in out


def test_empty_query_is_an_error(corpus: tuple[str, dict[str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    with Store.open(corpus[0], read_only=True) as store, pytest.raises(SearchError):
        search_stories(store, "   ")
    assert main(["search", "--db", corpus[0], ""]) == 1
    assert "empty search query" in capsys.readouterr().err


def _ingest_without_closing(paths: list[Path], settings: Settings) -> None:
    """A run that stored its batch but died before its end (so the index was not rebuilt)."""
    run_id = open_for_run(settings, [str(p) for p in paths])
    prepared = prepare_batch(list(read_paths(paths, settings.extract.max_bytes)), settings)
    with Store.open(settings.db) as store:
        store_batch(store, CandidateIndex(), run_id, prepared, settings)


def _stale_db(tmp_path: Path) -> Settings:
    settings = Settings(db=str(tmp_path / "stale.duckdb"))
    ingest_paths([SEEDS], settings)
    extra = tmp_path / "extra.jsonl"
    write_jsonl(extra, [{"id": "quake", "text": "A strong earthquake shook the coastal city of Valparaiso on "
                                               "Tuesday night, cutting power to thousands of homes."}])  # fmt: skip
    _ingest_without_closing([extra], settings)
    return settings


def test_search_rebuilds_a_stale_index(tmp_path: Path) -> None:
    settings = _stale_db(tmp_path)
    with Store.open(settings.db, read_only=True) as store:
        assert index_state(store).articles == 5 and corpus_state(store).articles == 6
    assert ensure_search_index(settings.db) is None
    with Store.open(settings.db, read_only=True) as store:
        assert index_state(store).articles == 6
        hits = search_stories(store, "earthquake Valparaiso")
    assert len(hits) == 1 and "Valparaiso" in hits[0].snippet.text


def test_stale_index_with_the_lock_taken_is_searched_with_a_warning(tmp_path: Path) -> None:
    settings = _stale_db(tmp_path)
    # Another process reading the database: readers share the file, but nobody can take the write lock.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
         "print('ready', flush=True); time.sleep(60)", settings.db],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        warning = ensure_search_index(settings.db, wait_seconds=0.2)
        assert warning and "stale" in warning and "5 of 6" in warning
        with Store.open(settings.db, read_only=True) as store:
            assert search_stories(store, "Taiwan")  # the old snapshot still answers
            assert not search_stories(store, "Valparaiso")  # the unindexed article is not there yet
    finally:
        holder.kill()
        holder.wait()


def test_missing_fts_extension_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(db=str(tmp_path / "nofts.duckdb"))
    ingest_paths([SEEDS], settings)
    # A broken install: a duckdb_extension_fts package without the extension file shadows the real one.
    (tmp_path / "shadow" / "duckdb_extension_fts").mkdir(parents=True)
    (tmp_path / "shadow" / "duckdb_extension_fts" / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'shadow'}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "search", "--db", settings.db, "taiwan"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "no fts extension" in done.stderr and "duckdb-extension-fts" in done.stderr
    assert "Traceback" not in done.stderr


def _all_scores(store: Store, queries: list[str]) -> dict[tuple[str, str], float]:
    load_fts(store._con)
    scores = {}
    for query in queries:
        rows = store._con.execute(
            f"SELECT article_id, {FTS_SCHEMA}.match_bm25(article_id, ?) AS s FROM articles WHERE s IS NOT NULL",
            [query],
        ).fetchall()
        scores.update({(query, article_id): score for article_id, score in rows})
    return scores


@pytest.mark.parametrize("slices", ["one scan", "a scan per 3 documents"])
def test_appending_to_the_index_scores_exactly_like_a_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slices: str
) -> None:
    if slices != "one scan":  # a large run's text is tokenised a slice at a time: the same rows
        monkeypatch.setattr(search_module, "TOKENISED_PER_SCAN", 3)
        monkeypatch.setattr(search_module, "DOCS_PER_MORSEL", 1)
    settings = Settings(db=str(tmp_path / "append.duckdb"))
    ingest_paths([SEEDS], settings)
    _ingest_without_closing([write_jsonl(tmp_path / "t1.jsonl", ecb_records({1}))], settings)
    queries = ["Tara Reid rehab", "Lohan Betty Ford", "Japan Taiwan security talks", "party", "the"]
    with Store.open(settings.db) as store:
        before = index_state(store)
        appended = append_to_search_index(store, before)
        assert appended.covers(corpus_state(store)) and appended.articles == 5 + len(ecb_records({1}))
        incremental = _all_scores(store, queries)
        build_search_index(store)
        rebuilt = _all_scores(store, queries)
    assert incremental.keys() == rebuilt.keys() and len(rebuilt) > 40
    assert all(abs(incremental[k] - rebuilt[k]) < 1e-9 for k in rebuilt)


def test_a_revised_article_replaces_its_document_and_scores_like_a_rebuild(tmp_path: Path) -> None:
    settings = Settings(db=str(tmp_path / "revised.duckdb"))
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    ingest_paths([seeds], settings)
    corrected = sorted(seeds.glob("001_*.txt"))[0]
    corrected.write_text(corrected.read_text(encoding="utf-8") + "\n\nCorrection: the talks moved to Okinawa.\n")
    queries = ["Okinawa", "Japan Taiwan security talks", "taiwan", "minister said"]
    with Store.open(settings.db) as store:
        before = index_state(store)
    _ingest_without_closing([seeds], settings)
    with Store.open(settings.db) as store:
        appended_state = append_to_search_index(store, before)
        assert appended_state.covers(corpus_state(store)) and appended_state.articles == 5
        assert store._con.execute(f"SELECT count(*) FROM {FTS_SCHEMA}.docs").fetchall() == [(5,)]
        appended = _all_scores(store, queries)
        build_search_index(store)
        rebuilt = _all_scores(store, queries)
    assert any(query == "Okinawa" for query, _ in appended)
    assert appended.keys() == rebuilt.keys()
    assert all(abs(appended[k] - rebuilt[k]) < 1e-9 for k in rebuilt)


def test_a_new_database_starts_with_an_empty_index_that_its_first_run_appends_to(tmp_path: Path) -> None:
    settings = Settings(db=str(tmp_path / "new.duckdb"))
    open_for_run(settings, ["nothing yet"])
    with Store.open(settings.db) as store:
        assert index_state(store) is not None and index_state(store).articles == 0
    ingest_paths([SEEDS], settings)
    queries = ["Japan Taiwan security talks", "taiwan", "minister said"]
    with Store.open(settings.db) as store:
        assert index_state(store).covers(corpus_state(store)) and corpus_state(store).articles == 5
        appended = _all_scores(store, queries)
        build_search_index(store)
        rebuilt = _all_scores(store, queries)
    assert appended.keys() == rebuilt.keys() and len(rebuilt) >= 5
    assert all(abs(appended[k] - rebuilt[k]) < 1e-9 for k in rebuilt)


def test_snippet_picks_the_densest_passage_and_marks_matches() -> None:
    text = " ".join(["filler"] * 80) + " The minister said talks with Taiwan would go ahead. " + " ".join(["x"] * 80)
    snippet = make_snippet(text, ["talk", "taiwan"], width=12)
    marked = [snippet.text[s:e] for s, e in snippet.highlights]
    assert marked == ["talks", "Taiwan"]
    assert snippet.text.startswith("… ") and snippet.text.endswith(" …")
