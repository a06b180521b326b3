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


def transactions(prepared: Iterable[PreparedBatch], batch_size: int, block_size: int) -> Iterator[PreparedBatch]:
    """Prepared batches regrouped into what one transaction stores: whole clustering blocks.

    Clustering takes a run's documents ``block_size`` at a time (``ClusterSettings.block_size``), whatever
    size the batches were prepared in; a transaction stores ``batch_size`` documents rounded up to whole
    blocks, the documents left over wait for the next batch, and only a run's last transaction ends with
    a partial block. So the same records are clustered in the same blocks whatever the batch size and the
    number of workers, and a run restarted after a crash (whose last transaction was rolled back) reads
    its input again into the same blocks. Rejections take no part in clustering: each goes with the next
    transaction, and a run of them alone is flushed once there are a transaction's worth.
    """
    size = transaction_size(batch_size, block_size)
    items: list[tuple[Article, Fingerprint]] = []
    rejections: list[Rejection] = []
    sources: list[str | None] = []
    for batch in prepared:
        items.extend(batch.items)
        rejections.extend(batch.rejections)
        sources.extend(batch.rejected_sources or [None] * len(batch.rejections))
        while len(items) >= size or (not items and len(rejections) >= size):
            yield PreparedBatch(items[:size], rejections, sources)
            items, rejections, sources = items[size:], [], []
    if items or rejections:
        yield PreparedBatch(items, rejections, sources)


def transaction_size(batch_size: int, block_size: int) -> int:
    """Documents a transaction stores: ``batch_size`` rounded up to whole clustering blocks."""
    return block_size * max(1, -(-batch_size // block_size))


def blocks(prepared: PreparedBatch, block_size: int) -> list[PreparedBatch]:
    """A transaction's clustering blocks, in order; its rejections go with the first (there is always one)."""
    items, size = prepared.items, block_size
    first = PreparedBatch(items[:size], prepared.rejections, prepared.rejected_sources)
    return [first, *(PreparedBatch(items[at : at + size], []) for at in range(size, len(items), size))]


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
