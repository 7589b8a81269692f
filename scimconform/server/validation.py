"""Attribute values checked against the server's own /Schemas definitions before anything is stored.

RFC 7643 §2.3 defines each type and §2.4 multi-valued attributes; a value that does not fit is answered 400
invalidValue (RFC 7644 §3.12: "the value specified was not compatible with the operation or attribute type").
Entra's documented departures stay accepted: every one is in LENIENCIES. Attributes no schema defines are stored
as sent.

Mutability (RFC 7643 §2.2), as /Schemas declares it:
- readOnly values in a POST, PUT or PATCH result are dropped, not stored (`without_read_only`): "Any values provided
  SHALL be ignored" (RFC 7644 §3.3, §3.5.1). That is a User's groups and the enterprise manager's displayName; id
  and meta the store drops itself, and a PATCH naming a readOnly attribute is refused earlier (patch.py).
- immutable values already set are not changed (`check_immutable`): "The attribute SHALL NOT be updated" (RFC 7643
  §2.2), so a PATCH that changes one fails with 400 mutability (RFC 7644 §3.5.2, §3.12). The only immutable
  attributes served are the sub-attributes of a Group's members (RFC 7643 §8.7.1); a PATCH reaches them through a
  value-filtered path (members[value eq "…"].value). Elements of a multi-valued attribute have no identity but
  their value, so a PUT's members list, or an add or remove of members, replaces elements instead of updating them:
  members itself is readWrite.

Deliberately not enforced:
- canonicalValues: RFC 7643 §7 calls them "suggested canonical values that MAY be used" and lets a service provider
  "ignore unsupported values"; nothing obliges it to refuse others, so no case could fault a server that stores
  them, and a check here would have no fault a case proves. Entra sends only canonical types (work, other, mobile,
  fax) in its default mapping, but an administrator may map any type in the attribute list editor.
- password while /ServiceProviderConfig says changePassword.supported false: RFC 7643 §5 defines that flag only as
  "whether or not the operation is supported", and neither RFC says what a service provider answers to a password
  it was sent anyway. RFC 7643 §4.1.1 asks only that the password is never returned (ENTRA-RFC-017, fault
  password-returned) and is hashed if kept (not observable through the API). Entra sends password only when an
  administrator maps it, often on create alone, so the server accepts it, keeps it and never returns it; refusing
  it would break such a mapping and no RFC sentence asks for that.
"""

from __future__ import annotations

import base64
import binascii
import re
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from .discovery import schema_documents
from .errors import ScimError
from .faults import Fault
from .resources import Resource, ResourceType, get_ci, is_urn

Definition = Mapping[str, Any]
"""One attribute's definition as /Schemas serves it (RFC 7643 §7)."""


def _boolean_text(definition: Definition, value: Any) -> bool:
    return definition["type"] == "boolean" and isinstance(value, str) and value.lower() in ("true", "false")


def _bare_reference(definition: Definition, value: Any) -> bool:
    """The referenced id alone, or a one-element array of it: resources.normalize makes {"value": id} of it."""
    named = any(sub["name"] == "value" for sub in definition.get("subAttributes", ()))
    single = value[0] if isinstance(value, list) and len(value) == 1 else value
    shaped = isinstance(single, str) or (isinstance(value, list) and isinstance(single, dict)) or value == []
    return definition["type"] == "complex" and not definition["multiValued"] and named and shaped


@dataclass(frozen=True)
class Leniency:
    """A value RFC 7643 does not allow, accepted because Entra is documented to send it."""

    accepts: Callable[[Definition, Any], bool]
    source: str


LENIENCIES: tuple[Leniency, ...] = (
    Leniency(
        _boolean_text,
        'Booleans as the strings "True"/"False": Microsoft Learn, "Known issues and resolutions with SCIM 2.0 '
        'protocol compliance", § "Flags to alter the SCIM behavior" (the samples without the flag send '
        '"active": "False"); "True" is inferred (docs/entra-notes.md, "PATCH dialects").',
    ),
    Leniency(
        _bare_reference,
        "A single-valued complex attribute with a value sub-attribute (the enterprise manager) sent as the bare "
        'id or a one-element array: Microsoft Learn, "Known issues and resolutions with SCIM 2.0 protocol '
        'compliance", § "Flags to alter the SCIM behavior" (the manager samples), and "Tutorial: Develop and plan '
        'provisioning for a SCIM endpoint", § "Handling provisioning and deprovisioning of users", example 5.',
    ),
)
"""Entra's departures from RFC 7643 types that the server accepts; nothing else is let through."""

_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")


def _is_datetime(value: Any) -> bool:
    """An xsd:dateTime (RFC 7643 §2.3.5), e.g. 2008-01-23T04:56:22Z, with a real date and time."""
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_base64(value: Any) -> bool:
    """binary is base64-encoded (RFC 7643 §2.3.6)."""
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        return False
    return isinstance(value, str)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_TYPES: Mapping[str, tuple[Callable[[Any], bool], Fault]] = {
    "string": (lambda value: isinstance(value, str), Fault.STRING_NOT_VALIDATED),
    "reference": (lambda value: isinstance(value, str), Fault.STRING_NOT_VALIDATED),
    "binary": (_is_base64, Fault.STRING_NOT_VALIDATED),
    "boolean": (lambda value: isinstance(value, bool), Fault.BOOLEAN_NOT_VALIDATED),
    "integer": (_is_integer, Fault.NUMBER_NOT_VALIDATED),
    "decimal": (lambda value: _is_integer(value) or isinstance(value, float), Fault.NUMBER_NOT_VALIDATED),
    "dateTime": (_is_datetime, Fault.DATETIME_NOT_VALIDATED),
}
"""Each RFC 7643 §2.3 scalar type: its test, and the fault that switches the test off."""


@cache
def _resource_definitions(schema: str, extensions: tuple[str, ...]) -> dict[str, Definition]:
    """Lower-cased name -> definition: the core attributes, and each extension as a complex attribute keyed by
    its URN (RFC 7643 §3.3)."""
    by_id = {document["id"]: document for document in schema_documents()}
    fields = {a["name"].lower(): a for a in by_id[schema]["attributes"]}
    for urn in extensions:
        extension = {"name": urn, "type": "complex", "multiValued": False}
        fields[urn.lower()] = extension | {"subAttributes": by_id[urn]["attributes"]}
    return fields


def check_values(attributes: Resource, rtype: ResourceType, faults: frozenset[Fault], before: Resource | None) -> None:
    """Refuses the first value that does not fit its definition, unless the fault for that rule is on.

    `before` is what a PATCH started from: only the values it changed are judged, the rest were judged when
    they were written (the result of a PATCH must be a valid resource, RFC 7644 §3.5.2).
    """
    _Checker(faults).fields(attributes, _resource_definitions(rtype.schema, rtype.extensions), before, "")


class _Checker:
    def __init__(self, faults: frozenset[Fault]) -> None:
        self._faults = faults

    def fields(self, obj: Resource, definitions: Mapping[str, Definition], before: Any, where: str) -> None:
        for key, value in obj.items():
            definition = definitions.get(key.lower())
            previous = get_ci(before, key) if isinstance(before, dict) else None
            if definition is not None and (previous is None or previous != value):
                self._value(value, definition, previous, where + key)

    def _value(self, value: Any, definition: Definition, previous: Any, where: str) -> None:
        if value is None or any(leniency.accepts(definition, value) for leniency in LENIENCIES):
            return  # null is unassigned (RFC 7643 §2.5)
        if definition["multiValued"] != isinstance(value, list):
            shape = "an array" if definition["multiValued"] else "a single value, not an array"
            self._refuse(value, Fault.MULTI_VALUED_NOT_ENFORCED, f"{where} takes {shape} (RFC 7643 §2.4)")
        elif isinstance(value, list):
            for item in value:
                self._single(item, definition, None, where)
        else:
            self._single(value, definition, previous, where)

    def _single(self, value: Any, definition: Definition, previous: Any, where: str) -> None:
        kind = definition["type"]
        if value is None:
            return
        if kind != "complex":
            test, fault = _TYPES[kind]
            if not test(value):
                self._refuse(value, fault, f"{where} must be of type {kind} (RFC 7643 §2.3)")
        elif not isinstance(value, dict):
            self._refuse(value, Fault.COMPLEX_NOT_ENFORCED, f"{where} is complex: it takes an object (RFC 7643 §2.3.8)")
        else:
            subs = {sub["name"].lower(): sub for sub in definition.get("subAttributes", ())}
            self.fields(value, subs, previous, where + (":" if is_urn(definition["name"]) else "."))

    def _refuse(self, value: Any, fault: Fault, detail: str) -> None:
        """400 invalidValue (RFC 7644 §3.12), unless the fault for this rule is on."""
        if fault not in self._faults:
            raise ScimError(400, f"{detail}, not {reprlib.repr(value)}", "invalidValue")


def without_read_only(attributes: Resource, rtype: ResourceType, faults: frozenset[Fault]) -> Resource:
    """A copy without the values /Schemas declares readOnly, at any depth: "the attribute SHALL NOT be modified"
    (RFC 7643 §2.2) and any values provided "SHALL be ignored" (RFC 7644 §3.3, §3.5.1). Under the fault
    readonly-stored, everything as sent."""
    if Fault.READONLY_STORED in faults:
        return attributes
    return _writable(attributes, _resource_definitions(rtype.schema, rtype.extensions))


def _writable(obj: Mapping[str, Any], definitions: Mapping[str, Definition]) -> Resource:
    kept: Resource = {}
    for key, value in obj.items():
        definition = definitions.get(key.lower())
        if definition is not None and definition.get("mutability") == "readOnly":
            continue
        if definition is not None and definition["type"] == "complex":
            subs = {sub["name"].lower(): sub for sub in definition.get("subAttributes", ())}
            items = value if isinstance(value, list) else [value]
            written = [_writable(item, subs) if isinstance(item, dict) else item for item in items]
            value = written if isinstance(value, list) else written[0]
        kept[key] = value
    return kept


def check_immutable(
    rtype: ResourceType,
    path: tuple[str | None, str],
    element: Mapping[str, Any],
    change: Resource,
    faults: frozenset[Fault],
) -> None:
    """Refuses a change to an immutable sub-attribute of an existing element that already holds a value (a
    member's value, display, type or $ref): it "SHALL NOT be updated" (RFC 7643 §2.2), and a PATCH that tries
    fails with 400 mutability (RFC 7644 §3.5.2, §3.12), unless the fault immutable-changed is on. Setting one that
    has no value is allowed (RFC 7644 §3.5.2: a client "MAY "add" a value to an "immutable" attribute if the
    attribute had no previous value"). `path` is the (extension URN or None, attribute) holding the element;
    `change` maps sub-attribute names to their new values, None for removed."""
    urn, attribute = path
    fields = _resource_definitions(rtype.schema, rtype.extensions)
    if urn is not None:
        fields = {a["name"].lower(): a for a in fields.get(urn.lower(), {}).get("subAttributes", ())}
    subs = {sub["name"].lower(): sub for sub in fields.get(attribute.lower(), {}).get("subAttributes", ())}
    for name, value in change.items():
        current = get_ci(element, name)
        if subs.get(name.lower(), {}).get("mutability") != "immutable" or current is None or current == value:
            continue
        if Fault.IMMUTABLE_CHANGED not in faults:
            detail = f"{attribute}.{name} is immutable: it holds {reprlib.repr(current)} and cannot be changed"
            raise ScimError(400, detail, "mutability")
