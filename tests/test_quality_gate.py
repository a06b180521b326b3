"""Quality gate: clustering scores on the dev data must not drop below the pins in quality_pins.toml."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from conftest import ECB_DEV, ROOT, shared_data_missing
from reliability import warmed_context

from pipeline.cli import main
from pipeline.evaluate import evaluate_file, evaluate_orders
from pipeline.settings import ClusterSettings, ExtractSettings, Settings

PINS = tomllib.loads((Path(__file__).with_name("quality_pins.toml")).read_text())

pytestmark = pytest.mark.slow


def neardup_module():
    spec = importlib.util.spec_from_file_location("neardup_set", ROOT / "bench" / "neardup_set.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dev_data() -> Path:
    if not ECB_DEV.exists():
        shared_data_missing(ECB_DEV)
    return ECB_DEV


def _score(job: tuple[str, list[int | None], str]) -> list[tuple[float, int]]:
    """Story B-cubed F1 and the largest predicted story of one dev file in each order, in one evidence mode."""
    path, shuffles, evidence = job
    # One process per job (the jobs run two at a time): the records are text, so no extraction pool. Nothing
    # reads the evaluation's temporary database: no pause for readers between its batches (0.12 s each).
    settings = Settings(
        cluster=ClusterSettings(evidence=evidence), extract=ExtractSettings(workers=1), reader_gap_seconds=0.0
    )
    results = evaluate_orders(path, "cluster", shuffles, settings=settings, baseline=False)
    return [(result.story_bcubed.f1, result.story_chaining.largest) for result in results]


@pytest.fixture(scope="module")
def scores(dev_data: Path) -> dict[str, tuple[float, int]]:
    """Every pinned evaluation, computed once for the module on two processes (the gate's ingests are
    independent; the scores do not depend on the worker count, tests/run/test_determinism.py). The ECB+
    orders are one job: their records are extracted once."""
    shuffles = PINS["stories"]["shuffles"]
    jobs = {tuple(f"ecb-{seed}" for seed in shuffles): (str(dev_data), shuffles, "language")}
    for name, pins in PINS["streams"].items():
        data = dev_data.parent / pins["data"]
        if not data.exists():
            shared_data_missing(data)
        jobs[(name,)] = (str(data), [pins.get("shuffle")], pins["evidence"])
    # the longest jobs first, so that the other process takes the short ones meanwhile
    jobs = dict(sorted(jobs.items(), key=lambda job: -Path(job[1][0]).stat().st_size * len(job[1][1])))
    # Forked from the forkserver with the library loaded, not spawned: a spawned process would import the
    # library again (~2 s of CPU each).
    with ProcessPoolExecutor(2, mp_context=warmed_context()) as pool:
        results = pool.map(_score, jobs.values())
        return {
            name: score
            for names, job in zip(jobs, results, strict=True)
            for name, score in zip(names, job, strict=True)
        }


def test_story_quality_over_shuffled_orders(scores: dict[str, tuple[float, int]]) -> None:
    pins = PINS["stories"]
    f1 = [scores[f"ecb-{seed}"][0] for seed in pins["shuffles"]]
    summary = f"F1 per order {[round(x, 3) for x in f1]}"
    assert sum(f1) / len(f1) >= pins["bcubed_f1_mean"], summary
    assert min(f1) >= pins["bcubed_f1_min"], summary
    assert max(f1) - min(f1) <= pins["bcubed_f1_spread_max"], summary


@pytest.mark.parametrize("name", sorted(PINS["streams"]))
def test_story_quality_and_chaining_on_real_streams(name: str, scores: dict[str, tuple[float, int]]) -> None:
    """Each evidence mode keeps its F1 and its largest story on real news streams (the data must be there)."""
    pins = PINS["streams"][name]
    f1, largest = scores[name]
    summary = f"{name}: story B-cubed F1 {f1:.3f}, largest story {largest}"
    assert f1 >= pins["bcubed_f1"], summary
    assert largest <= pins["largest_story"], summary


def test_near_duplicate_groups(dev_data: Path, tmp_path: Path) -> None:
    pins = PINS["near_duplicates"]
    records = neardup_module().build(dev_data, originals=pins["originals"])
    data = tmp_path / "neardup.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

    result = evaluate_file(data, "cluster", variant_field="variant")

    assert result.not_ingested == 0
    assert result.variant_pairwise is not None
    assert result.variant_pairwise.precision >= pins["pairwise_precision"], result.variant_pairwise
    assert result.variant_pairwise.recall >= pins["pairwise_recall"], result.variant_pairwise


def test_one_site_template_never_groups_different_articles(dev_data: Path, tmp_path: Path) -> None:
    """Pages sharing menus, footer and related links but not their story are not near-duplicates."""
    module = neardup_module()
    rows = [json.loads(line) for line in dev_data.open(encoding="utf-8")]
    articles = [r for r in rows if len(r["text"].split()) >= 60][::25][:20]
    records = [
        {
            "id": r["id"],
            "cluster": r["cluster"],
            "variant": r["id"],
            "html": module.page_html("dailywire", r["title"], r["text"].split("\n")),
        }
        for r in articles
    ]
    data = tmp_path / "template.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = evaluate_file(data, "cluster", variant_field="variant")
    assert result.variant_pairwise is not None and result.variant_pairwise.precision == 1.0


def test_evaluate_command_prints_scores(dev_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [json.loads(line) for line in dev_data.open(encoding="utf-8") if json.loads(line)["topic"] == 3]
    data = tmp_path / "topic3.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["evaluate", str(data), "--label-field", "cluster", "--shuffle", "1", "--shuffle", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("story B-cubed P=") == 4 and "shuffle 2" in out  # storyline and baseline, per order
    assert out.count("  tfidf baseline | ") == 2
    assert "story B-cubed F1 over 2 orders: mean" in out and "tfidf baseline B-cubed F1 over 2 orders: mean" in out


def test_evaluate_rejects_unlabelled_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "nolabels.jsonl"
    data.write_text(json.dumps({"id": "1", "text": "words " * 10}) + "\n")
    assert main(["evaluate", str(data), "--label-field", "cluster"]) == 2
    assert "need 'id' and 'cluster'" in capsys.readouterr().err
