"""SCIM filters (RFC 7644 §3.4.2.2) and attribute paths (§3.5.2 PATH, §3.4.2.5): parsing and evaluation.

A small recursive-descent parser. scim2-filter-parser was evaluated and does not fit: it gives `and` and
`or` the same precedence (so `a or b and c` parses as `(a or b) and c`), lexes only one-digit numbers,
has no escaped quotes in strings, cannot parse a bare attribute path (a PATCH path such as
`name.givenName`), and its AST is shaped for SQL transpiling (a value path's sub-attribute is moved
into the namespace).
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from .resources import ResourceType, find_key, get_ci

Scalar: TypeAlias = str | int | float | bool | None


class FilterError(ValueError):
    """The text is not a valid filter or attribute path."""


@dataclass(frozen=True, kw_only=True)
class AttrPath:
    """`[schema:]attr[[filter]][.sub]`; a path naming a whole extension has that URN as `attr`."""

    attr: str
    schema: str | None = None
    filter: Filter | None = None
    sub: str | None = None


@dataclass(frozen=True)
class Compare:
    path: AttrPath
    op: str
    value: Scalar


@dataclass(frozen=True)
class Present:
    """`attr pr`; also a bare value path such as `emails[type eq "work"]` (some element matches)."""

    path: AttrPath


@dataclass(frozen=True)
class Logical:
    op: str
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    inner: Filter


Filter: TypeAlias = Compare | Present | Logical | Not


def filter_paths(node: Filter) -> list[AttrPath]:
    """Every attribute path a filter compares, left to right."""
    if isinstance(node, Logical):
        return filter_paths(node.left) + filter_paths(node.right)
    if isinstance(node, Not):
        return filter_paths(node.inner)
    return [node.path]


_TEXT_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "co": operator.contains,
    "sw": str.startswith,
    "ew": str.endswith,
}
_ORDER_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_OPERATORS = frozenset({"eq", "ne", *_TEXT_OPERATORS, *_ORDER_OPERATORS})
_LITERALS: dict[str, Scalar] = {"true": True, "false": False, "null": None}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<punct>[()\[\]])
      | (?P<sub>\.[A-Za-z$][\w$-]*)
      | (?P<word>[A-Za-z$][\w$.:-]*)
    )""",
    re.VERBOSE,
)
_NAME = re.compile(r"\$?[A-Za-z][\w-]*")
_VERSION = re.compile(r"\d+(?:\.\d+)*")


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    text = text.strip()
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise FilterError(f"unexpected {text[position:]!r}")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


def _split_word(word: str) -> AttrPath:
    """`urn:…:2.0:User:name.givenName` → schema, attr, sub; a URN ending in `:<version>:<Name>` is a schema."""
    schema = None
    if ":" in word:
        head, _, tail = word.rpartition(":")
        if _VERSION.fullmatch(head.rpartition(":")[2]):
            return AttrPath(attr=word)
        schema, word = head, tail
    attr, dot, sub = word.partition(".")
    for name in (attr, sub) if dot else (attr,):
        if not _NAME.fullmatch(name):
            raise FilterError(f"invalid attribute name {name!r}")
    return AttrPath(attr=attr, schema=schema, filter=None, sub=sub or None)


class _Parser:
    """Precedence, lowest first: or, and, not / parentheses, attribute expression (RFC 7644 §3.4.2.2)."""

    def __init__(self, text: str) -> None:
        self._tokens = _tokenize(text)
        self._position = 0

    def _peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self._position + offset
        return self._tokens[index] if index < len(self._tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise FilterError("unexpected end of expression")
        self._position += 1
        return token

    def _accept(self, kind: str, *texts: str) -> str | None:
        """Consume the next token if it is of `kind` and (case-insensitively) one of `texts`."""
        token = self._peek()
        if token is None or token[0] != kind or (texts and token[1].lower() not in texts):
            return None
        self._position += 1
        return token[1].lower()

    def _expect(self, punct: str) -> None:
        if self._accept("punct", punct) is None:
            raise FilterError(f"expected {punct!r} at {self._peek()!r}")

    def finish(self) -> None:
        if self._peek() is not None:
            raise FilterError(f"unexpected {self._peek()!r}")

    def filter(self) -> Filter:
        node = self._conjunction()
        while self._accept("word", "or"):
            node = Logical("or", node, self._conjunction())
        return node

    def _conjunction(self) -> Filter:
        node = self._factor()
        while self._accept("word", "and"):
            node = Logical("and", node, self._factor())
        return node

    def _factor(self) -> Filter:
        following = self._peek(1)
        if following == ("punct", "(") and self._accept("word", "not"):
            self._expect("(")
            inner = self.filter()
            self._expect(")")
            return Not(inner)
        if self._accept("punct", "("):
            inner = self.filter()
            self._expect(")")
            return inner
        return self._expression()

    def _expression(self) -> Filter:
        path = self.path()
        op = self._accept("word", "pr", *_OPERATORS)
        if op == "pr":
            return Present(path)
        if op is not None:
            value = self._value()
            if op in _ORDER_OPERATORS and (value is None or isinstance(value, bool)):
                raise FilterError(f"{op} cannot compare with {value!r}")
            return Compare(path, op, value)
        if path.filter is not None and path.sub is None:
            return Present(path)
        raise FilterError(f"expected an operator after {path.attr!r}")

    def path(self) -> AttrPath:
        kind, text = self._take()
        if kind != "word":
            raise FilterError(f"expected an attribute name, found {text!r}")
        path = _split_word(text)
        if not self._accept("punct", "["):
            return path
        if path.sub is not None:
            raise FilterError(f"a value filter cannot follow the sub-attribute in {text!r}")
        element_filter = self.filter()
        self._expect("]")
        token = self._peek()
        sub = self._take()[1][1:] if token is not None and token[0] == "sub" else None
        return AttrPath(attr=path.attr, schema=path.schema, filter=element_filter, sub=sub)

    def _value(self) -> Scalar:
        kind, text = self._take()
        if kind == "string":
            try:
                value: str = json.loads(text)
            except ValueError as exc:
                raise FilterError(f"invalid string {text}") from exc
            return value
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "word" and text.lower() in _LITERALS:
            return _LITERALS[text.lower()]
        raise FilterError(f"expected a value (quoted string, number, true, false or null), found {text!r}")


def parse_filter(text: str) -> Filter:
    parser = _Parser(text)
    result = parser.filter()
    parser.finish()
    return result


def parse_path(text: str) -> AttrPath:
    """A PATCH path: attrPath, or valuePath with an optional sub-attribute (RFC 7644 §3.5.2)."""
    parser = _Parser(text)
    result = parser.path()
    parser.finish()
    return result


def parse_attribute_list(text: str) -> tuple[AttrPath, ...]:
    """The comma-separated `attributes` / `excludedAttributes` query parameter."""
    return tuple(parse_path(part) for part in text.split(",") if part.strip())


def extension_urn(path: AttrPath, rtype: ResourceType | None) -> str | None:
    """The extension whose object holds the path's attribute; None for core attributes.

    Unqualified names only an extension defines resolve there, so Entra's bare `manager` means the
    enterprise manager.
    """
    if rtype is None:
        return None
    urn = path.schema or rtype.extension_of(path.attr)
    return None if urn is None or urn.lower() == rtype.schema.lower() else urn


def holder(
    resource: dict[str, Any], path: AttrPath, rtype: ResourceType | None, *, create: bool = False
) -> dict[str, Any] | None:
    """The JSON object in which the path's attribute lives: the resource or one of its extensions."""
    urn = extension_urn(path, rtype)
    if urn is None:
        return resource
    key = find_key(resource, urn)
    if key is None:
        if not create:
            return None
        key = urn
        resource[key] = {}
    extension = resource[key]
    return extension if isinstance(extension, dict) else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _present(value: Any) -> bool:
    return value not in (None, "", [], {})


@dataclass(frozen=True)
class Evaluator:
    """Matches resources against filters.

    At the top level `rtype` resolves URNs and extension attributes and `case_exact` names the
    attributes compared case-sensitively; inside brackets paths are relative to one element. Attribute names
    are case-insensitive (RFC 7644 §3.4.2.2); `names_exact` (a fault) makes the top-level name exact.
    """

    rtype: ResourceType | None
    case_exact: frozenset[str] = frozenset()
    names_exact: bool = False

    def matches(self, node: Filter, obj: dict[str, Any]) -> bool:
        if isinstance(node, Logical):
            if node.op == "and":
                return self.matches(node.left, obj) and self.matches(node.right, obj)
            return self.matches(node.left, obj) or self.matches(node.right, obj)
        if isinstance(node, Not):
            return not self.matches(node.inner, obj)
        found = self.values(obj, node.path)
        if isinstance(node, Present) or node.value is None:
            present = any(_present(value) for value in found)
            return present if isinstance(node, Present) or node.op == "ne" else not present
        exact = node.path.sub is None and node.path.attr.lower() in self.case_exact
        op = "eq" if node.op == "ne" else node.op
        hit = any(_compare(op, value, node.value, exact) for value in found)
        return not hit if node.op == "ne" else hit

    def values(self, obj: dict[str, Any], path: AttrPath) -> list[Any]:
        """Every value the path selects; each element of a multi-valued attribute counts on its own."""
        node = holder(obj, path, self.rtype)
        key = None if node is None else find_key(node, path.attr)
        if self.names_exact and key != path.attr:
            key = None
        found = [] if node is None or key is None else _as_list(node[key])
        if path.filter is not None:
            element_filter = path.filter
            found = [e for e in found if isinstance(e, dict) and ELEMENTS.matches(element_filter, e)]
        if path.sub is not None:
            sub = path.sub
            found = [v for e in found if isinstance(e, dict) for v in _as_list(get_ci(e, sub))]
        return found


ELEMENTS = Evaluator(None)
"""Evaluates a value filter (`emails[type eq "work"]`) against one element."""


def _compare(op: str, actual: Any, expected: Scalar, exact: bool) -> bool:
    if isinstance(actual, dict):
        actual = get_ci(actual, "value")  # complex values (manager, members) compare by their value
    if isinstance(expected, bool) or isinstance(actual, bool):
        return op == "eq" and isinstance(actual, bool) and actual is expected
    if isinstance(expected, str):
        if not isinstance(actual, str):
            return False
        if not exact:
            actual, expected = actual.casefold(), expected.casefold()
        if op in _TEXT_OPERATORS:
            return _TEXT_OPERATORS[op](actual, expected)
    elif not isinstance(actual, int | float) or op in _TEXT_OPERATORS:
        return False
    return actual == expected if op == "eq" else _ORDER_OPERATORS[op](actual, expected)
