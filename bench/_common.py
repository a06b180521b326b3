"""Shared helpers of the bench scripts: the repository on sys.path, real data, timing of repeats."""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `python bench/x.py` puts bench/ first on sys.path; import this checkout's pipeline, not an installed one.
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
ECB_DEV = DATA / "ecbplus-dev.jsonl"
HTML_EVAL = DATA / "html-eval"


def allsides_stories(*fields: str) -> dict[str, list[dict]]:
    """allsides-dev's records by gold story, those with every one of ``fields`` non-empty."""
    stories: dict[str, list[dict]] = defaultdict(list)
    for line in (DATA / "allsides-dev.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.strip() else {}
        if record and all(str(record.get(name) or "").strip() for name in fields):
            stories[record["cluster"]].append(record)
    return stories


def stories_of_stream(path: Path, evidence: str, folder: Path) -> dict[str, str]:
    """Ingest a JSONL stream into a fresh database in ``folder`` in one evidence mode: record id -> story id."""
    from pipeline.run.ingest import ingest_paths
    from pipeline.settings import ClusterSettings, ExtractSettings, Settings
    from pipeline.store import Store
    from pipeline.store.reports import placements

    settings = Settings(
        db=str(folder / f"{evidence}.duckdb"),
        cluster=ClusterSettings(evidence=evidence),
        extract=ExtractSettings(workers=1),  # text records: nothing to extract in parallel
        reader_gap_seconds=0.0,  # nobody reads the temporary database
    )
    ingest_paths([path], settings)
    with Store.open(settings.db, read_only=True) as store:
        return {external_id: story for external_id, (story, _group) in placements(store).items()}


def ecb_texts(path: Path = ECB_DEV) -> list[str]:
    """The article texts of the ECB+ dev set (real English news)."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh if line.strip()]


def articles_of(words: int, count: int, texts: list[str]) -> list[str]:
    """``count`` articles of exactly ``words`` words, real texts concatenated in order (cycling)."""
    out: list[str] = []
    pending: list[str] = []
    for text in _cycle(texts):
        pending.extend(text.split())
        while len(pending) >= words:
            out.append(" ".join(pending[:words]))
            pending = pending[words:]
            if len(out) == count:
                return out
    raise AssertionError("unreachable")


def _cycle(items: list[str]) -> Iterator[str]:
    while True:
        yield from items


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and this process's CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def children_cpu() -> float:
    """CPU seconds of this process's descendants: reaped children, plus the live ones and what they reaped.

    Preparation workers fork from a forkserver, a live child that reaps them, so their CPU shows up in
    that child's counters rather than in this process's ``RUSAGE_CHILDREN``. Linux only for the live
    part (``/proc``); elsewhere only reaped children are counted.
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == me:  # fields after the name: state, ppid, ... utime(12) stime cutime cstime
            total += sum(int(v) for v in fields[11:15]) / tick
    return total


def median(values: list[float]) -> float:
    """Median (robust to the odd slow repeat on a shared machine)."""
    return statistics.median(values)


def machine() -> str:
    """Cores and load average, printed with every figure (ratios measured under load are noisy)."""
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{os.cpu_count()} cores ({usable} usable), load average {load}, Python {sys.version.split()[0]}"
