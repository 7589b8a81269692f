"""Request bodies: the provider's POST of an identity (`create`), a PATCH rendered by a dialect from the
changes a step names (`patch`), or a literal template (`json`). Rendering a PATCH also updates the identity,
so later checks expect what the provider sent.

A body has a form: the provider's own (`provider`), or one of the plainer forms a refused step falls back to
(engine/fallbacks.py) — `plain`, RFC 7644's plainest shape (a create without the provider's extra schema URIs,
`meta` and extra attributes; a PATCH in `dialects.PLAIN_RFC`), and `minimal`, a create of the required and
matching attributes alone.
"""

from __future__ import annotations

from typing import Any

from scimconform.dialects import PLAIN_RFC, Change, Dialect
from scimconform.engine.context import RunContext
from scimconform.engine.templates import Templates
from scimconform.identities import Identity, IdentityFactory
from scimconform.profiles import ObjectMapping

FORMS = ("provider", "plain", "minimal")


def render_body(spec: Any, dialect: Dialect, names: Templates, context: RunContext, form: str = "provider") -> Any:
    if spec is None:
        return None
    if "create" in spec:
        identity = names.identities[spec["create"]]
        mapping = names.mapping(identity)
        if form == "minimal":
            for attribute in mapping.attributes:
                if not attribute.required and attribute.matching is None:  # matched on: it must stay
                    identity.values.pop(attribute.path, None)  # not sent, so not expected back
        body = context.provider.create_body(mapping, identity)
        return body if form == "provider" else _plain_create(body, mapping)
    if "patch" in spec:
        return (PLAIN_RFC if form != "provider" else dialect).render(_changes(spec["patch"], names, context.factory))
    return names.tree(spec["json"])


def _plain_create(body: dict[str, Any], mapping: ObjectMapping) -> dict[str, Any]:
    """The create without what RFC 7643 does not ask for: `meta` (read-only), the provider's extra attributes,
    and schema URIs no attribute of the body belongs to."""
    plain = {k: v for k, v in body.items() if k not in ("meta", "schemas", *mapping.create_extras)}
    core = f"urn:ietf:params:scim:schemas:core:2.0:{mapping.resource_type}"
    plain["schemas"] = [core] + [uri for uri in body.get("schemas", []) if uri in plain]
    return plain


def _changes(spec: dict[str, Any], names: Templates, factory: IdentityFactory) -> list[Change]:
    changes = []
    for op, detail in spec.items():
        identity = names.identities[detail["of"]]
        if op in ("add-members", "remove-members"):
            changes.append(_member_change(op, detail, identity, names))
            continue
        values = {path: names.tree(v) for path, v in (detail.get("set") or {}).items()}
        for attribute in names.select(detail["of"], detail["attrs"], detail.get("take")) if "attrs" in detail else []:
            values[attribute.path] = (
                names.tree(detail["value"])
                if "value" in detail
                else factory.changed_value(identity, attribute.path, attribute.generate)
            )
        # "" and null clear an attribute (gallery test 16); the identity remembers it as cleared.
        identity.values.update({p: None if v in ("", None) else v for p, v in values.items()})
        changes.append(Change(op, values))
    return changes


def _member_change(op: str, detail: dict[str, Any], group: Identity, names: Templates) -> Change:
    members = [names.id_of(m) for entry in detail["members"] for m in names.names(entry)]
    if op == "add-members":
        group.members += [m for m in members if m not in group.members]
    else:
        group.members = [m for m in group.members if m not in members]
    return Change(op, dict.fromkeys(members))
