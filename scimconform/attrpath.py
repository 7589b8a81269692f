"""SCIM attribute paths as Entra's mappings name them, read from and written into resources.

Entra flattens every target attribute into one path: `userName`, `name.givenName`,
`emails[type eq "work"].value`, or a URN-qualified extension attribute such as
`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`. Attribute names are
case-insensitive (RFC 7643 §2.1), so lookups here are too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_VALUE_FILTER = re.compile(r'^(?P<attr>[A-Za-z$][\w$-]*)\[(?P<key>\w+) eq "(?P<value>[^"]*)"\](?:\.(?P<sub>[\w$]+))?$')


class Missing:
    """Marks an attribute that a resource does not carry (distinct from an explicit null)."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING = Missing()


@dataclass(frozen=True, kw_only=True)
class AttrPath:
    """One parsed path: optional schema URN, attribute, optional `[key eq "value"]` filter, sub-attribute."""

    text: str
    urn: str | None
    attr: str
    filter: tuple[str, str] | None = None
    sub: str | None = None

    @property
    def value_filtered(self) -> bool:
        return self.filter is not None


def parse(text: str) -> AttrPath:
    urn = None
    rest = text
    if text.lower().startswith("urn:"):
        urn, _, rest = text.rpartition(":")
    match = _VALUE_FILTER.match(rest)
    if match:
        return AttrPath(text=text, urn=urn, attr=match["attr"], filter=(match["key"], match["value"]), sub=match["sub"])
    attr, _, sub = rest.partition(".")
    return AttrPath(text=text, urn=urn, attr=attr, filter=None, sub=sub or None)


def _key(mapping: dict[str, Any], name: str) -> str | None:
    """The key of `mapping` that equals `name` case-insensitively."""
    lowered = name.lower()
    return next((k for k in mapping if k.lower() == lowered), None)


def _container(resource: dict[str, Any], path: AttrPath) -> Any:
    if path.urn is None:
        return resource
    key = _key(resource, path.urn)
    return resource[key] if key is not None else MISSING


def get(resource: Any, text: str) -> Any:
    """The value at `text` in `resource`, or MISSING."""
    path = parse(text)
    holder = _container(resource, path) if isinstance(resource, dict) else MISSING
    if not isinstance(holder, dict) or (key := _key(holder, path.attr)) is None:
        return MISSING
    value = holder[key]
    if path.filter is not None:
        fkey, fvalue = path.filter
        if not isinstance(value, list):
            return MISSING
        value = next(
            (e for e in value if isinstance(e, dict) and str(e.get(_key(e, fkey) or "", "")).lower() == fvalue.lower()),
            MISSING,
        )
    if path.sub is not None:
        if not isinstance(value, dict) or (sub_key := _key(value, path.sub)) is None:
            return MISSING
        value = value[sub_key]
    return value


def put(resource: dict[str, Any], text: str, value: Any, primary: bool = False) -> None:
    """Write `value` at `text`, creating the extension object or the filtered element as needed."""
    path = parse(text)
    holder = resource
    if path.urn is not None:
        holder = resource.setdefault(path.urn, {})
    if path.filter is None:
        if path.sub is None:
            holder[path.attr] = value
        else:
            holder.setdefault(path.attr, {})[path.sub] = value
        return
    fkey, fvalue = path.filter
    elements: list[dict[str, Any]] = holder.setdefault(path.attr, [])
    element = next((e for e in elements if e.get(fkey) == fvalue), None)
    if element is None:
        element = {fkey: fvalue}
        if primary:
            element["primary"] = True
        elements.append(element)
    element[path.sub or "value"] = value
