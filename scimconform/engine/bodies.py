"""Request bodies: the provider's POST of an identity (`create`), a PATCH rendered by a dialect from the
changes a step names (`patch`), or a literal template (`json`). Rendering a PATCH also updates the identity,
so later checks expect what the provider sent."""

from __future__ import annotations

from typing import Any

from scimconform.dialects import Change, Dialect
from scimconform.engine.context import RunContext
from scimconform.engine.templates import Templates
from scimconform.identities import IdentityFactory


def render_body(spec: Any, dialect: Dialect, names: Templates, context: RunContext) -> Any:
    if spec is None:
        return None
    if "create" in spec:
        identity = names.identities[spec["create"]]
        return context.provider.create_body(names.mapping(identity), identity)
    if "patch" in spec:
        return dialect.render(_changes(spec["patch"], names, context.factory))
    return names.tree(spec["json"])


def _changes(spec: dict[str, Any], names: Templates, factory: IdentityFactory) -> list[Change]:
    changes = []
    for op, detail in spec.items():
        identity = names.identities[detail["of"]]
        if op in ("add-members", "remove-members"):
            members = [names.id_of(m) for entry in detail["members"] for m in names.names(entry)]
            if op == "add-members":
                identity.members += [m for m in members if m not in identity.members]
            else:
                identity.members = [m for m in identity.members if m not in members]
            changes.append(Change(op, dict.fromkeys(members)))
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
