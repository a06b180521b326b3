"""pipeline.extract.paywall: subscription, consent and template sentences leave the text; paywalled teasers of one
site are not near-duplicates of each other (through the real ingest path, into DuckDB)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability import rows

from pipeline.extract.paywall import Stripped, boilerplate_kind, strip_boilerplate
from pipeline.run.ingest import ingest_paths
from pipeline.settings import ExtractSettings, Settings

STORY = "The city council voted six to three on Tuesday to close the Elm Street library branch."
LATER = "Residents who spoke at the meeting said the branch was the only quiet place to study in the district."

# One of each kind of gate phrase (pipeline.extract.paywall.GATE_PHRASES), as sites print them.
GATE = [
    "Subscribe to continue reading.",
    "Subscribe now to keep reading this story.",
    "Subscribe for just $1 a week.",
    "Already a subscriber?",
    "Are you a paying subscriber?",
    "Already a member?",
    "Log in to continue.",
    "Please sign in to read the full article.",
    "Login or subscribe to read more.",
    "Get unlimited access to award-winning journalism on any device.",
    "Unlimited access for 99 cents a week.",
    "Cancel anytime.",
    "This content is for subscribers only.",
    "This article is available exclusively to paid subscribers.",
    "This story is subscriber-only.",
    "Only available to members.",
    "Subscribers only",
    "To continue reading, please subscribe or log in.",
    "To keep reading this article you must be a subscriber.",
    "Create a free account to read this article.",
    "Your subscription supports independent local reporting.",
    "Digital access for only $0.99 for the first month.",
    "Get full digital access on any device.",
    "Start your free trial today.",
    "You’ve reached your limit of free articles this month.",
    "You have read 3 of your 5 free articles.",
    "You have 2 free articles left this month.",
    "This is your last free article.",
    "Become a subscriber to read the whole story.",
    "Unlock this article by subscribing.",
    "» Read the full story with a subscription",
]
# Consent banners, newsletter boxes, copyright lines and bare sign-in links: removed, but no paywall.
TEMPLATE = [
    "We use cookies to personalise content and ads and to analyse our traffic.",
    "We and our partners use cookies to store and access information on your device.",
    "This website uses cookies to improve your experience.",
    "Accept all cookies",
    "Accept all",
    "Reject all",
    "Manage preferences",
    "Cookie settings",
    "By continuing to browse the site you agree to our use of cookies.",
    "By using this website you accept our terms.",
    "Subscribe to our newsletter",
    "Sign up for our free morning newsletter.",
    "Subscribe",
    "Log in",
    "Sign out",
    "My account",
    "All rights reserved.",
    "Copyright © 2024 The Valley Courier.",
    "This material may not be published, broadcast, rewritten or redistributed.",
    "Manage your subscription",
]
# Sentences of stories that hold the words of a phrase, but not as a banner opens with them.
STORY_SENTENCES = [
    'The banner read "Subscribe to continue reading" and most visitors left the site at once.',
    "Readers who already subscribe will pay two dollars more a month from March, the publisher said.",
    "Log in figures from the timber industry showed a fall in exports for a third year.",
    "Cancel anytime subscriptions have become a target for regulators in the European Union, which wants to "
    "end automatic renewals.",
    "Digital access to public services remains poor in rural areas, the report found.",
    "Your subscription fee will rise by two dollars next month, the company told customers in an email.",
    "Already a member of the alliance, Finland said it would send more troops to the border this spring.",
    "The site uses cookies to track visitors without asking, the regulator found.",
    "We use cookie-cutter designs, the architect admitted with a laugh.",
    "Members of the union voted to accept the offer on Friday.",
    "Thomas W. Malone said the subscription model had changed the industry.",
]


@pytest.mark.parametrize("sentence", GATE)
def test_gate_sentences_are_removed_as_paywall(sentence: str) -> None:
    assert boilerplate_kind(sentence) == "paywall"
    stripped = strip_boilerplate(f"{STORY}\n\n{sentence}\n\n{LATER}")  # through the keyword search, too
    assert (stripped.text, stripped.paywall, stripped.template) == (f"{STORY}\n\n\n\n{LATER}", 1, 0)


@pytest.mark.parametrize("sentence", TEMPLATE)
def test_consent_and_template_sentences_are_removed_but_are_no_paywall(sentence: str) -> None:
    assert boilerplate_kind(sentence) == "template"
    stripped = strip_boilerplate(f"{STORY}\n\n{sentence}\n\n{LATER}")
    assert (stripped.text, stripped.paywall, stripped.template) == (f"{STORY}\n\n\n\n{LATER}", 0, 1)


@pytest.mark.parametrize("sentence", STORY_SENTENCES)
def test_story_sentences_that_quote_a_phrase_are_kept(sentence: str) -> None:
    assert boilerplate_kind(sentence) is None
    text = f"{STORY}\n\n{sentence} {LATER}"
    assert strip_boilerplate(text) == Stripped(text, 0, 0)


def test_only_the_boilerplate_sentences_of_a_line_go() -> None:
    line = f"{STORY} Subscribe to continue reading. Already a subscriber? Log in. Cancel anytime."
    stripped = strip_boilerplate(line)
    assert (stripped.text, stripped.paywall, stripped.template) == (STORY, 3, 1)


def test_a_cookie_banners_other_sentences_go_with_it() -> None:
    banner = (
        "Our site uses cookies and other technologies so that we can remember you. Further use of this site will "
        "be considered consent. For more information, visit our Privacy Policy."
    )
    assert strip_boilerplate(f"{STORY}\n{banner}").text == f"{STORY}\n"
    # Without the banner's own sentence, talk of cookies is the story's.
    story = "The regulator fined the company for setting cookies without consent. It will appeal."
    assert strip_boilerplate(story).text == story


def test_line_breaks_are_read_as_the_dump_cleaner_reads_them() -> None:
    stripped = strip_boilerplate(f"{STORY}\r\nSubscribe to continue reading.\r{LATER}")
    assert (stripped.text, stripped.paywall) == (f"{STORY}\n\n{LATER}", 1)


# --- properties ------------------------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
PIECE = st.one_of(
    st.text(max_size=40),
    st.sampled_from([*GATE, *TEMPLATE, *STORY_SENTENCES, STORY, LATER, "\n", "\n\n", "\r\n", " ", ". ", "?"]),
)
TEXT = st.lists(PIECE, max_size=30).map("".join)


@FUZZ
@given(TEXT)
def test_stripping_only_removes_words_and_twice_is_once(text: str) -> None:
    stripped = strip_boilerplate(text)
    left = iter(text.split())
    assert all(word in left for word in stripped.text.split()), "every word left was there, in the same order"
    assert stripped.text.count("\n") == text.replace("\r\n", "\n").replace("\r", "\n").count("\n")
    again = strip_boilerplate(stripped.text)
    assert (again.text, again.paywall, again.template) == (stripped.text, 0, 0)


# --- through ingest ------------------------------------------------------------------------------------------

SITE = "Valley Courier"
# What the site prints around every article: its paywall, then its template.
PAYWALL = (
    "Subscribe to continue reading. Already a subscriber? Log in to continue.",
    "Get unlimited access to award-winning local journalism from the Valley Courier on any device, for just $1 a "
    "week for your first three months. Cancel anytime.",
    "Your subscription supports independent local reporting in the valley.",
)
TEMPLATE_TEXT = (
    "We use cookies to personalise content and to analyse our traffic. Accept all cookies. Manage preferences.",
    "Sign up for our free morning newsletter.",
    "Copyright 2024 The Valley Courier. All rights reserved.",
)
TEASERS = [
    (
        "Council votes to close the Elm Street library branch",
        "The city council voted six to three on Tuesday to close the Elm Street library branch at the end of the "
        "year, citing falling visitor numbers.",
    ),
    (
        "Flooding shuts the river road for a second week",
        "Heavy rain kept the river road under water for a second week. County engineers said repairs to the "
        "embankment could take until spring.",
    ),
    (
        "High school robotics team heads to the national final",
        "Students from Northside High built a robot that sorts recycling and won the regional contest on Saturday.",
    ),
    (
        "Hospital opens a new maternity ward after two years of work",
        "Valley General Hospital opened its new maternity ward on Monday, adding twelve beds and a neonatal unit.",
    ),
]
# The same stories as pages that show only one sentence: with the headline, too little for an HTML article.
SHORT_LEADS = [
    "The council voted on Tuesday to close the Elm Street library branch.",
    "Heavy rain kept the river road under water for a second week.",
    "Northside High's robot won the regional contest on Saturday.",
    "Valley General Hospital opened its new maternity ward on Monday.",
]
ARTICLE = (
    "The valley's farmers market will move to the old rail yard in May, the market board announced on Thursday, "
    "after three years in the car park behind the town hall.",
    "Board members said the new site has room for forty more stalls, shade from the old goods shed and a bus stop "
    "at the gate, which should bring in shoppers from the northern estates.",
    "Stallholders welcomed the move, although some worried that regular customers would not find them at first; "
    "the board plans signs on the main road and a free shuttle for the first month.",
)


def teaser_text(headline: str, lead: str) -> str:
    """A paywalled page saved as text: headline, lead, the site's paywall and template."""
    return "\n\n".join([headline, lead, *PAYWALL, *TEMPLATE_TEXT])


def teaser_html(headline: str, lead: str) -> str:
    """The same page as HTML: the paywall sits inside the article, the banner and newsletter box around it."""
    gate = "".join(f"<p>{p}</p>" for p in PAYWALL)
    template = "".join(f"<p>{p}</p>" for p in TEMPLATE_TEXT)
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>{headline} | {SITE}</title></head><body>"
        f"<header><nav><a href='/'>Home</a> <a href='/news'>News</a></nav></header>"
        f"<main><article><h1>{headline}</h1><p>{lead}</p><div class='paywall'>{gate}</div></article></main>"
        f"<footer>{template}</footer></body></html>"
    )


def ingest_jsonl(tmp_path: Path, records: list[dict]) -> str:
    """Ingest the records from one JSONL file into a new database; returns the database's path."""
    path = tmp_path / "courier.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    db = str(tmp_path / "courier.duckdb")
    ingest_paths([path], Settings(db=db, extract=ExtractSettings(workers=1)))
    return db


def record(number: int, **body: str) -> dict:
    return {"id": f"c{number}", "url": f"https://courier.example/news/{number}", "source": SITE, **body}


def test_paywalled_text_teasers_of_one_site_are_each_their_own_article(tmp_path: Path) -> None:
    teasers = [record(n, text=teaser_text(h, lead)) for n, (h, lead) in enumerate(TEASERS)]
    article = record(9, text="\n\n".join(["Farmers market moves to the rail yard", *ARTICLE, "Subscribe"]))
    db = ingest_jsonl(tmp_path, [*teasers, article])

    stored = rows(db, "SELECT external_id, text, assigned_as, variant_group, story_id FROM articles ORDER BY seq")
    assert [r[0] for r in stored] == ["c0", "c1", "c2", "c3", "c9"]
    assert all(r[2] != "near_duplicate" for r in stored), [r[2] for r in stored]
    assert len({r[3] for r in stored}) == 5 and len({r[4] for r in stored}) == 5
    # What is left of each teaser is its lead; the site's words are gone from every text.
    assert [r[1] for r in stored[:4]] == [lead for _, lead in TEASERS]
    assert stored[4][1] == "\n\n".join(ARTICLE)
    assert not re.search(r"subscri|cookie|newsletter|cancel|rights reserved", " ".join(r[1] for r in stored), re.I)


def test_paywalled_html_teasers_are_rejected_as_paywalled_or_are_their_own_articles(tmp_path: Path) -> None:
    short = [
        record(n, html=teaser_html(h, lead)) for n, ((h, _), lead) in enumerate(zip(TEASERS, SHORT_LEADS, strict=True))
    ]
    long = [record(4 + n, html=teaser_html(h, lead)) for n, (h, lead) in enumerate(TEASERS)]
    paragraphs = "".join(f"<p>{p}</p>" for p in ARTICLE)
    page = teaser_html("Farmers market moves to the rail yard", "").replace("<p></p>", paragraphs)
    db = ingest_jsonl(tmp_path, [*short, *long, record(9, html=page)])

    rejected = rows(db, "SELECT source_uri, reason, detail FROM rejections ORDER BY source_uri")
    assert [(uri.rsplit("#", 1)[1], reason) for uri, reason, _ in rejected] == [
        (f"id=c{n}", "paywalled") for n in range(4)
    ]
    assert all("subscription or paywall" in detail for _, _, detail in rejected)
    # Teasers with a lead long enough to stand are articles of their own, as is the real article behind the paywall.
    stored = rows(db, "SELECT external_id, text, assigned_as, variant_group FROM articles ORDER BY seq")
    assert [r[0] for r in stored] == ["c4", "c5", "c6", "c7", "c9"]
    assert all(r[2] != "near_duplicate" for r in stored) and len({r[3] for r in stored}) == 5
    assert [r[1] for r in stored[:4]] == [f"{h}\n\n{lead}" for h, lead in TEASERS]
    assert stored[4][1].endswith("\n\n".join(ARTICLE))
    assert not re.search(r"subscri|cookie|newsletter|cancel|rights reserved", " ".join(r[1] for r in stored), re.I)
