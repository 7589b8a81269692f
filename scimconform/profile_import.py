"""Import an attribute mapping exported from Entra (Microsoft Graph `synchronizationSchema`) as a profile.

The export's `synchronizationRules[].objectMappings[].attributeMappings[]` name each target attribute
and its matching priority; the target directory's `objects[].attributes[]` give type and requiredness.
Which fake value stands in for each attribute is data: `fixtures/imports/generators.yaml`.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from scimconform.datafiles import data_dir
from scimconform.documents import read_text
from scimconform.errors import ConfigError

TYPES = {
    "String": "string",
    "Boolean": "boolean",
    "Integer": "integer",
    "DateTime": "datetime",
    "Reference": "reference",
}


@cache
def _generators() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((data_dir("fixtures") / "imports" / "generators.yaml").read_text())
    return data


def read_export(path: Path) -> dict[str, Any]:
    """The export's JSON; a file that is not text, not JSON or nested past Python's recursion limit is one line."""
    text = read_text(path, str(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} line {exc.lineno}: not JSON: {exc.msg}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a synchronizationSchema export") from None
    if not isinstance(data, dict) or not isinstance(data.get("synchronizationRules"), list):
        raise ConfigError(f"{path}: not a Microsoft Graph synchronizationSchema (no synchronizationRules)")
    return data


def profile_from_export(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The profile (as the YAML mapping `profiles.load_profile` reads) for an exported schema."""
    profile: dict[str, Any] = {"name": name, "title": f"Imported from Entra ({name})", "users": None, "groups": None}
    for rule in data["synchronizationRules"]:
        metadata = _target_metadata(data, rule.get("targetDirectoryName"))
        for mapping in rule.get("objectMappings") or []:
            if not mapping.get("enabled", True):
                continue
            target = str(mapping.get("targetObjectName", ""))
            kind = "Group" if target.lower().endswith("group") else "User"
            attributes = [
                a
                for a in (_attribute(m, kind, metadata.get(target, {})) for m in mapping.get("attributeMappings") or [])
                if a
            ]
            mapped: dict[str, Any] = {"attributes": attributes}
            if kind == "User":
                mapped["primary_elements"] = list(_generators()["primary_elements"])
                if any(str(m.get("targetAttributeName")) == "roles" for m in mapping.get("attributeMappings") or []):
                    # Entra's POST carries the roles it maps (Microsoft Learn, "Tutorial: Develop and plan
                    # provisioning for a SCIM endpoint", § "Create User": "roles": [] in the sample)
                    mapped["create_extras"] = {"roles": []}
            profile["users" if kind == "User" else "groups"] = mapped
    if profile["users"] is None:
        raise ConfigError(f"{name}: the export maps no users; Entra provisioning always has a user mapping")
    if profile["groups"] is None:
        del profile["groups"]
    return profile


def _target_metadata(data: dict[str, Any], directory: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """object name -> attribute name (lower case) -> its definition, for the rule's target directory."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in data.get("directories") or []:
        if entry.get("name") == directory:
            for obj in entry.get("objects") or []:
                found[str(obj.get("name"))] = {str(a.get("name", "")).lower(): a for a in obj.get("attributes") or []}
    return found


def _attribute(mapping: dict[str, Any], kind: str, metadata: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    path = str(mapping.get("targetAttributeName", ""))
    generators = _generators()
    if not path or path.lower() in generators["skip"]:
        return None
    definition = metadata.get(path.lower(), {})
    entra_type = str(definition.get("type", "String"))
    by_path = {k.lower(): v for k, v in generators[kind].items()}
    attribute: dict[str, Any] = {
        "path": path,
        "type": TYPES.get(entra_type, "string"),
        "generate": by_path.get(path.lower(), generators["types"].get(entra_type, "text")),
    }
    if int(mapping.get("matchingPriority") or 0) > 0:
        attribute["matching"] = int(mapping["matchingPriority"])
    if definition.get("required"):
        attribute["required"] = True
    return attribute
