"""What the CLI's commands share: terminal-safe output, the ingest summary, Prefect kept offline.

``pipeline.cli`` (the commands and their parser), ``pipeline.cli.live`` (live sources, ``serve``) and
``pipeline.cli.sql`` (``storyline sql``) build on this module; none of them imports another's internals.
"""

from __future__ import annotations

import os
import sys

from pipeline.extract.textclean import UNSAFE_CHARACTERS
from pipeline.models import IngestReport


def prefect_offline() -> None:
    """A local run needs no server: Prefect starts a temporary one on 127.0.0.1. Keep it offline."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def print_summary(report: IngestReport, db: str) -> None:
    """The closing lines of an ingest: counts, alerts, the first rejections."""
    c = report.counts()
    print(
        f"Ingested into {db}: read {c['read']}, new {c['new']}, unchanged {c['unchanged']}, revised {c['revised']}, "
        f"exact duplicates {c['exact']}, near-duplicates {c['near_duplicate']}, rewrites {c['rewrite']}, "
        f"rejected {c['rejected']}, stories created {c['stories_created']}, stories grown {c['stories_grown']}"
    )
    if report.alerts_fired or report.alerts_delivered or report.alerts_failed:
        print(f"Alerts: {report.alerts_fired} fired, {report.alerts_delivered} delivered, "
              f"{report.alerts_failed} failed (see `storyline alerts`)")  # fmt: skip
    for rejection in report.rejections[:20]:
        print(f"  rejected {rejection}")
    if report.rejected > 20:
        print(f"  ... and {report.rejected - 20} more (see the rejections table)")


def shown(value: object) -> str:
    """A stored value made safe for a terminal: control and bidi characters written as escapes (``\\x1b``).

    Extraction strips them, but a database written before it did may still hold them.
    """
    text = "" if value is None else str(value)
    return UNSAFE_CHARACTERS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def console():  # type: ignore[no-untyped-def]
    """A rich console; piped output gets a wide one."""
    from rich.console import Console

    # Piped output has no terminal width; do not fold tables to 80 columns then.
    return Console() if sys.stdout.isatty() else Console(width=200)
