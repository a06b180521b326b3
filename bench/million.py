"""Adding 1,000 articles to a store of a million, against adding them to an empty store.

    python bench/million.py [--stored 1000000] [--keep DIR] [--repeats 3]

1. Builds a store of ``--stored`` articles directly at the table level (running a million
   articles through extraction would take hours on two cores): real English words from wordfreq,
   about four articles a story, 300-word texts, random MinHash signatures and LSH band keys,
   120-term article vectors, 200-term story centroids and their term postings: the same tables,
   row shapes and posting-list lengths that ingesting real articles produces.
2. Writes a probe of 1,000 real articles: the 772 ECB+ dev texts plus 228 trimmed, datelined
   copies of them (syndication), as JSONL.
3. Ingests the probe, each time in a fresh child process through the library path
   (``pipeline.run.ingest.ingest_paths``: extraction, fingerprints, candidate index, assignment,
   transactions), once into an empty store and once into the million-article store, and prints
   the wall and CPU time of each (CPU: steadier on a shared machine), the ratios, the child's peak
   memory, the start-up cost of the candidate index, and the database size per article.
   ``--repeats`` alternates the two runs that many times (the million-article store copied afresh
   from the generated one each time) and reports medians, with every run's ratio.

Cost per new article, for n stored: candidate lookups are binary searches in the index snapshot's
sorted arrays (postings, story centroids, article signatures and term vectors: O(log n), memory-mapped), stories
rewritten since the snapshot are read from the store's tail, and a few columnar scans per batch
(known inputs, content hashes, story members) stay O(n) at a small constant.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
from _common import children_cpu, median  # noqa: E402

from pipeline.cluster.candidates import CandidateIndex, snapshot_path  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.store import Store, term_key  # noqa: E402

ECB_DEV = ROOT.parent / "shared" / "data" / "ecbplus-dev.jsonl"
CHUNK = 50_000
STORY_WORDS = 43  # 40 topical words and 3 names per story
TEXT_WORDS = 300
ARTICLE_TERMS = 120
STORY_TERMS = 200
POSTED_TERMS = 20


class Vocabulary:
    """Word pools: function words, Zipf-weighted topical words and synthetic names."""

    def __init__(self, rng: np.random.Generator):
        from wordfreq import top_n_list, zipf_frequency

        from pipeline.fingerprint.fingerprints import STOP_ZIPF

        words = top_n_list("en", 50_000)
        common = [w for w in words[:300] if w.isalpha() and zipf_frequency(w, "en") >= STOP_ZIPF]
        topical = [w for w in words[1500:] if w.isalpha()]
        syllables = ["ka", "ro", "mi", "tel", "van", "dor", "lis", "quo", "ber", "zan", "fu", "gre", "nal", "osk"]
        names = sorted({"".join(rng.choice(syllables, 3)).capitalize() for _ in range(60_000)})
        self.words = pa.array(common + topical + names)
        self.common = np.arange(len(common))
        self.topical = np.arange(len(common), len(common) + len(topical))
        self.names = np.arange(len(common) + len(topical), len(self.words))
        ranks = np.arange(1, len(self.topical) + 1, dtype=np.float64)
        self.topical_p = ranks**-0.8 / np.sum(ranks**-0.8)
        self.keys = np.array([term_key(w) for w in self.words.to_pylist()], dtype=np.uint64)


def _lists(values: pa.Array, width: int) -> pa.ListArray:
    offsets = pa.array(np.arange(0, len(values) + 1, width, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, values)


def _weights(rng: np.random.Generator, rows: int, width: int) -> np.ndarray:
    weights = np.sort(rng.gamma(2.0, 1.0, size=(rows, width)), axis=1)[:, ::-1]
    return weights / np.linalg.norm(weights, axis=1, keepdims=True)


def generate(db: str, stored: int, seed: int = 7) -> None:
    """Fill an empty store with ``stored`` synthetic articles, chunk by chunk."""
    rng = np.random.default_rng(seed)
    vocab = Vocabulary(rng)
    sizes = np.minimum(rng.geometric(0.25, size=stored), 30)
    story_of = np.repeat(np.arange(len(sizes)), sizes)[:stored]
    stories = int(story_of[-1]) + 1
    story_words = np.concatenate(
        [
            rng.choice(vocab.topical, size=(stories, 40), p=vocab.topical_p),
            rng.choice(vocab.names, size=(stories, 3)),
        ],
        axis=1,
    )
    is_first = np.r_[True, story_of[1:] != story_of[:-1]]
    day0 = date(2024, 1, 1)
    story_day = rng.integers(0, 700, size=stories)
    now = datetime(2026, 1, 1)
    with Store.open(db) as store:
        store.check_parameters(Settings(db=db).stored_parameters())
        store._con.execute(
            "INSERT INTO runs (run_id, started_at, finished_at, status, inputs, read, new) "
            "VALUES ('run-generated', ?, ?, 'completed', ['bench/million.py'], ?, ?)",
            [now, now, stored, stored],
        )
        started = time.perf_counter()
        for lo in range(0, stored, CHUNK):
            hi = min(stored, lo + CHUNK)
            _chunk(store, vocab, rng, lo, hi, story_of[lo:hi], is_first[lo:hi], story_words, story_day, day0, now)
            print(f"  generated {hi:,}/{stored:,} ({hi / (time.perf_counter() - started):,.0f} articles/s)", flush=True)
        first_seq = np.searchsorted(story_of, np.arange(stories)) + 1
        _stories(store, vocab, rng, story_words, story_of, first_seq, story_day, day0, now)
        store._con.execute("CHECKPOINT")


def _chunk(store, vocab, rng, lo, hi, story_of, first, story_words, story_day, day0, now) -> None:
    n = hi - lo
    seqs = np.arange(lo + 1, hi + 1)
    ids = [f"a{s:016x}" for s in seqs.tolist()]
    own = story_words[story_of]
    pick = rng.integers(0, STORY_WORDS, size=(n, TEXT_WORDS))
    filler = rng.choice(vocab.common, size=(n, TEXT_WORDS))
    text_idx = np.where(rng.random((n, TEXT_WORDS)) < 0.45, np.take_along_axis(own, pick, axis=1), filler)
    texts = pc.binary_join(_lists(vocab.words.take(pa.array(text_idx.ravel())), TEXT_WORDS), " ")
    extra = rng.choice(vocab.topical, size=(n, ARTICLE_TERMS - STORY_WORDS), p=vocab.topical_p)
    term_idx = np.concatenate([own, extra], axis=1)
    days = [day0 + timedelta(days=int(d)) for d in (story_day[story_of] + rng.integers(0, 3, size=n)).tolist()]
    articles = pa.table(
        {
            "article_id": ids,
            "seq": seqs,
            "source_uri": [f"generated://{s}" for s in seqs.tolist()],
            "source": [f"outlet-{x}" for x in rng.integers(0, 400, size=n).tolist()],
            "title": pc.binary_join(_lists(vocab.words.take(pa.array(own[:, :8].ravel())), 8), " "),
            "text": texts,
            "published_at": days,
            "published_ts": pc.cast(pa.array(days, pa.date32()), pa.timestamp("us")),  # dates at midnight, as UTC
            "content_hash": [f"{x:032x}" for x in rng.integers(0, 2**63, size=n).tolist()],
            "word_count": np.full(n, TEXT_WORDS, dtype=np.int32),
            "story_id": [f"s{x:016x}" for x in story_of.tolist()],
            "variant_group": [f"v{s:016x}" for s in seqs.tolist()],
            "assigned_as": np.where(first, "new_story", "rewrite"),
            "relation": np.where(first, "canonical", "rewrite"),
            "is_canonical": first,
            "story_similarity": np.where(first, np.nan, rng.uniform(0.32, 0.8, size=n)),
            "canonical_similarity": np.where(first, 1.0, rng.uniform(0.2, 0.8, size=n)),
            "shared_terms": _lists(vocab.words.take(pa.array(own[:, :5].ravel())), 5),
            "run_id": ["run-generated"] * n,
            "ingested_at": [now] * n,
        }
    )
    signatures = rng.integers(0, 2**32, size=(n, 128), dtype=np.uint32)
    sig_data = pa.py_buffer(signatures.tobytes())
    sig_offsets = pa.py_buffer(np.arange(0, (n + 1) * 512, 512, dtype=np.int32).tobytes())
    tables = {
        "articles": articles,
        "article_signatures": pa.table(
            {
                "seq": seqs,
                "article_id": ids,
                "signature": pa.Array.from_buffers(pa.binary(), n, [None, sig_offsets, sig_data]),
            }
        ),
        "lsh_bands": pa.table(
            {"key": rng.integers(0, 2**63, size=n * 32, dtype=np.uint64), "seq": np.repeat(seqs, 32)}
        ),
        "article_vectors": pa.table(
            {
                "article_id": ids,
                "terms": _lists(vocab.words.take(pa.array(term_idx.ravel())), ARTICLE_TERMS),
                "weights": _lists(pa.array(_weights(rng, n, ARTICLE_TERMS).ravel().astype(np.float32)), ARTICLE_TERMS),
                "seq": seqs,
            }
        ),
    }
    with store.transaction():
        for table, rows in tables.items():
            store._con.register("_generated", rows)
            names = ", ".join(rows.column_names)
            store._con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _generated")
            store._con.unregister("_generated")


def _stories(store, vocab, rng, story_words, story_of, first_seq, story_day, day0, now) -> None:
    total = len(story_words)
    counts = np.bincount(story_of, minlength=total)
    for lo in range(0, total, CHUNK):
        hi = min(total, lo + CHUNK)
        n = hi - lo
        extra = rng.choice(vocab.topical, size=(n, STORY_TERMS - STORY_WORDS), p=vocab.topical_p)
        terms = np.concatenate([story_words[lo:hi], extra], axis=1)
        firsts = [day0 + timedelta(days=int(d)) for d in story_day[lo:hi].tolist()]
        ids = [f"s{x:016x}" for x in range(lo, hi)]
        table = pa.table(
            {
                "story_id": ids,
                "canonical_article_id": [f"a{s:016x}" for s in first_seq[lo:hi].tolist()],
                "title": pc.binary_join(_lists(vocab.words.take(pa.array(terms[:, :8].ravel())), 8), " "),
                "first_seen": [now] * n,
                "last_seen": [now] * n,
                "first_published": firsts,
                "last_published": [d + timedelta(days=2) for d in firsts],
                "article_count": counts[lo:hi].astype(np.int32),
                "source_count": counts[lo:hi].astype(np.int32),
                "created_run": ["run-generated"] * n,
                "updated_run": ["run-generated"] * n,
                "centroid_terms": _lists(vocab.words.take(pa.array(terms.ravel())), STORY_TERMS),
                "centroid_weights": _lists(pa.array(_weights(rng, n, STORY_TERMS).ravel()), STORY_TERMS),
            }
        )
        postings = pa.table(
            {
                "term_key": vocab.keys[terms[:, :POSTED_TERMS]].ravel(),
                "story_id": np.repeat(np.array(ids, dtype=object), POSTED_TERMS),
                "seq": np.repeat(first_seq[lo:hi], POSTED_TERMS),
            }
        )
        with store.transaction():
            for name, rows in (("stories", table), ("story_postings", postings)):
                store._con.register("_generated", rows)
                cols = ", ".join(rows.column_names)
                store._con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _generated")
                store._con.unregister("_generated")


def prepare_store(template: Path, snapshot: Path) -> None:
    """Bring the generated store to the state earlier runs leave behind: schema, search index, index snapshot."""
    from pipeline.store.search import index_state, refresh_search_index

    with Store.open(template) as store:  # a writer open creates indexes and names an older database
        # The generated rows do not depend on the fingerprint or cluster parameters (signatures are
        # random), so a store generated by an earlier version is brought to the current ones.
        store._con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('parameters', ?)",
            [json.dumps(Settings(db=str(template)).stored_parameters(), sort_keys=True)],
        )
        if index_state(store) is None:
            started = time.perf_counter()
            refresh_search_index(store)
            print(f"  first build of the full-text index: {time.perf_counter() - started:.0f} s", flush=True)
        if not _snapshot_current(snapshot, store):
            started = time.perf_counter()
            CandidateIndex.for_database(template).save(store, force=True)
            print(f"  first build of the candidate index snapshot: {time.perf_counter() - started:.1f} s", flush=True)
        store.checkpoint()  # the copies below take the file alone, without a write-ahead log


def _snapshot_current(snapshot: Path, store: Store) -> bool:
    """Whether the index snapshot is in this version's format and covers the whole store."""
    from pipeline.cluster.candidates import SNAPSHOT_FORMAT

    try:
        version = snapshot / (snapshot / "CURRENT").read_text().strip()
        manifest = json.loads((version / "manifest.json").read_text())
    except OSError:
        return False
    return manifest.get("format") == SNAPSHOT_FORMAT and manifest.get("max_seq") == store.max_seq()


def write_probe(path: Path, count: int = 1000, seed: int = 3) -> None:
    """Real articles: the ECB+ dev texts, then trimmed and datelined copies of them up to ``count``."""
    records = [json.loads(line) for line in ECB_DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    out = [{"id": f"probe-{r['id']}", "text": r["text"], "title": r.get("title")} for r in records[:count]]
    while len(out) < count:
        r = rng.choice(records)
        paragraphs = r["text"].split("\n")
        kept = paragraphs[: max(1, len(paragraphs) - 1)]
        text = "LONDON (Wire) - " + "\n".join(kept)
        out.append({"id": f"probe-copy-{len(out)}-{r['id']}", "text": text, "title": r.get("title")})
    path.write_text("".join(json.dumps(r) + "\n" for r in out), encoding="utf-8")


def child(db: str, probe: str) -> None:
    """Ingest the probe into ``db`` and print what it cost (runs in its own process)."""
    from pipeline.run import ingest as ingest_module

    loads: list[float] = []
    original_refresh = CandidateIndex.refresh

    def timed_refresh(self, store):
        first = self.max_seq == 0 and not loads
        started = time.perf_counter()
        added = original_refresh(self, store)
        if first:
            loads.append(time.perf_counter() - started)
        return added

    CandidateIndex.refresh = timed_refresh  # type: ignore[method-assign]
    settings = Settings(db=db)
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    report = ingest_module.ingest_paths([probe], settings)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    peak_mb = _peak_rss_mb()
    figures = {"seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak_mb, "new": report.new,
               "index_load_s": loads[0] if loads else 0.0, "stories_created": report.stories_created}  # fmt: skip
    print(json.dumps(figures))


def _cpu_seconds() -> float:
    """CPU time of this process and of all its descendants (the forkserver and its extraction workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime + children_cpu()


def _peak_rss_mb() -> float:
    # VmHWM belongs to this process image; ru_maxrss would also count the parent's peak from
    # before exec (Linux carries it across execve).
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _remove_store(path: Path) -> None:
    for leftover in (path, Path(str(path) + ".wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(snapshot_path(path), ignore_errors=True)


def measure(db: Path, probe: Path) -> dict:
    """Run ``child`` in a fresh process and return its figures."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(db), str(probe)], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode:
        raise SystemExit(f"child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=1_000_000, help="articles in the big store")
    parser.add_argument("--keep", help="folder to build (and keep) the big store in; reused if present")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind, alternated (medians reported)")
    parser.add_argument("--child", nargs=2, metavar=("DB", "PROBE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="storyline-million-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        probe = work / "probe.jsonl"
        write_probe(probe)
        template = work / f"generated-{args.stored}.duckdb"
        if not template.exists():
            print(f"generating a store of {args.stored:,} articles in {template} ...", flush=True)
            started = time.perf_counter()
            generate(str(template) + ".part", args.stored)
            os.replace(str(template) + ".part", template)
            print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
        snapshot = snapshot_path(template)
        prepare_store(template, snapshot)
        snapshot_bytes = sum(f.stat().st_size for f in snapshot.rglob("*") if f.is_file())
        big, empty_db = work / "big.duckdb", work / "empty.duckdb"
        size_per_article = template.stat().st_size / args.stored
        runs: dict[str, list[dict]] = {"empty": [], "full": []}
        for attempt in range(max(1, args.repeats)):
            for path in (big, empty_db):  # left behind by an interrupted run, or by the last repeat
                _remove_store(path)
            shutil.copyfile(template, big)
            shutil.copytree(snapshot, snapshot_path(big))
            os.sync()  # the copies' write-back would otherwise compete with the measured runs for the disk
            runs["empty"].append(measure(empty_db, probe))
            runs["full"].append(measure(big, probe))
            e, f = runs["empty"][-1], runs["full"][-1]
            print(f"  run {attempt + 1}: empty {e['seconds']:.2f} s / {e['cpu_seconds']:.2f} s CPU, "
                  f"{args.stored:,} stored {f['seconds']:.2f} s / {f['cpu_seconds']:.2f} s CPU: "
                  f"{f['seconds'] / e['seconds']:.2f}x wall, {f['cpu_seconds'] / e['cpu_seconds']:.2f}x CPU",
                  flush=True)  # fmt: skip
        empty, full = _medians(runs["empty"]), _medians(runs["full"])
        label = f"median of {len(runs['full'])} runs" if len(runs["full"]) > 1 else "one run"
        for name, r in (("empty store", empty), (f"{args.stored:,} stored", full)):
            print(f"{name:>17}: {r['seconds']:.2f} s wall, {r['cpu_seconds']:.2f} s CPU for {r['new']} new articles, "
                  f"peak memory {r['peak_mb']:.0f} MB, index start-up {r['index_load_s']:.2f} s ({label})")  # fmt: skip
        print(f"cost ratio (stored vs empty): {full['seconds'] / empty['seconds']:.2f}x wall, "
              f"{full['cpu_seconds'] / empty['cpu_seconds']:.2f}x CPU")  # fmt: skip
        print(f"database size: {template.stat().st_size / 2**30:.2f} GiB, {size_per_article / 1024:.1f} KiB "
              f"per article; index snapshot {snapshot_bytes / 2**20:.0f} MiB")  # fmt: skip
        for path in (big, empty_db):
            _remove_store(path)


def _medians(runs: list[dict]) -> dict:
    """Each figure's median over the runs (peak memory: the largest)."""
    merged = {key: median([r[key] for r in runs]) for key in ("seconds", "cpu_seconds", "index_load_s")}
    return {**runs[0], **merged, "peak_mb": max(r["peak_mb"] for r in runs)}


if __name__ == "__main__":
    main()
