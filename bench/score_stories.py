"""Score the stories in a Storyline database against gold labels in the ingested JSONL.

    python bench/score_stories.py DB GOLD.jsonl [--label-field cluster]

Prints story B-cubed and pairwise precision/recall/F1 over the records that were ingested
(rejected records are counted and reported, and scored as singletons).
"""

from __future__ import annotations

import argparse
import json

import duckdb

from pipeline.evaluate import bcubed, pairwise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("db")
    parser.add_argument("gold")
    parser.add_argument("--label-field", default="cluster")
    args = parser.parse_args()
    gold = {}
    with open(args.gold, encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            gold[str(record["id"])] = record[args.label_field]
    with duckdb.connect(args.db, read_only=True) as con:
        assigned = dict(con.execute("SELECT external_id, story_id FROM articles").fetchall())
    ids = sorted(gold)
    predicted = [assigned.get(i, f"rejected:{i}") for i in ids]
    labels = [gold[i] for i in ids]
    missing = sum(1 for i in ids if i not in assigned)
    print(f"records {len(ids)}, ingested {len(ids) - missing}, not ingested {missing}")
    print(f"stories {len(set(predicted))}, gold clusters {len(set(labels))}")
    print(f"story B-cubed  {bcubed(predicted, labels)}")
    print(f"story pairwise {pairwise(predicted, labels)}")


if __name__ == "__main__":
    main()
