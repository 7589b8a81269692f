"""What a recording must not keep: the secrets and personal values one exchange carries, learnt by the
project's `Redactor` (numbered, so that the same secret is the same placeholder everywhere).

Secrets: the credentials of `Authorization` (a Basic one decoded too, RFC 7617 §2), cookies (RFC 6265 §4),
and the OAuth fields of form and JSON bodies — `client_secret` (RFC 6749 §2.3.1), `client_assertion`
(RFC 7521 §4.2), `password` (RFC 6749 §4.3.2), and the tokens of a token response (RFC 6749 §5.1; OpenID
Connect Core 1.0 §3.1.3.3). Personal values: those of the attribute paths the vendor names, wherever a SCIM
body (a resource, a list's Resources, a PATCH operation) or a filter (RFC 7644 §3.4.2.2) carries them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from scimconform.client import Redactor

SECRET_FIELDS = frozenset(
    {"client_secret", "client_assertion", "password", "access_token", "refresh_token", "id_token"}
)
_COMPARISON = re.compile(r'([A-Za-z][\w.:$-]*)\s+(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+"((?:[^"\\]|\\.)*)"', re.IGNORECASE)
_FILTERED = re.compile(r"^([^\[\]]+)\[([^\]]*)\](.*)$")  # emails[type eq "work"].value


def attribute_key(path: str) -> str:
    """A path as the walker spells it: filters dropped, colons as dots (an extension attribute is written
    `urn:…:User:manager` in a path and nested under `urn:…:User` in a body), lower case (attribute names are
    case-insensitive, RFC 7643 §2.1)."""
    return re.sub(r"\[[^\]]*\]", "", path).replace(":", ".").lower()


class RecordingRedactor:
    """A numbered `Redactor` that learns from each raw exchange what it must hide; `personal` are the
    attribute paths whose values are personal (`name.givenName`)."""

    def __init__(self, personal: Sequence[str]) -> None:
        self.redact = Redactor([], numbered=True)
        self.personal = tuple(attribute_key(path) for path in personal)

    def learn(self, headers: Sequence[tuple[str, str]], body: str, query: str = "") -> None:
        """Learn the secrets and personal values of one message: its headers, body and query string."""
        found: list[str] = []
        for name, value in headers:
            found += _header_secrets(name.lower(), value)
        for name, value in parse_qsl(query, keep_blank_values=True):
            found += [value] if name.lower() in SECRET_FIELDS else []
            found += self._filter_values(value) if name.lower() == "filter" else []
        document = _json(body)
        if document is None and "=" in body:  # a form body (RFC 6749 §4.4.2)
            found += [v for k, v in parse_qsl(body, keep_blank_values=True) if k.lower() in SECRET_FIELDS]
        found += [value for path, value in _strings(document, "") if self._is_secret(path)]
        self.redact.add(*found)

    def _is_secret(self, path: str) -> bool:
        leaf = path.rsplit(".", 1)[-1]
        return leaf in SECRET_FIELDS or any(path == p or path.startswith(p + ".") for p in self.personal)

    def _filter_values(self, text: str, prefix: str = "") -> list[str]:
        """The values a filter compares personal attributes with (`name.givenName eq "Ada"`)."""
        return [
            _unescaped(value)
            for attribute, value in _COMPARISON.findall(text)
            if self._is_secret(prefix + attribute_key(attribute))
        ]


def _header_secrets(name: str, value: str) -> list[str]:
    if name in ("authorization", "proxy-authorization"):
        scheme, _, credentials = value.partition(" ")
        found = [credentials or scheme]
        if scheme.lower() == "basic":
            try:
                password = base64.b64decode(credentials, validate=True).decode().partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                return found
            found += [password, unquote_plus(password)]  # RFC 6749 §2.3.1 form-encodes the secret first
        return found
    if name == "cookie":
        return [pair.partition("=")[2].strip() for pair in value.split(";")]
    if name == "set-cookie":
        return [value.split(";", 1)[0].partition("=")[2].strip()]
    return []


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
    if isinstance(target, str) and (filtered := _FILTERED.match(target)):
        for attribute, value in _COMPARISON.findall(filtered[2]):
            yield _join(attribute_key(filtered[1]), attribute_key(attribute)), _unescaped(value)


def _join(path: str, key: str) -> str:
    key = attribute_key(key)
    return key if not path else f"{path}.{key}"


def _unescaped(value: str) -> str:
    """A filter's quoted value as JSON reads it (RFC 7644 §3.4.2.2: values are JSON strings)."""
    try:
        return str(json.loads(f'"{value}"'))
    except ValueError:
        return value
