"""Evaluate: score a clustering against gold labels (B-cubed and pairwise precision/recall/F1)."""

from __future__ import annotations

import json
import random
import tempfile
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import ConfigError
from .ingest import ingest_paths
from .settings import Settings
from .store import Store


@dataclass(frozen=True)
class Scores:
    """Precision, recall and their harmonic mean."""

    precision: float
    recall: float
    f1: float

    def __str__(self) -> str:
        return f"P={self.precision:.3f} R={self.recall:.3f} F1={self.f1:.3f}"


def bcubed(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> Scores:
    """B-cubed scores: per item, the overlap of its predicted and gold clusters, averaged."""
    _check(predicted, gold)
    joint = Counter(zip(predicted, gold, strict=True))
    pred_size, gold_size = Counter(predicted), Counter(gold)
    precision = sum(n * n / pred_size[p] for (p, _), n in joint.items()) / len(predicted)
    recall = sum(n * n / gold_size[g] for (_, g), n in joint.items()) / len(predicted)
    return Scores(precision, recall, _f1(precision, recall))


def pairwise(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> Scores:
    """Pairwise scores: over all pairs of items, how well 'same predicted cluster' matches 'same gold'."""
    _check(predicted, gold)
    joint = Counter(zip(predicted, gold, strict=True))
    both = sum(n * (n - 1) // 2 for n in joint.values())
    pred_pairs = sum(n * (n - 1) // 2 for n in Counter(predicted).values())
    gold_pairs = sum(n * (n - 1) // 2 for n in Counter(gold).values())
    precision = both / pred_pairs if pred_pairs else 1.0
    recall = both / gold_pairs if gold_pairs else 1.0
    return Scores(precision, recall, _f1(precision, recall))


def clusters(labels: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    """Item indexes grouped by label."""
    out: dict[Hashable, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        out[label].append(i)
    return dict(out)


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _check(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> None:
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predicted labels for {len(gold)} gold labels")
    if not predicted:
        raise ValueError("nothing to score")


@dataclass(frozen=True)
class Evaluation:
    """Scores of one ingest of a labelled file."""

    order: str
    articles: int
    not_ingested: int
    stories: int
    gold_stories: int
    story_bcubed: Scores
    story_pairwise: Scores
    variant_bcubed: Scores | None
    variant_pairwise: Scores | None


def evaluate_file(
    path: str | Path,
    label_field: str = "cluster",
    shuffle: int | None = None,
    variant_field: str = "variant",
    settings: Settings | None = None,
) -> Evaluation:
    """Ingest a labelled JSONL file into a temporary database (in file or shuffled order) and score it.

    Records not ingested (rejected) count as singletons, so a rejection can only lower recall.
    Near-duplicate groups are scored when the records carry ``variant_field``.
    """
    records = _read_labelled(Path(path), label_field)
    if shuffle is not None:
        random.Random(shuffle).shuffle(records)
    with tempfile.TemporaryDirectory(prefix="storyline-eval-") as tmp:
        ordered = Path(tmp) / "input.jsonl"
        with ordered.open("w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record) + "\n")
        base = settings or Settings()
        run_settings = replace(base, db=str(Path(tmp) / "eval.duckdb"))
        ingest_paths([ordered], run_settings)
        with Store.open(run_settings.db, read_only=True) as store:
            placed = {
                r["external_id"]: (r["story_id"], r["variant_group"])
                for r in store.query("SELECT external_id, story_id, variant_group FROM articles")
            }
    ids = [str(r["id"]) for r in records]
    stories = [placed.get(i, (f"rejected:{i}", ""))[0] for i in ids]
    gold = [r[label_field] for r in records]
    has_variants = all(variant_field in r for r in records)
    variants = [placed.get(i, ("", f"rejected:{i}"))[1] for i in ids]
    gold_variants = [r.get(variant_field) for r in records]
    return Evaluation(
        order="file order" if shuffle is None else f"shuffle {shuffle}",
        articles=len(records),
        not_ingested=sum(1 for i in ids if i not in placed),
        stories=len(set(stories)),
        gold_stories=len(set(gold)),
        story_bcubed=bcubed(stories, gold),
        story_pairwise=pairwise(stories, gold),
        variant_bcubed=bcubed(variants, gold_variants) if has_variants else None,
        variant_pairwise=pairwise(variants, gold_variants) if has_variants else None,
    )


def _read_labelled(path: Path, label_field: str) -> list[dict]:
    if not path.is_file():
        raise ConfigError(f"no such file: {path}")
    records = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if "id" not in record or label_field not in record:
                raise ConfigError(f"{path}:{number}: evaluation records need 'id' and {label_field!r}")
            records.append(record)
    if not records:
        raise ConfigError(f"{path} holds no records")
    if len({str(r["id"]) for r in records}) != len(records):
        raise ConfigError(f"{path}: record ids must be unique to be scored")
    return records
