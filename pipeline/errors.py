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
    ├── LakeError                the DuckLake copy cannot be published or read (no catalog, another database's)
    ├── WorkerCrashedError       an extraction worker process died mid-batch (transient: rerun)
    └── EnvironmentFailure       the machine failed (disk full, file-size limit, no memory, no file handles,
                                 no permission on the database): the run stops, its documents stay unread
                                 (transient: fix the machine and rerun)

Bad *input* is never an exception that escapes a run: it becomes a ``Rejection`` with a reason. A fault of
the machine Storyline runs on is never a rejection: ``is_environment_error`` tells the two apart, and the
places that turn exceptions into rejections raise ``EnvironmentFailure`` for it instead, so the documents
are not recorded as rejected (nor known) and a rerun reads them again.
"""

from __future__ import annotations

import errno


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


class LakeError(StorylineError):
    """The DuckLake the store is published to cannot be attached, written or read (``pipeline.store.lake``)."""


class WorkerCrashedError(StorylineError):
    """A preparation worker process died (killed, out of memory); the batch in flight was not stored."""

    transient = True


class EnvironmentFailure(StorylineError):
    """The machine, not the document, failed (``is_environment_error``); ``cause`` is the original error."""

    transient = True

    def __init__(self, cause: BaseException, doing: str = ""):
        cause = _machine_cause(cause)  # "Too many open files", not the ConnectError that wraps it
        self.cause = cause
        self.doing = doing
        where = f" while {doing}" if doing else ""
        detail = str(cause) or "(no message)"
        super().__init__(
            f"the machine failed{where}: {type(cause).__name__}: {detail}; "
            "nothing was rejected for it: fix the machine and run again"
        )

    def __reduce__(self) -> tuple[object, ...]:
        # Raised in preparation workers and re-raised in the parent: pickle the arguments, not the message.
        return (type(self), (self.cause, self.doing))


MACHINE_ERRNOS = frozenset(
    code
    for code in (
        errno.ENOSPC,  # disk full
        errno.EFBIG,  # file-size limit (ulimit -f) or file system maximum
        getattr(errno, "EDQUOT", None),  # disk quota
        errno.ENOMEM,
        errno.EMFILE,  # this process's open files
        errno.ENFILE,  # the system's open files
        errno.EROFS,  # read-only file system
    )
    if code is not None
)
"""Error numbers that are always the machine's fault, whatever was being read or written."""

PERMISSION_ERRNOS = frozenset({errno.EACCES, errno.EPERM})
"""The machine's fault when Storyline writes (the database, its folder, temp files); reading an input file
that cannot be read is that input's fault, so readers of inputs pass ``permissions=False``."""


def _machine_cause(exc: BaseException) -> BaseException:
    """The error in ``exc``'s chain of causes that is the machine's fault (``exc`` itself when none is)."""
    for current in _chain(exc):
        if isinstance(current, MemoryError) or (
            isinstance(current, OSError) and current.errno in MACHINE_ERRNOS | PERMISSION_ERRNOS
        ):
            return current
    return exc


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the errors it was raised from or while handling, innermost last."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_environment_error(exc: BaseException, *, permissions: bool = True) -> bool:
    """Whether ``exc`` (or an error it was raised from) is a fault of the machine rather than of a document.

    Out of memory, disk full, file-size limit, quota, too many open files; with ``permissions``, also
    permission denied. Libraries wrap such errors (httpx raises ``ConnectError`` from the ``OSError``), so
    the chain of causes is followed.
    """
    return any(
        isinstance(current, EnvironmentFailure | MemoryError)
        or (
            isinstance(current, OSError)
            and (current.errno in MACHINE_ERRNOS or (permissions and current.errno in PERMISSION_ERRNOS))
        )
        for current in _chain(exc)
    )
