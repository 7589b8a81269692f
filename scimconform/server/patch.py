"""The PATCH engine: RFC 7644 §3.5.2 plus every shape Microsoft Entra ID sends.

The shapes come from Microsoft Learn: the samples in "Tutorial: Develop and plan provisioning for a SCIM
endpoint", § "SCIM protocol requests and responses", and both dialects in "Known issues and resolutions
with SCIM 2.0 protocol compliance", § "Flags to alter the SCIM behavior" (see docs/entra-notes.md,
"PATCH dialects").

It edits a copy of the stored attributes in place; the store then normalizes and validates the result
(boolean strings, reference shapes, uniqueness, member ids), exactly as for POST and PUT.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ScimError
from .faults import Fault
from .filters import ELEMENTS, AttrPath, Compare, Filter, FilterError, Logical, extension_urn, holder, parse_path
from .resources import Resource, ResourceType, find_key, get_ci
from .validation import check_immutable

_KINDS = ("add", "replace", "remove")
_MEMBERS = "members"


def apply_patch(attributes: Resource, body: Resource, rtype: ResourceType, faults: frozenset[Fault]) -> None:
    operations = get_ci(body, "Operations")
    if not isinstance(operations, list) or not operations:
        raise ScimError(400, "a PATCH body needs a non-empty Operations list", "invalidValue")
    patch = _Patch(attributes, rtype, faults)
    if Fault.MIXED_VERB_PATCH_FIRST_ONLY in faults:  # a server written for one verb per request
        first = str(get_ci(operations[0], "op") if isinstance(operations[0], dict) else None).lower()
        operations = [o for o in operations if isinstance(o, dict) and str(get_ci(o, "op")).lower() == first]
    for operation in operations:
        patch.apply(operation)


class _Patch:
    def __init__(self, attributes: Resource, rtype: ResourceType, faults: frozenset[Fault]) -> None:
        self._attributes = attributes
        self._rtype = rtype
        self._faults = faults

    def apply(self, operation: Any) -> None:
        if not isinstance(operation, dict):
            raise ScimError(400, f"a PATCH operation must be an object, not {operation!r}", "invalidSyntax")
        kind = self._kind(get_ci(operation, "op"))
        path_text = get_ci(operation, "path")
        value = get_ci(operation, "value")
        if path_text not in (None, ""):
            path = self._path(path_text)
            if kind == "remove":
                self._remove(path, value)
            else:
                self._set(kind, path, value)
        elif kind == "remove":
            if Fault.PATHLESS_REMOVE_IGNORED in self._faults:
                return
            raise ScimError(400, "remove needs a path", "noTarget")
        elif isinstance(value, dict):
            self._set_pathless(kind, value)
        else:
            raise ScimError(400, f"a path-less {kind} needs an object value", "invalidValue")

    def _kind(self, op: Any) -> str:
        """Ops are case-insensitive: Entra sends Add/Replace/Remove.

        Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint", § "General".
        """
        if not isinstance(op, str) or op.lower() not in _KINDS:
            raise ScimError(400, f"unknown PATCH op {op!r}; expected add, replace or remove", "invalidSyntax")
        if Fault.PASCALCASE_OP_REJECTED in self._faults and op != op.lower():
            raise ScimError(400, f"unknown PATCH op {op!r}", "invalidSyntax")
        return op.lower()

    def _path(self, text: Any) -> AttrPath:
        if not isinstance(text, str):
            raise ScimError(400, f"path must be a string, not {text!r}", "invalidPath")
        try:
            path = parse_path(text)
        except FilterError as exc:
            raise ScimError(400, f"invalid path {text!r}: {exc}", "invalidPath") from exc
        if (
            Fault.MEMBERS_FILTER_PATH_UNSUPPORTED in self._faults
            and path.filter is not None
            and path.attr.lower() == _MEMBERS
        ):
            raise ScimError(400, f"unsupported path {text!r}", "invalidPath")
        return path

    def _set_pathless(self, kind: str, value: Resource) -> None:
        """Entra's flag mode sends plain, dotted (name.givenName) and URN-qualified keys side by side."""
        for key, item in value.items():
            path = self._path(key)
            if Fault.PATHLESS_DOTTED_KEYS_IGNORED in self._faults and (path.schema or path.sub):
                continue
            if kind == "add" and Fault.PATHLESS_ADD_IGNORED in self._faults and (path.schema or path.sub):
                continue  # only path-less replace was implemented, as many servers do
            self._set(kind, path, item)

    def _writable(self, path: AttrPath) -> None:
        """An operation on a readOnly attribute fails with mutability (RFC 7644 §3.5.2)."""
        if Fault.READONLY_PATCH_IGNORED in self._faults or extension_urn(path, self._rtype) is not None:
            return
        if path.attr.lower() in self._rtype.read_only:
            raise ScimError(400, f"{path.attr!r} is readOnly", "mutability")

    def _set(self, kind: str, path: AttrPath, value: Any) -> None:
        self._writable(path)
        if value is None and Fault.NULL_VALUE_REJECTED in self._faults:
            raise ScimError(400, f"{path.attr!r} may not be null", "invalidValue")
        if path.attr.lower() == "manager" and Fault.MANAGER_IGNORED in self._faults:
            return
        group_attribute = self._rtype.name == "Group" and path.attr.lower() != _MEMBERS
        if kind == "add" and group_attribute and Fault.GROUP_ATTRIBUTE_ADD_REFUSED in self._faults:
            raise ScimError(400, f"unsupported add path: {path.attr}", "invalidPath")  # add was for members only
        if kind == "add" and path.attr.lower() == _MEMBERS and Fault.READD_MEMBER_CONFLICT in self._faults:
            self._refuse_known_members(value)
        node = holder(self._attributes, path, self._rtype, create=True)
        if node is None:
            raise ScimError(400, f"the extension holding {path.attr!r} is not an object", "invalidPath")
        if path.filter is not None:
            self._set_filtered(kind, node, path, path.filter, value)
            return
        if (
            Fault.ONLY_FIRST_MEMBER_ADDED in self._faults
            and kind == "add"
            and path.attr.lower() == _MEMBERS
            and isinstance(value, list)
        ):
            value = value[:1]
        if path.sub is None:
            _assign(kind, node, path.attr, value)
            return
        key = find_key(node, path.attr) or path.attr
        parent = node.setdefault(key, {})
        if not isinstance(parent, dict):
            raise ScimError(400, f"{path.attr!r} has no sub-attribute {path.sub!r}", "invalidPath")
        _assign(kind, parent, path.sub, value)

    def _refuse_known_members(self, value: Any) -> None:
        current = get_ci(self._attributes, _MEMBERS) or []
        known = {m.get("value") for m in current if isinstance(m, dict)}
        added = value if isinstance(value, list) else [value]
        if any(isinstance(m, dict) and m.get("value") in known for m in added):
            raise ScimError(409, "the member is already in the group", "uniqueness")

    def _set_filtered(self, kind: str, node: Resource, path: AttrPath, where: Filter, value: Any) -> None:
        """On `emails[type eq "work"].value`; when nothing matches, the element the filter describes is added."""
        key = find_key(node, path.attr) or path.attr
        elements = node.setdefault(key, [])
        if not isinstance(elements, list):
            raise ScimError(400, f"{path.attr!r} is not multi-valued", "invalidPath")
        targets = [element for element in elements if isinstance(element, dict) and ELEMENTS.matches(where, element)]
        seeded = not targets
        if seeded:
            if Fault.VALUE_FILTER_PATH_NO_ADD in self._faults:
                return
            targets = [_seed(where)]
            elements.extend(targets)
        for element in targets:
            if path.sub is None and not isinstance(value, dict):
                raise ScimError(400, f"a value for {path.attr!r} elements must be an object", "invalidValue")
            change = {path.sub: value} if path.sub is not None else value
            if not seeded:  # an element that existed keeps its immutable values (RFC 7643 §2.2)
                check_immutable(
                    self._rtype, (extension_urn(path, self._rtype), path.attr), element, change, self._faults
                )
            for sub, item in change.items():
                _assign(kind, element, sub, item)

    def _remove(self, path: AttrPath, value: Any) -> None:
        self._writable(path)
        node = holder(self._attributes, path, self._rtype)
        key = None if node is None else find_key(node, path.attr)
        if node is None or key is None:
            return  # removing what is absent changes nothing
        current = node[key]
        if path.filter is None and path.sub is None:
            if isinstance(value, list) and value and isinstance(current, list):
                node[key] = self._without(path, current, value)
            else:
                del node[key]
            return
        where = path.filter
        chosen = [
            element
            for element in _as_elements(current)
            if isinstance(element, dict) and (where is None or ELEMENTS.matches(where, element))
        ]
        if where is not None and not chosen and Fault.UNMATCHED_REMOVE_FILTER_CLEARS in self._faults:
            del node[key]
            return
        if path.sub is None:
            node[key] = [element for element in _as_elements(current) if all(element is not c for c in chosen)]
            return
        for element in chosen:
            check_immutable(
                self._rtype, (extension_urn(path, self._rtype), path.attr), element, {path.sub: None}, self._faults
            )
            if (sub := find_key(element, path.sub)) is not None:
                del element[sub]

    def _without(self, path: AttrPath, current: list[Any], gone: list[Any]) -> list[Any]:
        """Entra's default dialect removes members with path "members" and the members as value.

        Microsoft Learn, "Known issues and resolutions with SCIM 2.0 protocol compliance", § "Flags to alter
        the SCIM behavior", "Requests made to remove a group member".
        """
        if Fault.MEMBER_REMOVE_LIST_REMOVES_ALL in self._faults and path.attr.lower() == _MEMBERS:
            return []
        leaving = {_identity(g) for g in gone}
        return [element for element in current if _identity(element) not in leaving]


def _as_elements(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _assign(kind: str, node: Resource, name: str, value: Any) -> None:
    """add appends to multi-valued attributes; add and replace both merge into complex ones (§3.5.2.1, §3.5.2.3)."""
    key = find_key(node, name) or name
    current = node.get(key)
    if isinstance(current, list):
        values = value if isinstance(value, list) else [value]
        node[key] = _union(current, values) if kind == "add" else values
    elif isinstance(current, dict) and isinstance(value, dict):
        for sub, item in value.items():
            _assign(kind, current, sub, item)
    else:
        node[key] = value


def _union(current: list[Any], added: list[Any]) -> list[Any]:
    """Adding a value already present changes nothing: re-adding a member is a no-op."""
    result = list(current)
    present = {_identity(item) for item in result}
    for item in added:
        if (identity := _identity(item)) not in present:
            present.add(identity)
            result.append(item)
    return result


def _identity(element: Any) -> str:
    """Elements with a `value` are the same element when their values are equal (members, emails); others
    when they are equal. A string, so that adding 10,000 members is one pass, not 10,000²/2 comparisons."""
    if isinstance(element, dict) and "value" in element:
        return "value:" + json.dumps(element["value"], sort_keys=True)
    return "whole:" + json.dumps(element, sort_keys=True)


def _seed(where: Filter) -> Resource:
    """The element a filter of `eq` terms joined by `and` describes: `type eq "work"` → {"type": "work"}."""
    if isinstance(where, Compare) and where.op == "eq" and where.path == AttrPath(attr=where.path.attr):
        return {where.path.attr: where.value}
    if isinstance(where, Logical) and where.op == "and":
        return _seed(where.left) | _seed(where.right)
    raise ScimError(400, "no element matches the path filter and it does not describe one to add", "noTarget")
