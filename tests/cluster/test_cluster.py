"""Story assignment rules: time windows, links, merges, explanations."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from reliability import rows

from pipeline.cli import main
from pipeline.cluster.batch import decay, stories_decay, time_decay
from pipeline.cluster.canonical import canonical_member, decide_members, relation_to
from pipeline.models import StoryMember, StoryState
from pipeline.run.ingest import ingest_paths
from pipeline.settings import ClusterSettings, Settings

# Made-up words: equally rare, so cosines are simple fractions of shared words.
A_ONLY = "zorbaxite quintelmere fravonic ulmstrade pelgarith vonquist"
B_ONLY = "drammelith oskvarine teplimund gravosque nilferath yumbrelo"
SHARED = "castemorie belvintrash"
VALENCIA = [
    "Flooding in Valencia forced evacuations on Tuesday as the Turia river burst its banks near the old town.",
    "Evacuations continued in Valencia after the Turia burst its banks; rescuers reached flooded villages.",
    "Five months after the Turia flooding, Valencia opened an inquiry into the evacuations and the river banks.",
    "Aid from Madrid reached Valencia, where the Turia flooding had forced evacuations near the old town.",
]


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def story_text(words: str, filler: str) -> str:
    return f"{words} {filler}. The {words} report continued with {filler} details."


def test_a_much_later_article_starts_a_linked_story(tmp_path: Path, settings: Settings) -> None:
    records = [
        {"id": "first", "text": VALENCIA[0], "published_at": "2024-10-01"},
        {"id": "same-week", "text": VALENCIA[1], "published_at": "2024-10-04"},
        {"id": "months-later", "text": VALENCIA[2], "published_at": "2025-03-01"},
        {"id": "undated", "text": VALENCIA[3]},
    ]
    ingest_paths([write(tmp_path / "in.jsonl", records)], settings)

    story = dict(rows(settings.db, "SELECT external_id, story_id FROM articles"))
    assert story["first"] == story["same-week"] != story["months-later"]
    assert story["undated"] in (story["first"], story["months-later"])  # no date, no window: best match wins
    links = rows(settings.db, "SELECT story_id, related_story_id, relation FROM story_links")
    assert links == [(story["months-later"], story["first"], "follows")]


def test_window_is_configurable(tmp_path: Path, db_path: str) -> None:
    records = [
        {"id": "first", "text": VALENCIA[0], "published_at": "2024-10-01"},
        {"id": "later", "text": VALENCIA[2], "published_at": "2024-11-20"},
    ]
    settings = Settings(db=db_path, cluster=ClusterSettings(window_days=60))
    ingest_paths([write(tmp_path / "in.jsonl", records)], settings)
    assert rows(db_path, "SELECT count(DISTINCT story_id) FROM articles") == [(1,)]


def test_an_article_bridging_two_stories_merges_them(
    tmp_path: Path, db_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(db=db_path, cluster=ClusterSettings(merge_threshold=0.2))
    first = [
        {"id": "a", "text": story_text(f"{A_ONLY} {SHARED}", "alpha")},
        {"id": "b", "text": story_text(f"{SHARED} {B_ONLY}", "bravo")},
    ]
    ingest_paths([write(tmp_path / "one.jsonl", first)], settings)
    before = dict(rows(db_path, "SELECT external_id, story_id FROM articles"))
    assert before["a"] != before["b"], "the two stories must start apart"

    bridge = " ".join(A_ONLY.split()[:3] + SHARED.split() + B_ONLY.split()[:3])
    report = ingest_paths(
        [write(tmp_path / "two.jsonl", [{"id": "c", "text": story_text(bridge, "charlie")}])], settings
    )

    assert report.stories_merged == 1
    after = dict(rows(db_path, "SELECT external_id, story_id FROM articles"))
    assert after["a"] == after["b"] == after["c"]
    ((merged, into),) = rows(db_path, "SELECT merged_story_id, into_story_id FROM story_merges")
    assert into == after["a"] and merged in before.values() and merged != into
    assert rows(db_path, "SELECT count(*) FROM stories") == [(1,)]

    assert main(["show", merged, "--db", db_path]) == 0
    out = capsys.readouterr().out
    assert f"was merged into {into}" in out and f"absorbed story {merged}" in out


def test_variants_record_why_they_were_assigned(seeds_dir: Path, settings: Settings) -> None:
    ingest_paths([seeds_dir], settings)
    found = rows(
        settings.db,
        "SELECT assigned_as, story_similarity, canonical_similarity, shared_terms, is_canonical FROM articles",
    )
    for assigned_as, story_similarity, canonical_similarity, shared_terms, is_canonical in found:
        assert canonical_similarity is not None and 0 < canonical_similarity <= 1.0001
        if assigned_as == "rewrite":
            assert story_similarity >= settings.cluster.rewrite_threshold
            assert {"taiwan", "sato"} & set(shared_terms)
        if is_canonical:
            assert canonical_similarity == pytest.approx(1.0, abs=1e-3)


def test_exact_copies_are_not_scored_against_stories(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy follows its original by content hash: looking its story candidates up would be wasted work."""
    from pipeline.cluster.candidates import CandidateIndex

    looked_up: list[int] = []
    real = CandidateIndex.candidate_stories

    def counting(self: CandidateIndex, *args: object, **kwargs: object) -> object:
        looked_up.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(CandidateIndex, "candidate_stories", counting)
    ingest_paths([write(tmp_path / "first.jsonl", [{"id": "v0", "text": VALENCIA[0]}])], settings)
    looked_up.clear()
    copies = [{"id": f"copy-{n}", "text": VALENCIA[0]} for n in range(3)]  # stored before, and twice in this batch
    fresh = [{"id": "v1", "text": VALENCIA[1]}, {"id": "v1-copy", "text": VALENCIA[1]}]
    ingest_paths([write(tmp_path / "second.jsonl", copies + fresh)], settings)
    relation = dict(rows(settings.db, "SELECT external_id, relation FROM articles"))
    assert [relation[f"copy-{n}"] for n in range(3)] == ["exact"] * 3
    story = dict(rows(settings.db, "SELECT external_id, story_id FROM articles"))
    assert story["copy-0"] == story["copy-2"] == story["v0"] and story["v1-copy"] == story["v1"]
    # One lookup for v1, the only new text, plus the repair pass's for the story the batch grew.
    assert len(looked_up) <= 2 < len(copies) + len(fresh)


@pytest.mark.parametrize(
    ("story", "day", "meets"),
    [
        ((date.min, date.min), date(2021, 8, 19), False),
        ((date(2021, 8, 19), date(2021, 8, 19)), date.min, False),
        ((date.max, date.max), date.max, True),
        ((date.min, date.max), date(2021, 8, 19), True),
        ((date(2021, 8, 19), date(2021, 8, 20)), date(2021, 8, 26), True),  # six days: within a 7-day window
        ((date(2021, 8, 19), date(2021, 8, 20)), date(2021, 8, 28), False),
    ],
)
def test_time_window_at_the_ends_of_the_calendar(story: tuple[date, date], day: date, meets: bool) -> None:
    """Date arithmetic never overflows, whatever dates a database holds (even 0001-01-01 or 9999-12-31)."""
    state = StoryState("s-1", {}, 1, *story)
    assert (time_decay(state, day, 7) > 0.0) is meets
    assert (stories_decay(state, StoryState("s-2", {}, 1, day, day), 7) > 0.0) is meets


def test_time_weighs_a_similarity_halving_over_the_window() -> None:
    """Time is evidence: full weight on the story's dates, half at the window's edge, none past it."""
    assert decay(None, 7) == 1.0 and decay(0, 7) == 1.0  # undated, or the same days: the words alone decide
    assert decay(7, 7) == 0.5 and decay(8, 7) == 0.0
    assert decay(3, 7) == pytest.approx(0.743, abs=1e-3)  # a 0.32 threshold then needs a similarity of 0.43
    story = StoryState("s-1", {}, 3, date(2021, 6, 22), date(2021, 6, 24))
    assert time_decay(story, date(2021, 6, 23), 7) == 1.0  # inside the story's dates
    assert time_decay(story, date(2021, 6, 29), 7) == time_decay(story, date(2021, 6, 17), 7) == 0.5 ** (5 / 7)
    assert time_decay(story, None, 7) == time_decay(StoryState("s-2", {}, 1), date(2021, 6, 29), 7) == 1.0
    earlier = StoryState("s-3", {}, 2, date(2021, 6, 15), date(2021, 6, 20))
    assert stories_decay(story, earlier, 7) == stories_decay(earlier, story, 7) == 0.5 ** (2 / 7)


def member(seq: int, published: datetime | None, words: int, content: str = "h", group: str = "g", **kw) -> StoryMember:
    fields = dict(
        article_id=f"a{seq}", story_id="s1", seq=seq, published_at=published.date() if published else None,
        published_ts=published, word_count=words, content_hash=content, variant_group=group, title=f"t{seq}",
        is_canonical=False, relation="new_story", canonical_similarity=None, outlet=f"o{seq}",
        ingested_at=datetime(2024, 1, 1, 0, seq),
    )  # fmt: skip
    return StoryMember(**{**fields, **kw})


def test_the_canonical_rule_is_earliest_published_then_longest_then_first_stored() -> None:
    noon, later = datetime(2024, 3, 1, 12), datetime(2024, 3, 1, 13)
    undated = member(1, None, 900)
    early_short, early_long, early_long_again = member(2, noon, 100), member(3, noon, 500), member(4, noon, 500)
    assert canonical_member([undated, member(5, later, 900), early_short]) is early_short
    assert canonical_member([early_short, early_long_again, early_long, undated]) is early_long
    assert canonical_member([undated, member(6, None, 100)]) is undated


def test_members_relate_to_their_canonical_and_only_changes_are_written() -> None:
    canon = member(1, datetime(2024, 3, 1), 500, content="h1", group="g1")
    copy = member(2, datetime(2024, 3, 2), 500, content="h1", group="g1")
    near = member(3, datetime(2024, 3, 2), 500, content="h2", group="g1")
    rewrite = member(4, None, 500, content="h3", group="g2")
    assert [relation_to(m, canon) for m in (canon, copy, near, rewrite)] == [
        "canonical", "exact", "near_duplicate", "rewrite"
    ]  # fmt: skip
    vectors = {1: {"x": 1.0}, 2: {"x": 1.0}, 3: {"x": 0.6, "y": 0.8}, 4: {"y": 1.0}}
    updates, (record,) = decide_members({"s1": [rewrite, near, copy, canon]}, lambda seqs: vectors)
    assert {u.article_id: (u.is_canonical, u.relation, u.canonical_similarity) for u in updates} == {
        "a1": (True, "canonical", 1.0), "a2": (False, "exact", 1.0),
        "a3": (False, "near_duplicate", 0.6), "a4": (False, "rewrite", 0.0),
    }  # fmt: skip
    assert (record.canonical_article_id, record.title, record.article_count) == ("a1", "t1", 4)
    assert (record.source_count, record.variant_count) == (4, 2)
    assert (record.first_published, record.last_published) == (date(2024, 3, 1), date(2024, 3, 2))
    done = {u.article_id: u for u in updates}
    settled = [
        replace(m, is_canonical=u.is_canonical, relation=u.relation, canonical_similarity=u.canonical_similarity)
        for m, u in ((m, done[m.article_id]) for m in (canon, copy, near, rewrite))
    ]
    assert decide_members({"s1": settled}, lambda seqs: vectors)[0] == []  # nothing changed, nothing to write
