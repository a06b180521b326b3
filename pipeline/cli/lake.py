"""The lake side of the command line: ``storyline publish``, and ``--lake`` for the read commands.

Kept apart from ``cli`` so the other commands stay readable. See docs/lake.md.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from pipeline.settings import LakeSettings, Settings


def add_lake_option(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--lake``: read the published DuckLake (the [lake] setting's, or ``--lake-url``'s), not the database.

    A flag, not an option with an optional value: ``sql --lake "SELECT ..."`` would take the SQL for a URL.
    """
    p.add_argument(
        "--lake",
        action="store_const",
        const="",
        help="read the DuckLake the database is published to ([lake] url setting), never the database file",
    )
    p.add_argument("--lake-url", dest="lake", metavar="URL", help="... the DuckLake at URL (ducklake:sqlite:PATH, "
                   "ducklake:postgres:...)")  # fmt: skip
    return p


def add_publish_parser(sub: argparse._SubParsersAction, with_db) -> None:  # type: ignore[no-untyped-def,type-arg]
    """The ``publish`` subcommand."""
    p = with_db(sub.add_parser("publish", help="publish what changed to the DuckLake analysts read (docs/lake.md)"))
    p.add_argument("--lake", metavar="URL", help="the lake's catalog (default the [lake] url setting)")
    p.add_argument("--data-path", metavar="PATH", help="where its Parquet files go (default: beside a SQLite catalog)")
    p.add_argument(
        "--compact",
        action="store_true",
        help="then merge small files, expire snapshots older than lake.expire_after_days, delete unused files",
    )
    p.set_defaults(handler=cmd_publish)


def lake_settings(settings: Settings, url: str | None, data_path: str | None = None) -> LakeSettings:
    """The [lake] settings, with the URL and data path given on the command line (if any) instead."""
    lake = settings.lake
    if url:
        # another lake than the configured one: its own data path, not the configured lake's
        lake = replace(lake, url=url, data_path=data_path)
    elif data_path:
        lake = replace(lake, data_path=data_path)
    return lake


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish the changes since the last publication as one lake snapshot; then compact, if asked."""
    from pipeline.store.lake.publish import publish
    from pipeline.store.lake.upkeep import compact

    settings = Settings.load(args.config, db=args.db)
    lake = lake_settings(settings, args.lake, args.data_path)
    report = publish(settings.db, lake, wait_seconds=settings.read_wait_seconds)
    print(report.summary())
    if args.compact:
        done = compact(settings.db, lake)
        print(
            f"lake: compacted: {done.files_before} -> {done.files_after} file(s), "
            f"{done.snapshots_expired} snapshot(s) expired, {done.files_deleted} file(s) deleted"
        )
    return 0


def open_lake_store(args: argparse.Namespace, settings: Settings):  # type: ignore[no-untyped-def]
    """A read-only ``Store`` over the lake (its views and macros in use), for the read commands."""
    from pipeline.store.lake.publish import lake_store

    return lake_store(lake_settings(settings, args.lake))


def open_lake_search(args: argparse.Namespace, settings: Settings):  # type: ignore[no-untyped-def]
    """``search --lake``: the local search replica of the lake, brought up to its current snapshot."""
    from pipeline.store.lake.search import open_search_replica

    store, _ = open_search_replica(lake_settings(settings, args.lake), settings.read_wait_seconds)
    return store


def check_lake(args: argparse.Namespace, settings: Settings) -> int:
    """``check --lake``: the lake's own invariants, and its agreement with the database."""
    from pipeline.store.lake.upkeep import disagreements, lake_problems, lake_totals

    lake = lake_settings(settings, args.lake)
    with open_lake_store(args, settings) as store:
        problems = lake_problems(store)
        articles, stories = lake_totals(store)
    problems += disagreements(settings.db, lake, settings.read_wait_seconds)
    print(f"lake: {articles} articles in {stories} stories")
    for problem in problems:
        print(f"  problem: {problem}")
    print("the lake agrees with the database" if not problems else f"{len(problems)} problem(s) found")
    return 1 if problems else 0
