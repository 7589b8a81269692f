"""A step's `expect:` block, applied to its answer: each key (schemas/sequence.json, `expect`) names one check."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scimconform import checks
from scimconform.engine.templates import Templates
from scimconform.exchange import Exchange

Check = Callable[[Any, Exchange, Templates, Mapping[str, Any]], None]

# key → check(value, answer, the case's names, the whole block); `tests/test_catalogue.py` holds this to the schema.
CHECKS: dict[str, Check] = {
    "status": lambda v, x, n, e: checks.status_code(x, v if isinstance(v, list) else [v]),
    "content_type": lambda v, x, n, e: checks.content_type(x),
    "schema": lambda v, x, n, e: checks.json_schema(x, v, e.get("items")),
    "items": lambda v, x, n, e: None,  # consumed by `schema`
    "total": lambda v, x, n, e: checks.total_results(x, int(v)),
    "total_min": lambda v, x, n, e: checks.total_at_least(x, len(n.names(v))),
    "returned": lambda v, x, n, e: checks.returned_count(x, int(v)),
    "has_id": lambda v, x, n, e: checks.has_id(x),
    "id": lambda v, x, n, e: checks.resource_id(x, n.id_of(v)),
    "values": lambda v, x, n, e: checks.attribute_values(x, _expected_values(v, n)),
    "absent": lambda v, x, n, e: checks.attributes_absent(x, v),
    "members": lambda v, x, n, e: _listed_members(x, v, n),
    "headers": lambda v, x, n, e: checks.header_values(x, {k: n.tree(w) for k, w in v.items()}),
    "discoverable": lambda v, x, n, e: _discoverable(x, v, n),
    "resource_types": lambda v, x, n, e: checks.resource_types_include(x, _resource_types(v, n)),
    "grant": lambda v, x, n, e: checks.token_grant(x, float(v["min_lifetime"]), float(v["max_lifetime"])),
    "tls": lambda v, x, n, e: checks.tls_version(x, v),
    "fields": lambda v, x, n, e: checks.body_fields(x, {k: n.tree(w) for k, w in v.items()}),
}


def apply_expectations(expect: Mapping[str, Any], exchange: Exchange, names: Templates) -> None:
    """Run every check the block names, in its order; the first broken one raises CheckFailure."""
    for key, value in expect.items():
        CHECKS[key](value, exchange, names, expect)


def _listed_members(exchange: Exchange, name: str, names: Templates) -> None:
    """Exactly the group's members, when the answer lists members (the engine asks by filter when not), unless
    a refused membership PATCH left them unknown."""
    group = names.identities[name]
    if checks.lists_members(exchange) and "members" not in group.unsure:
        checks.member_values(exchange, group.members)


def _expected_values(spec: Any, names: Templates) -> dict[str, Any]:
    """What the resource must hold: the identity's values, but for those a refused request left unknown; a
    reference is compared by its `value`."""
    name = spec if isinstance(spec, str) else spec["of"]
    identity = names.identities[name]
    mapping = names.mapping(identity)
    values = {path: value for path, value in identity.values.items() if path not in identity.unsure}
    if isinstance(spec, dict) and "attrs" in spec:
        paths = {a.path for a in mapping.select(spec["attrs"])}
        values = {p: v for p, v in values.items() if p in paths}
    if isinstance(spec, dict):
        values.update({p: names.tree(v) for p, v in (spec.get("set") or {}).items()})
    references = {a.path for a in mapping.attributes if a.type == "reference"}
    return {(f"{p}.value" if p in references and v is not None else p): v for p, v in values.items()}


def _discoverable(exchange: Exchange, resource_type: str, names: Templates) -> None:
    mapping = names.profile.mapping(resource_type)
    core = f"urn:ietf:params:scim:schemas:core:2.0:{resource_type}"
    checks.schemas_cover(exchange, core, [a.path for a in mapping.attributes])


def _resource_types(spec: Any, names: Templates) -> list[str]:
    profile = names.profile
    return ["User"] + (["Group"] if profile.groups is not None else []) if spec == "profile" else list(spec)
