"""pipeline.paywall: subscription, consent and template sentences leave the text, the story's stay."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.paywall import Stripped, boilerplate_kind, strip_boilerplate

STORY = "The city council voted six to three on Tuesday to close the Elm Street library branch."
LATER = "Residents who spoke at the meeting said the branch was the only quiet place to study in the district."

# One of each kind of gate phrase (pipeline.paywall.GATE_PHRASES), as sites print them.
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
