"""The ``storyline`` command line.

    storyline ingest PATH...        run the Prefect ingest flow over files and folders
    storyline ingest --feed URL     ... or over live sources (--sitemap URL, --urls FILE, --sources FILE)
    storyline serve                 run the live sources on their schedules (single machine)
    storyline extract [FILE]        extraction alone: JSONL in (file or stdin), JSONL out
    storyline stories               stories as a table, latest activity first
    storyline show STORY_ID         one story and its variants, with why each was assigned
    storyline check                 integrity checks (whole batches only, counts agree, index snapshot whole)
    storyline alerts                fired alerts and their delivery status
    storyline watch STORY_ID        flag a story for watched_story alert rules
    storyline export --format jsonl one line per article (or --format parquet|csv DIR: one file per table)
    storyline search "QUERY"        ranked full-text search over stories and articles
    storyline sql "SELECT ..."      SQL on the database opened read-only; the last statement's rows (table, csv, jsonl)
    storyline report STORY_ID --html FILE   the story as a self-contained HTML page
    storyline publish [--lake URL]  publish what changed to the DuckLake analysts read (--compact: maintenance)
    storyline sql --lake "..."      ... and sql, stories, show, check read that lake, never the database file

Exit codes: 0 success, 1 nothing could be ingested or the database is unusable, 2 bad arguments,
3 the machine failed (disk full, file-size limit, quota, out of memory, too many open files, no permission
on the database): the run stopped, nothing was rejected for it, and a rerun once it is fixed reads it all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pipeline.cli.common import console, prefect_offline, print_summary, shown
from pipeline.cli.lake import add_lake_option, add_publish_parser
from pipeline.errors import ConfigError, EnvironmentFailure, NothingIngestedError, StorylineError, is_environment_error
from pipeline.models import IngestReport, RawDocument, Rejection
from pipeline.settings import DEFAULT_DB, Settings

if TYPE_CHECKING:
    from rich.text import Text

    from pipeline.evaluate import Evaluation
    from pipeline.store.search import Snippet


EXIT_ENVIRONMENT = 3
"""Exit code when the machine, not the input, failed (``EnvironmentFailure``): fix it and run again."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``storyline`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except EnvironmentFailure as exc:
        print(f"storyline: error: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except BrokenPipeError:  # `storyline export | head` (an OSError: caught before the machine faults)
        return 0
    except (MemoryError, OSError) as exc:
        if not is_environment_error(exc):
            raise
        print(f"storyline: error: {EnvironmentFailure(exc)}", file=sys.stderr)  # raised outside a guarded stage
        return EXIT_ENVIRONMENT
    except (ConfigError, ValueError) as exc:
        print(f"storyline: error: {exc}", file=sys.stderr)
        return 2
    except StorylineError as exc:
        print(f"storyline: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        # A DuckDB error the store did not name (a write outside a batch's transaction): one line, not a
        # traceback. Only when duckdb is loaded can the error be one of its own.
        duckdb = sys.modules.get("duckdb")
        if duckdb is None or not isinstance(exc, duckdb.Error):
            raise
        print(f"storyline: database error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storyline", description="News ingestion and story deduplication.")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_db(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--db", help=f"database file (default ${{STORYLINE_DB}} or ./{DEFAULT_DB})")
        p.add_argument("--config", help="settings TOML file (default $STORYLINE_CONFIG)")
        return p

    p = with_db(sub.add_parser("ingest", help="ingest files and folders (text dumps, HTML, JSONL)"))
    p.add_argument("paths", nargs="*", help="files or folders (.txt, .html, .htm, .jsonl, optionally .gz)")
    p.add_argument(
        "--batch-size",
        type=int,
        help="documents per batch (default 200); a transaction stores whole clustering blocks ([cluster] block_size)",
    )
    p.add_argument("--no-prefect", action="store_true", help="run the library directly, without a Prefect flow")
    p.add_argument(
        "--dask",
        default=os.environ.get("STORYLINE_DASK_ADDRESS") or None,
        help="prepare batches on Dask: a scheduler address (tcp://host:8786) or 'local' for a LocalCluster "
        "(default $STORYLINE_DASK_ADDRESS; storing stays in this process)",
    )
    live = p.add_argument_group("live sources (instead of PATHs)")
    live.add_argument("--feed", action="append", default=[], metavar="URL", help="an RSS or Atom feed (repeatable)")
    live.add_argument("--sitemap", action="append", default=[], metavar="URL", help="a sitemap or sitemap index")
    live.add_argument("--urls", action="append", default=[], metavar="FILE", help="a file of article URLs, one a line")
    live.add_argument("--sources", metavar="FILE", help="a sources TOML file (see deploy/sources.toml)")
    live.add_argument("--source", action="append", metavar="NAME", help="only this source of --sources (repeatable)")
    live.add_argument("--allow-private", action="store_true", help="let --feed/--sitemap/--urls reach private and "
                      "loopback addresses (an intranet or a test server)")  # fmt: skip
    p.set_defaults(handler=cmd_ingest)

    p = with_db(sub.add_parser("serve", help="run the live sources on their schedules in this process"))
    p.add_argument("--sources", default="deploy/sources.toml", help="sources TOML file (default deploy/sources.toml)")
    p.add_argument("--limit", type=int, default=1, help="flow runs at a time (default 1: one DuckDB writer)")
    p.set_defaults(handler=cmd_serve)

    p = with_db(sub.add_parser("extract", help="extract clean text and metadata: JSONL in, JSONL out"))
    p.add_argument("input", nargs="?", default="-", help="JSONL file with id, url, html or text (default stdin)")
    p.set_defaults(handler=cmd_extract)

    p = add_lake_option(with_db(sub.add_parser("stories", help="list stories, latest activity first")))
    p.add_argument("--limit", type=int, default=50, help="how many stories (default 50)")
    p.set_defaults(handler=cmd_stories)

    p = add_lake_option(with_db(sub.add_parser("show", help="show one story and its variants")))
    p.add_argument("story_id", nargs="?", help="story id (default: the most recently updated story)")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("evaluate", help="score clustering against gold labels in a JSONL file")
    p.add_argument("data", help="JSONL records with id, text or html, and a gold label field")
    p.add_argument("--label-field", default="cluster", help="field holding the gold story label (default cluster)")
    p.add_argument("--variant-field", default="variant", help="field holding gold near-duplicate groups, if any")
    p.add_argument("--shuffle", type=int, action="append", metavar="SEED", help="shuffled order (repeatable)")
    p.add_argument("--config", help="settings TOML file (default $STORYLINE_CONFIG)")
    p.add_argument("--no-baseline", action="store_true", help="do not score the TF-IDF baseline beside Storyline")
    p.set_defaults(handler=cmd_evaluate)

    p = add_lake_option(
        with_db(sub.add_parser("check", help="check the database's integrity (safe while an ingest runs)"))
    )
    p.set_defaults(handler=cmd_check)

    p = with_db(sub.add_parser("export", help="export articles (jsonl to stdout) or every analyst table (to DIR)"))
    p.add_argument("--format", choices=["jsonl", "parquet", "csv"], default="jsonl")
    p.add_argument("directory", nargs="?", help="parquet/csv: directory to write one file per table into")
    p.set_defaults(handler=cmd_export)

    p = with_db(sub.add_parser("alerts", help="list fired alerts and their delivery status"))
    p.add_argument("--status", choices=["pending", "delivered", "failed", "abandoned"], help="only this status")
    p.add_argument("--limit", type=int, default=50, help="how many alerts (default 50)")
    p.add_argument("--retry", action="store_true", help="deliver pending and failed alerts now, then list")
    p.set_defaults(handler=cmd_alerts)

    p = with_db(sub.add_parser("watch", help="flag a story for watched_story alert rules"))
    p.add_argument("story_id", help="story id (a merged id follows its story)")
    p.add_argument("--note", help="why it is watched")
    p.add_argument("--remove", action="store_true", help="stop watching the story")
    p.set_defaults(handler=cmd_watch)
    p = add_lake_option(with_db(sub.add_parser("search", help="ranked full-text search over stories and articles")))
    p.add_argument("query", help="words to search for (BM25 over titles and texts)")
    p.add_argument("--since", type=date.fromisoformat, help="only articles published on or after DATE (YYYY-MM-DD)")
    p.add_argument("--source", help="only articles from this outlet (case-insensitive)")
    p.add_argument("--limit", type=int, default=10, help="how many stories (default 10)")
    p.add_argument("--format", choices=["table", "jsonl"], default="table", dest="output")
    p.set_defaults(handler=cmd_search)

    p = add_lake_option(
        with_db(sub.add_parser("sql", help="run SQL on the database, opened read-only, and print the result"))
    )
    p.add_argument("statement", help='SQL: one statement, or several separated by ";" (the last one is printed)')
    p.add_argument("--format", choices=["table", "csv", "jsonl"], default="table", dest="output")
    p.set_defaults(handler=cmd_sql)

    p = with_db(sub.add_parser("report", help="write a story as a self-contained HTML page"))
    p.add_argument("story_id", help="story id (merged-away ids resolve to the story they joined)")
    p.add_argument("--html", required=True, metavar="FILE", help="HTML file to write")
    p.set_defaults(handler=cmd_report)

    add_publish_parser(sub, with_db)
    return parser


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    return Settings.load(args.config, db=args.db, **overrides)


def cmd_ingest(args: argparse.Namespace) -> int:
    """Run the ingest flow and print its summary."""
    settings = _settings(args, batch_size=args.batch_size)
    _note_transaction_size(settings)
    if args.feed or args.sitemap or args.urls or args.sources:
        from pipeline.cli.live import ingest_live

        return ingest_live(args, settings)
    if not args.paths:
        raise ConfigError("give PATHs to ingest, or live sources (--feed, --sitemap, --urls, --sources)")
    try:
        if args.no_prefect:
            from pipeline.run.ingest import ingest_paths

            report = ingest_paths(args.paths, settings, progress=_print_progress)
        else:
            report = _run_flow(args, settings)
    except NothingIngestedError as exc:
        print(f"storyline: {exc}", file=sys.stderr)
        return 1
    print_summary(report, settings.db)
    return 0


def _note_transaction_size(settings: Settings) -> None:
    """Say so when transactions will be larger than the batch size asked for (whole clustering blocks)."""
    from pipeline.run.prepare import transaction_size

    block = settings.cluster.block_size
    size = transaction_size(settings.batch_size, block)
    if size != settings.batch_size:
        print(
            f"storyline: each transaction stores {size} documents: batch size {settings.batch_size} rounded up "
            f"to whole clustering blocks of {block} ([cluster] block_size, fixed with the database)",
            file=sys.stderr,
        )


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve one scheduled deployment per live source until interrupted."""
    from pipeline.cli.live import serve

    return serve(args, _settings(args))


def _run_flow(args: argparse.Namespace, settings: Settings) -> IngestReport:
    from pipeline.run.ingest import check_database

    check_database(settings)  # a bad --db: one line now, not a server start and a failed run's tracebacks
    prefect_offline()
    from flows.localserver import prefect_api

    # Our own server rather than Prefect's ephemeral one, which outlives a killed ingest.
    with prefect_api(services=False):
        from flows.ingest import run_ingest  # imports Prefect: only once the API address is set

        return run_ingest(
            paths=[str(p) for p in args.paths],
            db=settings.db,
            config=args.config,
            batch_size=settings.batch_size,
            dask=args.dask,
        )


def _print_progress(report: IngestReport, total_files: int) -> None:
    print(f"  read {report.read} document(s) from {total_files} file(s): {report.new} new, "
          f"{report.rejected} rejected", file=sys.stderr)  # fmt: skip


def cmd_extract(args: argparse.Namespace) -> int:
    """Extraction alone: JSONL records in, clean JSONL out; bad records reported on stderr."""
    from pipeline.extract.article import extract
    from pipeline.sources.files import parse_jsonl_line

    settings = _settings(args)
    stream = sys.stdin.buffer if args.input == "-" else _open_input(args.input)
    ok = failed = 0
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            raw = parse_jsonl_line(line, f"{args.input}#line={number}", settings.extract.max_bytes)
            result = extract(raw, settings.extract) if isinstance(raw, RawDocument) else raw
            if isinstance(result, Rejection):
                failed += 1
                print(f"storyline extract: rejected {result}", file=sys.stderr)
                continue
            ok += 1
            record = {
                "id": result.external_id, "title": result.title, "text": result.text,
                "published_at": result.published_at, "published_ts": result.published_ts, "author": result.author,
                "sitename": result.sitename, "language": result.language, "url": result.canonical_url or result.url,
            }  # fmt: skip
            sys.stdout.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")
    print(f"storyline extract: {ok} extracted, {failed} rejected", file=sys.stderr)
    return 0 if ok or not failed else 1


def _open_input(path: str) -> TextIO:
    if not Path(path).is_file():
        raise ConfigError(f"no such file: {path}")
    return open(path, "rb")


def _open_store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from pipeline.store import Store

    settings = _settings(args)
    if getattr(args, "lake", None) is not None:  # --lake: the published DuckLake, never the database file
        from pipeline.cli.lake import open_lake_store

        return open_lake_store(args, settings)
    return Store.open(settings.db, read_only=True, wait_seconds=settings.read_wait_seconds)


def cmd_stories(args: argparse.Namespace) -> int:
    """Print stories as a table, latest activity first; an untitled story shows the start of its text."""
    from rich.table import Table
    from rich.text import Text

    from pipeline.store.reports import latest_stories

    with _open_store(args) as store:
        rows = latest_stories(store, args.limit)
    table = Table(title=f"{len(rows)} stor{'y' if len(rows) == 1 else 'ies'} (latest activity first)")
    for name in ("story", "title", "articles", "sources", "first published", "last published"):
        table.add_column(name, overflow="fold")
    for r in rows:
        title = Text(shown(r["title"])) if r["lead"] is None else Text(shown(_lead(r["lead"])), style="dim")
        table.add_row(
            r["story_id"], title, str(r["article_count"]), str(r["source_count"]),
            _fmt(r["first_published"]), _fmt(r["last_published"]),
        )  # fmt: skip
    console().print(table)
    return 0


LEAD_CHARS = 60


def _lead(text: str, width: int = LEAD_CHARS) -> str:
    """The first words of a text, cut at a word boundary within ``width`` characters, with an ellipsis."""
    words = " ".join(text.split())
    if len(words) <= width:
        return words
    cut = words.rfind(" ", 0, width)
    head = words[:cut] if cut > 0 else words[: width - 1]  # a first word longer than the width is cut inside
    return head.rstrip(",;:-–— ") + "…"


def cmd_show(args: argparse.Namespace) -> int:
    """Print one story and each variant with its relation, similarity and shared terms."""
    from pipeline.store.reports import last_seen_story, related_stories, story_row, story_variants
    from pipeline.storypage.build import timeline_order

    original_id = args.story_id
    with _open_store(args) as store:
        if args.story_id is None:
            latest = last_seen_story(store)
            if latest is None:
                print("storyline: the database holds no stories yet", file=sys.stderr)
                return 1
            args.story_id = original_id = latest["story_id"]
        resolved = store.resolve_story(args.story_id)
        story = story_row(store, resolved)
        if story is None:
            print(f"storyline: no story {args.story_id!r} (see `storyline stories`)", file=sys.stderr)
            return 1
        args.story_id = resolved
        related = related_stories(store, resolved)
        variants = story_variants(store, args.story_id)
    # In Python, not SQL: a database written before published_ts existed, opened read-only, lacks the column.
    variants.sort(key=lambda v: (not v["is_canonical"], *timeline_order(v)))
    _print_story(story, variants, related, original_id)
    return 0


def _print_story(s: dict[str, Any], variants: list[dict[str, Any]], related: list[dict[str, Any]], asked: str) -> None:
    """A story and its variants as rich Text, never markup: stored titles and terms are shown, not obeyed."""
    from rich.text import Text

    out = console()
    if s["story_id"] != asked:
        out.print(Text(f"story {asked} was merged into {s['story_id']}", style="dim"))
    out.print(Text(shown(s["title"]) or "(untitled)", style="bold"))
    out.print(
        Text(
            f"story {s['story_id']}: {s['article_count']} article(s) from {s['source_count']} source(s), "
            f"published {_fmt(s['first_published'])} to {_fmt(s['last_published'])}"
        )
    )
    for v in variants:
        source = shown(v["source"] or _short_uri(v["source_uri"]))
        out.print(
            Text.assemble("\n", (f"{v['relation']:<15}", "bold"), f" {v['article_id']}  {_published(v)}  {source}")
        )
        out.print(Text(f"  {shown(v['title']) or '(untitled)'}"))
        why = f"assigned as {v['assigned_as']}; {_similarity(v)}"
        if v["shared_terms"]:
            why += f"; shared: {', '.join(shown(term) for term in v['shared_terms'])}"
        out.print(Text(f"  {why}", style="dim"))
    for r in related:
        out.print(Text(f"\n{r['how']} story {r['other']} (similarity {r['similarity']:.2f})"))


def cmd_export(args: argparse.Namespace) -> int:
    """Write one JSON line per article to stdout, or every analyst table as Parquet/CSV files into a directory."""
    if args.format != "jsonl":
        return _export_tables(args)
    if args.directory:
        raise ConfigError("--format jsonl writes to stdout; a directory is for --format parquet or csv")
    from pipeline.store.export import article_records

    with _open_store(args) as store:
        for record in article_records(store):
            sys.stdout.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Run the integrity checks of ``pipeline.store.integrity``; exit 1 when one fails."""
    from pipeline.cluster.candidates import snapshot_problems
    from pipeline.store.integrity import consistency_problems, totals

    if args.lake is not None:
        from pipeline.cli.lake import check_lake

        return check_lake(args, _settings(args))
    with _open_store(args) as store:
        problems = consistency_problems(store) + snapshot_problems(_settings(args).db)
        articles, stories, running = totals(store)
    print(f"{articles} articles in {stories} stories; {running} run(s) in progress")
    for problem in problems:
        print(f"  problem: {problem}")
    print("consistent" if not problems else f"{len(problems)} problem(s) found")
    return 1 if problems else 0


def cmd_alerts(args: argparse.Namespace) -> int:
    """Print alerts as a table, newest first (after delivering due ones with --retry)."""
    from rich.table import Table

    from pipeline.alerts.notify import deliver_alerts
    from pipeline.store import Store
    from pipeline.store.alerts import list_alerts

    settings = _settings(args)
    if args.retry:
        done = deliver_alerts(settings.db, settings.alerts)
        print(f"delivered {done.delivered}, failed {done.failed}, abandoned {done.abandoned}", file=sys.stderr)
    with Store.open(settings.db, read_only=True) as store:
        rows = list_alerts(store, args.status, args.limit) if store.has_table("alerts") else []
    table = Table(title=f"{len(rows)} alert(s) (newest first)")
    for name in ("time", "rule", "story", "condition", "status", "attempts", "last error"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(
            f"{r['created_at']:%Y-%m-%d %H:%M:%S}", r["rule"], r["story_id"], r["condition"], r["status"],
            str(r["attempts"]), r["last_error"] or "",
        )  # fmt: skip
    console().print(table)
    return 0


def _export_tables(args: argparse.Namespace) -> int:
    from pipeline.store.export import export_tables

    if not args.directory:
        raise ConfigError(f"--format {args.format} needs a directory: storyline export --format {args.format} DIR")
    with _open_store(args) as store:
        report = export_tables(store, args.directory, args.format)
    for name, rows in report.rows.items():
        print(f"  {name}.{report.format}: {rows} row(s)")
    print(f"Exported {len(report.rows)} tables to {report.directory}")
    return 0


def _snippet_text(snippet: Snippet) -> Text:
    """The snippet with its matches in bold, escaped piece by piece so the highlights stay on their words."""
    from rich.text import Text

    text, done = Text(), 0
    for start, end in sorted(snippet.highlights):
        start = max(start, done)  # overlapping spans: each character once
        text.append(shown(snippet.text[done:start]))
        text.append(shown(snippet.text[start:end]), style="bold yellow")
        done = max(done, end)
    text.append(shown(snippet.text[done:]))
    return text


def cmd_search(args: argparse.Namespace) -> int:
    """Rank stories by their best-matching article (BM25) and print them with a snippet."""
    from rich.table import Table
    from rich.text import Text

    from pipeline.store.search import ensure_search_index, search_stories

    settings = _settings(args)
    if args.limit < 1:
        raise ConfigError("--limit must be at least 1")
    if args.lake is not None:  # --lake: a local replica of the lake's articles, indexed (pipeline/store/lake/search.py)
        from pipeline.cli.lake import open_lake_search

        opened = open_lake_search(args, settings)
    else:
        warning = ensure_search_index(settings.db)
        if warning:
            print(f"storyline: warning: {warning}", file=sys.stderr)
        opened = _open_store(args)
    with opened as store:
        hits = search_stories(store, args.query, since=args.since, source=args.source, limit=args.limit)
    if args.output == "jsonl":
        for hit in hits:
            sys.stdout.write(json.dumps(hit.as_record(), ensure_ascii=False) + "\n")
        return 0
    table = Table(title=Text(f"{len(hits)} stor{'y' if len(hits) == 1 else 'ies'} matching {args.query!r}"))
    for name in ("score", "story", "title", "date", "sources", "snippet"):
        table.add_column(name, overflow="fold")
    for hit in hits:
        table.add_row(
            f"{hit.score:.2f}", hit.story_id, Text(shown(hit.title) or "(untitled)"), _fmt(hit.first_published),
            f"{hit.source_count} ({hit.matched_articles} matched)", _snippet_text(hit.snippet),
        )  # fmt: skip
    console().print(table)
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    """Run SQL on the database opened read-only (waiting for an ingest's gap) and print the last result."""
    from pipeline.cli.sql import print_result
    from pipeline.store.usersql import run_statements

    with _open_store(args) as store:
        result = run_statements(store, args.statement)
    print_result(result, args.output)
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """Flag (or unflag) a story for watched_story rules."""
    from pipeline.alerts.rules import unwatch_story, watch_story
    from pipeline.store import Store
    from pipeline.store.reports import has_story

    with Store.open(_settings(args).db) as store:
        if args.remove:
            found = unwatch_story(store, args.story_id)
            print(f"no longer watching {args.story_id}" if found else f"{args.story_id} was not watched")
            return 0
        if not has_story(store, store.resolve_story(args.story_id)):
            print(f"storyline: no story {args.story_id!r} (see `storyline stories`)", file=sys.stderr)
            return 1
        print(f"watching story {watch_story(store, args.story_id, args.note)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write one story as a self-contained HTML page."""
    from pipeline.storypage.build import write_report

    with _open_store(args) as store:
        path = write_report(store, args.story_id, args.html)
    print(f"Wrote {path}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Ingest labelled data into temporary databases and print clustering scores per order, beside the baseline's."""
    from pipeline.evaluate import evaluate_orders

    settings = Settings.load(args.config)
    orders: list[int | None] = list(args.shuffle) if args.shuffle else [None]
    results = []
    evaluations = evaluate_orders(
        args.data, args.label_field, orders, args.variant_field, settings, baseline=not args.no_baseline
    )
    for result in evaluations:
        results.append(result)
        _print_evaluation(result)
    if len(results) > 1:
        _print_spread("story B-cubed", [r.story_bcubed.f1 for r in results])
        if baseline := [r.baseline.bcubed.f1 for r in results if r.baseline is not None]:
            _print_spread("tfidf baseline B-cubed", baseline)
    return 0


def _print_evaluation(result: Evaluation) -> None:
    """One order's scores: a row for Storyline and, when run, a row for the TF-IDF baseline."""
    chaining = result.story_chaining
    print(
        f"{result.order:>12}: {result.articles} articles, {result.gold_stories} gold stories "
        f"(largest {chaining.largest_gold}), not ingested by storyline {result.not_ingested}"
    )
    rows = [("storyline", result.storyline)] + ([("tfidf baseline", result.baseline)] if result.baseline else [])
    for name, scores in rows:
        print(
            f"  {name:<14} | {scores.stories:>6} stories | story B-cubed {scores.bcubed} | "
            f"story pairwise {scores.pairwise} | largest story {scores.chaining.largest:>4}, "
            f"{scores.chaining.over_twice_gold} over 2x gold",
            flush=True,
        )
    if result.variant_pairwise is not None:
        print(f"  {'storyline':<14} | near-dup pairwise {result.variant_pairwise} | "
              f"near-dup B-cubed {result.variant_bcubed}")  # fmt: skip
    if result.baseline_skipped:
        print(f"  tfidf baseline skipped {result.baseline_skipped} record(s) without title or text "
              "(html only: it does not extract pages); they count as its singletons")  # fmt: skip


def _print_spread(what: str, f1: list[float]) -> None:
    print(
        f"{what} F1 over {len(f1)} orders: mean {sum(f1) / len(f1):.3f}, min {min(f1):.3f}, "
        f"max {max(f1):.3f}, spread {max(f1) - min(f1):.3f}"
    )


def _similarity(v: dict[str, Any]) -> str:
    parts = []
    if v["near_duplicate_similarity"] is not None:
        parts.append(f"jaccard {v['near_duplicate_similarity']:.2f}")
    if v["story_similarity"] is not None:
        parts.append(f"story {v['story_similarity']:.2f}")
    if v["canonical_similarity"] is not None and not v["is_canonical"]:
        parts.append(f"canonical {v['canonical_similarity']:.2f}")
    return ", ".join(parts) or "-"


def _short_uri(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


def _fmt(value: object) -> str:
    return "-" if value is None else str(value)


def _published(row: dict[str, Any]) -> str:
    """An article's publication date, with its UTC time when the input gave one (midnight: a date alone)."""
    from pipeline.storypage.build import published_time

    moment = published_time(row)
    if moment is None or moment.time() == time():
        return _fmt(row["published_at"])
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _json_default(value: object) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")
