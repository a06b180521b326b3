"""Updated articles: a new version of a stored document is a revision of its article, not a second article."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_jsonl
from reliability import rows

from pipeline.cluster.candidates import CandidateIndex
from pipeline.run.ingest import ingest_paths
from pipeline.settings import ClusterSettings, Settings
from pipeline.store import Store
from pipeline.store.integrity import consistency_problems

CORRECTION = (
    "\n\nCorrection: an earlier version of this article gave the wrong day for the talks between the two "
    "ruling parties, which begin on Friday in Tokyo, and misspelled the name of the Taiwanese delegation's head.\n"
)
SEED_TEXT_FILE = "001_747d38b2154d189f.txt"


def consistent(db: str) -> list[str]:
    with Store.open(db, read_only=True) as store:
        return consistency_problems(store)


def test_a_changed_file_is_a_revision_of_its_article(seeds_dir: Path, settings: Settings) -> None:
    ingest_paths([seeds_dir], settings)
    before = rows(
        settings.db, "SELECT article_id, story_id, variant_group, run_id, ingested_at FROM articles ORDER BY 1"
    )
    changed = seeds_dir / SEED_TEXT_FILE
    old_text = changed.read_text(encoding="utf-8")
    changed.write_text(old_text + CORRECTION, encoding="utf-8")

    report = ingest_paths([seeds_dir], settings)

    assert (report.new, report.revised, report.unchanged) == (0, 1, 4)
    assert report.near_duplicate == report.exact == 0 and report.stories_created == 0
    after = rows(
        settings.db, "SELECT article_id, story_id, variant_group, run_id, ingested_at FROM articles ORDER BY 1"
    )
    assert after == before  # same articles, stories, variant groups, first run and arrival time
    revised = rows(
        settings.db,
        "SELECT article_id, text, revision, revised_run IS NOT NULL FROM articles WHERE source_uri = ?",
        [changed.resolve().as_uri()],
    )
    assert len(revised) == 1 and "Correction: an earlier version" in revised[0][1] and revised[0][2:] == (2, True)
    history = rows(settings.db, "SELECT article_id, revision, text, run_id, replaced_run FROM revisions")
    assert len(history) == 1 and history[0][:2] == (revised[0][0], 1)
    assert "Correction" not in history[0][2] and history[0][3] != history[0][4]
    stories = rows(settings.db, "SELECT article_count, variant_count, source_count FROM stories")
    assert stories == [(5, 5, 5)]  # not another variant
    assert rows(settings.db, "SELECT read, new, unchanged, revised FROM runs ORDER BY started_at")[-1] == (5, 0, 4, 1)
    assert consistent(settings.db) == []


def test_the_same_input_again_adds_nothing(seeds_dir: Path, settings: Settings) -> None:
    ingest_paths([seeds_dir], settings)
    changed = seeds_dir / SEED_TEXT_FILE
    old_text = changed.read_text(encoding="utf-8")
    changed.write_text(old_text + CORRECTION, encoding="utf-8")
    ingest_paths([seeds_dir], settings)
    state = rows(settings.db, "SELECT * EXCLUDE (canonical_similarity) FROM articles ORDER BY seq")

    again = ingest_paths([seeds_dir], settings)
    assert (again.new, again.revised, again.unchanged) == (0, 0, 5)

    changed.write_text(old_text, encoding="utf-8")  # an old copy of the file comes back: it is not news
    old = ingest_paths([seeds_dir], settings)
    assert (old.new, old.revised, old.unchanged) == (0, 0, 5)
    assert rows(settings.db, "SELECT * EXCLUDE (canonical_similarity) FROM articles ORDER BY seq") == state
    assert rows(settings.db, "SELECT count(*) FROM revisions") == [(1,)]


def record(rid: str, text: str, source: str | None = "Wire", **extra: str) -> dict:
    return {"id": rid, "text": text, **({"source": source} if source else {}), **extra}


LEAD = (
    "The city council voted on Tuesday to close the old harbour bridge to cars from March, after engineers "
    "found corroded cables beneath the eastern span during a routine inspection last month."
)
UPDATE = LEAD + (
    " The mayor said on Wednesday that buses and bicycles would still be allowed across until the repairs "
    "begin, and that a ferry service would run every twenty minutes while the bridge is closed."
)
CUT = "The city council voted on Tuesday to close the old harbour bridge to cars from March."
OTHER = (
    "Farmers in the northern valley began the grape harvest two weeks early this year after a hot, dry "
    "summer, and growers expect smaller but sweeter crops across most of the region's vineyards."
)


def test_an_updated_record_from_its_source_is_a_revision_wherever_it_is_read_from(
    tmp_path: Path, settings: Settings
) -> None:
    first = write_jsonl(tmp_path / "monday.jsonl", [record("bridge-1", LEAD), record("harvest-1", OTHER)])
    ingest_paths([first], settings)
    (article_id,) = rows(settings.db, "SELECT article_id FROM articles WHERE external_id = 'bridge-1'")[0]

    later = write_jsonl(tmp_path / "tuesday.jsonl", [record("bridge-1", UPDATE, title="Bridge to close")])
    report = ingest_paths([later], settings)

    assert (report.new, report.revised) == (0, 1)
    stored = rows(
        settings.db, "SELECT article_id, title, text, source_uri FROM articles WHERE external_id = 'bridge-1'"
    )
    assert stored == [(article_id, "Bridge to close", UPDATE, later.resolve().as_uri() + "#id=bridge-1")]
    assert rows(settings.db, "SELECT source_uri, text FROM revisions") == [
        (first.resolve().as_uri() + "#id=bridge-1", LEAD)
    ]
    # Monday's dump read again: its record is an earlier version, not news.
    again = ingest_paths([first], settings)
    assert (again.new, again.revised, again.unchanged) == (0, 0, 2)
    assert rows(settings.db, "SELECT text FROM articles WHERE article_id = ?", [article_id]) == [(UPDATE,)]
    assert consistent(settings.db) == []


def test_metadata_the_new_version_lacks_is_kept(tmp_path: Path, settings: Settings) -> None:
    """A page fetched again without its feed's title and date, or a record re-sent with the text alone."""
    dated = record("bridge-1", LEAD, title="Harbour bridge to close", published_at="2026-03-02")
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", [dated])], settings)
    ingest_paths([write_jsonl(tmp_path / "b.jsonl", [record("bridge-1", UPDATE)])], settings)
    assert rows(settings.db, "SELECT title, published_at::VARCHAR, text FROM articles") == [
        ("Harbour bridge to close", "2026-03-02", UPDATE)
    ]


def test_records_that_name_no_source_are_matched_by_file_not_by_id(tmp_path: Path, settings: Settings) -> None:
    """Ids are taken as a source's own only when the record names its source: two files numbering from 1
    are two sets of articles."""
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", [record("1", LEAD, source=None)])], settings)
    report = ingest_paths([write_jsonl(tmp_path / "b.jsonl", [record("1", OTHER, source=None)])], settings)
    assert (report.new, report.revised) == (1, 0)
    assert rows(settings.db, "SELECT count(*) FROM revisions") == [(0,)]


def test_a_record_updated_within_one_batch_is_stored_once_with_its_last_text(
    tmp_path: Path, settings: Settings
) -> None:
    feed = write_jsonl(
        tmp_path / "feed.jsonl", [record("bridge-1", LEAD), record("x", OTHER), record("bridge-1", UPDATE)]
    )
    report = ingest_paths([feed], settings)
    assert (report.read, report.new, report.revised) == (3, 2, 1)
    assert rows(settings.db, "SELECT text, revision FROM articles WHERE external_id = 'bridge-1'") == [(UPDATE, 2)]
    assert rows(settings.db, "SELECT text, revision, seq FROM revisions") == [(LEAD, 1, None)]
    assert consistent(settings.db) == []


def test_a_stored_record_updated_twice_in_one_batch_keeps_both_versions(tmp_path: Path, settings: Settings) -> None:
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", [record("bridge-1", LEAD)])], settings)
    twice = [record("bridge-1", LEAD + " Update one."), record("bridge-1", UPDATE)]
    report = ingest_paths([write_jsonl(tmp_path / "b.jsonl", twice)], settings)
    assert (report.new, report.revised) == (0, 2)
    assert rows(settings.db, "SELECT text, revision FROM articles") == [(UPDATE, 3)]
    history = rows(settings.db, "SELECT revision, text, seq IS NOT NULL FROM revisions ORDER BY revision")
    assert history == [(1, LEAD, True), (2, LEAD + " Update one.", False)]
    assert consistent(settings.db) == []


def test_copies_follow_the_new_text_of_a_revised_article(tmp_path: Path, settings: Settings) -> None:
    """The old text is gone: a copy of it is no longer an exact copy; a copy of the new text is."""
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", [record("bridge-1", LEAD)])], settings)
    ingest_paths([write_jsonl(tmp_path / "b.jsonl", [record("bridge-1", UPDATE)])], settings)
    copies = [record("c-new", UPDATE, source="Other"), record("c-old", LEAD, source="Third")]
    report = ingest_paths([write_jsonl(tmp_path / "c.jsonl", copies)], settings)
    assert report.new == 2
    found = dict(rows(settings.db, "SELECT external_id, assigned_as FROM articles WHERE external_id LIKE 'c-%'"))
    assert found["c-new"] == "exact"
    assert found["c-old"] != "exact"  # the lead is still in the update: a near-duplicate
    assert rows(settings.db, "SELECT count(DISTINCT story_id) FROM articles") == [(1,)]
    assert consistent(settings.db) == []


def test_revising_the_canonical_article_recomputes_its_copies_relations(tmp_path: Path, settings: Settings) -> None:
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", [record("w-1", LEAD), record("w-2", LEAD, source="Other")])],
                 settings)  # fmt: skip
    assert sorted(r[0] for r in rows(settings.db, "SELECT relation FROM articles")) == ["canonical", "exact"]
    ingest_paths([write_jsonl(tmp_path / "b.jsonl", [record("w-1", UPDATE)])], settings)
    relations = rows(settings.db, "SELECT external_id, relation, is_canonical FROM articles ORDER BY 1")
    # The update is longer: it stays canonical, and its former exact copy is one no longer.
    assert relations == [("w-1", "canonical", True), ("w-2", "near_duplicate", False)]
    assert consistent(settings.db) == []


@pytest.mark.parametrize("evidence", ["language", "corpus"])
def test_the_index_reads_a_revision_as_a_rebuild_would(tmp_path: Path, evidence: str) -> None:
    """A running index (refreshed before and after the revision), one started from a snapshot written
    before it, and one built afresh agree: the old version's band keys are gone and its terms no longer
    counted."""
    settings = Settings(db=str(tmp_path / "db.duckdb"), cluster=ClusterSettings(evidence=evidence))
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", [record("bridge-1", LEAD), record("harvest-1", OTHER)])], settings)
    running = CandidateIndex.for_database(settings.db)
    with Store.open(settings.db, read_only=True) as store:
        assert running.save(store, force=True)
    # The correction drops the inspection: those words are in no stored article any more.
    ingest_paths([write_jsonl(tmp_path / "b.jsonl", [record("bridge-1", UPDATE.replace(LEAD, CUT))])], settings)
    (old_seq,) = rows(settings.db, "SELECT seq FROM revisions")[0]
    (new_seq,) = rows(settings.db, "SELECT seq FROM articles WHERE external_id = 'bridge-1'")[0]
    terms = sorted({t for (ts,) in rows(settings.db, "SELECT terms FROM revisions") for t in ts} | {"ferry", "mayor"})
    keys = [k for (k,) in rows(settings.db, "SELECT key FROM lsh_bands WHERE seq = ?", [new_seq])]
    fresh, from_snapshot = CandidateIndex(), CandidateIndex.for_database(settings.db)
    with Store.open(settings.db, read_only=True) as store:
        for index in (running, fresh, from_snapshot):
            index.refresh(store)
        assert from_snapshot.snapshot_seq == old_seq + 1  # it started from the snapshot, then read the tail
        assert store._con.execute("SELECT count(*) FROM lsh_bands WHERE seq = ?", [old_seq]).fetchall() == [(0,)]
    expected = fresh.document_frequencies(terms)
    assert any(expected.values()) and not all(expected.values())  # the old version's own words count no more
    for index in (running, fresh, from_snapshot):
        assert index.documents == 2 and index.document_frequencies(terms) == expected
        assert keys and all(new_seq in index.near_duplicate_candidates([k]) for k in keys)
        assert old_seq not in index.near_duplicate_candidates(keys)


def test_a_failed_revision_batch_leaves_the_old_version(tmp_path: Path, settings: Settings, monkeypatch) -> None:
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", [record("bridge-1", LEAD)])], settings)
    before = rows(settings.db, "SELECT * FROM articles")

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Store, "write_stories", broken)
    with pytest.raises(RuntimeError):
        ingest_paths([write_jsonl(tmp_path / "b.jsonl", [record("bridge-1", UPDATE)])], settings)
    monkeypatch.undo()
    assert rows(settings.db, "SELECT * FROM articles") == before
    assert rows(settings.db, "SELECT count(*) FROM revisions") == [(0,)]
    assert consistent(settings.db) == []
    report = ingest_paths([write_jsonl(tmp_path / "b.jsonl", [record("bridge-1", UPDATE)])], settings)
    assert report.revised == 1
