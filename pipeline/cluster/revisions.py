"""Revisions: a new version of a stored source document replaces its article's text; the old one is kept.

A document is known by where it comes from, not by its text: the same ``source_uri`` (a file's path,
a JSONL file's record, a live page's listed URL), or the same record ``id`` from the same named
``source`` (a later dump carrying an updated record). Read again with a text none of its versions had
(content hash), it is a *revision*: the article keeps its id, story, variant group, assignment and the
run and time that first stored it; its text, title, metadata, hash, signature and term vector become the
new version's, and the replaced version is kept in ``revisions``. A text it had before (the current or
an earlier version: an old copy of a file read again) is unchanged and adds nothing. HTML canonical
links are not an identity: many sites point every page's canonical link at their home page.

The revised article stays in its story, however much its text changed: it is the same report, and
moving it would rewrite stories behind the backs of the articles matched against them. When it is one
of the story's distinct variants, the story's centroid takes its new term vector in place of the old;
the story's canonical article and every member's relation to it are worked out again when the story is
saved. The similarities recorded when it was assigned (``near_duplicate_similarity``,
``story_similarity``, ``shared_terms``, ``matched_article_id``) describe the version that was assigned.

The revised row is stored under the next ``seq``, as a new article would be, so everything the
candidate index reads by ``seq`` (signatures, vectors, band keys) is still appended in order; the rows
of the old ``seq`` are deleted, and the index learns from ``revisions.seq`` which of the band postings
it holds are gone. All of it is written in the batch's one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

from pipeline.cluster.batch import Batch, BatchAssignment, document_columns, weighed
from pipeline.models import Article, ArticleRef, ArticleRow, Fingerprint, NewArticle, StoryVariant
from pipeline.sources.outlet import input_name, outlet_of
from pipeline.store import Store

__all__ = ["Document", "Plan", "plan_batch", "revise_batch_articles", "revise_stored_articles"]

DISTINCT_VARIANTS = ("new_story", "rewrite")  # how an article that shaped its story's centroid was assigned


@dataclass
class Document:
    """One source document of a batch: its stored article (by seq) or its place among the batch's new items."""

    stored_seq: int | None = None
    new_index: int | None = None
    hashes: set[str] = field(default_factory=set)
    """Every text it has had, stored or read in this batch."""


@dataclass(frozen=True)
class Step:
    """A document read with a new text: one revision to apply."""

    article: Article
    fingerprint: Fingerprint
    document: Document


@dataclass
class Plan:
    """What a batch's documents are: unchanged, new articles (in order), or revisions of known ones."""

    new: list[tuple[Article, Fingerprint]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    unchanged: int = 0

    def stored_steps(self) -> list[Step]:
        """Revisions of stored articles, in input order."""
        return [s for s in self.steps if s.document.stored_seq is not None]

    def batch_steps(self) -> list[Step]:
        """Revisions of articles this batch reads for the first time, in input order."""
        return [s for s in self.steps if s.document.new_index is not None]


def record_outlet(article: Article, outlet: str) -> str | None:
    """The outlet whose record id identifies the document: only when the record names its source.

    Files that name no source often number their records from 1; such ids say nothing across files.
    """
    return outlet if article.source and article.external_id is not None else None


def identities(article: Article, outlet: str) -> list[tuple[str, ...]]:
    """What makes a document the same one: its ``source_uri``, and its outlet's record id when it names its source."""
    keys: list[tuple[str, ...]] = [("uri", article.source_uri)]
    if record_outlet(article, outlet) is not None:
        keys.append(("id", outlet, str(article.external_id)))
    return keys


def plan_batch(store: Store, items: Sequence[tuple[Article, Fingerprint]]) -> Plan:
    """Sort a batch's documents into unchanged ones, new articles and revisions (reads the store, writes nothing).

    Unchanged: a text its document has had, or the same input (file name and record) with the same
    text from the same outlet (a copied folder), whichever folder it was read from.
    """
    plan = Plan()
    outlets = [outlet_of(article) for article, _ in items]
    keys = [(a.source_uri, record_outlet(a, o), a.external_id) for (a, _), o in zip(items, outlets, strict=True)]
    matches = store.stored_documents(keys)
    copies = store.outlet_texts((o, fp.content_hash) for o, (_, fp) in zip(outlets, items, strict=True))
    seen = {(o, input_name(uri), h) for o, h, uri in copies}
    earlier = store.earlier_versions(m.article_id for found in matches.values() for m in found)
    documents: dict[tuple[str, ...], Document] = {}
    by_article: dict[str, Document] = {}
    for i, ((article, fp), outlet) in enumerate(zip(items, outlets, strict=True)):
        ids = identities(article, outlet)
        found = matches.get(i, [])
        same = (outlet, input_name(article.source_uri), fp.content_hash)
        document = next((documents[k] for k in ids if k in documents), None)
        if document is None and found:
            # The latest article of its source_uri (a database from before revisions may hold several).
            best = max(found, key=lambda m: (m.by_uri, m.seq))
            document = by_article.get(best.article_id)
            if document is None:
                versions = {m.content_hash for m in found if m.by_uri or m.article_id == best.article_id}
                document = Document(stored_seq=best.seq, hashes=versions | earlier.get(best.article_id, set()))
                by_article[best.article_id] = document
        if same in seen or (document is not None and fp.content_hash in document.hashes):
            plan.unchanged += 1
        elif document is None:
            plan.new.append((article, fp))
            document = Document(new_index=len(plan.new) - 1, hashes={fp.content_hash})
        else:
            document.hashes.add(fp.content_hash)
            plan.steps.append(Step(article, fp, document))
        seen.add(same)
        if document is not None:
            for key in ids:
                documents.setdefault(key, document)
    return plan


class Reviser:
    """Applies revisions to a batch under assignment (``batchstate.Batch``) and its ``BatchAssignment``."""

    def __init__(self, batch: Batch, out: BatchAssignment, run_id: str, now: datetime):
        self.batch, self.out, self.run_id, self.now = batch, out, run_id, now

    def revise(self, old: NewArticle, article: Article, fp: Fingerprint, seq: int, retired: int | None) -> NewArticle:
        """Replace ``old`` (the article's current version) by the document's new one, stored under ``seq``.

        Metadata the new version lacks (a page fetched again without its feed's title and date, a
        file saved without its header line) is kept from the old one.
        """
        article = replace(
            article,
            title=article.title or old.row.title,
            published_ts=article.published_ts or old.row.published_ts,
            author=article.author or old.row.author,
            sitename=article.sitename or old.row.sitename,
        )
        row = replace(
            old.row,
            seq=seq, **document_columns(article, fp),
            # Not canonical and no similarity yet: saving the story works out its canonical and relations again.
            is_canonical=False, canonical_similarity=None,
            revision=old.row.revision + 1, revised_at=self.now, revised_run=self.run_id,
        )  # fmt: skip
        signature = np.asarray(fp.signature, dtype=np.uint32)
        new = NewArticle(row=row, signature=signature.tobytes(), band_keys=fp.band_keys, terms=fp.terms)
        self.out.revisions.append(self._replaced(old, retired, seq))
        self.out.revised_uris.append(article.source_uri)
        self._restory(old, new)
        # Later articles of the batch compare with the new text: an exact copy of it follows this article.
        ref = ArticleRef(row.article_id, self.batch.resolve(row.story_id), row.variant_group)
        self.batch.add_signature(seq, signature, ref, fp.band_keys)
        self.batch.by_hash.setdefault(fp.content_hash, ref)
        self.batch.revised.add(row.article_id)
        return new

    def _replaced(self, old: NewArticle, retired: int | None, seq: int) -> dict[str, Any]:
        """The ``revisions`` row of a replaced version (``retired``: the seq it was stored under)."""
        row = old.row
        return {
            "article_id": row.article_id, "revision": row.revision,
            "content_hash": row.content_hash, "source_uri": row.source_uri, "url": row.url,
            "title": row.title, "text": row.text, "published_at": row.published_at,
            "published_ts": row.published_ts, "word_count": row.word_count,
            "terms": list(old.terms), "seq": retired,
            "stored_at": row.revised_at or row.ingested_at,
            "run_id": row.revised_run or row.run_id,
            "replaced_seq": seq, "replaced_at": self.now, "replaced_run": self.run_id,
        }  # fmt: skip

    def _restory(self, old: NewArticle, new: NewArticle) -> None:
        """Keep the article's story as it was, with its new vector in the centroid in place of the old."""
        batch = self.batch
        group = new.row.variant_group
        story_id = batch.resolve(self.out.moves.get(group, new.row.story_id))
        story = batch.story(story_id)
        if new.row.assigned_as in DISTINCT_VARIANTS:
            story.remove(old.terms)
            story.add(new.terms)
            batch.changed.add(story.story_id)
            batch.post(story, new.terms)
            # The batch's variants (what its split check bisects) hold the article once, with its new vector.
            seq = new.row.seq
            batch.variants = [v for v in batch.variants if v.seq != seq]
            batch.variants.append(StoryVariant(seq, new.row.article_id, story.story_id, group, new.terms))
        self.out.revised_stories.add(story.story_id)


def revise_stored_articles(
    batch: Batch, out: BatchAssignment, steps: Sequence[Step], seq: int, run_id: str, now: datetime
) -> int:
    """Apply the revisions of stored articles, each re-stored from ``seq`` on; returns the next free seq.

    A stored article revised twice in one batch is re-stored once, with its last text; the text in
    between is kept in ``revisions`` like any replaced version.
    """
    if not steps:
        return seq

    store, index = batch.store, batch.index
    stored = {s.document.stored_seq for s in steps}
    rows = store.article_rows(stored)
    vectors = index.vectors(store, stored)
    weighted = weighed(index, [(s.article, s.fingerprint) for s in steps], set())
    reviser = Reviser(batch, out, run_id, now)
    pending: dict[int, NewArticle] = {}
    for step, (article, fp) in zip(steps, weighted, strict=True):
        old_seq = step.document.stored_seq
        assert old_seq is not None
        if old_seq in pending:  # revised again in this batch: replaces the version this batch stored
            old = pending[old_seq]
            pending[old_seq] = reviser.revise(old, article, fp, old.row.seq, None)
            continue
        old = NewArticle(ArticleRow.from_stored(rows[old_seq]), b"", (), vectors.get(old_seq, {}))
        batch.retired.add(old_seq)  # its band keys and signature are gone with it
        pending[old_seq] = reviser.revise(old, article, fp, seq, old_seq)
        seq += 1
    out.revised.extend(sorted(pending.values(), key=lambda a: a.row.seq))
    return seq


def revise_batch_articles(
    batch: Batch, out: BatchAssignment, steps: Sequence[Step], run_id: str, now: datetime
) -> None:
    """Apply the revisions of articles the batch itself adds (a record read twice with other text):
    the batch stores the last text under the seq the first one was given."""
    if not steps:
        return

    reviser = Reviser(batch, out, run_id, now)
    for step, (article, fp) in zip(steps, weighed(batch.index, [(s.article, s.fingerprint) for s in steps], set()),
                                   strict=True):  # fmt: skip
        i = step.document.new_index
        assert i is not None
        old = out.articles[i]
        out.articles[i] = reviser.revise(old, article, fp, old.row.seq, None)
