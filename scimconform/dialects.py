"""How each Entra dialect puts a change on the wire as a PATCH body.

Sequences say *what* changes (replace these attributes, add those members); a dialect says *how
Entra would send it* (docs/entra-notes.md, "PATCH dialects", which gives each one's Microsoft Learn
source and marks the string "True" as inferred):

- `default` (no Tenant-URL flag): `Add`/`Replace`/`Remove`, booleans as the strings "True"/"False",
  one operation per attribute, member removal as `path: members` with a value list.
- `aadOptscim062020`: lower-case ops, real booleans; value-filtered paths keep their own operation
  while several other attributes collapse into one path-less `replace` with dotted and URN keys;
  member removal as `members[value eq "…"]`.
- `tutorial`: the tutorial's printed samples: `Replace` with a real boolean, members with `"$ref": null`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scimconform import attrpath

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass(frozen=True)
class Change:
    """An abstract change: `op` is add, replace, add-members or remove-members."""

    op: str
    values: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Dialect:
    name: str
    pascal_case: bool
    string_booleans: bool
    collapse_replace: bool
    member_ref_null: bool
    remove_members_by_filter: bool

    @property
    def traits(self) -> str:
        """What sets this dialect's PATCH bodies apart, in words a vendor can act on."""
        traits = [
            "op values Add/Replace/Remove" if self.pascal_case else "lower-case op values",
            'booleans as the strings "True"/"False"' if self.string_booleans else "real booleans",
        ]
        if self.collapse_replace:
            traits.append("several attributes in one path-less replace with dotted and URN keys")
        traits.append(
            'member removal by members[value eq "…"]'
            if self.remove_members_by_filter
            else "member removal by path members with a value list"
            + (' and "$ref": null' if self.member_ref_null else "")
        )
        return ", ".join(traits)

    def op(self, name: str) -> str:
        return name.capitalize() if self.pascal_case else name

    def value(self, value: Any) -> Any:
        if self.string_booleans and isinstance(value, bool):
            return "True" if value else "False"
        return value

    def render(self, changes: list[Change]) -> dict[str, Any]:
        operations: list[dict[str, Any]] = []
        for change in changes:
            operations += self._operations(change)
        return {"schemas": [PATCH_SCHEMA], "Operations": operations}

    def _operations(self, change: Change) -> list[dict[str, Any]]:
        if change.op in ("add-members", "remove-members"):
            return self._member_operations(change.op, list(change.values))
        op = self.op(change.op)
        filtered = {p: v for p, v in change.values.items() if attrpath.parse(p).value_filtered}
        plain = {p: v for p, v in change.values.items() if p not in filtered}
        if not self.collapse_replace:
            return [{"op": op, "path": p, "value": self.value(v)} for p, v in change.values.items()]
        # Flag dialect: an element that may not exist yet is set with `replace` on its filtered path,
        # which the server must turn into an add (docs/entra-notes.md, "PATCH dialects": Microsoft's flag sample
        # and the servers that met such requests in Entra traffic).
        operations = [{"op": "replace", "path": p, "value": self.value(v)} for p, v in filtered.items()]
        # Several attributes travel in one path-less add or replace, keyed by plain, dotted and URN paths (recorded
        # add: pond/scimitar issue 123, thomaspoignant/scim-patch issues 132 and 207).
        if len(plain) == 1:
            operations += [{"op": op, "path": p, "value": self.value(v)} for p, v in plain.items()]
        elif plain:
            operations.append({"op": op, "value": {p: self.value(v) for p, v in plain.items()}})
        return operations

    def _member_operations(self, kind: str, member_ids: list[str]) -> list[dict[str, Any]]:
        def member(member_id: str) -> dict[str, Any]:
            return {"$ref": None, "value": member_id} if self.member_ref_null else {"value": member_id}

        if kind == "add-members":
            return [{"op": self.op("add"), "path": "members", "value": [member(m) for m in member_ids]}]
        if self.remove_members_by_filter:
            return [{"op": self.op("remove"), "path": f'members[value eq "{m}"]'} for m in member_ids]
        return [{"op": self.op("remove"), "path": "members", "value": [member(m) for m in member_ids]}]


DIALECTS = {
    d.name: d
    for d in (
        Dialect(
            name="default",
            pascal_case=True,
            string_booleans=True,
            collapse_replace=False,
            member_ref_null=False,
            remove_members_by_filter=False,
        ),
        Dialect(
            name="aadOptscim062020",
            pascal_case=False,
            string_booleans=False,
            collapse_replace=True,
            member_ref_null=False,
            remove_members_by_filter=True,
        ),
        Dialect(
            name="tutorial",
            pascal_case=True,
            string_booleans=False,
            collapse_replace=False,
            member_ref_null=True,
            remove_members_by_filter=False,
        ),
    )
}

# Not Entra's: the plainest RFC 7644 §3.5.2 form (lower-case ops, one path per operation, real booleans, a member
# removed by its `members[value eq "…"]` path as in §3.5.2.2). A step the target refused in the case's dialect is
# sent once more in this form, so that one refused shape does not hide the rest of the case (engine/fallbacks.py).
PLAIN_RFC = Dialect(
    name="plain RFC 7644",
    pascal_case=False,
    string_booleans=False,
    collapse_replace=False,
    member_ref_null=False,
    remove_members_by_filter=True,
)
