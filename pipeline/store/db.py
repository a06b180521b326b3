"""Store: DuckDB as the record of truth.

``Store`` is one connection (``connection``: opening, locking, schema, transactions) with what the
pipeline reads and writes through it: runs (``runs``), the reads clustering makes (``candidates``) and
the writes of a batch (``writes``). Stage-specific reads and writes (alerts, fetch state, reports) are
functions beside them in this package that take a ``Store``.
"""

from __future__ import annotations

from pipeline.store.candidates import CandidateReads
from pipeline.store.runs import RunLog
from pipeline.store.writes import BatchWrites


class Store(RunLog, CandidateReads, BatchWrites):
    """A DuckDB database holding articles, stories, runs and rejections."""
