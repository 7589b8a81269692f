"""Request shapes: what a request looks like with its values taken out, to tell what a recording holds that
the bundled cases never send.

A shape is one line in one category — `patch-op`: `Replace emails[type eq …].value (string)`; `query`:
`filter userName eq`; `attribute`: `User name.givenName`; `header`: `content-type: application/scim+json;
charset=utf-8`. What the bundled cases send is `fixtures/traffic/bundled-shapes.json`, the shapes of a default
run against the embedded reference server (tests/test_record.py checks that it is still so; regenerate it with
`python -m scimconform.traffic.shapes HAR`, from a HAR of `scimconform run --throughput-seconds 0 --har HAR`).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scimconform.datafiles import data_dir
from scimconform.traffic.recording import Recorded, read_har

CATEGORIES = {
    "request": "Requests (method and endpoint)",
    "patch-op": "PATCH operations (op as spelled, path form, value type)",
    "patch-value-key": "Keys of path-less PATCH values",
    "attribute": "Attributes in POST and PUT bodies",
    "query": "Query forms (filter attribute and operator, other parameters)",
    "header": "Request headers",
}
# Headers every HTTP client sends in its own way; their presence says nothing about the provider.
_ORDINARY_HEADERS = frozenset(
    {"host", "content-length", "connection", "accept-encoding", "user-agent", "authorization", "cookie"}
)
_VALUED_HEADERS = ("content-type", "accept")  # their value matters (a charset parameter, a media type)
_COMPARISON = re.compile(r"([A-Za-z][\w.:$-]*)\s+(eq|ne|co|sw|ew|gt|ge|lt|le|pr)\b", re.IGNORECASE)
_LOGICAL = re.compile(r"\s(and|or)\s|^\s*(not)\s*\(", re.IGNORECASE)
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_ATTRIBUTE_LISTS = ("attributes", "excludedattributes", "sortby", "sortorder")


def bundled_shapes_file() -> Path:
    return data_dir("fixtures") / "traffic" / "bundled-shapes.json"


def load_bundled() -> dict[str, set[str]]:
    data = json.loads(bundled_shapes_file().read_text(encoding="utf-8"))
    return {category: set(data.get(category, [])) for category in CATEGORIES}


def shapes(recorded: list[Recorded]) -> dict[str, dict[str, Recorded]]:
    """Each category's shapes, each with the first exchange that has it."""
    found: dict[str, dict[str, Recorded]] = {category: {} for category in CATEGORIES}
    for exchange in recorded:
        if exchange.path is None:
            continue
        for category, shape in _shapes_of(exchange):
            found[category].setdefault(shape, exchange)
    return found


def _shapes_of(exchange: Recorded) -> Iterator[tuple[str, str]]:
    segments = exchange.segments
    endpoint = "/".join([segments[0], *("{id}" if s != ".search" else s for s in segments[1:])]) if segments else ""
    yield "request", f"{exchange.method} /{endpoint}"
    for name, value in exchange.query:
        if name.lower() == "filter":
            yield from (
                ("query", f"filter {attr} {op.lower()}") for attr, op in _COMPARISON.findall(_QUOTED.sub('""', value))
            )
            yield from (
                ("query", f"filter {next(w for w in m if w).lower()}")
                for m in _LOGICAL.findall(_QUOTED.sub('""', value))
            )
        elif name.lower() in _ATTRIBUTE_LISTS:
            yield "query", f"{name}={value}"
        else:
            yield "query", name
    for name, value in exchange.request_headers.items():
        if name not in _ORDINARY_HEADERS:
            yield "header", f"{name}: {value.lower()}" if name in _VALUED_HEADERS else name
    body = exchange.request_json()
    if exchange.method == "PATCH" and isinstance(body, dict):
        yield from _patch_shapes(body)
    elif exchange.method in ("POST", "PUT") and isinstance(body, dict) and segments:
        yield from (("attribute", f"{segments[0]} {path}") for path in _paths(body, ""))


def _patch_shapes(body: dict[str, Any]) -> Iterator[tuple[str, str]]:
    operations = body.get("Operations", body.get("operations"))
    for operation in operations if isinstance(operations, list) else []:
        if not isinstance(operation, dict):
            continue
        op, path, value = operation.get("op"), operation.get("path"), operation.get("value")
        form = _QUOTED.sub("…", path) if isinstance(path, str) else "(no path)"
        yield "patch-op", f"{op} {form} ({_kind(value)})"
        if path is None and isinstance(value, dict):
            yield from (("patch-value-key", f"{op} {key} ({_kind(item)})") for key, item in value.items())


def _paths(node: Any, prefix: str) -> Iterator[str]:
    """Attribute paths of a body, lists folded (`emails.value`)."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict | list) and value:
                yield from _paths(value, path)
            else:
                yield path
    elif isinstance(node, list):
        for item in node:
            yield from _paths(item, prefix) if isinstance(item, dict) else [prefix]


def _kind(value: Any) -> str:
    """A JSON value's type, as JSON names it (RFC 8259 §3)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {str: "string", int: "number", float: "number", list: "array", dict: "object"}.get(type(value), "?")


def shape_document(recorded: list[Recorded]) -> dict[str, list[str]]:
    """The shapes of a recording as `bundled-shapes.json` stores them."""
    return {category: sorted(found) for category, found in shapes(recorded).items()}


if __name__ == "__main__":  # python -m scimconform.traffic.shapes HAR > fixtures/traffic/bundled-shapes.json
    sys.stdout.write(json.dumps(shape_document(read_har(Path(sys.argv[1]), "HAR")), indent=2) + "\n")
