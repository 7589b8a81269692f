"""What the server knows about Users and Groups, and how client attributes are shaped for storage.

Every rule that depends on the schema (which attribute is unique, required, boolean, a reference, or
lives in an extension) is derived from the discovery documents, so what /Schemas advertises is what
the server does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .discovery import resource_type_documents, schema_documents

Resource = dict[str, Any]

CASE_EXACT = frozenset({"id", "externalid"})
"""Lower-cased names of the common attributes compared case-sensitively (RFC 7643 §3.1)."""


def find_key(obj: Mapping[str, Any], name: str) -> str | None:
    """The stored spelling of an attribute name; names are case-insensitive (RFC 7643 §2.1)."""
    wanted = name.lower()
    return next((key for key in obj if key.lower() == wanted), None)


def get_ci(obj: Mapping[str, Any], name: str) -> Any:
    key = find_key(obj, name)
    return None if key is None else obj[key]


def is_urn(key: str) -> bool:
    return key.lower().startswith("urn:")


@dataclass(frozen=True, kw_only=True)
class ResourceType:
    """One resource type; sets of attribute names are lower-cased."""

    name: str
    endpoint: str
    schema: str
    extensions: tuple[str, ...]
    required: tuple[str, ...]
    unique: tuple[str, ...]
    booleans: frozenset[str]
    references: frozenset[str]
    """Single-valued complex attributes with a `value` (manager), which Entra may send as a bare id."""
    never_returned: frozenset[str]
    read_only: frozenset[str]
    """Attributes no client may write (RFC 7643 §2.2 mutability readOnly), the common id and meta included."""
    owners: Mapping[str, str]
    """Attribute name -> extension URN, for names only an extension defines (a bare `manager` path)."""

    def extension_of(self, attribute: str) -> str | None:
        return self.owners.get(attribute.lower())


def _resource_type(document: Mapping[str, Any], schemas: Mapping[str, Any]) -> ResourceType:
    core = schemas[document["schema"]]["attributes"]
    extensions = tuple(extension["schema"] for extension in document["schemaExtensions"])
    everything = [*core, *(a for urn in extensions for a in schemas[urn]["attributes"])]
    nested = [*everything, *(sub for a in everything for sub in a.get("subAttributes", ()))]
    core_names = {a["name"].lower() for a in core}
    return ResourceType(
        name=document["name"],
        endpoint=document["endpoint"].strip("/"),
        schema=document["schema"],
        extensions=extensions,
        required=tuple(a["name"] for a in core if a["required"]),
        unique=tuple(a["name"] for a in core if a.get("uniqueness") == "server"),
        booleans=frozenset(a["name"].lower() for a in nested if a["type"] == "boolean"),
        references=frozenset(
            a["name"].lower()
            for a in everything
            if a["type"] == "complex"
            and not a["multiValued"]
            and any(sub["name"] == "value" for sub in a.get("subAttributes", ()))
        ),
        never_returned=frozenset(a["name"].lower() for a in core if a["returned"] == "never"),
        read_only=frozenset({"id", "meta", *(a["name"].lower() for a in core if a["mutability"] == "readOnly")}),
        owners={
            a["name"].lower(): urn
            for urn in extensions
            for a in schemas[urn]["attributes"]
            if a["name"].lower() not in core_names
        },
    )


RESOURCE_TYPES: Mapping[str, ResourceType] = {
    rtype.endpoint: rtype
    for rtype in (
        _resource_type(document, {schema["id"]: schema for schema in schema_documents()})
        for document in resource_type_documents()
    )
}
"""Keyed by endpoint path segment: "Users", "Groups"."""


def schemas_of(attributes: Mapping[str, Any], rtype: ResourceType) -> list[str]:
    """The core schema plus every extension the resource holds data for (RFC 7643 §3)."""
    extensions = [key for key, value in attributes.items() if is_urn(key) and isinstance(value, dict)]
    return [rtype.schema, *extensions]


def normalize(attributes: Resource, rtype: ResourceType, *, coerce_booleans: bool) -> Resource:
    """Shape client attributes for storage, otherwise exactly as sent.

    Nulls mean "absent" (RFC 7643 §2.5); Entra's "True"/"False" strings for boolean attributes become
    booleans; a reference sent as a bare id or a one-element array (Entra's manager forms) becomes
    {"value": id}, and an empty one is removed; emptied extension objects disappear.
    """

    def clean(value: Any, name: str) -> Any:
        if name in rtype.references:
            value = _reference(value)
        if coerce_booleans and name in rtype.booleans and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, dict):
            return {k: v for k, v in ((k, clean(v, k.lower())) for k, v in value.items()) if v is not None}
        if isinstance(value, list):
            return [v for v in (clean(item, name) for item in value) if v is not None]
        return value

    cleaned: Resource = clean(attributes, "")
    return {key: value for key, value in cleaned.items() if not (is_urn(key) and value == {})}


def _reference(value: Any) -> Any:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        value = {"value": value}
    if isinstance(value, dict) and not get_ci(value, "value"):
        return None
    return value
