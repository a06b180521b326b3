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

* what is left of an expression whose last predicate reads only attributes and calls re:test is
  decided in Python (``AttributeFiltered``): XPath collects the candidates, and the predicate,
  compiled to one Python function (``compile_predicate``), is one call per candidate instead of a
  libxml2-to-Python call for every re:test it reaches. trafilatura's furniture expressions (two
  regular expressions an element) cost 0.6-0.7 ms a tree this way instead of 1.0-1.1.

``install()`` puts the rewritten expressions in the place of trafilatura's in
``trafilatura.main_extractor`` and ``trafilatura.metadata`` (the modules whose functions read them:
the body and furniture, and the title and author searches) for this process; the lists
Storyline passes itself are ``FAST_*`` below. Any trafilatura call in the process then uses them,
with the same results. tests/test_fastxpath.py checks every rewritten expression against its
original on every tree extraction evaluates it on, for hundreds of real pages, and each compiled
predicate against lxml's evaluation of it on hand-made elements.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
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


def faster(expressions: list[XPath]) -> list[Selector]:
    """``rewrite`` for a list of compiled expressions (trafilatura's own are compiled with the regex namespace).

    An expression whose last predicate reads only attributes and calls re:test becomes an
    ``AttributeFiltered`` selector; the others are compiled XPath.
    """
    return [_selector(rewrite(expression.path)) for expression in expressions]


def _selector(path: str) -> Selector:
    try:
        return AttributeFiltered(path)
    except Unsupported:
        return XPath(path, namespaces=REGEXP_NS)


class Unsupported(ValueError):
    """The expression is outside what ``AttributeFiltered`` evaluates; it stays XPath."""


class AttributeFiltered:
    """An expression whose last predicate reads only attributes and calls re:test, that predicate decided in Python.

    lxml answers each re:test with a call from libxml2 into Python (argument conversion, its regex
    cache, the search): several microseconds for every candidate element, once for each re:test the
    predicate reaches. Here XPath selects the candidates (the expression without its last predicate)
    and the predicate, compiled by ``compile_predicate``, is one Python call per candidate: on
    trafilatura's furniture expressions (two regular expressions an element) about half the cost.
    A predicate that reads only attributes cannot be positional, so filtering the candidates keeps
    exactly the elements, and the order, that XPath would.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        head, predicate = _split_last_predicate(path)
        if "re:test(" not in predicate:
            raise Unsupported(f"last predicate calls no re:test: {predicate!r}")
        self.test = compile_predicate(predicate)  # refuses anything but attribute reads (Unsupported)
        self.candidates = XPath(head, namespaces=REGEXP_NS)

    def __call__(self, tree: etree._Element) -> list[etree._Element]:
        test = self.test
        return [element for element in self.candidates(tree) if test(element)]

    def __repr__(self) -> str:
        return f"AttributeFiltered({self.path!r})"


Selector = XPath | AttributeFiltered


def _split_last_predicate(path: str) -> tuple[str, str]:
    """(the path without its last predicate, that predicate) for a path ending in ``[...]`` at its top level."""
    path = path.strip()
    structure = list(_structure(path))
    if not path.endswith("]") or any(char == "|" and depth == 0 for _, char, depth in structure):
        raise Unsupported(f"not one path ending in a predicate: {path!r}")
    opening = max(index for index, char, depth in structure if char == "[" and depth == 0)
    return path[:opening].rstrip(), path[opening + 1 : -1].strip()


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


# ---- attribute-only predicates, evaluated in Python --------------------------------------------------
# XPath 1.0 values here: a node-set of attribute values (in the element's attribute order, which is
# document order), a string, or a boolean. Numbers, paths and other functions are Unsupported. The
# predicate becomes the source of one Python function (a call per candidate, attributes read once).

_TOKEN = re.compile(r"""\s*('[^']*'|"[^"]*"|@[\w:-]+|re:test\(|[\w-]+\(|!=|[()=,|]|\b(?:or|and)\b)""")


def compile_predicate(text: str) -> Callable[[etree._Element], bool]:
    """A Python test of an element equal to the XPath predicate ``text``, which reads only attributes.

    The subset: ``@a``, unions ``@a|@b``, string literals, ``=``/``!=``, ``or``/``and``, ``not``,
    ``string``, ``contains``, ``starts-with``, ``translate`` and ``re:test`` (lxml's: Python's ``re``,
    ``search``, flag ``i``), with XPath 1.0's conversions; anything else raises Unsupported.
    """
    tokens = _tokens(text)
    parser = _Parser(tokens)
    value = parser.expression()
    if parser.position != len(tokens):
        raise Unsupported(f"unexpected {tokens[parser.position]!r} in {text!r}")
    body = parser.code.boolean(value)
    reads = "".join(f"    {var} = get({name!r})\n" for name, var in parser.code.attributes.items())
    source = f"def test(element):\n    get = element.get\n{reads}    return {body}\n"
    namespace = dict(parser.code.constants, _first=_first_value)
    exec(compile(source, f"<predicate {text[:60]!r}>", "exec"), namespace)  # our own source; literals are repr()s
    return namespace["test"]


def _first_value(element: etree._Element, names: frozenset[str]) -> str:
    return next((value for key, value in element.items() if key in names), "")


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None:
            raise Unsupported(f"cannot read {text[position : position + 20]!r}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


# A compiled value: (kind, Python source). Kinds: "one" (the node-set of one attribute: the source is the
# variable holding its value or None), "nodes" (a union of attributes: the source is the name of the
# constant holding their names; ``_Code.unions`` has their variables), "literal" (a string literal: the
# source is its repr), "string", "boolean".
_Value = tuple[str, str]


class _Code:
    """Builds the predicate's Python source: hoisted attribute reads, constants, conversions."""

    def __init__(self) -> None:
        self.attributes: dict[str, str] = {}
        self.constants: dict[str, object] = {}
        self.unions: dict[str, list[str]] = {}

    def attribute(self, name: str) -> _Value:
        return ("one", self.attributes.setdefault(name, f"a{len(self.attributes)}"))

    def union(self, names: list[str]) -> _Value:
        variables = [self.attribute(name)[1] for name in names]
        constant = self.constant(frozenset(names))
        self.unions[constant] = variables
        return ("nodes", constant)

    def present(self, variables: list[str]) -> str:
        return " + ".join(f"({v} is not None)" for v in variables)

    def constant(self, value: object) -> str:
        name = f"c{len(self.constants)}"
        self.constants[name] = value
        return name

    def string(self, value: _Value) -> str:
        kind, source = value
        if kind == "one":
            return f"({source} or '')"
        if kind == "nodes":  # the first present in attribute order: looked up only when two are present
            variables = self.unions[source]
            return f"(_first(element, {source}) if {self.present(variables)} > 1 else ({' or '.join(variables)} or ''))"
        if kind == "boolean":
            return f"('true' if {source} else 'false')"
        return source  # a literal or a string

    def boolean(self, value: _Value) -> str:
        kind, source = value
        if kind == "one":
            return f"({source} is not None)"
        if kind == "nodes":
            return "(" + " or ".join(f"{v} is not None" for v in self.unions[source]) + ")"
        if kind in ("literal", "string"):
            return f"bool({source})"
        return source


class _Parser:
    """Recursive descent over XPath's precedence: or < and < = != < | (union)."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.position, self.code = tokens, 0, _Code()

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise Unsupported(f"expected {expected or 'more'} at token {self.position}, found {token!r}")
        self.position += 1
        return token

    def expression(self) -> _Value:
        return self._connected("or", self.conjunction)

    def conjunction(self) -> _Value:
        return self._connected("and", self.equality)

    def _connected(self, connective: str, operand: Callable[[], _Value]) -> _Value:
        """Operands joined by ``or`` or ``and``, left to right, each converted to a boolean."""
        left = operand()
        while self.peek() == connective:
            self.take()
            right = operand()
            left = ("boolean", f"({self.code.boolean(left)} {connective} {self.code.boolean(right)})")
        return left

    def equality(self) -> _Value:
        left = self.union()
        while self.peek() in ("=", "!="):
            equal = self.take() == "="
            left = self._compare(left, self.union(), equal)
        return left

    def union(self) -> _Value:
        names: list[str] = []
        while (token := self.peek()) is not None and token.startswith("@"):
            names.append(self.take()[1:])
            if self.peek() != "|":
                break
            self.take()
        if not names:
            return self.primary()
        if len(names) == 1:
            return self.code.attribute(names[0])
        return self.code.union(names)

    def primary(self) -> _Value:
        token = self.take()
        if token[0] in "'\"":
            return ("literal", repr(token[1:-1]))
        if token == "(":
            value = self.expression()
            self.take(")")
            return value
        if token.endswith("("):
            arguments = [] if self.peek() == ")" else [self.expression()]
            while self.peek() == ",":
                self.take()
                arguments.append(self.expression())
            self.take(")")
            return self._call(token[:-1], arguments)
        raise Unsupported(f"unexpected {token!r}")

    def _compare(self, left: _Value, right: _Value, equal: bool) -> _Value:
        """XPath 1.0 ``=``/``!=``: with a node-set, true when some value of it compares so."""
        code = self.code
        if "boolean" in (left[0], right[0]):
            return ("boolean", f"(({code.boolean(left)}) {'==' if equal else '!='} ({code.boolean(right)}))")
        if left[0] in ("one", "nodes") and right[0] in ("one", "nodes"):
            raise Unsupported("node-set compared with node-set")
        if right[0] in ("one", "nodes"):
            left, right = right, left
        other = code.string(right)
        kind, source = left
        if kind == "one":
            if equal:
                return ("boolean", f"({source} == {other})")
            return ("boolean", f"({source} is not None and {source} != {other})")
        if kind == "nodes":
            variables = code.unions[source]
            if equal:
                return ("boolean", "(" + " or ".join(f"{v} == {other}" for v in variables) + ")")
            return ("boolean", "(" + " or ".join(f"({v} is not None and {v} != {other})" for v in variables) + ")")
        return ("boolean", f"({code.string(left)} {'==' if equal else '!='} {other})")

    def _call(self, name: str, arguments: list[_Value]) -> _Value:
        code, count = self.code, len(arguments)
        literals = [str(ast.literal_eval(source)) for kind, source in arguments[1:] if kind == "literal"]
        if name == "not" and count == 1:
            return ("boolean", f"(not {code.boolean(arguments[0])})")
        if name == "string" and count == 1:
            return ("string", code.string(arguments[0]))
        if name in ("contains", "starts-with") and count == 2:
            subject, part = (code.string(argument) for argument in arguments)
            if name == "contains":
                return ("boolean", f"({part} in {subject})")
            return ("boolean", f"{subject}.startswith({part})")
        if name == "translate" and count == 3 and len(literals) == 2:
            source, target = literals
            table: dict[int, int | None] = {}
            for index, char in enumerate(source):  # XPath: the first occurrence of a character decides
                table.setdefault(ord(char), ord(target[index]) if index < len(target) else None)
            return ("string", f"{code.string(arguments[0])}.translate({code.constant(table)})")
        if name == "re:test" and count in (2, 3) and len(literals) == count - 1:
            pattern, *flags = literals
            compiled = re.compile(pattern, re.IGNORECASE if flags and "i" in flags[0] else 0)  # as lxml's EXSLT
            return ("boolean", f"({code.constant(compiled.search)}({code.string(arguments[0])}) is not None)")
        raise Unsupported(f"function {name}() with {count} argument(s)")


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
