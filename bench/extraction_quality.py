"""Extraction quality on html-eval: the text Storyline keeps from real pages, against ground truth.

    python bench/extraction_quality.py [--limit N]

For each of the 990 pages of ../shared/data/html-eval, ``evaldata.json`` lists passages the article
text must contain ("with") and boilerplate it must not ("without"). As trafilatura's own evaluation
does, a "with" passage found is a true positive and one missing a false negative; a "without"
passage found is a false positive and one missing a true negative. This prints precision, recall,
F1 and accuracy for the two HTML modes Storyline has (``extract.fast_html`` off and on), through
``pipeline.extract.html``: trafilatura's public ``bare_extraction`` with the options Storyline uses.
Both rows are also the quality of the single-process baseline ``bench/ingest_throughput.py`` times,
which calls trafilatura with the same options. trafilatura was tuned on this set, so the figures are
in-sample: a regression check, not proof of quality on other pages.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time

from _common import HTML_EVAL, machine

from pipeline.extract.html import TrafilaturaExtractor
from pipeline.sources.files import decode


def normalise(text: str) -> str:
    return " ".join(text.split())


def score(fast: bool, limit: int | None) -> dict[str, float]:
    """Counts and rates of one mode over the pages."""
    truth = json.loads((HTML_EVAL / "evaldata.json").read_text(encoding="utf-8"))
    engine = TrafilaturaExtractor(fast)
    tp = fn = fp = tn = pages = 0
    start = time.perf_counter()
    for url, item in sorted(truth.items())[:limit]:
        path = HTML_EVAL / "html" / f"{item['file']}.gz"
        if not path.exists():
            continue
        html = decode(gzip.decompress(path.read_bytes()), html=True)
        page = engine(html, url) if isinstance(html, str) else None
        text = normalise(page.text) if page else ""
        for passage in item.get("with") or []:
            found = normalise(passage) in text
            tp, fn = tp + found, fn + (not found)
        for passage in item.get("without") or []:
            found = normalise(passage) in text
            fp, tn = fp + found, tn + (not found)
        pages += 1
    seconds = time.perf_counter() - start
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "pages": pages,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": (tp + tn) / max(1, tp + tn + fp + fn),
        "pages_per_s": pages / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="only the first N pages (sorted by URL)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    for fast in (False, True):
        r = score(fast, args.limit)
        mode = "fast_html = true " if fast else "fast_html = false"
        print(
            f"{mode}: {r['pages']} pages  P={r['precision']:.3f} R={r['recall']:.3f} F1={r['f1']:.3f} "
            f"accuracy={r['accuracy']:.3f}  ({r['pages_per_s']:.0f} pages/s, one process)"
        )


if __name__ == "__main__":
    main()
