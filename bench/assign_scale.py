"""How assignment cost grows with the stored corpus.

    python bench/assign_scale.py [--sizes 10000 100000] [--probe 1000] [--batch 500]

Builds stores of each size from synthetic news-like articles (real English words from wordfreq's
list: each story has 40 topical words and 3 names, articles mix them with function words, 300 words
each, about 4 articles a story) through the real pipeline, then adds
``--probe`` new articles (half of them continuing stored stories) and times the clustering-and-write
step per article (``store_batch``: candidate lookup, assignment, transaction). Extraction and
fingerprinting are timed apart: they cost the same whatever the corpus size. The candidate index
is loaded once per process; its load time and size are reported as the start-up cost.

Complexity per new article, for n stored articles: candidate lookups are binary searches in the
index's sorted postings (O(log n), each term's posting list capped at MAX_POSTINGS_PER_TERM);
candidate centroids, signatures and the term vectors of story members (for the split check and
the canonical) are read from the index's arrays by binary search (O(log n)), the rows written since
the index's snapshot from the store's tail (a seq range); what remains O(n) are a few narrow
columnar DuckDB scans per batch over ids, hashes and dates (known inputs, content hashes, which
articles a story holds), about 0.15 ms per article for each 100k stored. The work per candidate
also grows with how many stored stories share an article's terms (posting lists, capped at
MAX_POSTINGS_PER_TERM): this synthetic corpus draws topical words from a fixed 38k-word list, so
at 100k stored each word is in ten times as many stories as at 10k.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # this checkout's pipeline, not the one installed in the venv
    sys.path.insert(0, str(ROOT))

from pipeline.cluster.candidates import CandidateIndex  # noqa: E402
from pipeline.fingerprint.fingerprints import TermWeighter, fingerprint_article  # noqa: E402
from pipeline.models import Article  # noqa: E402
from pipeline.run.ingest import PreparedBatch, store_batch  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.store import Store  # noqa: E402


class Corpus:
    """Deterministic synthetic stories: each has its own salient words and names."""

    def __init__(self, seed: int = 1):
        from wordfreq import top_n_list, zipf_frequency

        from pipeline.fingerprint.fingerprints import STOP_ZIPF

        words = top_n_list("en", 40000)
        # function words: weightless in story vectors, as in real text
        self.common = [w for w in words[:300] if w.isalpha() and zipf_frequency(w, "en") >= STOP_ZIPF]
        self.topical = [w for w in words[1500:40000] if w.isalpha()]
        self.rng = random.Random(seed)

    def story(self, n: int) -> list[str]:
        syllables = ["ka", "ro", "mi", "tel", "van", "dor", "lis", "quo", "ber", "zan", "fu", "gré"]
        names = ["".join(self.rng.choice(syllables) for _ in range(3)).capitalize() for _ in range(3)]
        return self.rng.sample(self.topical, 40) + names

    def article(self, story_words: list[str], uri: str, words: int = 300) -> Article:
        rng = self.rng
        body = [rng.choice(story_words) if rng.random() < 0.45 else rng.choice(self.common) for _ in range(words)]
        sentences = [" ".join(body[i : i + 15]).capitalize() + "." for i in range(0, words, 15)]
        return Article(source_uri=uri, text="\n\n".join(sentences), title=" ".join(story_words[:6]))


def prepared(corpus: Corpus, stories: list[list[str]], count: int, start: int, weighter, settings) -> list:
    items = []
    for i in range(start, start + count):
        article = corpus.article(corpus.rng.choice(stories), f"bench://{i}")
        items.append((article, fingerprint_article(article, weighter, settings.fingerprint)))
    return items


def fill(settings: Settings, corpus: Corpus, stories: list[list[str]], total: int, batch: int, weighter) -> None:
    index = CandidateIndex()
    with Store.open(settings.db) as store:
        store.check_parameters(settings.stored_parameters())
        run_id = store.begin_run(["bench"])
    done = 0
    started = time.perf_counter()
    while done < total:
        n = min(batch, total - done)
        items = prepared(corpus, stories, n, done, weighter, settings)
        with Store.open(settings.db) as store:
            store_batch(store, index, run_id, PreparedBatch(items, []), settings)
        done += n
        if done % 20000 < batch:
            print(f"  filled {done:,}/{total:,} ({done / (time.perf_counter() - started):,.0f} articles/s)", flush=True)


def probe(settings: Settings, corpus: Corpus, stories: list[list[str]], count: int, batch: int, weighter) -> dict:
    index = CandidateIndex()
    with Store.open(settings.db) as store:
        load_started = time.perf_counter()
        index.refresh(store)
        load = time.perf_counter() - load_started
        run_id = store.begin_run(["probe"])
    fingerprint = assign = assign_cpu = 0.0
    for start in range(0, count, batch):
        t0 = time.perf_counter()
        items = prepared(corpus, stories, min(batch, count - start), 10**9 + start, weighter, settings)
        t1, c1 = time.perf_counter(), time.process_time()
        with Store.open(settings.db) as store:
            store_batch(store, index, run_id, PreparedBatch(items, []), settings)
        t2, c2 = time.perf_counter(), time.process_time()
        fingerprint += t1 - t0
        assign += t2 - t1
        assign_cpu += c2 - c1  # this process and DuckDB's threads: steadier than wall time on a shared machine
    return {"index_load_s": load, "index": index.size(), "fingerprint_ms": 1000 * fingerprint / count,
            "assign_ms": 1000 * assign / count, "assign_cpu_ms": 1000 * assign_cpu / count}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--probe", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="storyline-bench-") as tmp:
        for size in args.sizes:
            settings = Settings(db=str(Path(tmp) / f"store-{size}.duckdb"), batch_size=args.batch)
            weighter = TermWeighter(settings.cluster)
            corpus = Corpus(seed=size)
            stories = [corpus.story(n) for n in range(max(1, size // 4))]
            print(f"building a store of {size:,} articles ...", flush=True)
            fill(settings, corpus, stories, size, 2000, weighter)
            results[size] = probe(settings, corpus, stories, args.probe, args.batch, weighter)
            r = results[size]
            print(
                f"{size:>9,} stored: assign+write {r['assign_ms']:.2f} ms/article ({r['assign_cpu_ms']:.2f} ms CPU), "
                f"fingerprint "
                f"{r['fingerprint_ms']:.2f} ms/article, index load {r['index_load_s']:.2f} s ({r['index']})",
                flush=True,
            )
    sizes = sorted(results)
    base = results[sizes[0]]
    for size in sizes[1:]:
        r = results[size]
        print(f"assign cost at {size:,} vs {sizes[0]:,}: {r['assign_ms'] / base['assign_ms']:.2f}x wall, "
              f"{r['assign_cpu_ms'] / base['assign_cpu_ms']:.2f}x CPU")  # fmt: skip


if __name__ == "__main__":
    main()
