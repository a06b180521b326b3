"""Prepare: a batch of raw documents becomes articles with fingerprints, or rejections (no database needed).

This is the part of a run that worker processes do (``pipeline.run.parallel``); the writer then clusters and
stores what it gives (``pipeline.run.ingest.store_batch``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice

from pipeline.extract.article import extract_many
from pipeline.fingerprint.fingerprints import TermWeighter, fingerprint_articles
from pipeline.models import Article, Fingerprint, RawDocument, Rejection
from pipeline.settings import Settings
from pipeline.sources.files import JsonlLine, parsed

Document = RawDocument | Rejection | JsonlLine
"""What preparation takes: a raw document, a rejection from the reader, or a JSONL line not parsed yet."""


@dataclass(frozen=True)
class PreparedBatch:
    """A batch after extraction and fingerprinting: ready to cluster and store."""

    items: list[tuple[Article, Fingerprint]]
    rejections: list[Rejection]
    rejected_sources: list[str | None] = field(default_factory=list)
    """The ``source`` of each rejected document, when it was known (for per-source reports)."""

    @property
    def read(self) -> int:
        """Documents read in this batch (articles plus rejections)."""
        return len(self.items) + len(self.rejections)


def batched(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    """Consecutive lists of at most ``size`` items."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def prepare_batch(batch: Sequence[Document], settings: Settings, weighter: TermWeighter | None = None) -> PreparedBatch:
    """Parse (JSONL lines read unparsed), extract and fingerprint a batch (no database needed)."""
    weighter = weighter or TermWeighter(settings.cluster)
    articles: list[Article] = []
    rejections: list[Rejection] = []
    rejected_sources: list[str | None] = []
    items = [parsed(item) for item in batch]
    extracted = iter(extract_many([item for item in items if isinstance(item, RawDocument)], settings.extract))
    for raw in items:
        result = raw if isinstance(raw, Rejection) else next(extracted)
        if isinstance(result, Rejection):
            rejections.append(result)
            rejected_sources.append(None if isinstance(raw, Rejection) else raw.source)
        else:
            articles.append(result)
    fingerprints = fingerprint_articles(articles, weighter, settings.fingerprint)  # one sketch pass per batch
    return PreparedBatch(list(zip(articles, fingerprints, strict=True)), rejections, rejected_sources)
