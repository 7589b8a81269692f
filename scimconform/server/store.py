"""In-memory resources behind one lock: ids, meta, uniqueness, group membership."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import ScimError
from .faults import Fault
from .filters import Compare, Evaluator, Filter, Logical
from .patch import apply_patch
from .resources import CASE_EXACT, RESOURCE_TYPES, Resource, ResourceType, find_key, get_ci, normalize, schemas_of
from .validation import check_values, without_read_only

_BY_NAME = {rtype.name: rtype for rtype in RESOURCE_TYPES.values()}
_SERVER_OWNED = frozenset({"id", "meta", "schemas"})
_UNIQUENESS_FAULTS = {"User": Fault.DUPLICATE_USERNAME_ACCEPTED, "Group": Fault.DUPLICATE_DISPLAYNAME_ACCEPTED}


_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"


def _numbers_as_strings(value: Any) -> Any:
    """The fault number-stored-as-string: every integer becomes its text (booleans stay booleans)."""
    if isinstance(value, dict):
        return {key: _numbers_as_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers_as_strings(item) for item in value]
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _narrowed(attributes: Resource, faults: frozenset[Fault]) -> Resource:
    """The faults of servers that keep less of a user than Entra sends: one email, a phone list without the fax,
    structured addresses without their formatted text."""
    kept = dict(attributes)
    emails, phones, addresses = (find_key(kept, name) for name in ("emails", "phoneNumbers", "addresses"))
    if Fault.OTHER_EMAIL_DROPPED in faults and emails and isinstance(kept[emails], list):
        kept[emails] = [e for e in kept[emails] if not isinstance(e, dict) or get_ci(e, "type") != "other"]
    if Fault.FAX_NUMBER_DROPPED in faults and phones and isinstance(kept[phones], list):
        kept[phones] = [p for p in kept[phones] if not isinstance(p, dict) or get_ci(p, "type") != "fax"]
    if Fault.ADDRESS_FORMATTED_DROPPED in faults and addresses and isinstance(kept[addresses], list):
        kept[addresses] = [
            {k: v for k, v in a.items() if k.lower() != "formatted"} if isinstance(a, dict) else a
            for a in kept[addresses]
        ]
    return kept


def _now(later_by: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + later_by).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(kw_only=True)
class _Entry:
    id: str
    created: str
    modified: str
    attributes: Resource
    """Client-owned attributes only; id, meta and schemas are the server's."""
    folded: dict[str, str] = field(default_factory=dict)
    """The unique attributes (userName, displayName) case-folded, as the store's index holds them."""
    members: frozenset[str] = frozenset()
    """The ids this resource lists under `members`, as the store's reverse index holds them."""


class Store:
    """Every method takes the lock and returns fresh copies, so callers never share mutable state."""

    def __init__(self, faults: frozenset[Fault]) -> None:
        self._faults = faults
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, _Entry]] = {rtype.name: {} for rtype in RESOURCE_TYPES.values()}
        self._unique: dict[tuple[str, str, str], dict[str, None]] = {}
        """(type, unique attribute, folded value) -> ids holding it, so Entra's match queries and the
        uniqueness check cost the same with 10 or 100,000 resources."""
        self._holders: dict[str, dict[tuple[str, str], None]] = {}
        """member id -> (type, id) of every resource listing it, so a delete finds its memberships at once."""
        self._retired: set[tuple[str, str, str]] = set()
        """Unique values of deleted resources, kept only under the fault deleted-username-reserved."""
        username_exact = {"username"} if Fault.FILTER_USERNAME_CASE_SENSITIVE in faults else set()
        self._case_exact = CASE_EXACT | username_exact

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {name: len(entries) for name, entries in self._entries.items()}

    def create(self, rtype: ResourceType, body: Resource) -> Resource:
        if Fault.UNKNOWN_SCHEMA_URI_REFUSED in self._faults:
            unknown = [uri for uri in body.get("schemas") or [] if uri not in (rtype.schema, *rtype.extensions)]
            if unknown:
                raise ScimError(400, f"unknown schema {unknown[0]}", "invalidValue")
        with self._lock:
            attributes = self._prepare(rtype, body, None)
            now = _now()
            stamped_apart = Fault.LAST_MODIFIED_DIFFERS_AT_CREATE in self._faults
            modified = _now(timedelta(milliseconds=1)) if stamped_apart else now
            entry = _Entry(id=uuid.uuid4().hex, created=now, modified=modified, attributes=attributes)
            self._entries[rtype.name][entry.id] = entry
            self._index(rtype.name, entry)
            return self._render(rtype, entry)

    def get(self, rtype: ResourceType, rid: str) -> Resource | None:
        with self._lock:
            entry = self._entries[rtype.name].get(rid)
            return None if entry is None or self._hidden(entry) else self._render(rtype, entry)

    def search(self, rtype: ResourceType, where: Filter | None, first: int, count: int) -> tuple[int, list[Resource]]:
        """The number of matches, and the `count` of them from 0-based `first` in creation order; only
        that page is copied out."""
        names_exact = Fault.FILTER_ATTRIBUTE_CASE_SENSITIVE in self._faults
        evaluator = Evaluator(rtype, self._case_exact, names_exact=names_exact)
        with self._lock:
            found = [
                entry
                for entry in self._candidates(rtype, where)
                if not self._hidden(entry) and (where is None or evaluator.matches(where, self._view(rtype, entry)))
            ]
            return len(found), [self._render(rtype, entry) for entry in found[first : first + count]]

    def _candidates(self, rtype: ResourceType, where: Filter | None) -> Collection[_Entry]:
        """The entries a filter can match. Entra's own queries (`id eq`, `userName eq`, `displayName eq`)
        narrow to a few without building a view of every resource, and so does an `and` with one of them
        (`id eq "…" and manager eq "…"`); the evaluator still decides."""
        entries = self._entries[rtype.name]
        if isinstance(where, Logical) and where.op == "and":
            return min(self._candidates(rtype, where.left), self._candidates(rtype, where.right), key=len)
        if not isinstance(where, Compare) or where.op != "eq" or not isinstance(where.value, str):
            return entries.values()
        path = where.path
        if path.schema is not None or path.filter is not None or path.sub is not None:
            return entries.values()
        if path.attr.lower() == "id":
            return [entries[where.value]] if where.value in entries else []
        name = path.attr.lower()
        if name not in {u.lower() for u in rtype.unique} or name in self._case_exact:
            return entries.values()
        ids = self._unique.get((rtype.name, name, where.value.casefold()), {})
        if len(ids) > 1:  # duplicates exist only under a uniqueness fault; keep creation order
            return [entry for entry in entries.values() if entry.id in ids]
        return [entries[rid] for rid in ids]

    @staticmethod
    def _view(rtype: ResourceType, entry: _Entry) -> Resource:
        """What a filter sees, without copying: the stored attributes plus id and meta."""
        meta = {"resourceType": rtype.name, "created": entry.created, "lastModified": entry.modified}
        return {"id": entry.id, **entry.attributes, "meta": meta}

    def replace(self, rtype: ResourceType, rid: str, body: Resource) -> Resource:
        with self._lock:
            entry = self._find(rtype, rid)
            self._store(rtype, entry, self._prepare(rtype, body, rid))
            chosen = body.get("id")
            if Fault.PUT_HONOURS_CLIENT_ID in self._faults and isinstance(chosen, str) and chosen != rid:
                self._rekey(rtype, entry, chosen)
            return self._render(rtype, entry)

    def patch(self, rtype: ResourceType, rid: str, body: Resource) -> Resource:
        """All operations apply to a copy, so a failing operation leaves the resource untouched (RFC 7644 §3.5.2)."""
        with self._lock:
            entry = self._find(rtype, rid)
            stored, copied = entry.attributes, copy.deepcopy(entry.attributes)
            # The fault patch-not-atomic edits the stored attributes in place; the copy is then what it started from.
            attributes, before = (copied, stored) if Fault.PATCH_NOT_ATOMIC not in self._faults else (stored, copied)
            apply_patch(attributes, body, rtype, self._faults)
            self._store(rtype, entry, self._prepare(rtype, attributes, rid, before=before))
            if Fault.ID_CHANGES_ON_PATCH in self._faults:
                self._rekey(rtype, entry, uuid.uuid4().hex)
            return self._render(rtype, entry)

    def _rekey(self, rtype: ResourceType, entry: _Entry, new_id: str) -> None:
        """Give the entry another id: what a server that lets ids change does (only under a fault)."""
        entries = self._entries[rtype.name]
        self._unindex(rtype.name, entry)
        del entries[entry.id]
        entry.id = new_id
        entries[entry.id] = entry
        self._index(rtype.name, entry)

    def delete(self, rtype: ResourceType, rid: str) -> Resource:
        """Removes the resource and every group membership that points at it."""
        with self._lock:
            entry = self._find(rtype, rid)
            if Fault.DISABLED_USER_DELETE_REFUSED in self._faults and get_ci(entry.attributes, "active") is False:
                raise ScimError(404, f"{rtype.name} {rid} is disabled")  # a soft delete taken for a delete
            if not (rtype.name == "User" and Fault.DELETED_USER_STILL_RETURNED in self._faults):
                if Fault.DELETED_USERNAME_RESERVED in self._faults:
                    self._retired.update((rtype.name, name, folded) for name, folded in entry.folded.items())
                self._unindex(rtype.name, entry)
                del self._entries[rtype.name][rid]
                self._drop_memberships(rid)
            return self._render(rtype, entry)

    def _store(self, rtype: ResourceType, entry: _Entry, attributes: Resource) -> None:
        self._unindex(rtype.name, entry)
        entry.attributes = attributes
        entry.modified = _now()
        self._index(rtype.name, entry)

    def _index(self, kind: str, entry: _Entry) -> None:
        """Records the entry's folded unique values and its members; the inverse of `_unindex`."""
        rtype = _BY_NAME[kind]
        entry.folded = {}
        for name in rtype.unique:
            value = get_ci(entry.attributes, name)
            if isinstance(value, str):
                entry.folded[name.lower()] = value.casefold()
                self._unique.setdefault((kind, name.lower(), value.casefold()), {})[entry.id] = None
        entry.members = frozenset(_member_ids(entry.attributes))
        for member in entry.members:
            self._holders.setdefault(member, {})[(kind, entry.id)] = None

    def _unindex(self, kind: str, entry: _Entry) -> None:
        for name, folded in entry.folded.items():
            ids = self._unique.get((kind, name, folded), {})
            ids.pop(entry.id, None)
            if not ids:
                self._unique.pop((kind, name, folded), None)
        for member in entry.members:
            holders = self._holders.get(member, {})
            holders.pop((kind, entry.id), None)
            if not holders:
                self._holders.pop(member, None)

    def _find(self, rtype: ResourceType, rid: str) -> _Entry:
        entry = self._entries[rtype.name].get(rid)
        if entry is None:
            raise ScimError(404, f"{rtype.name} {rid!r} not found")
        return entry

    def _hidden(self, entry: _Entry) -> bool:
        return Fault.SOFT_DELETED_HIDDEN in self._faults and get_ci(entry.attributes, "active") is False

    def _render(self, rtype: ResourceType, entry: _Entry) -> Resource:
        shown = Fault.PASSWORD_RETURNED in self._faults
        attributes = {
            key: copy.deepcopy(value)
            for key, value in entry.attributes.items()
            if shown or key.lower() not in rtype.never_returned
        }
        type_name = rtype.endpoint if Fault.META_RESOURCE_TYPE_PLURAL in self._faults else rtype.name
        return {
            "schemas": schemas_of(attributes, rtype),
            "id": entry.id,
            **attributes,
            "meta": {"resourceType": type_name, "created": entry.created, "lastModified": entry.modified},
        }

    def _prepare(
        self, rtype: ResourceType, body: Resource, rid: str | None, *, before: Resource | None = None
    ) -> Resource:
        """The client's attributes as stored, refused unless each value fits its type and the required, unique and
        member rules hold. `before`: what a PATCH started from. A PATCH that leaves a required attribute unassigned
        breaks its mutability (RFC 7644 §3.5.2.2); a POST or PUT without it sends an invalid value (§3.12)."""
        sent = without_read_only({k: v for k, v in body.items() if k.lower() not in _SERVER_OWNED}, rtype, self._faults)
        check_values(sent, rtype, self._faults, before)
        attributes = normalize(sent, rtype, coerce_booleans=Fault.FALSE_STRING_STORED not in self._faults)
        if Fault.ENTERPRISE_EXTENSION_DROPPED in self._faults:
            attributes = {key: value for key, value in attributes.items() if key.lower() != _ENTERPRISE}
        if Fault.NUMBER_STORED_AS_STRING in self._faults:
            attributes = _numbers_as_strings(attributes)
        attributes = _narrowed(attributes, self._faults)
        username = find_key(attributes, "userName")
        if Fault.USERNAME_TRANSFORMED in self._faults and username and isinstance(attributes[username], str):
            attributes[username] = attributes[username].lower()
        for name in rtype.required:
            value = get_ci(attributes, name)
            if isinstance(value, str) and value.strip():
                continue
            if before is not None and (value is None or isinstance(value, str)):
                if Fault.REQUIRED_REMOVE_ACCEPTED in self._faults:
                    continue
                raise ScimError(400, f"{name} is required: a PATCH may not leave it unassigned", "mutability")
            raise ScimError(400, f"{name} is required and must be a non-empty string", "invalidValue")
        unchecked = before is not None and Fault.UNIQUENESS_UNCHECKED_ON_PATCH in self._faults
        if _UNIQUENESS_FAULTS.get(rtype.name) not in self._faults and not unchecked:
            self._check_unique(rtype, attributes, rid)
        self._check_members(attributes)
        return attributes

    def _check_unique(self, rtype: ResourceType, attributes: Resource, rid: str | None) -> None:
        """Entra matches on userName and displayName, so both are unique case-insensitively.

        Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint", § "Understand the
        Microsoft Entra SCIM implementation" (users are queried by userName, groups by displayName) and
        § "/Groups" (displayName must be unique); RFC 7643 §4.1.1 (userName is case-insensitive).
        """
        for name in rtype.unique:
            value = get_ci(attributes, name)
            holders = (
                self._unique.get((rtype.name, name.lower(), value.casefold()), {}) if isinstance(value, str) else {}
            )
            retired = isinstance(value, str) and (rtype.name, name.lower(), value.casefold()) in self._retired
            if retired or any(other != rid for other in holders):
                raise ScimError(409, f"a {rtype.name} with {name} {value!r} already exists", "uniqueness")

    def _check_members(self, attributes: Resource) -> None:
        members = get_ci(attributes, "members")
        if members is None:
            return
        if not isinstance(members, list):
            raise ScimError(400, "members must be a list", "invalidValue")
        for member in members:
            value: Any = get_ci(member, "value") if isinstance(member, dict) else None
            if not isinstance(value, str) or not any(value in entries for entries in self._entries.values()):
                raise ScimError(400, f"member {value!r} is not an existing resource id", "invalidValue")

    def _drop_memberships(self, rid: str) -> None:
        for kind, holder_id in list(self._holders.get(rid, {})):
            holder = self._entries[kind][holder_id]
            key = find_key(holder.attributes, "members")
            assert key is not None, "the index lists only resources with members"
            kept = [member for member in holder.attributes[key] if get_ci(member, "value") != rid]
            self._store(_BY_NAME[kind], holder, {**holder.attributes, key: kept})


def _member_ids(attributes: Resource) -> Iterable[str]:
    members = get_ci(attributes, "members")
    if isinstance(members, list):
        for member in members:
            value = get_ci(member, "value") if isinstance(member, dict) else None
            if isinstance(value, str):
                yield value
