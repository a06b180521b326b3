"""Corpus evidence: term weights from the stored news with the language as prior, and the corpus mode end to end."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import SHARED

from pipeline.cluster.candidates import CandidateIndex
from pipeline.errors import ParameterMismatchError
from pipeline.evaluate import evaluate_file
from pipeline.fingerprint.evidence import PRIOR_DOCUMENTS, document_chance, idf, stemmer, weigh
from pipeline.fingerprint.fingerprints import TermWeighter
from pipeline.run.ingest import ingest_paths
from pipeline.settings import ClusterSettings, Settings
from pipeline.store import Store

CORPUS = ClusterSettings(evidence="corpus")
ALLSIDES_DATED = SHARED / "data" / "allsides-dated-dev.jsonl"


def test_without_a_corpus_the_language_prior_ranks_terms() -> None:
    rare, common = document_chance(2.0), document_chance(5.0)
    assert 0.0 < rare < common <= 1.0
    assert idf(0, 0, rare) > idf(0, 0, common) > 0.0
    assert document_chance(0.0) == 0.0  # a word the language has never seen: the highest prior idf


def test_a_term_common_in_the_stored_news_loses_weight_whatever_the_language_says() -> None:
    chance = document_chance(3.0)  # a surname: rare in the language
    assert idf(500, 1000, chance) < idf(1, 1000, chance)
    # the corpus outweighs the prior once it holds a few times PRIOR_DOCUMENTS articles
    many = 10 * PRIOR_DOCUMENTS
    assert idf(many // 3, many, chance) < 0.5 * idf(0, many, chance)


def test_weigh_gives_a_unit_vector_ordered_by_evidence_times_idf() -> None:
    vector = weigh({"kerri": 2.0, "iran": 1.0}, {"kerri": 1e-4, "iran": 1e-4}, {"kerri": 400}, 1000)
    assert math.isclose(sum(w * w for w in vector.values()), 1.0)
    assert vector["iran"] > vector["kerri"] * 0.5  # kerri is in 40% of the corpus


def test_evidence_stems_counts_the_headline_twice_and_drops_dates() -> None:
    weighter = TermWeighter(CORPUS)
    evidence, chances = weighter.evidence(
        "Trump slams Kerry", "On Monday in March 2019 President Trump slammed John Kerry over 52 deals.", "en"
    )
    assert "slam" in evidence and "slams" not in evidence and "slammed" not in evidence
    assert evidence["slam"] == pytest.approx(1 + math.log(3))  # twice in the headline, once in the text
    assert evidence["kerri"] == pytest.approx(1 + math.log(3))
    assert not {"monday", "march", "2019"} & evidence.keys()
    assert "52" in evidence and chances["52"] == 0.0
    assert set(chances) == set(evidence)


def test_stemmer_leaves_languages_without_one_alone() -> None:
    assert stemmer("en")("running") == "run"
    assert stemmer("xx")("running") == "running"


def _records(n: int) -> list[dict]:
    lead = "Officials in {place} said the {thing} would reopen after repairs to the {part} were finished."
    places = ["Lisbon", "Oslo", "Quito", "Hanoi", "Accra", "Perth", "Lima", "Riga"]
    things = ["bridge", "museum", "stadium", "library", "airport", "harbour", "tunnel", "market"]
    parts = ["roof", "deck", "pumps", "lifts", "runway", "quay", "lights", "stalls"]
    return [
        {"id": f"r{i}", "title": f"{places[i % 8]} {things[i % 8]} to reopen",
         "text": lead.format(place=places[i % 8], thing=things[i % 8], part=parts[i % 8]) + f" Ref {100 + i}."}
        for i in range(n)
    ]  # fmt: skip


def test_document_frequencies_follow_the_store_and_survive_the_snapshot(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    records = _records(16)
    data.write_text("".join(json.dumps(r) + "\n" for r in [*records, {**records[0], "id": "copy"}]))
    settings = Settings(db=str(tmp_path / "s.duckdb"), cluster=replace(CORPUS, block_size=5), batch_size=5)
    ingest_paths([data], settings)
    with Store.open(settings.db, read_only=True) as store:
        index = CandidateIndex.for_database(settings.db)
        index.refresh(store)
        assert index.documents == 16  # the exact copy is not counted
        df = index.document_frequencies(["lisbon", "reopen", "unheard"])
        assert df == {"lisbon": 2, "reopen": 16, "unheard": 0}
        fresh = CandidateIndex()  # no snapshot: built from the store
        fresh.refresh(store)
        assert fresh.documents == 16 and fresh.document_frequencies(["lisbon", "reopen"]) == {"lisbon": 2, "reopen": 16}


def test_corpus_mode_does_not_chain_a_real_stream(tmp_path: Path) -> None:
    """The first 150 articles of a real dated stream: names common in the news pile up in one story
    under the language's rarity; the corpus's own frequencies keep stories apart."""
    assert ALLSIDES_DATED.exists(), f"dev data missing: {ALLSIDES_DATED}"
    rows = [json.loads(line) for line in ALLSIDES_DATED.open(encoding="utf-8")][:150]
    data = tmp_path / "stream.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    language, corpus = (
        evaluate_file(data, "cluster", settings=Settings(cluster=ClusterSettings(evidence=mode)), baseline=False)
        for mode in ("language", "corpus")
    )
    assert corpus.story_bcubed.f1 > language.story_bcubed.f1 + 0.05, (corpus.story_bcubed, language.story_bcubed)
    assert corpus.story_chaining.largest <= 3 * corpus.story_chaining.largest_gold < language.story_chaining.largest


def test_stories_count_their_distinct_variants(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    records = _records(4)
    copies = [{**r, "id": f"{r['id']}-copy"} for r in records]  # exact copies: no new variant
    data.write_text("".join(json.dumps(r) + "\n" for r in [*records, *copies]))
    settings = Settings(db=str(tmp_path / "s.duckdb"), cluster=CORPUS)
    ingest_paths([data], settings)
    with Store.open(settings.db, read_only=True) as store:
        rows = store._query(
            "SELECT s.variant_count, count(DISTINCT a.variant_group) AS groups FROM stories s "
            "JOIN articles a USING (story_id) GROUP BY s.story_id, s.variant_count"
        )
    assert rows and all(r["variant_count"] == r["groups"] for r in rows)


def test_a_database_keeps_its_evidence_mode(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _records(4)))
    settings = Settings(db=str(tmp_path / "s.duckdb"))
    ingest_paths([data], settings)
    with pytest.raises(ParameterMismatchError, match=r"cluster\.evidence"):
        ingest_paths([data], replace(settings, cluster=CORPUS))


@pytest.mark.parametrize(
    ("key", "other"), [("cluster.evidence", CORPUS), ("cluster.block_size", ClusterSettings(block_size=50))]
)
def test_databases_from_before_a_setting_read_as_its_default(tmp_path: Path, key: str, other: ClusterSettings) -> None:
    """The evidence mode (language) and the clustering block (200) were added to databases already written."""
    settings = Settings(db=str(tmp_path / "s.duckdb"))
    old = {k: v for k, v in settings.stored_parameters().items() if k != key}
    with Store.open(settings.db) as store:
        store.check_parameters(old)  # what a database written before the setting holds
        store.check_parameters(settings.stored_parameters())
        with pytest.raises(ParameterMismatchError, match=key.replace(".", r"\.")):
            store.check_parameters(replace(settings, cluster=other).stored_parameters())
