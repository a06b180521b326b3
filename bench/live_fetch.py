"""Live-source costs: the already-stored URL check, and concurrent fetching against a local site.

    python bench/live_fetch.py [--stored 100000] [--listed 500] [--pages 200] [--delay 0.02]

1. ``known_urls`` (one set-based query per listing) against a baseline of one query per URL, on a
   store holding ``--stored`` article URLs, for ``--listed`` URLs of which half are stored.
2. ``Fetcher.fetch_many`` with the default workers against one worker (the sequential baseline),
   for ``--pages`` pages from a local server whose every response takes ``--delay`` seconds, as a
   distant server would; per-host limits are raised so only the worker count differs.
Both print times and the ratio to their baseline, measured in this process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.settings import FetchSettings
from pipeline.sources.fetch import AddressPolicy, Fetcher
from pipeline.sources.fetchstate import known_urls
from pipeline.store import Store


def bench_known_urls(stored: int, listed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "bench.duckdb") as store:
        store._con.execute(
            """
            INSERT INTO articles (article_id, seq, source_uri, url, canonical_url, text, content_hash, word_count,
                                  story_id, variant_group, assigned_as, relation, run_id, ingested_at)
            SELECT 'a' || i, i, 'https://news.example/a/' || i, 'https://news.example/a/' || i,
                   'https://news.example/a/' || i, 'text', 'h' || i, 1, 's' || i, 'v' || i, 'new_story',
                   'canonical', 'run', now()
            FROM range(?) t(i)
            """,
            [stored],
        )
        # half of the listed URLs are stored, half are new
        urls = [f"https://news.example/a/{i}" for i in range(stored - listed // 2, stored + listed - listed // 2)]
        start = time.perf_counter()
        found = known_urls(store, urls, give_up_after=5)
        set_based = time.perf_counter() - start
        start = time.perf_counter()
        one_by_one = {
            u
            for u in urls
            if store._con.execute(
                "SELECT 1 FROM articles WHERE url = ? OR canonical_url = ? OR source_uri = ? LIMIT 1", [u, u, u]
            ).fetchall()
        }
        per_url = time.perf_counter() - start
    assert found == one_by_one and len(found) == listed // 2
    print(
        f"known_urls: {listed:,} listed URLs against {stored:,} stored: set-based {set_based * 1000:.1f} ms, "
        f"one query per URL {per_url * 1000:.0f} ms ({per_url / set_based:.0f}x slower)"
    )


def bench_fetch(pages: int, delay: float) -> None:
    body = b"<html><body><p>" + b"word " * 400 + b"</p></body></html>"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # headers and body in one write: no Nagle / delayed-ACK stall per response

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            time.sleep(delay)  # a distant server's latency
            code, payload = (404, b"") if self.path == "/robots.txt" else (200, body)
            self.send_response(code)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    urls = [f"http://127.0.0.1:{server.server_port}/page/{i}" for i in range(pages)]
    settings = FetchSettings(per_host_rate=10_000.0)
    policy = AddressPolicy(allow_networks=["127.0.0.1/32"])
    timings = {}
    for label, workers in (("1 worker", 1), (f"{settings.workers} workers", settings.workers)):
        tuned = replace(settings, workers=workers, per_host_concurrency=workers)
        with Fetcher(tuned, policy) as fetcher:
            start = time.perf_counter()
            results = list(fetcher.fetch_many(urls))
            timings[label] = time.perf_counter() - start
        assert all(getattr(r, "status", None) == 200 for r in results)
    server.shutdown()
    base, fast = timings.values()
    print(
        f"fetch_many: {pages} pages at {delay * 1000:.0f} ms latency: "
        + ", ".join(f"{k} {v:.2f} s ({pages / v:.0f} pages/s)" for k, v in timings.items())
        + f"; {base / fast:.1f}x the sequential rate"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stored", type=int, default=100_000)
    parser.add_argument("--listed", type=int, default=500)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.02)
    args = parser.parse_args()
    bench_known_urls(args.stored, args.listed)
    bench_fetch(args.pages, args.delay)


if __name__ == "__main__":
    main()
