"""What a recording must not keep: the secrets and personal values one exchange carries, learnt by the
project's `Redactor` (numbered, so that the same secret is the same placeholder everywhere).

Secrets: the credentials of `Authorization` (a Basic one decoded too, RFC 7617 §2) and the OAuth fields of
query strings, form and JSON bodies (`recording.SECRET_FIELDS`); cookies (RFC 6265 §4) are hidden whole,
header and all, by the `Redactor`. Personal values: those of the attribute paths the vendor names, wherever
a SCIM body (a resource, a list's Resources, a PATCH operation) or a filter (RFC 7644 §3.4.2.2: a query's,
a `.search` body's, a PATCH path's) carries them. A value shorter than `SHORTEST_LEARNT` is not replaced
inside other text (a user called `Al` would take every `Al` of the recording, JSON and URLs broken with
it): only where it stands whole — a JSON string, a query or form value, a quoted filter value. Query
strings and form bodies are redacted decoded, value by value, so that no percent-encoding (`%2f`, mixed
case) hides a secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit

from scimconform import attrpath
from scimconform.client import REDACTED_PREFIX, SHORTEST_LEARNT, Redactor
from scimconform.traffic.recording import SECRET_FIELDS, map_strings, substitute

_COMPARISON = re.compile(
    r'([A-Za-z][\w.:$-]*(?:\[[^\]]*\][\w.$-]*)?)\s+(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+"((?:[^"\\]|\\.)*)"', re.IGNORECASE
)
_GROUPED = re.compile(r"([A-Za-z][\w.:$-]*)\[([^\]]*)\]")  # emails[type eq "work"]
_CORE_SCHEMAS = ("urn:ietf:params:scim:schemas:core:2.0:user", "urn:ietf:params:scim:schemas:core:2.0:group")


def attribute_key(path: str) -> str:
    """A path as the walker spells it: filters dropped (`emails[type eq "work"].value` is `emails.value`), a
    core schema's URN dropped (RFC 7644 §3.10), an extension's kept with colons as dots (an extension
    attribute is written `urn:…:User:manager` in a path and nested under `urn:…:User` in a body), lower case
    (attribute names are case-insensitive, RFC 7643 §2.1)."""
    bare = re.sub(r"\[[^\]]*\]", "", path)
    urn = attrpath.parse(bare).urn
    if urn is not None and urn.lower() in _CORE_SCHEMAS:
        bare = bare[len(urn) + 1 :]
    return bare.replace(":", ".").lower()


def comparisons(text: str) -> Iterator[tuple[str, str]]:
    """Each attribute key a filter compares, with the value it compares it with (`name.givenname`, `Ada`);
    inside `emails[value eq "…"]` the key is `emails.value`."""
    for attribute, value in _COMPARISON.findall(text):
        yield attribute_key(attribute), _unescaped(value)
    for outer, inner in _GROUPED.findall(text):
        for attribute, value in _COMPARISON.findall(inner):
            yield f"{attribute_key(outer)}.{attribute_key(attribute)}", _unescaped(value)


class RecordingRedactor:
    """A numbered `Redactor` that learns from each raw exchange what it must hide; `personal` are the
    attribute paths whose values are personal (`name.givenName`). `short` holds the values too short to
    replace inside other text, each with its placeholder; `short_personal` counts the personal ones."""

    def __init__(self, personal: Sequence[str]) -> None:
        self.redact = Redactor([], numbered=True)
        self.personal = tuple(attribute_key(path) for path in personal)
        self.short: dict[str, str] = {}
        self.short_personal = 0

    def learn(self, headers: Sequence[tuple[str, str]], body: str, query: str = "") -> None:
        """Learn the secrets and personal values of one message: its headers, body and query string."""
        found: list[str] = []
        for name, value in headers:
            found += _header_secrets(name.lower(), value)
        found += self._fields(parse_qsl(query, keep_blank_values=True))
        document = _json(body)
        if document is None and "=" in body:  # a form body (RFC 6749 §4.4.2)
            found += self._fields(parse_qsl(body, keep_blank_values=True))
        personal = [value for path, value in _strings(document, "") if self._is_personal(path)]
        found += [value for path, value in _strings(document, "") if path.rsplit(".", 1)[-1] in SECRET_FIELDS]
        search = document.get("filter") if isinstance(document, dict) else None  # a .search (RFC 7644 §3.4.3)
        personal += self._filter_values(search) if isinstance(search, str) else []
        self._add(found, personal=False)
        self._add(personal, personal=True)

    def _fields(self, fields: Iterable[tuple[str, str]]) -> list[str]:
        found: list[str] = []
        for name, value in fields:
            found += [value] if name.lower() in SECRET_FIELDS else []
            found += self._filter_values(value) if name.lower() == "filter" else []
        return found

    def _add(self, values: Iterable[str], *, personal: bool) -> None:
        for value in values:
            if len(value) >= SHORTEST_LEARNT:
                self.redact.add(value)
            elif value and value not in self.short:
                self.short[value] = f"{REDACTED_PREFIX}short-{len(self.short) + 1}"
                self.short_personal += personal

    def _is_personal(self, path: str) -> bool:
        return any(path == p or path.startswith(p + ".") for p in self.personal)

    def _filter_values(self, text: str) -> list[str]:
        """The values a filter compares personal attributes with (`name.givenName eq "Ada"`)."""
        return [value for attribute, value in comparisons(text) if self._is_personal(attribute)]

    def value(self, text: str) -> str:
        """One value, its secrets replaced, a short one only whole or quoted (a filter's)."""
        return substitute(self.redact(text), self.short)

    def url(self, url: str) -> str:
        """A URL with each path segment and each query name and value redacted decoded."""
        parts = urlsplit(url)
        path = "/".join(self._encoded(segment) for segment in parts.path.split("/"))
        return self.redact(urlunsplit(parts._replace(path=path, query=self.form(parts.query))))

    def form(self, text: str) -> str:
        """A query string or form body (`a=1&b=2`) with each name and value redacted decoded."""
        pairs = [pair.partition("=") for pair in text.split("&")]
        encoded = [self._encoded(name, plus=True) + eq + self._encoded(value, plus=True) for name, eq, value in pairs]
        return self.redact("&".join(encoded))

    def body(self, text: str) -> str:
        """A body: JSON with its secrets replaced and each short value that is a whole string (re-serialised
        only then), a form value by value, anything else as text."""
        if _json(text) is None and _FORM.fullmatch(text.strip()):
            return self.form(text)
        redacted = self.redact(text)
        document = _json(redacted)
        changed = map_strings(document, lambda value: substitute(value, self.short))
        return redacted if changed == document else json.dumps(changed, ensure_ascii=False)

    def _encoded(self, text: str, *, plus: bool = False) -> str:
        """One percent-encoded part of a URL or form, redacted decoded; re-encoded only when that changed it."""
        plain = unquote_plus(text) if plus else unquote(text)
        redacted = self.value(plain)
        if redacted == plain:
            return text
        return quote_plus(redacted, safe="") if plus else quote(redacted, safe="")


_FORM = re.compile(r"[^\s=&]*=[^\s&]*(?:&[^\s=&]*=[^\s&]*)*")


def _header_secrets(name: str, value: str) -> list[str]:
    """The credentials of an Authorization header; cookies are not learnt (the `Redactor` hides the whole
    header, and a cookie's value is often as short as `1`)."""
    if name not in ("authorization", "proxy-authorization"):
        return []
    scheme, _, credentials = value.partition(" ")
    found = [credentials or scheme]
    if scheme.lower() == "basic":
        try:
            password = base64.b64decode(credentials, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return found
        found += [password, unquote_plus(password)]  # RFC 6749 §2.3.1 form-encodes the secret first
    return found


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except (ValueError, RecursionError):
        return None


def _strings(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a SCIM document with its attribute key (`name.givenname`): a list's `Resources` and a
    PATCH's `Operations` each start again at the resource, an operation's value under the operation's path."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item, path)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ("Resources", "Operations") and not path:
                for item in value if isinstance(value, list) else []:
                    yield from (_operation(item) if key == "Operations" else _strings(item, ""))
                continue
            yield from _strings(value, _join(path, key))


def _operation(operation: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(operation, dict):
        return
    target = operation.get("path")
    prefix = attribute_key(target) if isinstance(target, str) else ""
    yield from _strings(operation.get("value"), prefix)
    if isinstance(target, str):
        yield from comparisons(target)


def _join(path: str, key: str) -> str:
    key = attribute_key(key)
    return key if not path else f"{path}.{key}"


def _unescaped(value: str) -> str:
    """A filter's quoted value as JSON reads it (RFC 7644 §3.4.2.2: values are JSON strings)."""
    try:
        return str(json.loads(f'"{value}"'))
    except ValueError:
        return value
