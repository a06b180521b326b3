"""Evaluate: score a clustering against gold labels (B-cubed and pairwise precision/recall/F1, chaining).

``evaluate_file`` scores Storyline on a labelled file and, beside it, the plain TF-IDF baseline of
``pipeline.baseline`` on the same records in the same order: the reference a story clustering must beat.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.baseline import DEFAULT_THRESHOLD, DEFAULT_WINDOW_DAYS, cluster_documents, document_from_record
from pipeline.errors import ConfigError
from pipeline.models import Article, Fingerprint, Rejection
from pipeline.run.ingest import ingest_prepared
from pipeline.run.parallel import PreparePool
from pipeline.run.prepare import PreparedBatch, batched
from pipeline.settings import Settings
from pipeline.sources.files import read_paths
from pipeline.store import Store
from pipeline.store.reports import placements


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


@dataclass(frozen=True)
class Chaining:
    """How far predicted stories outgrow the gold ones: a story that chains through generic words grows huge."""

    largest: int
    largest_gold: int
    over_twice_gold: int
    """Predicted stories with more than twice as many items as the largest gold story."""

    def __str__(self) -> str:
        return f"largest {self.largest} (gold {self.largest_gold}), {self.over_twice_gold} over 2x gold"


def chaining(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> Chaining:
    """The largest predicted and gold stories, and how many predicted stories exceed twice the largest gold one."""
    _check(predicted, gold)
    pred_size, largest_gold = Counter(predicted), max(Counter(gold).values())
    over = sum(1 for n in pred_size.values() if n > 2 * largest_gold)
    return Chaining(max(pred_size.values()), largest_gold, over)


@dataclass(frozen=True)
class StoryScores:
    """One clustering's story scores against the gold labels."""

    stories: int
    bcubed: Scores
    pairwise: Scores
    chaining: Chaining


def score_stories(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> StoryScores:
    """Story count, B-cubed, pairwise and chaining of one predicted labelling."""
    return StoryScores(
        len(set(predicted)), bcubed(predicted, gold), pairwise(predicted, gold), chaining(predicted, gold)
    )


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
    story_chaining: Chaining
    baseline: StoryScores | None = None
    """The TF-IDF baseline on the same records in the same order (None when not run)."""
    baseline_skipped: int = 0
    """Records the baseline could not read (no title or text, e.g. ``html`` alone), scored as singletons."""

    @property
    def storyline(self) -> StoryScores:
        """Storyline's story scores, in the shape of the baseline's."""
        return StoryScores(self.stories, self.story_bcubed, self.story_pairwise, self.story_chaining)


def evaluate_file(
    path: str | Path,
    label_field: str = "cluster",
    shuffle: int | None = None,
    variant_field: str = "variant",
    settings: Settings | None = None,
    baseline: bool = True,
) -> Evaluation:
    """Ingest a labelled JSONL file into a temporary database (in file or shuffled order) and score it.

    Records not ingested (rejected) count as singletons, so a rejection can only lower recall.
    Near-duplicate groups are scored when the records carry ``variant_field``. With ``baseline``,
    the TF-IDF baseline (``pipeline.baseline``) is scored on the same records in the same order.
    """
    return next(evaluate_orders(path, label_field, [shuffle], variant_field, settings, baseline))


def evaluate_orders(
    path: str | Path,
    label_field: str = "cluster",
    shuffles: Sequence[int | None] = (None,),
    variant_field: str = "variant",
    settings: Settings | None = None,
    baseline: bool = True,
) -> Iterator[Evaluation]:
    """``evaluate_file`` in each order of ``shuffles`` (None: file order), one evaluation as each is scored.

    The records are extracted and fingerprinted once, then stored in each order into a database of its
    own, in the batches an ingest of that order's file would make: what preparation gives an article
    does not depend on the others, so every order is scored as if its file were ingested.
    """
    records = read_labelled(Path(path), label_field)
    base = settings or Settings()
    with tempfile.TemporaryDirectory(prefix="storyline-eval-") as tmp:
        source = Path(tmp) / "input.jsonl"
        with source.open("w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record) + "\n")
        prepared = _PreparedRecords.prepare(source, records, base)
        for number, shuffle in enumerate(shuffles):
            ordered = list(records)
            if shuffle is not None:
                random.Random(shuffle).shuffle(ordered)
            db = Path(tmp) / f"order-{number}" / "eval.duckdb"
            db.parent.mkdir()
            # Nobody else knows the temporary database: no gap for readers between batches.
            run_settings = replace(base, db=str(db), reader_gap_seconds=0.0)
            batches = (prepared.batch(chunk) for chunk in batched(ordered, base.batch_size))
            ingest_prepared(batches, run_settings, [str(source)])
            with Store.open(run_settings.db, read_only=True) as store:
                placed = placements(store)
            shutil.rmtree(db.parent)
            yield _scored(ordered, placed, shuffle, label_field, variant_field, baseline)


@dataclass
class _PreparedRecords:
    """Labelled records extracted and fingerprinted once, by record id: an article, or a rejection."""

    articles: dict[str, tuple[Article, Fingerprint]]
    rejections: dict[str, tuple[Rejection, str | None]]
    """A rejected record's rejection and its ``source`` field."""

    @classmethod
    def prepare(cls, source: Path, records: Sequence[dict], settings: Settings) -> _PreparedRecords:
        """Prepare ``source`` (the records written in file order) in the batches an ingest of it makes."""
        documents = read_paths([source], settings.extract.max_bytes, parse=False)
        out = cls({}, {})
        size = settings.batch_size
        with PreparePool(settings) as pool:
            for chunk, batch in zip(batched(records, size), pool.prepare_all(batched(documents, size)), strict=True):
                articles = {article.external_id: (article, fp) for article, fp in batch.items}
                rejections = iter(zip(batch.rejections, batch.rejected_sources, strict=True))
                for record in chunk:  # a batch lists its rejections in input order, apart from its articles
                    key = str(record["id"])
                    if key in articles:
                        out.articles[key] = articles[key]
                    else:
                        out.rejections[key] = next(rejections)
        return out

    def batch(self, records: Sequence[dict]) -> PreparedBatch:
        """The prepared batch of these records, in their order."""
        keys = [str(r["id"]) for r in records]
        rejected = [self.rejections[key] for key in keys if key in self.rejections]
        return PreparedBatch(
            [self.articles[key] for key in keys if key in self.articles],
            [rejection for rejection, _ in rejected],
            [source for _, source in rejected],
        )


def _scored(
    records: Sequence[dict],
    placed: dict[str, tuple[str, str]],
    shuffle: int | None,
    label_field: str,
    variant_field: str,
    baseline: bool,
) -> Evaluation:
    """The scores of one order's placements (article -> story, variant group) against the records' labels."""
    ids = [str(r["id"]) for r in records]
    stories = [placed.get(i, (f"rejected:{i}", ""))[0] for i in ids]
    gold = [r[label_field] for r in records]
    has_variants = all(variant_field in r for r in records)
    variants = [placed.get(i, ("", f"rejected:{i}"))[1] for i in ids]
    gold_variants = [r.get(variant_field) for r in records]
    baseline_labels, skipped = baseline_stories(records) if baseline else (None, 0)
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
        story_chaining=chaining(stories, gold),
        baseline=score_stories(baseline_labels, gold) if baseline_labels is not None else None,
        baseline_skipped=skipped,
    )


def baseline_stories(
    records: Sequence[dict],
    threshold: float = DEFAULT_THRESHOLD,
    window_days: int | None = DEFAULT_WINDOW_DAYS,
) -> tuple[list[Hashable], int]:
    """The TF-IDF baseline's story per record, in order, and how many records it skipped (as singletons)."""
    documents = [document_from_record(r) for r in records]
    readable = [d for d in documents if d is not None]
    labels = iter(cluster_documents(readable, threshold, window_days))
    stories: list[Hashable] = [
        f"skipped:{r['id']}" if d is None else next(labels) for r, d in zip(records, documents, strict=True)
    ]
    return stories, len(documents) - len(readable)


def read_labelled(path: Path, label_field: str) -> list[dict]:
    """The records of a labelled JSONL file; each needs a unique ``id`` and ``label_field``."""
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
