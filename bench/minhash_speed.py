"""Text to MinHash signature: Storyline's vectorised sketch vs datasketch ``MinHash.bulk``, one process.

    python bench/minhash_speed.py [--docs 300] [--words 600] [--repeats 7]

Both sides start from the article text and end with 128-permutation signatures of its word
3-shingles. Baseline: the shingle strings (normalised text, joined word triples, encoded), then
``datasketch.MinHash.bulk`` with its default hashing (SHA-1 per shingle). Ours:
``pipeline.fingerprint.fingerprints.signatures`` (one xxh64 per word, shingle hashes and datasketch's own
permutations in numpy). The articles are real ECB+ texts concatenated to ``--words`` words. The two
run alternately, ``--repeats`` times each after a warm-up; the medians are reported, from wall time
and from this process's CPU time (the CPU-time ratio is the steadier one on a busy machine).
"""

from __future__ import annotations

import argparse

from _common import articles_of, ecb_texts, machine, median, timed
from datasketch import MinHash

from pipeline.fingerprint.fingerprints import shingles, signatures
from pipeline.settings import FingerprintSettings


def main() -> None:
    """Print docs/s of both and the speed-up."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--words", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    settings = FingerprintSettings()
    docs = articles_of(args.words, args.docs, ecb_texts())

    def datasketch_bulk() -> object:
        sets = [shingles(doc, settings.shingle_size) for doc in docs]
        return MinHash.bulk(sets, num_perm=settings.num_perm, seed=settings.seed)

    def storyline() -> object:
        return signatures(docs, settings)

    datasketch_bulk(), storyline()  # warm-up: imports, permutation draws, caches
    runs: dict[str, list[tuple[float, float]]] = {"datasketch": [], "storyline": []}
    for _ in range(args.repeats):
        runs["datasketch"].append(timed(datasketch_bulk))
        runs["storyline"].append(timed(storyline))

    print(f"machine: {machine()}")
    print(f"{args.docs} articles of {args.words} words, num_perm={settings.num_perm}, {args.repeats} repeats")
    rates = {}
    for name, label in (("datasketch", "datasketch MinHash.bulk (SHA-1)"), ("storyline", "storyline sketch")):
        wall = args.docs / median([w for w, _ in runs[name]])
        cpu = args.docs / median([c for _, c in runs[name]])
        rates[name] = (wall, cpu)
        print(f"{label:34s} {wall:8.0f} docs/s wall   {cpu:8.0f} docs/s CPU")
    print(
        f"speed-up (storyline / datasketch): {rates['storyline'][0] / rates['datasketch'][0]:.2f}x wall, "
        f"{rates['storyline'][1] / rates['datasketch'][1]:.2f}x CPU"
    )


if __name__ == "__main__":
    main()
