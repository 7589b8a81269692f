"""Discovery documents (RFC 7644 §4): static JSON shipped inside the package, read once."""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib.resources import files
from typing import Any

Document = dict[str, Any]


@cache
def _load(name: str) -> Any:
    return json.loads(files("scimconform.server").joinpath("data", name).read_text(encoding="utf-8"))


def schema_documents() -> list[Document]:
    """RFC 7643 §8.7.1 definitions of User, Group and EnterpriseUser."""
    documents: list[Document] = _load("schemas.json")
    return documents


def resource_type_documents() -> list[Document]:
    documents: list[Document] = _load("resource_types.json")
    return documents


def service_provider_config_document() -> Document:
    document: Document = _load("service_provider_config.json")
    return document


def located(document: Document, location: str) -> Document:
    """A copy carrying meta.location, which depends on the URL the client used to reach the server."""
    result = copy.deepcopy(document)
    result.setdefault("meta", {})["location"] = location
    return result
