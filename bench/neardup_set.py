"""Build a near-duplicate test set from real article texts (ECB+ dev), deterministically.

    python bench/neardup_set.py OUT.jsonl [--source ../shared/data/ecbplus-dev.jsonl] [--originals 150]

Each chosen original is published as an HTML page of one site template, and re-published 3 times
by other "sites": in another page template or as a plain-text page dump, each copy also tail
trimmed, given a dateline, copy-edited (~10% of words changed) and/or reflowed. Records carry
``variant`` (the original's id: copies of one article share it) and ``cluster`` (the ECB+ story).
Hard negatives come free: every article of a chosen story is included, so different outlets'
rewrites of one event sit next to each other, and all pages of one site share its menus,
footer and related-links list.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

SITES = {
    "dailywire": {
        "nav": ["Home", "World", "Politics", "Business", "Tech", "Sport", "Culture", "Opinion"],
        "footer": "© 2024 Daily Wire Media Group. All rights reserved. Privacy policy · Terms of use · Contact us",
        "related": [
            "Markets rally as central bank holds rates steady",
            "Ten things to know before you travel this summer",
            "Opinion: why the city needs a new stadium",
            "Weather service warns of heavy rain this weekend",
        ],
    },
    "metrotimes": {
        "nav": ["News", "Local", "National", "International", "Sports", "Entertainment", "Lifestyle"],
        "footer": "Metro Times is published by Metro Publishing Inc. Subscribe today. Advertise with us. Careers",
        "related": [
            "Local school board approves new budget",
            "Five restaurants to try this month",
            "Traffic delays expected on the ring road",
            "Review: the season's most anticipated film",
        ],
    },
    "globalpost": {
        "nav": ["Latest", "Americas", "Europe", "Asia", "Africa", "Middle East", "Science", "Health"],
        "footer": "GlobalPost — independent international news since 2009. Newsletter · RSS · Accessibility",
        "related": [
            "How climate change is reshaping coastal towns",
            "The race to build faster batteries",
            "Explainer: what the new trade rules mean",
            "Photos: a week in pictures",
        ],
    },
}
DATELINES = ["WASHINGTON (AP) — ", "LONDON (Reuters) — ", "NEW YORK — ", "PARIS (AFP) — ", "TOKYO (Kyodo) — "]
EDIT_WORDS = ["also", "reportedly", "now", "officially", "still", "later", "then", "again"]


def page_html(site: str, title: str, paragraphs: list[str]) -> str:
    """An article page in a site's template: menus, related links and footer around the story."""
    t = SITES[site]
    nav = "".join(f'<li><a href="/{n.lower()}">{n}</a></li>' for n in t["nav"])
    related = "".join(f'<li><a href="/r/{i}">{h}</a></li>' for i, h in enumerate(t["related"]))
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title} | {site}</title></head><body>"
        f"<header><div class='logo'>{site}</div><nav><ul>{nav}</ul></nav></header>"
        f"<main><article><h1>{title}</h1>{body}</article>"
        f"<aside><h2>Related articles</h2><ul>{related}</ul></aside></main>"
        f"<footer><p>{t['footer']}</p></footer></body></html>"
    )


def page_dump(site: str, title: str, paragraphs: list[str]) -> str:
    """The same page saved as plain text: menus, headline, credit, body, related block."""
    t = SITES[site]
    lines = [f"  • {n}" for n in t["nav"][:4]] + ["", title, "", "Photo: staff photographer (Getty Images)", ""]
    lines += [p + "\n" for p in paragraphs]
    lines += ["RELATED ARTICLES", *t["related"], "", t["footer"]]
    return "\n".join(lines)


def copy_edit(paragraphs: list[str], rng: random.Random, rate: float = 0.1) -> list[str]:
    """Change about ``rate`` of the words: substitutions, deletions, insertions, swaps."""
    out = []
    for paragraph in paragraphs:
        words = paragraph.split()
        edited: list[str] = []
        i = 0
        while i < len(words):
            if rng.random() >= rate:
                edited.append(words[i])
            else:
                op = rng.choice(("substitute", "delete", "insert", "swap"))
                if op == "substitute":
                    edited.append(rng.choice(EDIT_WORDS))
                elif op == "insert":
                    edited += [rng.choice(EDIT_WORDS), words[i]]
                elif op == "swap" and i + 1 < len(words):
                    edited += [words[i + 1], words[i]]
                    i += 1
            i += 1
        out.append(" ".join(edited))
    return out


def reflow(paragraphs: list[str], rng: random.Random) -> list[str]:
    """Re-break the text into different paragraphs (joined pairs, split sentences)."""
    sentences = [s.strip() + "." for p in paragraphs for s in p.split(". ") if s.strip()]
    out, current = [], []
    for sentence in sentences:
        current.append(sentence.rstrip(".") + "." if not sentence.endswith(".") else sentence)
        if rng.random() < 0.4:
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return out


def variant(original: dict, n: int, rng: random.Random, home_site: str) -> dict:
    """One re-publication of an original by another site."""
    paragraphs = [p for p in original["text"].split("\n") if p.strip()]
    title = original["title"]
    kinds = rng.sample(["trim", "dateline", "copyedit", "reflow"], k=rng.choice((1, 2)))
    if "trim" in kinds and len(paragraphs) > 3:
        keep = max(3, round(len(paragraphs) * rng.uniform(0.65, 0.85)))
        paragraphs = paragraphs[:keep]
    if "copyedit" in kinds:
        paragraphs = copy_edit(paragraphs, rng, rate=rng.uniform(0.05, 0.1))
    if "reflow" in kinds:
        paragraphs = reflow(paragraphs, rng)
    if "dateline" in kinds:
        paragraphs[0] = rng.choice(DATELINES) + paragraphs[0]
    site = rng.choice([s for s in SITES if s != home_site])
    record = {"id": f"{original['id']}~{n}", "variant": original["id"], "cluster": original["cluster"]}
    record["edits"] = "+".join(sorted(kinds))
    if rng.random() < 0.3:
        record.update(text=page_dump(site, title, paragraphs), source=site, form="dump")
    else:
        record.update(html=page_html(site, title, paragraphs), source=site, form="html")
    return record


def build(source: Path, originals: int = 150, copies: int = 3, seed: int = 7) -> list[dict]:
    """The test set: originals (as pages of their home site) and their copies, shuffled."""
    rng = random.Random(seed)
    rows = [json.loads(line) for line in source.open(encoding="utf-8")]
    by_cluster: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if len(row["text"].split()) >= 120:
            by_cluster[row["cluster"]].append(row)
    chosen: list[dict] = []
    for cluster in sorted(by_cluster):
        # ECB+ itself holds syndicated copies under different ids: keep only articles that are not
        # near-duplicates of one already chosen, so that the labels are true.
        for row in by_cluster[cluster]:
            if len(chosen) < originals and all(_jaccard(row["text"], c["text"]) < 0.2 for c in chosen[-40:]):
                chosen.append(row)
    records = []
    for original in chosen:
        home = rng.choice(sorted(SITES))
        paragraphs = [p for p in original["text"].split("\n") if p.strip()]
        records.append(
            {
                "id": original["id"],
                "variant": original["id"],
                "cluster": original["cluster"],
                "html": page_html(home, original["title"], paragraphs),
                "source": home,
                "form": "html",
                "edits": "original",
            }
        )
        records += [variant(original, n, rng, home) for n in range(1, copies + 1)]
    rng.shuffle(records)
    return records


def _jaccard(a: str, b: str, size: int = 3) -> float:
    def grams(text: str) -> set[tuple[str, ...]]:
        words = text.lower().split()
        return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}

    x, y = grams(a), grams(b)
    return len(x & y) / len(x | y) if x | y else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the near-duplicate test set.")
    parser.add_argument("out")
    parser.add_argument("--source", default=str(Path(__file__).resolve().parents[2] / "shared/data/ecbplus-dev.jsonl"))
    parser.add_argument("--originals", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    records = build(Path(args.source), args.originals, seed=args.seed)
    with open(args.out, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record) + "\n")
    print(f"{len(records)} records ({args.originals} originals x 4) written to {args.out}")


if __name__ == "__main__":
    main()
