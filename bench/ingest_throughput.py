"""End-to-end ingest throughput vs extraction alone, on real web pages.

    python bench/ingest_throughput.py [--pages 2000] [--workers 2] [--repeats 2] [--keep FILE]

Builds a JSONL of ``--pages`` real HTML pages (the 990 pages of ../shared/data/html-eval, repeated
with new ids when more are asked for), then times, alternately and ``--repeats`` times each after a
warm-up on a few pages:

* baseline: single-process ``trafilatura.bare_extraction`` with the public options Storyline's fast mode
  uses (``fast=True``, no comments or tables, with metadata, the same date search) over every page, read from the
  same JSONL (so both sides pay for reading and JSON decoding), both in this process and in a fresh
  process of its own (this one has run an ingest and holds DuckDB; the faster of the two is the
  baseline the ratio is taken against);
* the machine's ceiling: the same ``bare_extraction`` call split over ``--workers``
  processes (each reads the file and takes every n-th page) and nothing else: the most any pipeline
  built on trafilatura could reach here (two processes share caches, memory bandwidth and, on a VM,
  the host, so it need not be exactly ``--workers`` times one process);
* storyline: the whole library ingest (``ingest_paths``, the path of ``storyline ingest --no-prefect``)
  into a fresh DuckDB file: read, extract (trafilatura fast mode, metadata, language) and fingerprint
  on ``--workers`` processes, then cluster and write each batch in one transaction. Storyline calls
  trafilatura through its public API only (``pipeline.extract.html``), so the ratio measures the
  pipeline around extraction, not a faster extractor.

Both sides are warm when timed, as a long-running process (``storyline serve``, a Prefect worker) is:
the baseline has imported trafilatura and run it once, and the pipeline has started its forkserver,
which preparation workers fork from with the library imported and warmed (``pipeline.run.preload``).
What that one-off start costs a cold process is printed too.

Prints pages/s of each (median of the repeats) and the ratio to the faster baseline, then each repeat's own
ratio (its sides ran minutes apart at most), which shows how far the VM moved between repeats. The
pipeline's share of the machine matters here, so the cores and load average are printed too: a ratio
measured while other work runs on the machine is provisional.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import tempfile
import warnings
from pathlib import Path

from _common import HTML_EVAL, children_cpu, machine, median, timed

from pipeline.run.ingest import ingest_paths
from pipeline.settings import ExtractSettings, Settings
from pipeline.sources.files import decode


def build_pages(path: Path, pages: int) -> int:
    """Write ``pages`` JSONL records of real HTML (cycling through html-eval); returns the bytes written."""
    sources = sorted((HTML_EVAL / "html").glob("*.html.gz"))
    if not sources:
        raise SystemExit(f"no pages found under {HTML_EVAL / 'html'} (see ../shared/data/README)")
    htmls = []
    for source in sources:
        text = decode(gzip.decompress(source.read_bytes()), html=True)
        if isinstance(text, str):
            htmls.append((source.name.split(".")[0], text))
    with path.open("w", encoding="utf-8") as fh:
        for number in range(pages):
            name, html = htmls[number % len(htmls)]
            fh.write(json.dumps({"id": f"{name}-{number}", "html": html}) + "\n")
    return path.stat().st_size


def extract_only(path: Path) -> int:
    """The baseline: trafilatura's bare_extraction, with Storyline's public options, on every page, in this process."""
    return _extract_share((path, 0, 1))


def _extract_share(args: tuple[Path, int, int]) -> int:
    """Extract every ``step``-th page of the file, starting at ``first`` (one process's share)."""
    import trafilatura

    from pipeline.extract.html import DATE_PARAMS

    path, first, step = args
    done = 0
    with path.open("rb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for number, line in enumerate(fh):
            if number % step == first:
                trafilatura.bare_extraction(
                    json.loads(line)["html"],
                    fast=True,
                    include_comments=False,
                    include_tables=False,
                    with_metadata=True,
                    date_extraction_params=dict(DATE_PARAMS),
                )
                done += 1
    return done


def extract_parallel(path: Path, warm: Path, workers: int) -> float:
    """Wall seconds of extraction alone, the pages split over ``workers`` processes warmed up beforehand."""
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_extract_share, [(warm, i, workers) for i in range(workers)], chunksize=1)  # imports, set-up
        return timed(lambda: pool.map(_extract_share, [(path, i, workers) for i in range(workers)], chunksize=1))[0]


def ingest(path: Path, workers: int, folder: Path, run: int) -> None:
    """The library ingest of the file into a fresh database."""
    db = folder / f"run{run}.duckdb"
    settings = Settings(db=str(db), extract=ExtractSettings(fast_html=True, workers=workers))
    ingest_paths([path], settings)


def main() -> None:
    """Print both throughputs and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="also keep the generated JSONL here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="storyline-bench-") as tmp:
        folder = Path(tmp)
        data = args.keep or folder / "pages.jsonl"
        size = build_pages(data, args.pages)
        warm = folder / "warm.jsonl"
        build_pages(warm, 40)
        extract_only(warm)  # warm-up: imports, trafilatura's lazy setup, DuckDB extension load
        cold = timed(lambda: ingest(warm, args.workers, folder, 0))[0]  # and the forkserver's start

        base: list[tuple[float, float]] = []
        fresh: list[float] = []
        ceiling: list[float] = []
        ours: list[tuple[float, float]] = []
        writer_cpu: list[float] = []
        for run in range(1, args.repeats + 1):
            base.append(timed(lambda: extract_only(data)))
            fresh.append(extract_parallel(data, warm, 1))
            ceiling.append(extract_parallel(data, warm, args.workers))
            before = children_cpu()
            wall, cpu = timed(lambda run=run: ingest(data, args.workers, folder, run))
            ours.append((wall, cpu + children_cpu() - before))  # the writer's CPU plus its workers'
            writer_cpu.append(cpu)

    print(f"machine: {machine()}")
    print(f"{args.pages} pages, {size / 1e6:.0f} MB of JSONL, {args.repeats} repeat(s), medians of wall time")
    rate = {
        "in this process": args.pages / median([w for w, _ in base]),
        "in a process of its own": args.pages / median(fresh),
    }
    base_rate, ceiling_rate = max(rate.values()), args.pages / median(ceiling)
    our_rate = args.pages / median([w for w, _ in ours])
    base_cpu, our_cpu = (1000 * median([c for _, c in runs]) / args.pages for runs in (base, ours))
    for where, pages in rate.items():
        print(f"trafilatura bare_extraction, 1 process, {where:24s} {pages:6.1f} pages/s")
    print(
        f"trafilatura bare_extraction alone on {args.workers} processes          {ceiling_rate:6.1f} pages/s"
        f" = {ceiling_rate / base_rate:.2f}x: the most extraction alone reaches on this machine"
    )
    print(f"storyline ingest, {args.workers} worker processes                       {our_rate:6.1f} pages/s")
    print(f"ratio (storyline / the faster single-process baseline): {our_rate / base_rate:.2f}x")
    # Each repeat's sides ran minutes apart at most: its own ratio shows how far the VM moved between repeats.
    per_repeat = [min(b[0], f) / o[0] for b, f, o in zip(base, fresh, ours, strict=True)]
    print(f"ratio in each repeat (against that repeat's faster baseline): {', '.join(f'{r:.2f}x' for r in per_repeat)}")
    share = our_rate / ceiling_rate
    print(f"storyline's share of what extraction alone reaches on {args.workers} processes: {share:.0%}")
    print(f"one-off in a cold process: the warm-up ingest of 40 pages took {cold:.2f} s, starting the forkserver")
    writer = 1000 * median(writer_cpu) / args.pages
    print(
        f"of storyline's CPU per page: {writer:.1f} ms in the writer process, {our_cpu - writer:.1f} ms in the workers"
    )
    print(
        f"CPU per page, all processes: {our_cpu:.1f} ms, {our_cpu / base_cpu:.2f}x the in-process baseline's "
        f"{base_cpu:.1f} ms"
    )


if __name__ == "__main__":
    main()
