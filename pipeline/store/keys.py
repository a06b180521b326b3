"""How the store keys what it is given: term keys of the postings, story ids inlined in SQL, stored vectors."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import xxhash

from pipeline.errors import StoreError

_STORY_ID = re.compile(r"[a-z][0-9a-f]{16}")


def stored_vector(terms: dict[str, float]) -> dict[str, float]:
    """A term vector as ``article_vectors`` gives it back: its weights are stored as 32-bit FLOATs."""
    return dict(zip(terms, np.asarray(list(terms.values()), dtype=np.float32).tolist(), strict=True))


def id_list(ids: Sequence[str]) -> str:
    """A constant IN list of story ids (filtered in the scan of the id column, before other columns are read).

    Inlined rather than bound: binding costs the Python client ~5 failed imports per value. Only
    ids of the form Storyline issues (checked here) are ever inlined; they come from the index
    and the store, never from user text.
    """
    for story_id in ids:
        if not _STORY_ID.fullmatch(story_id):
            raise StoreError(f"not a story id: {story_id!r}")
    return ", ".join(f"'{story_id}'" for story_id in ids)


def term_key(term: str) -> int:
    """The 63-bit key a term is posted under in ``story_postings``."""
    return xxhash.xxh64_intdigest(term.encode("utf-8")) >> 1
