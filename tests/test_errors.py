"""The exception tree: which failures are the machine's, and that they survive a worker process."""

from __future__ import annotations

import errno
import pickle

import httpx
import pytest

from pipeline.errors import EnvironmentFailure, StorylineError, is_environment_error


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.EFBIG, "File too large"),
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        OSError(errno.EMFILE, "Too many open files"),
        OSError(errno.ENOMEM, "Cannot allocate memory"),
        PermissionError(errno.EACCES, "Permission denied"),
        MemoryError(),
    ],
)
def test_faults_of_the_machine_are_environment_errors(exc: BaseException) -> None:
    assert is_environment_error(exc)


@pytest.mark.parametrize(
    "exc", [ValueError("malformed"), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), OSError(errno.ENOENT, "x")]
)
def test_faults_of_a_document_are_not(exc: BaseException) -> None:
    assert not is_environment_error(exc)


def test_permission_to_read_an_input_is_the_inputs_fault_when_asked() -> None:
    assert not is_environment_error(PermissionError(errno.EACCES, "Permission denied"), permissions=False)
    assert is_environment_error(OSError(errno.EMFILE, "Too many open files"), permissions=False)


def test_a_wrapped_machine_fault_is_found_through_its_cause() -> None:
    try:
        try:
            raise OSError(errno.EMFILE, "Too many open files")
        except OSError as exc:
            raise httpx.ConnectError("cannot connect") from exc
    except httpx.ConnectError as wrapped:
        assert is_environment_error(wrapped)


def test_environment_failure_is_transient_names_its_cause_and_pickles() -> None:
    failure = EnvironmentFailure(OSError(errno.EFBIG, "File too large"), "extracting doc-1")
    assert isinstance(failure, StorylineError) and failure.transient
    assert "extracting doc-1" in str(failure) and "File too large" in str(failure)
    copy = pickle.loads(pickle.dumps(failure))  # how a preparation worker hands it back
    assert str(copy) == str(failure) and copy.cause.errno == errno.EFBIG
