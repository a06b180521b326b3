"""trafilatura's XPath expressions, rewritten to select the same elements at less cost.

trafilatura (pinned ==2.3.1) finds page furniture, comments and the article body with XPath
expressions over every element of a page; evaluating them is about a third of its extraction time,
and most of that goes to three habits of the expressions that libxml2 evaluates slowly:

* ``re:test(@class, '...')`` is an EXSLT function that lxml answers by calling back into Python for
  every candidate element, also for elements without the attribute, where the pattern then runs on
  ''. ``rewrite`` guards it as ``(@class and re:test(string(@class), '...'))`` when the pattern
  cannot match '' (asserted), so elements without the attribute are decided in C, and the call gets
  a plain string instead of a node-set list; a pattern that is a plain word becomes ``contains``.
  Both read the first attribute in document order of a union like ``@id|@class``, as re:test does.
* ``.//*[self::div or self::section][...]`` tests the name of every element of the page, where
  ``(.//div|.//section)[...]`` lets libxml2 collect the elements by name (the union is in document
  order, as the original). Done only when no predicate that follows can be positional: each is then
  an ``or``/``and`` at its top level or reads only attributes.
* a predicate that reads only attributes is preceded by ``[@id or @class]`` (the attributes it
  reads) when it is false on an element without them (checked by evaluating it on a bare element,
  which it cannot tell from one lacking just those): most elements are turned away at once.

``install()`` puts the rewritten expressions in the place of trafilatura's in
``trafilatura.main_extractor`` and ``trafilatura.metadata`` (the modules whose functions read them:
the body and furniture, and the title and author searches) for this process; the lists
Storyline passes itself are ``FAST_*`` below. Any trafilatura call in the process then uses them,
with the same results. tests/test_fastxpath.py checks every rewritten expression against its
original on every tree extraction evaluates it on, for hundreds of real pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

from lxml import etree
from lxml.etree import XPath
from trafilatura import main_extractor, metadata
from trafilatura import xpaths as original

REGEXP_NS = {"re": "http://exslt.org/regular-expressions"}
_REGEX_META = set("\\.^$*+?{}[]()|")
# what a predicate that reads only attributes is made of, its literals left out (``_reads_only_attributes``)
_ATTRIBUTE_TEST_TOKENS = frozenset(
    {"contains(", "starts-with(", "translate(", "re:test(", "string(", "not(", "and", "or"} | set("(),|=!")
)
# every element below the context node or the document, as the first step of a path
_ANY_ELEMENT = re.compile(r"(?:^|[(|])\s*(\.?//)\*\[")
_TOP_LEVEL_CONNECTIVE = re.compile(r"\s(?:or|and)\s")
_NAME_TESTS = re.compile(r"self::[\w-]+(?:\s+or\s+self::[\w-]+)*")

# the expression lists install() replaces: where trafilatura's functions read them
INSTALLED_IN = {
    "BODY_XPATH": main_extractor,
    "OVERALL_DISCARD_XPATH": main_extractor,
    "DISCARD_IMAGE_ELEMENTS": main_extractor,
    "TEASER_DISCARD_XPATH": main_extractor,
    "PRECISION_DISCARD_XPATH": main_extractor,
    "TITLE_XPATHS": metadata,
    "AUTHOR_XPATHS": metadata,
    "AUTHOR_DISCARD_XPATHS": metadata,
}


def rewrite(path: str) -> str:
    """An XPath expression selecting what ``path`` selects, in the same order, at less cost."""
    return _filter_by_name(_guard_regex_tests(path))


def faster(expressions: list[XPath]) -> list[XPath]:
    """``rewrite`` for a list of compiled expressions (trafilatura's own are compiled with the regex namespace)."""
    return [XPath(rewrite(expression.path), namespaces=REGEXP_NS) for expression in expressions]


def _guard_regex_tests(path: str) -> str:
    out, position = [], 0
    while (start := path.find("re:test(", position)) >= 0:
        end = _closing(path, start + len("re:test"))
        subject, pattern_literal, *flags = _arguments(path[start + len("re:test(") : end])
        pattern = pattern_literal[1:-1]
        flag_value = re.IGNORECASE if flags and "i" in flags[0] else 0
        if re.search(pattern, "", flag_value):
            raise ValueError(f"re:test pattern {pattern_literal} matches '': it cannot be guarded")
        out.append(path[position:start])
        if not flags and not set(pattern) & _REGEX_META:
            out.append(f"contains({subject}, {pattern_literal})")
        else:
            rest = ", ".join([pattern_literal, *flags])
            out.append(f"(({subject}) and re:test(string({subject}), {rest}))")
        position = end + 1
    out.append(path[position:])
    return "".join(out)


def _filter_by_name(path: str) -> str:
    match = _ANY_ELEMENT.search(path)
    if match is None:
        return path
    start, axis = match.start(1), match.group(1)
    predicates, after = _predicates(path, match.end() - 1)
    names = re.fullmatch(_NAME_TESTS, predicates[0])
    if names and len(predicates) > 1 and all(_is_boolean(predicate) for predicate in predicates[1:]):
        selection = "(" + "|".join(f"{axis}{name}" for name in re.findall(r"self::([\w-]+)", predicates[0])) + ")"
        predicates = predicates[1:]
    elif names:  # a positional predicate counts children of each parent: the walk must stay
        selection, predicates = f"{axis}*[{predicates[0]}]", predicates[1:]
    else:
        selection = f"{axis}*"
    if predicates:
        selection += _attribute_filter(predicates[0])
    return path[:start] + selection + "".join(f"[{p}]" for p in predicates) + path[after:]


def _attribute_filter(predicate: str) -> str:
    """``[@a or @b]`` for a predicate that reads only attributes a and b and is false without them, else ''."""
    if not _reads_only_attributes(predicate) or not _false_without_attributes(predicate):
        return ""
    names = dict.fromkeys(re.findall(r"@([\w:-]+)", _without_literals(predicate)))
    return "[" + " or ".join(f"@{name}" for name in names) + "]"


def _predicates(path: str, position: int) -> tuple[list[str], int]:
    """The predicates ``[...]`` that follow ``position`` (whitespace between them allowed), and where they end."""
    predicates = []
    while True:
        following = len(path) - len(path[position:].lstrip())
        if following >= len(path) or path[following] != "[":
            return predicates, position
        end = _closing(path, following)
        predicates.append(path[following + 1 : end].strip())
        position = end + 1


def _closing(path: str, opening: int) -> int:
    """The index of the bracket closing the one at ``opening``."""
    for index, char, depth in _structure(path, opening):
        if char in ")]" and depth == 1:
            return index
    raise ValueError(f"unbalanced XPath expression: {path!r}")


def _arguments(text: str) -> list[str]:
    """A function call's arguments, split at its top-level commas."""
    commas = [index for index, char, depth in _structure(text) if char == "," and depth == 0]
    bounds = [-1, *commas, len(text)]
    return [text[start + 1 : end].strip() for start, end in pairwise(bounds)]


def _structure(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, character, bracket depth before it) for every character of ``text`` outside quoted literals."""
    depth, quote = 0, None
    for index in range(start, len(text)):
        char = text[index]
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        else:
            yield index, char, depth
            depth += (char in "([") - (char in ")]")


def _without_literals(text: str) -> str:
    return "".join(char for _, char, _ in _structure(text))


def _is_boolean(predicate: str) -> bool:
    """True when the predicate cannot be positional: ``or``/``and`` at its top level, or attribute tests only."""
    for index, char, depth in _structure(predicate):
        if depth == 0 and char.isspace() and _TOP_LEVEL_CONNECTIVE.match(predicate, index):
            return True
    return _reads_only_attributes(predicate)


def _reads_only_attributes(predicate: str) -> bool:
    """True when the predicate reads nothing but the element's attributes (and is no number)."""
    tokens = re.findall(r"@?[\w:-]+\(?|\S", _without_literals(predicate))
    return all(token.startswith("@") or token in _ATTRIBUTE_TEST_TOKENS for token in tokens)


def _false_without_attributes(predicate: str) -> bool:
    element = etree.Element("element")
    element.text = "text"
    return not XPath(f"self::*[{predicate}]", namespaces=REGEXP_NS)(element)


FAST_RAW_TREE_PRUNE_XPATH = faster(original.RAW_TREE_PRUNE_XPATH)
FAST_REMOVE_COMMENTS_AND_LISTS_XPATH = faster(original.REMOVE_COMMENTS_AND_LISTS_XPATH)
FAST_REMOVE_COMMENTS_XPATH = faster(original.REMOVE_COMMENTS_XPATH)
INSTALLED = {name: faster(getattr(original, name)) for name in INSTALLED_IN}


def install() -> None:
    """Have trafilatura's functions read the rewritten expressions (idempotent)."""
    for name, expressions in INSTALLED.items():
        module = INSTALLED_IN[name]
        current = getattr(module, name)
        if current is not expressions and current is not getattr(original, name):
            raise RuntimeError(f"{module.__name__}.{name} was replaced by someone else; not rewriting it")
        setattr(module, name, expressions)
