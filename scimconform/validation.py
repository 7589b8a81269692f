"""JSON Schema validation of SCIM messages against the documents in `schemas/`.

All schemas are registered offline (nothing is ever fetched). Errors come back as short sentences
naming the JSON path, ready to become a conformance failure.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from scimconform.datafiles import data_dir

SCHEMA_BASE = "https://scimconform.example/schemas/"


@cache
def registry() -> Registry[Any]:
    resources = []
    for path in sorted(data_dir("schemas").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        resources.append((document["$id"], Resource.from_contents(document)))
    return Registry().with_resources(resources)


@cache
def _validator(ref: str) -> Draft202012Validator:
    name, _, pointer = ref.partition("#")
    return Draft202012Validator(
        {"$ref": f"{SCHEMA_BASE}{name}.json" + (f"#{pointer}" if pointer else "")}, registry=registry()
    )


def schema_names() -> list[str]:
    return sorted(p.stem for p in data_dir("schemas").glob("*.json"))


def schema_errors(instance: Any, ref: str, prefix: str = "$") -> list[str]:
    """Every violation of schema `ref` (`user`, `user#/$defs/request`) as '<json path>: <message>'."""
    errors = sorted(_validator(ref).iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"{prefix}{e.json_path[1:]}: {e.message}" for e in errors]
