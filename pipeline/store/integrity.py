"""Integrity checks a reader can run at any moment: a committed batch is all there or not at all.

Every batch writes its articles, their index rows, their revisions, their stories and its run's
counters in one transaction, so in any committed state these hold. A reader that sees one broken has seen half a
batch (or a corrupt file); ``storyline check`` and the reliability tests run them. (The check of the
candidate index's snapshot files beside the database is ``pipeline.cluster.candidates.snapshot_problems``.)
"""

from __future__ import annotations

from pipeline.store.db import Store

# (what is wrong, SQL counting the offending rows): every count must be 0.
CHECKS: tuple[tuple[str, str], ...] = (
    (
        "articles stored twice under one (source_uri, content_hash)",
        "SELECT count(*) FROM (SELECT 1 FROM articles GROUP BY source_uri, content_hash HAVING count(*) > 1)",
    ),
    ("article ids used twice", "SELECT count(*) FROM (SELECT 1 FROM articles GROUP BY article_id HAVING count(*) > 1)"),
    ("article seqs used twice", "SELECT count(*) FROM (SELECT 1 FROM articles GROUP BY seq HAVING count(*) > 1)"),
    (
        "articles whose story is missing",
        "SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM stories s WHERE s.story_id = a.story_id)",
    ),
    (
        "stories whose article_count differs from their stored articles",
        "SELECT count(*) FROM stories s WHERE article_count <> "
        "(SELECT count(*) FROM articles a WHERE a.story_id = s.story_id)",
    ),
    (
        "stories without exactly one canonical article",
        "SELECT count(*) FROM stories s WHERE "
        "(SELECT count(*) FROM articles a WHERE a.story_id = s.story_id AND a.is_canonical) <> 1",
    ),
    (
        "articles without a signature (or signatures without an article)",
        "SELECT abs((SELECT count(*) FROM articles) - (SELECT count(*) FROM article_signatures))",
    ),
    (
        "runs whose 'new' counter differs from the articles they stored",
        "SELECT count(*) FROM runs r WHERE r.new <> (SELECT count(*) FROM articles a WHERE a.run_id = r.run_id)",
    ),
    (
        "runs whose 'read' counter is not new + unchanged + revised + rejected",
        "SELECT count(*) FROM runs WHERE read <> new + unchanged + revised + rejected",
    ),
    (
        "articles whose revision number differs from the versions kept in revisions",
        "SELECT count(*) FROM (SELECT article_id, revision - 1 AS n FROM articles WHERE revision > 1) a "
        "FULL JOIN (SELECT article_id, count(*) AS n FROM revisions GROUP BY article_id) r USING (article_id) "
        "WHERE coalesce(a.n, 0) <> coalesce(r.n, 0)",
    ),
)
# A database no writer has opened since revisions were kept (read-only, it cannot be migrated) has no
# ``revisions`` table and no ``runs.revised``: it is checked as it was written.
BEFORE_REVISIONS: dict[str, tuple[str, str] | None] = {
    CHECKS[-2][0]: (
        "runs whose 'read' counter is not new + unchanged + rejected",
        "SELECT count(*) FROM runs WHERE read <> new + unchanged + rejected",
    ),
    CHECKS[-1][0]: None,
}


def consistency_problems(store: Store) -> list[str]:
    """Every broken invariant as 'N <what is wrong>' (empty when the database is consistent)."""
    problems = []
    checks = CHECKS
    if not store.has_table("revisions"):
        checks = tuple(c for c in (BEFORE_REVISIONS.get(what, (what, sql)) for what, sql in CHECKS) if c is not None)
    for what, sql in checks:
        count = int(store._con.execute(sql).fetchall()[0][0])
        if count:
            problems.append(f"{count} {what}")
    return problems


def totals(store: Store) -> tuple[int, int, int]:
    """How many articles and stories the database holds, and how many runs are in progress."""
    articles, stories, running = store._con.execute(
        "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM stories), "
        "(SELECT count(*) FROM runs WHERE status = 'running')"
    ).fetchall()[0]
    return articles, stories, running
