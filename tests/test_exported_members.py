"""The public API: what ``pipeline`` exports is a deliberate list, and every name in it is defined.

As httpx's ``tests/test_exported_members.py`` does: adding or removing a public name is a change to
make on purpose, here and in ``pipeline.__all__`` together.
"""

from __future__ import annotations

import pipeline

PUBLIC = {
    "Article",
    "Assignment",
    "ConfigError",
    "DeliveryError",
    "Fingerprint",
    "IngestReport",
    "NothingIngestedError",
    "ParameterMismatchError",
    "RawDocument",
    "Rejection",
    "Settings",
    "Store",
    "StoreBusyError",
    "StoreError",
    "StorylineError",
    "extract",
    "ingest_paths",
    "prepare_batch",
    "read_paths",
    "store_batch",
}


def test_all_is_the_public_api() -> None:
    assert set(pipeline.__all__) == PUBLIC
    assert len(pipeline.__all__) == len(PUBLIC), "a name listed twice in pipeline.__all__"


def test_every_exported_member_exists_and_belongs_to_the_library() -> None:
    for name in pipeline.__all__:
        member = getattr(pipeline, name)
        assert member.__module__.startswith("pipeline."), (name, member.__module__)


def test_public_names_are_documented() -> None:
    for name in pipeline.__all__:
        assert (getattr(pipeline, name).__doc__ or "").strip(), f"pipeline.{name} has no docstring"
