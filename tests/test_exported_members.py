"""The public API: what ``pipeline`` exports is a deliberate list, and every name in it is defined.

As httpx's ``tests/test_exported_members.py`` does: adding or removing a public name is a change to
make on purpose, here and in ``pipeline.__all__`` together.
"""

from __future__ import annotations

import pipeline

# Each public name and the module that defines it: moving one is as deliberate as adding or removing it.
PUBLIC = {
    "Article": "pipeline.models.documents",
    "Assignment": "pipeline.models.documents",
    "ConfigError": "pipeline.errors",
    "DeliveryError": "pipeline.errors",
    "Fingerprint": "pipeline.models.documents",
    "IngestReport": "pipeline.models.documents",
    "NothingIngestedError": "pipeline.errors",
    "ParameterMismatchError": "pipeline.errors",
    "RawDocument": "pipeline.models.documents",
    "Rejection": "pipeline.models.documents",
    "Settings": "pipeline.settings",
    "Store": "pipeline.store.db",
    "StoreBusyError": "pipeline.errors",
    "StoreError": "pipeline.errors",
    "StorylineError": "pipeline.errors",
    "extract": "pipeline.extract.article",
    "ingest_paths": "pipeline.run.ingest",
    "prepare_batch": "pipeline.run.prepare",
    "read_paths": "pipeline.sources.files",
    "store_batch": "pipeline.run.ingest",
}


def test_all_is_the_public_api() -> None:
    assert set(pipeline.__all__) == set(PUBLIC)
    assert len(pipeline.__all__) == len(PUBLIC), "a name listed twice in pipeline.__all__"


def test_every_exported_member_exists_where_it_is_pinned() -> None:
    for name in pipeline.__all__:
        member = getattr(pipeline, name)
        assert member.__module__ == PUBLIC[name], (name, member.__module__)


def test_public_names_are_documented() -> None:
    for name in pipeline.__all__:
        assert (getattr(pipeline, name).__doc__ or "").strip(), f"pipeline.{name} has no docstring"
