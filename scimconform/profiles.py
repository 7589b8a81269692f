"""Attribute-mapping profiles: which SCIM attributes Entra sends for an app, and how it matches.

A profile is YAML in `fixtures/profiles/` (or any file the user names). It decides the body of
Entra's POST, which attributes the update cases change, and whether group cases run at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scimconform import attrpath
from scimconform.datafiles import data_dir
from scimconform.documents import load_document, validated
from scimconform.errors import ConfigError

USER_SCHEMAS = [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    # Entra lists the enterprise extension even when it sends no enterprise attribute (Microsoft Learn,
    # "Tutorial: Develop and plan provisioning for a SCIM endpoint", § "Create User").
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
]
GROUP_SCHEMAS = [
    "urn:ietf:params:scim:schemas:core:2.0:Group",
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
]

# Named attribute selections the cases use instead of naming attributes a profile may not map.
SELECTORS = ("all", "updatable", "matching", "optional", "value-filtered", "single-valued", "manager")


@dataclass(frozen=True, kw_only=True)
class Attribute:
    """One mapped target attribute."""

    path: str
    generate: str
    type: str = "string"
    matching: int | None = None
    required: bool = False

    @property
    def parsed(self) -> attrpath.AttrPath:
        return attrpath.parse(self.path)


@dataclass(frozen=True, kw_only=True)
class ObjectMapping:
    """The mapping of one object type (users or groups)."""

    resource_type: str
    attributes: tuple[Attribute, ...]
    create_extras: dict[str, Any] = field(default_factory=dict)
    primary_elements: tuple[str, ...] = ()

    @property
    def matching(self) -> Attribute:
        return self.matching_order()[0]

    def matching_order(self) -> list[Attribute]:
        """Matching attributes in Entra's precedence order (CAA "Matching precedence")."""
        return sorted((a for a in self.attributes if a.matching is not None), key=lambda a: a.matching or 0)

    def match_filter(self, values: dict[str, Any], path: str | None = None) -> str:
        """The query Entra sends to find an object: a matching attribute, eq, the value quoted."""
        matching = path or self.matching.path
        return f'{matching} eq "{values[matching]}"'

    def select(self, selector: str | list[str]) -> list[Attribute]:
        """The attributes a case's selector names, in mapping order."""
        if isinstance(selector, list):
            wanted = {p.lower() for p in selector}
            return [a for a in self.attributes if a.path.lower() in wanted]
        match selector:
            case "all":
                return list(self.attributes)
            case "matching":
                return [self.matching]
            case "updatable":
                return [a for a in self.attributes if a.matching is None and a.type == "string"]
            case "optional":
                return [a for a in self.select("updatable") if not a.required]
            case "value-filtered":
                return [a for a in self.select("updatable") if a.parsed.value_filtered]
            case "single-valued":
                # Gallery test 18 updates single-valued string, integer, dateTime and boolean attributes,
                # but not active (which has cases of its own), references or the matching attributes.
                return [
                    a
                    for a in self.attributes
                    if a.matching is None
                    and not a.parsed.value_filtered
                    and a.type in ("string", "integer", "datetime", "boolean")
                    and a.path.lower() != "active"
                ]
            case "manager":
                return [a for a in self.attributes if a.type == "reference" and a.parsed.attr.lower() == "manager"]
        raise ValueError(f"unknown attribute selector {selector!r}; known: {', '.join(SELECTORS)}")

    def create_body(self, values: dict[str, Any]) -> dict[str, Any]:
        """Entra's POST body for an object with these attribute values.

        Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint", § "Create User" and
        § "Create Group".
        """
        schemas = USER_SCHEMAS if self.resource_type == "User" else GROUP_SCHEMAS
        body: dict[str, Any] = {"schemas": list(schemas)}
        primaries = {p.lower() for p in self.primary_elements}
        # Reference attributes (manager) are set by a PATCH once the referenced object exists (Microsoft Learn,
        # "How Application Provisioning works in Microsoft Entra ID", § "Initial cycle", step 6; the PATCH itself:
        # "Tutorial: Develop and plan provisioning for a SCIM endpoint", § "Handling provisioning and
        # deprovisioning of users", example 5).
        for attribute in self.attributes:
            if attribute.path in values and attribute.type != "reference":
                parsed = attribute.parsed
                element = f'{parsed.attr}[{parsed.filter[0]} eq "{parsed.filter[1]}"]' if parsed.filter else ""
                attrpath.put(body, attribute.path, values[attribute.path], primary=element.lower() in primaries)
        body["meta"] = {"resourceType": self.resource_type}
        body.update(self.create_extras)
        return body


@dataclass(frozen=True, kw_only=True)
class Profile:
    name: str
    title: str
    users: ObjectMapping
    groups: ObjectMapping | None
    source: Path

    def mapping(self, resource_type: str) -> ObjectMapping:
        mapping = self.users if resource_type == "User" else self.groups
        if mapping is None:
            raise ValueError(f"profile {self.name} maps no {resource_type} objects")
        return mapping


def available_profiles() -> list[str]:
    return sorted(p.stem for p in (data_dir("fixtures") / "profiles").glob("*.yaml"))


def load_profile(name_or_file: str) -> Profile:
    """Load a shipped profile by name, a profile file by path, or a mapping exported from Entra (.json)."""
    path = Path(name_or_file)
    if path.suffix.lower() == ".json":
        from scimconform.profile_import import profile_from_export, read_export

        return _build(validated(profile_from_export(read_export(path), path.stem), "profile.json", path), path)
    if not path.suffix:
        path = data_dir("fixtures") / "profiles" / f"{name_or_file}.yaml"
        if not path.is_file():
            raise ConfigError(
                f"unknown profile {name_or_file!r}: choose one of {', '.join(available_profiles())} or give a file"
            )
    return _build(load_document(path, "profile.json"), path)


def _build(data: dict[str, Any], path: Path) -> Profile:
    groups = data.get("groups")
    return Profile(
        name=str(data["name"]),
        title=str(data.get("title", data["name"])),
        users=_mapping(data["users"], "User", path),
        groups=_mapping(groups, "Group", path) if groups else None,
        source=path,
    )


def _mapping(data: dict[str, Any], resource_type: str, path: Path) -> ObjectMapping:
    if not any("matching" in item for item in data["attributes"]):
        raise ConfigError(
            f"{path}: field {resource_type.lower()}s.attributes: no attribute is marked matching; "
            "Entra needs one to find existing objects"
        )
    return ObjectMapping(
        resource_type=resource_type,
        attributes=tuple(Attribute(**item) for item in data["attributes"]),
        create_extras=dict(data.get("create_extras") or {}),
        primary_elements=tuple(data.get("primary_elements") or ()),
    )
