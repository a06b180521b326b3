"""Storyline's exception tree.

Every error the library raises on purpose derives from ``StorylineError``::

    StorylineError
    ├── ConfigError              bad settings or arguments (terminal: fix the call)
    │   └── QueryError           a `storyline sql` statement failed or tried to write (terminal: fix the SQL)
    ├── ParameterMismatchError   the database was built with other fingerprint/cluster parameters (terminal)
    ├── StoreError               the DuckDB record of truth cannot be used
    │   └── StoreBusyError       another process holds the write lock (transient: retry later)
    ├── NothingIngestedError     a run read input but could store none of it (terminal for that input)
    ├── DeliveryError            an alert could not be delivered (transient: retried on later runs)
    ├── SearchError              full-text search cannot run (no fts extension, no index, empty query)
    └── WorkerCrashedError       an extraction worker process died mid-batch (transient: rerun)

Bad *input* is never an exception that escapes a run: it becomes a ``Rejection`` with a reason.
"""

from __future__ import annotations


class StorylineError(Exception):
    """Root of every error Storyline raises on purpose."""

    transient = False


class ConfigError(StorylineError):
    """Settings, arguments or paths that cannot work; fix them and run again."""


class QueryError(ConfigError):
    """SQL given to ``storyline sql`` failed, or tried to write to the database it opened read-only."""


class ParameterMismatchError(StorylineError):
    """The store was built with other parameters; mixing signatures would corrupt clustering."""

    def __init__(self, differences: dict[str, tuple[object, object]]):
        self.differences = differences
        lines = ", ".join(f"{k}: stored {old!r}, requested {new!r}" for k, (old, new) in differences.items())
        super().__init__(
            "this database was built with different clustering parameters "
            f"({lines}); use the stored parameters or a new database"
        )


class StoreError(StorylineError):
    """The DuckDB store cannot be opened or written."""


class StoreBusyError(StoreError):
    """Another process holds the database's write lock."""

    transient = True


class NothingIngestedError(StorylineError):
    """A run could not ingest a single article from its input."""


class DeliveryError(StorylineError):
    """An alert could not be sent to a notify target; it stays 'failed' and is retried on later runs."""

    transient = True


class SearchError(StorylineError):
    """Full-text search cannot run: the fts extension is missing, there is no index, or the query is empty."""


class WorkerCrashedError(StorylineError):
    """A preparation worker process died (killed, out of memory); the batch in flight was not stored."""

    transient = True
