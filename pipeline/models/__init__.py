"""The typed records that flow between stages and into the store.

``documents``: raw documents, articles, fingerprints, assignments, rejections and reports;
``stories``: stories and their members as clustering decides them and the store keeps them;
``alerts``: what an alert rule fired;
``vectors``: the sparse term vectors both carry.
"""

from pipeline.models.alerts import Alert
from pipeline.models.documents import (
    COUNT_FIELDS,
    KEPT_REJECTIONS,
    Article,
    Assignment,
    Fingerprint,
    IngestReport,
    RawDocument,
    Rejection,
    make_id,
)
from pipeline.models.stories import (
    ArticleRef,
    ArticleRow,
    MemberUpdate,
    NewArticle,
    StoredDocument,
    StoryLink,
    StoryMember,
    StoryMerge,
    StoryRecord,
    StoryState,
    StoryVariant,
)

__all__ = [
    "COUNT_FIELDS",
    "KEPT_REJECTIONS",
    "Alert",
    "Article",
    "ArticleRef",
    "ArticleRow",
    "Assignment",
    "Fingerprint",
    "IngestReport",
    "MemberUpdate",
    "NewArticle",
    "RawDocument",
    "Rejection",
    "StoredDocument",
    "StoryLink",
    "StoryMember",
    "StoryMerge",
    "StoryRecord",
    "StoryState",
    "StoryVariant",
    "make_id",
]
