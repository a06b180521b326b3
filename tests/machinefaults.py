"""A document that makes the machine fail mid-extraction, in this process or in a preparation worker.

Workers unpickle their documents, so a monkeypatch in the test process cannot reach them; a title whose
truth test raises travels with the document instead (extraction tests ``raw.title`` inside its guard).
"""

from __future__ import annotations

import errno

FAULTS = {
    "efbig": lambda: OSError(errno.EFBIG, "File too large"),
    "memory": MemoryError,
}


class FaultyTitle(str):
    """A title whose truth test raises the named machine fault (``FAULTS``)."""

    fault = "efbig"

    def __bool__(self) -> bool:
        raise FAULTS[self.fault]()


def faulty_title(text: str, fault: str) -> FaultyTitle:
    """``text`` as a title that raises ``fault`` when extraction looks at it."""
    title = FaultyTitle(text)
    title.fault = fault
    return title
