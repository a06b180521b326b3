"""End to end through the library: files in, stories in DuckDB out."""

from __future__ import annotations

import errno
import importlib
from datetime import date, datetime
from pathlib import Path

import pytest
from conftest import SEEDS, ecb_records, write_jsonl
from reliability import rows

import pipeline.run.ingest as ingest_module
from pipeline.errors import EnvironmentFailure, NothingIngestedError, ParameterMismatchError
from pipeline.evaluate import bcubed
from pipeline.run.ingest import ingest_paths
from pipeline.settings import ClusterSettings, Settings

extract_module = importlib.import_module("pipeline.extract.article")  # `pipeline.extract` is also the function

SEED_TITLES = {
    "000": "Japan dismisses China’s warnings and invites Taiwan to a quick security meeting.",
    "001": "Japan and Taiwan hold talks to counter Chinese aggression",
    "002": "Japan and Taiwan Officials To Hold Security Talks Over Joint China Threat",
    "003": "Japan, Taiwan ruling parties to hold 1st-ever security talks over China threat",
    "004": "China warns Japan against holding security talks with Taiwan under the auspices of a political party.",
}


def snapshot(db: str) -> dict[str, list[tuple]]:
    """Everything clustering decided, without per-run columns."""
    return {
        "articles": rows(
            db,
            "SELECT article_id, seq, source_uri, title, text, published_at, content_hash, story_id, variant_group, "
            "relation, is_canonical, story_similarity, canonical_similarity FROM articles ORDER BY article_id",
        ),
        "stories": rows(
            db,
            "SELECT story_id, canonical_article_id, title, article_count, source_count, first_published, "
            "last_published FROM stories ORDER BY story_id",
        ),
        "centroids": rows(db, "SELECT story_id, centroid_terms, centroid_weights FROM stories ORDER BY ALL"),
        "story_postings": rows(db, "SELECT * FROM story_postings ORDER BY ALL"),
        "lsh_bands": rows(db, "SELECT * FROM lsh_bands ORDER BY ALL"),
        "rejections": rows(db, "SELECT source_uri, reason, detail FROM rejections ORDER BY ALL"),
    }


def by_seed(db: str) -> dict[str, tuple]:
    found = rows(db, "SELECT source_uri, title, published_at, text, story_id, relation FROM articles")
    return {Path(r[0]).name[:3]: r for r in found}


def test_seeds_become_one_story_with_five_variants(seeds_dir: Path, settings: Settings) -> None:
    report = ingest_paths([seeds_dir], settings)

    assert report.new == 5 and report.rejected == 0
    assert report.stories_created == 1 and report.rewrite == 4
    stories = rows(settings.db, "SELECT story_id, article_count, source_count FROM stories")
    assert len(stories) == 1 and stories[0][1:] == (5, 5)
    seeds = by_seed(settings.db)
    assert {k: v[1] for k, v in seeds.items()} == SEED_TITLES
    assert {k: str(v[2]) for k, v in seeds.items() if v[2]} == {
        "000": "2021-08-25",
        "003": "2021-08-19",
        "004": "2021-08-19",
    }
    relations = sorted(v[5] for v in seeds.values())
    assert relations == ["canonical", "rewrite", "rewrite", "rewrite", "rewrite"]


def test_seed_texts_are_clean(seeds_dir: Path, settings: Settings) -> None:
    ingest_paths([seeds_dir], settings)
    seeds = by_seed(settings.db)
    text_003, text_001 = seeds["003"][3], seeds["001"][3]
    for headline in (
        "Chinese media threatens war with US over Taiwan troops typo",
        "US commitment to Taiwan 'remains as strong as it's ever been'",
        "French warship confirmed to be anchored off west coast of Taiwan",
        "Taiwan claws its way past Thailand to regain Popcat gold",
    ):
        assert headline not in text_003
    assert "RELATED ARTICLES" not in text_003 and "MOST POPULAR" not in text_003
    assert "Officials from the ruling parties of Japan and Taiwan are planning" in text_003
    assert "©" not in text_001 and "Getty" not in text_001
    assert "Hua Chunying said" in text_001


def test_second_run_changes_nothing(seeds_dir: Path, settings: Settings) -> None:
    ingest_paths([seeds_dir], settings)
    before = snapshot(settings.db)

    again = ingest_paths([seeds_dir], settings)

    assert again.new == 0 and again.unchanged == 5
    assert snapshot(settings.db) == before


def test_later_run_assigns_against_stored_stories(seeds_dir: Path, tmp_path: Path, settings: Settings) -> None:
    later = tmp_path / "later"
    later.mkdir()
    for name in sorted(p.name for p in seeds_dir.iterdir())[3:]:
        (seeds_dir / name).rename(later / name)

    first = ingest_paths([seeds_dir], settings)
    second = ingest_paths([later], settings)

    assert first.stories_created == 1 and second.stories_created == 0
    assert second.stories_grown == 1 and second.rewrite == 2
    assert rows(settings.db, "SELECT count(DISTINCT story_id), count(*) FROM articles") == [(1, 5)]


def test_copies_are_exact_and_near_duplicates(seeds_dir: Path, tmp_path: Path, settings: Settings) -> None:
    original = (seeds_dir / "004_1c7e295f2962abb3.txt").read_text(encoding="utf-8")
    copies = tmp_path / "copies"
    copies.mkdir()
    (copies / "exact.txt").write_text(original.replace("\n\n", "\n\n\n"), encoding="utf-8")
    paragraphs = original.split("\n\n")
    edited = "\n\n".join(paragraphs[:-2]).replace("extra cautious", "very careful").replace("Tokyo", "Japan")
    (copies / "near.txt").write_text(edited, encoding="utf-8")

    ingest_paths([seeds_dir], settings)
    report = ingest_paths([copies], settings)

    assert (report.exact, report.near_duplicate, report.stories_created) == (1, 1, 0)
    found = rows(
        settings.db,
        "SELECT a.assigned_as, a.variant_group = o.variant_group, a.story_id = o.story_id, "
        "a.near_duplicate_similarity FROM articles a JOIN articles o ON o.source_uri LIKE '%004_%' "
        "WHERE a.source_uri LIKE '%/copies/%' ORDER BY a.assigned_as",
    )
    assert [r[:3] for r in found] == [("exact", True, True), ("near_duplicate", True, True)]
    assert found[1][3] >= settings.fingerprint.near_duplicate_threshold


def test_bad_inputs_are_rejections_and_the_rest_is_ingested(seeds_dir: Path, settings: Settings) -> None:
    (seeds_dir / "empty.txt").write_bytes(b"")
    (seeds_dir / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (seeds_dir / "latin1.txt").write_bytes("Caf\xe9 society news, in Latin-1 bytes.".encode("latin-1"))  # detected
    (seeds_dir / "undecodable.txt").write_bytes(bytes(range(128, 256)) * 4)
    lines = [
        '{"id": "ok-1", "text": "Storm Ciaran brought record winds to Brittany on Thursday, cutting power to homes."}',
        '{"id": "broken", "text": ',
        '{"id": "ok-2", "text": "Rescuers in Brittany restored power to most homes after Storm Ciaran passed."}',
    ]
    (seeds_dir / "feed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = ingest_paths([seeds_dir, seeds_dir / "missing.txt"], settings)

    reasons = {Path(uri.split("#")[0]).name: reason for uri, reason, _ in snapshot(settings.db)["rejections"]}
    assert reasons == {
        "empty.txt": "empty",
        "binary.txt": "binary",
        "undecodable.txt": "encoding",
        "feed.jsonl": "malformed_jsonl",
        "missing.txt": "missing_path",
    }
    assert report.rejected == 5 and report.new == 8
    assert rows(settings.db, "SELECT text FROM articles WHERE source_uri LIKE '%latin1.txt'") == [
        ("Café society news, in Latin-1 bytes.",)
    ]
    details = rows(settings.db, "SELECT source_uri, detail FROM rejections WHERE reason = 'malformed_jsonl'")
    assert details[0][0].endswith("#line=2") and "not valid JSON" in details[0][1]


def test_rejections_are_not_duplicated_by_reruns(seeds_dir: Path, settings: Settings) -> None:
    (seeds_dir / "empty.txt").write_bytes(b"")
    ingest_paths([seeds_dir], settings)
    ingest_paths([seeds_dir], settings)
    assert rows(settings.db, "SELECT reason, times_seen FROM rejections") == [("empty", 2)]


def test_nothing_ingested_is_an_error(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(NothingIngestedError, match="empty"):
        ingest_paths([tmp_path / "empty.txt", tmp_path / "nope.html"], settings)
    assert rows(settings.db, "SELECT status FROM runs") == [("failed",)]


def test_other_parameters_are_refused(seeds_dir: Path, settings: Settings) -> None:
    ingest_paths([seeds_dir], settings)
    changed = Settings(db=settings.db, cluster=ClusterSettings(rewrite_threshold=0.5))
    with pytest.raises(ParameterMismatchError, match=r"cluster\.rewrite_threshold"):
        ingest_paths([seeds_dir], changed)


def test_jsonl_keeps_ids_and_metadata(tmp_path: Path, settings: Settings) -> None:
    records = ecb_records({1})[:6]
    for i, record in enumerate(records):
        record["published_at"] = f"2013-05-0{i + 1}"
        record["source"] = f"outlet-{i}"
    ingest_paths([write_jsonl(tmp_path / "ecb.jsonl", records)], settings)
    stored = rows(settings.db, "SELECT external_id, published_at, source FROM articles ORDER BY external_id")
    expected = sorted((r["id"], r["published_at"], r["source"]) for r in records)
    assert [(a, str(b), c) for a, b, c in stored] == expected


def test_real_news_topics_cluster_sensibly(tmp_path: Path, settings: Settings) -> None:
    """Two ECB+ topics, each with two look-alike events: stories follow the gold labels closely."""
    records = ecb_records({1, 3})
    ingest_paths([write_jsonl(tmp_path / "ecb.jsonl", records)], settings)
    assigned = dict(rows(settings.db, "SELECT external_id, story_id FROM articles"))
    ids = [r["id"] for r in records if r["id"] in assigned]
    scores = bcubed([assigned[i] for i in ids], [r["cluster"] for r in records if r["id"] in assigned])
    assert scores.f1 >= 0.8, scores


def test_search_breadth_may_change_on_an_existing_database(seeds_dir: Path, settings: Settings) -> None:
    ingest_paths([seeds_dir], settings)
    (seeds_dir / "extra.txt").write_text(ecb_records({1})[0]["text"], encoding="utf-8")
    wider = Settings(db=settings.db, cluster=ClusterSettings(max_candidates=40, query_terms=25, member_checks=5))
    assert ingest_paths([seeds_dir], wider).new == 1


def test_one_line_record_ending_in_a_copyright_notice_keeps_its_words(tmp_path: Path, settings: Settings) -> None:
    prose = (
        "The central bank raised rates by half a point on Tuesday, its third rise this year, "
        "citing stubborn inflation in services."
    )
    records = [{"id": "rates", "text": f"{prose} Copyright © 2020 Reuters."}]

    report = ingest_paths([write_jsonl(tmp_path / "wire.jsonl", records)], settings)

    assert (report.new, report.rejected) == (1, 0), report.rejections
    assert rows(settings.db, "SELECT external_id, text FROM articles") == [("rates", prose)]


PLACEHOLDER_DATES = {  # as broken feeds and CMSs write them: Go's zero time, "never", RFC 822 zero time
    "zero-iso": "0001-01-01",
    "never": "9999-12-31",
    "zero-rfc822": "Mon, 01 Jan 0001 00:00:00 +0000",
}


def seed_records(dates: list[str]) -> list[dict]:
    """The seed story as JSONL, one seed article per date, without the text's own date line."""
    texts = [path.read_text(encoding="utf-8").split("\n", 1)[1] for path in sorted(SEEDS.glob("*.txt"))]
    return [
        {"id": f"seed-{i}", "text": text, "title": SEED_TITLES[f"{i:03}"], "published_at": day, "source": f"o{i}"}
        for i, (text, day) in enumerate(zip(texts, dates, strict=False))
    ]


def test_placeholder_dates_are_dropped_and_the_articles_kept(tmp_path: Path, settings: Settings) -> None:
    dates = [*PLACEHOLDER_DATES.values(), "2021-08-26", "2021-08-25"]
    path = write_jsonl(tmp_path / "story.jsonl", seed_records(dates))

    report = ingest_paths([path], settings)

    assert report.new == 5 and report.rejected == 0 and report.stories_created == 1
    stored = dict(rows(settings.db, "SELECT external_id, published_at FROM articles"))
    assert stored == {
        "seed-0": None, "seed-1": None, "seed-2": None,
        "seed-3": date(2021, 8, 26), "seed-4": date(2021, 8, 25),
    }  # fmt: skip
    story = rows(settings.db, "SELECT a.external_id, s.first_published, s.last_published FROM stories s "
                 "JOIN articles a ON a.article_id = s.canonical_article_id")  # fmt: skip
    assert story == [("seed-4", date(2021, 8, 25), date(2021, 8, 26))]
    assert rows(settings.db, "SELECT status FROM runs") == [("completed",)]


@pytest.mark.parametrize(
    ("dates", "utc", "order"),
    [
        # Issue 19: as local dates these are 19 and 20 August; in UTC the second is the earlier one.
        (
            ["2021-08-19T23:30-05:00", "2021-08-20T01:30+14:00"],
            [datetime(2021, 8, 20, 4, 30), datetime(2021, 8, 19, 11, 30)],
            ["seed-1", "seed-0"],
        ),
        # One UTC day: the time decides, not the longer text (seed-1 is the longer).
        (
            ["2021-08-19T09:00:00-02:00", "2021-08-19T20:00:00Z"],
            [datetime(2021, 8, 19, 11), datetime(2021, 8, 19, 20)],
            ["seed-0", "seed-1"],
        ),
    ],
    ids=["dates-reversed-by-offsets", "same-utc-day"],
)
def test_the_earliest_article_in_utc_is_canonical_and_first_in_the_timeline(
    tmp_path: Path, settings: Settings, dates: list[str], utc: list[datetime], order: list[str]
) -> None:
    ingest_paths([write_jsonl(tmp_path / "zones.jsonl", seed_records(dates))], settings)

    story = rows(
        settings.db,
        "SELECT a.external_id, s.first_published, s.last_published FROM stories s "
        "JOIN articles a ON a.article_id = s.canonical_article_id",
    )
    assert story == [(order[0], min(utc).date(), max(utc).date())]
    stored = rows(settings.db, "SELECT external_id, published_ts, published_at FROM articles ORDER BY external_id")
    assert stored == [("seed-0", utc[0], utc[0].date()), ("seed-1", utc[1], utc[1].date())]
    timeline = rows(
        settings.db,
        "SELECT a.external_id FROM story_timeline((SELECT story_id FROM stories)) t "
        "JOIN articles a USING (article_id) ORDER BY t.position",
    )
    assert [r[0] for r in timeline] == order
    first_reports = rows(settings.db, "SELECT source FROM source_activity WHERE first_reports = 1")
    assert first_reports == [("o" + order[0][-1],)]


def test_a_batch_that_raises_fails_the_run(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Batches committed before the error stay, but the run is 'failed' (not 'completed'), error logged."""
    path = write_jsonl(tmp_path / "story.jsonl", seed_records(["2021-08-25"] * 5))
    real, calls = ingest_module.assign_batch, []

    def assign_then_break(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OverflowError("date value out of range")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "assign_batch", assign_then_break)
    with pytest.raises(OverflowError):
        ingest_paths([path], Settings(db=settings.db, batch_size=2, cluster=ClusterSettings(block_size=2)))

    assert rows(settings.db, "SELECT status, new FROM runs") == [("failed", 2)]
    assert "OverflowError: date value out of range" in caplog.text


def test_chinese_and_japanese_articles_are_stored_and_told_apart(tmp_path: Path, settings: Settings) -> None:
    """Scripts without spaces: counted per character, not rejected as 0 words; stories told apart by their text."""
    from cjk_texts import JA_QUAKE, JA_QUAKE_HTML, ZH_CARS, ZH_FLOOD, ZH_FLOOD_EDITED

    flood = "深圳启动防汛一级应急响应"
    records = [
        {"id": "flood", "title": flood, "text": ZH_FLOOD, "published_at": "2026-06-02"},
        {"id": "cars", "title": "新能源汽车产量增长", "text": ZH_CARS, "published_at": "2026-06-03"},
        {"id": "quake", "title": "宮城県で震度五強", "text": JA_QUAKE, "published_at": "2026-06-15"},
        {"id": "quake-page", "url": "https://example.jp/quake", "html": JA_QUAKE_HTML, "published_at": "2026-06-15"},
        {"id": "flood-copy", "title": flood, "text": ZH_FLOOD, "published_at": "2026-06-02"},
        {"id": "flood-edit", "title": flood, "text": ZH_FLOOD_EDITED, "published_at": "2026-06-03"},
    ]
    report = ingest_paths([write_jsonl(tmp_path / "cjk.jsonl", records)], settings)

    assert report.rejected == 0, report.rejections
    query = "SELECT source_uri, story_id, assigned_as, word_count FROM articles"
    found = {
        uri.rsplit("=", 1)[1]: (story, assigned, words) for uri, story, assigned, words in rows(settings.db, query)
    }
    assert set(found) == {r["id"] for r in records}
    assert len({found["flood"][0], found["cars"][0], found["quake"][0]}) == 3  # three stories
    assert found["flood-copy"][:2] == (found["flood"][0], "exact")
    assert found["flood-edit"][:2] == (found["flood"][0], "near_duplicate")
    assert found["quake-page"][0] == found["quake"][0]  # the page and the text of one report
    assert found["quake"][2] > 80 and found["flood"][2] > 80


def _fail_extraction(monkeypatch: pytest.MonkeyPatch, fault: BaseException) -> None:
    """Every document's extraction raises ``fault`` (in this process: workers=1)."""

    def broken(*args, **kwargs):
        raise fault

    monkeypatch.setattr(extract_module, "_extract_text", broken)
    monkeypatch.setattr(extract_module, "_page_article", broken)


def test_a_machine_fault_stops_the_run_rejects_nothing_and_a_rerun_ingests_all(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EFBIG (file-size limit) is the machine's fault, not the documents': no verdict is recorded on them."""
    path = write_jsonl(tmp_path / "story.jsonl", seed_records(["2021-08-25"] * 5))
    with monkeypatch.context() as patch:
        _fail_extraction(patch, OSError(errno.EFBIG, "File too large"))
        with pytest.raises(EnvironmentFailure, match="File too large") as raised:
            ingest_paths([path], Settings(db=settings.db, batch_size=2, cluster=ClusterSettings(block_size=2)))
    assert isinstance(raised.value.cause, OSError) and raised.value.cause.errno == errno.EFBIG
    assert rows(settings.db, "SELECT status, new, rejected FROM runs") == [("failed", 0, 0)]
    assert rows(settings.db, "SELECT count(*) FROM rejections") == [(0,)]

    report = ingest_paths(
        [path], Settings(db=settings.db, batch_size=2, cluster=ClusterSettings(block_size=2))
    )  # the fault is gone
    assert (report.new, report.rejected) == (5, 0)


@pytest.mark.parametrize("fault", [MemoryError(), OSError(errno.ENOSPC, "No space left on device")])
def test_out_of_memory_or_a_full_disk_stops_the_run(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, fault: BaseException
) -> None:
    path = write_jsonl(tmp_path / "story.jsonl", seed_records(["2021-08-25"] * 3))
    _fail_extraction(monkeypatch, fault)
    with pytest.raises(EnvironmentFailure):
        ingest_paths([path], settings)
    assert rows(settings.db, "SELECT status, rejected FROM runs") == [("failed", 0)]


def test_a_page_that_breaks_the_parser_is_still_a_rejection(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault of the document (here a ValueError from a malformed page) stays a final rejection."""
    path = write_jsonl(tmp_path / "story.jsonl", seed_records(["2021-08-25"] * 3))
    _fail_extraction(monkeypatch, ValueError("malformed markup"))
    with pytest.raises(NothingIngestedError):
        ingest_paths([path], settings)
    assert rows(settings.db, "SELECT DISTINCT reason FROM rejections") == [("extract_failed",)]


def test_a_file_without_sources_or_urls_is_one_outlet(tmp_path: Path, settings: Settings) -> None:
    # seed 003 names a site in its header ("Alexa"): that would be an outlet, so it is left out
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")) if not p.name.startswith("003")]
    records = [{"id": f"r{i}", "text": f"{texts[i % 4]}\n\nUpdate {i}."} for i in range(21)]
    ingest_paths([write_jsonl(tmp_path / "wire.jsonl", records)], settings)

    assert rows(settings.db, "SELECT DISTINCT source FROM articles") == [("wire.jsonl",)]
    assert rows(settings.db, "SELECT source_count FROM stories") == [(1,)]
    assert rows(settings.db, "SELECT source, articles FROM source_activity") == [("wire.jsonl", 21)]


def test_subdomains_of_one_site_are_one_outlet(tmp_path: Path, settings: Settings) -> None:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    records = [
        {"id": "a", "text": texts[0], "url": "https://www.bbc.co.uk/news/world-1"},
        {"id": "b", "text": texts[4], "url": "https://news.bbc.co.uk/2/hi/asia-pacific/2.stm"},
    ]
    ingest_paths([write_jsonl(tmp_path / "a.jsonl", records[:1]), write_jsonl(tmp_path / "b.jsonl", records[1:])],
                 settings)  # fmt: skip

    assert rows(settings.db, "SELECT article_count, source_count FROM stories") == [(2, 1)]
    assert rows(settings.db, "SELECT sources FROM story_overview") == [(["bbc.co.uk"],)]


def test_seeds_copied_to_another_folder_add_no_articles_or_outlets(
    seeds_dir: Path, tmp_path: Path, settings: Settings
) -> None:
    copied = tmp_path / "copied"
    copied.mkdir()
    for path in seeds_dir.iterdir():
        (copied / path.name).write_bytes(path.read_bytes())

    ingest_paths([seeds_dir], settings)
    again = ingest_paths([copied], settings)

    assert again.new == 0 and again.unchanged == 5
    assert rows(settings.db, "SELECT article_count, source_count FROM stories") == [(5, 5)]


def test_the_writer_leaves_the_lock_free_for_the_reader_gap_and_sleeps_only_what_is_left_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Waiting for the workers counts towards the gap between two batches; a batch ready at once waits for it."""
    from pipeline.models import IngestReport
    from pipeline.run.prepare import PreparedBatch

    clock = {"now": 0.0}
    slept: list[float] = []

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return clock["now"]

        @staticmethod
        def sleep(seconds: float) -> None:
            slept.append(round(seconds, 6))
            clock["now"] += seconds

    class Publisher:
        turns = 0

        def between_batches(self) -> None:
            self.turns += 1

    def prepared(waits: list[float]):
        for wait in waits:  # how long the writer waits for each batch after storing the one before
            clock["now"] += wait
            yield PreparedBatch([("article", "fingerprint")], [])  # type: ignore[list-item]  (never looked into)

    def store_one(_batch: PreparedBatch) -> IngestReport:
        clock["now"] += 0.05  # the batch's transaction
        return IngestReport(read=1)

    monkeypatch.setattr(ingest_module, "time", Clock)
    publisher = Publisher()
    settings = Settings(reader_gap_seconds=0.12, batch_size=1, cluster=ClusterSettings(block_size=1))
    report = ingest_module.store_batches(prepared([0.0, 0.5, 0.02, 0.12]), settings, publisher, store_one,
                                         IngestReport())  # fmt: skip
    assert report.read == 4
    assert publisher.turns == 3  # between batches, never before the first
    assert slept == [0.1]  # after the slow batch none; the one ready at 0.02 s waits 0.10 s more; 0.12 s is enough


def test_with_no_reader_gap_one_connection_stores_every_batch_and_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``reader_gap_seconds = 0`` lets no reader in mid-run: the writer keeps one connection for all batches,
    and stores exactly what a writer that reopens the database for each batch stores."""
    data = write_jsonl(tmp_path / "ecb.jsonl", ecb_records({1, 3}))
    opened: list[str] = []
    open_batch_store = ingest_module.open_batch_store

    def counted(settings: Settings):
        opened.append(settings.db)
        return open_batch_store(settings)

    monkeypatch.setattr(ingest_module, "open_batch_store", counted)
    dbs = {gap: str(tmp_path / f"gap-{gap}.duckdb") for gap in (0.0, 0.01)}
    for gap, db in dbs.items():
        report = ingest_paths(
            [data], Settings(db=db, batch_size=10, cluster=ClusterSettings(block_size=10), reader_gap_seconds=gap)
        )
        assert report.new > 30  # several batches
    batches = opened.count(dbs[0.01])
    assert opened.count(dbs[0.0]) == 1 and batches == len(opened) - 1 >= 4
    assert snapshot(dbs[0.0]) == snapshot(dbs[0.01])
