"""The HTML of the story page: layout, inline CSS and the SVG timeline (report_data.py holds what it shows)."""

from __future__ import annotations

from datetime import date, datetime
from html import escape

from pipeline.storypage.data import Comparison, StoryReport, Variant

RELATION_COLOURS = {
    "canonical": "#1d4ed8",
    "exact": "#047857",
    "near_duplicate": "#0891b2",
    "rewrite": "#c2410c",
}
RELATION_LABELS = {
    "canonical": "canonical",
    "exact": "exact copy",
    "near_duplicate": "near-duplicate",
    "rewrite": "rewrite",
}
MAX_TIMELINE_ROWS = 40
SVG_WIDTH = 1000  # viewBox units; the SVG scales to the card's width
PLOT_LEFT = 230  # room for outlet names
PASSAGE_WORDS = 6  # shortest run of words, in order, that counts as a shared passage (a quote, a lead)

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f5f7fa; --card:#fff; --accent:#1d4ed8; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1080px; margin:0 auto; padding:28px 24px 48px; }
header.story { background:linear-gradient(135deg,#1e3a8a,#1d4ed8 60%,#0891b2); color:#fff;
               border-radius:14px; padding:26px 30px; box-shadow:0 6px 24px rgba(29,78,216,.25); }
header.story .kicker { text-transform:uppercase; letter-spacing:.12em; font-size:12px; opacity:.8; }
header.story h1 { margin:6px 0 10px; font:600 28px/1.25 Georgia,"Times New Roman",serif; }
header.story .meta { opacity:.92; }
.stats { display:flex; flex-wrap:wrap; gap:10px; margin-top:16px; }
.stat { background:rgba(255,255,255,.14); border-radius:10px; padding:8px 14px; min-width:104px; }
.stat b { display:block; font-size:22px; line-height:1.1; }
.stat span { font-size:12px; opacity:.85; }
.terms { margin-top:14px; display:flex; flex-wrap:wrap; gap:6px; }
.chip { display:inline-block; border-radius:999px; padding:2px 10px; font-size:12.5px; background:#eef2ff;
        color:#3730a3; border:1px solid #e0e7ff; }
header.story .chip { background:rgba(255,255,255,.16); color:#fff; border-color:rgba(255,255,255,.25); }
h2 { font-size:13px; text-transform:uppercase; letter-spacing:.1em; color:var(--muted); margin:34px 0 12px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:18px 22px;
        box-shadow:0 1px 3px rgba(15,23,42,.06); margin-bottom:16px; }
.card .head { display:flex; flex-wrap:wrap; align-items:baseline; gap:10px; }
.badge { white-space:nowrap; color:#fff; border-radius:6px; padding:1px 8px; font-size:12px; font-weight:600; }
.outlet { font-weight:600; }
.date { color:var(--muted); font-size:13.5px; }
.card h3 { margin:6px 0 8px; font:600 18px/1.35 Georgia,"Times New Roman",serif; }
.card h3 a { color:inherit; }
.metrics { display:flex; flex-wrap:wrap; gap:18px; margin:4px 0 10px; font-size:12.5px; color:var(--muted); }
.meter { display:flex; align-items:center; gap:6px; }
.meter .bar { width:90px; height:7px; border-radius:4px; background:var(--line); overflow:hidden; }
.meter .bar i { display:block; height:100%; background:var(--accent); border-radius:4px; }
.why { font-size:13px; color:var(--muted); margin:6px 0; }
.why .chip { margin:0 2px 3px 0; }
.how { font-size:13px; margin:10px 0 8px; padding:6px 10px; background:#f8fafc; border-left:3px solid var(--line);
       color:var(--muted); }
.text { font:16px/1.65 Georgia,"Times New Roman",serif; max-height:30em; overflow:auto; padding-right:8px; }
.text.canonical { max-height:36em; }
ins { background:#dcfce7; color:#14532d; text-decoration:none; border-radius:3px; padding:0 2px; }
del { background:#fee2e2; color:#991b1b; border-radius:3px; padding:0 2px; }
mark.term { background:#fef3c7; color:inherit; border-radius:3px; padding:0 1px; box-shadow:inset 0 -2px #f59e0b; }
mark.passage { background:#e0f2fe; color:inherit; border-radius:3px; padding:1px 0; }
.fold { color:var(--muted); font:italic 13px system-ui,sans-serif; background:#f1f5f9; border-radius:4px;
        padding:1px 6px; }
.legend { display:flex; flex-wrap:wrap; gap:14px; font-size:12.5px; color:var(--muted); margin-top:8px; }
.legend i { display:inline-block; width:10px; height:10px; border-radius:50%; margin-right:5px; }
svg.timeline { width:100%; height:auto; display:block; }
svg.timeline text { font:12px system-ui,sans-serif; fill:#52606d; }
svg.timeline .label { fill:#1f2933; }
table.runs { width:100%; border-collapse:collapse; font-size:13.5px; margin-top:12px; }
table.runs td, table.runs th { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); }
table.runs th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.06em; }
footer { color:var(--muted); font-size:12px; margin-top:30px; text-align:center; }
"""


def render_page(report: StoryReport, comparisons: dict[str, Comparison], canonical_html: str) -> str:
    """Assemble the page from the story, each variant's comparison and the canonical's marked-up text."""
    members = sorted((report.canonical, *report.variants), key=_timeline_key)
    body = "\n".join(
        [
            _header(report),
            "<h2>Timeline: who ran it when</h2>",
            f'<section class="card">{_timeline_svg(members)}{_legend()}{_timeline_table(members)}</section>',
            "<h2>Canonical text</h2>",
            _canonical_card(report.canonical, canonical_html),
            f'<h2 id="variants">Variants ({len(report.variants)}) against the canonical</h2>',
            *(_variant_card(v, comparisons[v.article_id]) for v in report.variants),
            _related(report),
            f"<footer>Storyline story report · story {escape(report.story_id)} · generated "
            f"{datetime.now():%Y-%m-%d %H:%M}</footer>",
        ]
    )
    title = escape(report.title or "Untitled story")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title} · Storyline</title><style>{CSS}</style></head>\n"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )


def _timeline_key(v: Variant) -> tuple[bool, datetime, datetime, str]:
    return (v.published_ts is None, v.published_ts or datetime.min, v.ingested_at, v.article_id)


def _header(report: StoryReport) -> str:
    counts: dict[str, int] = {}
    for v in report.variants:
        counts[v.relation] = counts.get(v.relation, 0) + 1
    stats = [(report.article_count, "articles"), (report.source_count, "sources")]
    stats += [(n, RELATION_LABELS.get(r, r) + ("s" if n != 1 else "")) for r, n in sorted(counts.items())]
    merged = (
        f'<div class="meta">Requested as {escape(report.requested_id)}, which was merged into this story.</div>'
        if report.requested_id != report.story_id
        else ""
    )
    return (
        '<header class="story"><div class="kicker">Storyline · story report</div>'
        f"<h1>{escape(report.title or 'Untitled story')}</h1>"
        f'<div class="meta">{_span(report.first_published, report.last_published)} · story '
        f"<code>{escape(report.story_id)}</code></div>{merged}"
        '<div class="stats">'
        + "".join(f'<div class="stat"><b>{n}</b><span>{escape(label)}</span></div>' for n, label in stats)
        + '</div><div class="terms">'
        + "".join(f'<span class="chip">{escape(t)}</span>' for t in report.top_terms)
        + "</div></header>"
    )


def _span(first: date | None, last: date | None) -> str:
    if first is None:
        return "publication dates unknown"
    if first == last:
        return f"published {first:%d %B %Y}"
    return f"published {first:%d %B %Y} – {last:%d %B %Y}" if last else f"published from {first:%d %B %Y}"


def _timeline_svg(members: list[Variant]) -> str:
    """Outlets as rows, publication dates along x, one dot per article; undated articles in their own lane."""
    outlets = list(dict.fromkeys(v.outlet for v in members))
    shown = outlets[:MAX_TIMELINE_ROWS]
    top, row = 34, 26
    height = top + row * len(shown) + 10
    xs, ticks, lane = _x_positions(members)
    parts = [f'<svg class="timeline" viewBox="0 0 {SVG_WIDTH} {height}" role="img" aria-label="timeline">']
    for x, label, anchor in ticks:
        parts.append(f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{height - 6}" stroke="#e4e7eb"/>')
        parts.append(f'<text x="{x:.1f}" y="{top - 14}" text-anchor="{anchor}">{escape(label)}</text>')
    if lane is not None:
        parts.append(
            f'<line x1="{lane - 45}" y1="{top - 8}" x2="{lane - 45}" y2="{height - 6}" '
            'stroke="#cbd2d9" stroke-dasharray="4 4"/>'
            f'<text x="{lane}" y="{top - 14}" text-anchor="middle">undated</text>'
        )
    for number, outlet in enumerate(shown):
        y = top + row * number + row / 2
        if number % 2 == 0:
            parts.append(f'<rect x="0" y="{y - row / 2:.1f}" width="{SVG_WIDTH}" height="{row}" fill="#f8fafc"/>')
        parts.append(f'<text class="label" x="8" y="{y + 4:.1f}">{escape(_clip(outlet, 32))}</text>')
        for v in (m for m in members if m.outlet == outlet):
            colour = RELATION_COLOURS.get(v.relation, "#52606d")
            tip = f"{v.outlet} · {RELATION_LABELS.get(v.relation, v.relation)} · {v.published_at or 'undated'}"
            parts.append(
                f'<circle cx="{xs[v.article_id]:.1f}" cy="{y:.1f}" r="{8 if v.is_canonical else 6.5}" '
                f'fill="{colour}" stroke="#fff" stroke-width="2"><title>{escape(tip)}</title></circle>'
            )
    parts.append("</svg>")
    if len(outlets) > len(shown):
        parts.append(f'<div class="why">… and {len(outlets) - len(shown)} more outlets (see the table below)</div>')
    return "".join(parts)


def _x_positions(members: list[Variant]) -> tuple[dict[str, float], list[tuple[float, str, str]], float | None]:
    """Each article's x, the axis ticks, and the x of the undated lane (None when every article is dated).

    With publication dates, x is the date and undated articles sit in a lane at the right. With none
    at all, x is the order of arrival: a lane of identical "undated" dots would say nothing.
    """
    left, right = PLOT_LEFT + 20, SVG_WIDTH - 20
    dates = [v.published_at for v in members if v.published_at is not None]
    if not dates:
        step = (right - left) / max(len(members) - 1, 1)
        xs = {v.article_id: left + step * n for n, v in enumerate(members)}
        ends = [(left, "first to arrive", "start"), (right, "last to arrive", "end")]
        return xs, ends if len(members) > 1 else [], None
    lane = None if len(dates) == len(members) else SVG_WIDTH - 55.0
    if lane is not None:
        right = SVG_WIDTH - 130
    # Day numbers, not date arithmetic: a stored date at date.min or date.max (databases written before
    # implausible dates were dropped) must draw, not overflow.
    first, last = min(dates).toordinal(), max(dates).toordinal()
    if first == last:
        first, last = first - 1, last + 1
    span = last - first

    def x_of(day: int) -> float:
        return left + (right - left) * (day - first) / span

    xs = {v.article_id: x_of(v.published_at.toordinal()) if v.published_at else lane or 0.0 for v in members}
    step = max(1, -(-span // 7))
    days = [d for d in range(first, last + 1, step) if _MIN_DAY <= d <= _MAX_DAY]
    ticks = [(x_of(day), f"{date.fromordinal(day):%d %b %Y}", "middle") for day in days]
    return xs, ticks, lane


_MIN_DAY, _MAX_DAY = date.min.toordinal(), date.max.toordinal()


def _legend() -> str:
    return (
        '<div class="legend">'
        + "".join(
            f'<span><i style="background:{c}"></i>{RELATION_LABELS[r]}</span>' for r, c in RELATION_COLOURS.items()
        )
        + "</div>"
    )


def _timeline_table(members: list[Variant]) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(v.published_at or 'undated'))}</td><td>{escape(v.outlet)}</td>"
        f"<td>{_badge(v.relation)}</td><td>{escape(v.title or '(untitled)')}</td>"
        f"<td>{v.ingested_at:%Y-%m-%d %H:%M}</td></tr>"
        for v in members
    )
    return (
        '<table class="runs"><thead><tr><th>published</th><th>outlet</th><th>relation</th><th>headline</th>'
        f"<th>arrived</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _badge(relation: str) -> str:
    colour = RELATION_COLOURS.get(relation, "#52606d")
    return f'<span class="badge" style="background:{colour}">{escape(RELATION_LABELS.get(relation, relation))}</span>'


def _card_head(v: Variant) -> str:
    title = escape(v.title or "(untitled)")
    if v.url and v.url.startswith(("http://", "https://")):
        title = f'<a href="{escape(v.url, quote=True)}">{title}</a>'
    return (
        f'<div class="head">{_badge(v.relation)}<span class="outlet">{escape(v.outlet)}</span>'
        f'<span class="date">{escape(str(v.published_at or "undated"))} · {v.article_id}</span></div>'
        f"<h3>{title}</h3>"
    )


def _canonical_card(v: Variant, text_html: str) -> str:
    return (
        f'<section class="card">{_card_head(v)}'
        '<div class="how">Chosen as canonical: the earliest published version (then the longest, then the first '
        'ingested). <mark class="term">Highlighted</mark> words are the terms that define the story.</div>'
        f'<div class="text canonical">{text_html}</div></section>'
    )


def _variant_card(v: Variant, comparison: Comparison) -> str:
    meters = [
        ("same words as canonical, in order", comparison.ratio),
        ("term cosine with canonical", v.canonical_similarity),
        ("term cosine with story on arrival", v.story_similarity),
        ("MinHash Jaccard with its copy", v.near_duplicate_similarity),
    ]
    metrics = "".join(
        f'<span class="meter">{escape(label)} <span class="bar"><i style="width:{100 * value:.0f}%"></i></span>'
        f"<b>{value:.2f}</b></span>"
        for label, value in meters
        if value is not None
    )
    why = ""
    if v.why_terms:
        why += '<div class="why">Joined the story on: ' + _chips(v.why_terms) + "</div>"
    if v.shared_terms:
        why += '<div class="why">Shares with the canonical: ' + _chips(v.shared_terms) + "</div>"
    return (
        f'<section class="card">{_card_head(v)}<div class="metrics">{metrics}</div>{why}'
        f'<div class="how">{_how(v, comparison)}</div><div class="text">{comparison.html}</div></section>'
    )


def _how(v: Variant, comparison: Comparison) -> str:
    arrival = f"Assigned on arrival as <b>{escape(v.assigned_as.replace('_', ' '))}</b>. "
    if comparison.mode == "identical":
        return arrival + "Word for word the same text as the canonical."
    if comparison.mode == "diff":
        return arrival + (
            f"Word diff against the canonical: <ins>{comparison.inserted} words added</ins> "
            f"<del>{comparison.deleted} words removed</del>; unchanged stretches are folded."
        )
    count = comparison.shared_passages
    passages = {0: "no passage", 1: "one passage"}.get(count, f"{count} passages")
    return arrival + (
        f"A rewrite shares little running text ({comparison.ratio:.0%} of words in order), so instead of a diff: "
        f'<mark class="passage">{passages} of {PASSAGE_WORDS}+ words</mark> found verbatim in the canonical, '
        'and the <mark class="term">terms</mark> it shares with it.'
    )


def _chips(terms: tuple[str, ...]) -> str:
    return "".join(f'<span class="chip">{escape(t)}</span>' for t in terms)


def _related(report: StoryReport) -> str:
    if not report.related:
        return ""
    items = "".join(
        f"<li>{escape(how)} story <code>{escape(other)}</code> (similarity {similarity:.2f})</li>"
        for how, other, similarity in report.related
    )
    return f'<h2>Related stories</h2><section class="card"><ul>{items}</ul></section>'


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
