"""`attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5): which parts of a resource a response carries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from .filters import AttrPath, extension_urn
from .resources import Resource, ResourceType

_Tree: TypeAlias = "dict[str, _Tree | None]"
"""Lower-cased key -> nested selection, or None for the whole value."""

_ALWAYS = ("id", "schemas")


@dataclass(frozen=True)
class View:
    attributes: tuple[AttrPath, ...] = ()
    excluded: tuple[AttrPath, ...] = ()
    always: tuple[str, ...] = _ALWAYS

    def apply(self, resource: Resource, rtype: ResourceType) -> Resource:
        """`always` (id and schemas) is returned whatever the request asks (RFC 7644 §3.4.2.5)."""
        if self.attributes:
            selected: Resource = _select(
                resource, _tree((*self.attributes, *(AttrPath(attr=name) for name in self.always)), rtype)
            )
            return selected
        excluded = [path for path in self.excluded if path.attr.lower() not in self.always]
        if not excluded:
            return resource
        kept: Resource = _drop(resource, _tree(excluded, rtype))
        return kept


def _tree(paths: Iterable[AttrPath], rtype: ResourceType) -> _Tree:
    """`name.givenName`, `urn:…:User:manager` → {"name": {"givenname": None}, "urn:…:user": {"manager": None}}."""
    tree: _Tree = {}
    for path in paths:
        urn = extension_urn(path, rtype)
        keys = [key.lower() for key in (urn, path.attr, path.sub) if key is not None]
        node: _Tree | None = tree
        for key in keys[:-1]:
            node = node.setdefault(key, {}) if node is not None else None
        if node is not None:
            node[keys[-1]] = None
    return tree


def _select(value: Any, tree: _Tree) -> Any:
    if isinstance(value, list):
        return [_select(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: item if (sub := tree[key.lower()]) is None else _select(item, sub)
        for key, item in value.items()
        if key.lower() in tree
    }


def _drop(value: Any, tree: _Tree) -> Any:
    """Objects emptied by the exclusion (an extension whose only attribute was excluded) disappear."""
    if isinstance(value, list):
        return [_drop(item, tree) for item in value]
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        sub = tree.get(key.lower(), {})
        if sub is None:
            continue
        remaining = _drop(item, sub) if sub else item
        if remaining != {} or not sub:
            kept[key] = remaining
    return kept
