"""In-memory resources behind one lock: ids, meta, uniqueness, group membership."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import ScimError
from .faults import Fault
from .filters import Compare, Evaluator, Filter
from .patch import apply_patch
from .resources import CASE_EXACT, RESOURCE_TYPES, Resource, ResourceType, find_key, get_ci, normalize, schemas_of

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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class _Entry:
    id: str
    created: str
    modified: str
    attributes: Resource
    """Client-owned attributes only; id, meta and schemas are the server's."""
    folded: dict[str, str | None] = field(default_factory=dict)
    """The unique attributes (userName, displayName) case-folded, kept so Entra's match queries and the
    uniqueness check compare one string per resource instead of searching its attributes."""

    def store(self, attributes: Resource, unique: tuple[str, ...]) -> None:
        self.attributes = attributes
        self.folded = {name.lower(): _folded(get_ci(attributes, name)) for name in unique}


class Store:
    """Every method takes the lock and returns fresh copies, so callers never share mutable state."""

    def __init__(self, faults: frozenset[Fault]) -> None:
        self._faults = faults
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, _Entry]] = {rtype.name: {} for rtype in RESOURCE_TYPES.values()}
        username_exact = {"username"} if Fault.FILTER_USERNAME_CASE_SENSITIVE in faults else set()
        self._case_exact = CASE_EXACT | username_exact

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {name: len(entries) for name, entries in self._entries.items()}

    def create(self, rtype: ResourceType, body: Resource) -> Resource:
        with self._lock:
            attributes = self._prepare(rtype, body, None)
            now = _now()
            entry = _Entry(uuid.uuid4().hex, now, now, attributes)
            entry.store(attributes, rtype.unique)
            self._entries[rtype.name][entry.id] = entry
            return self._render(rtype, entry)

    def get(self, rtype: ResourceType, rid: str) -> Resource | None:
        with self._lock:
            entry = self._entries[rtype.name].get(rid)
            return None if entry is None or self._hidden(entry) else self._render(rtype, entry)

    def search(self, rtype: ResourceType, where: Filter | None) -> list[Resource]:
        """Matches in creation order; only the matches are copied out, so a filter costs one pass."""
        evaluator = Evaluator(rtype, self._case_exact)
        with self._lock:
            return [
                self._render(rtype, entry)
                for entry in self._candidates(rtype, where)
                if not self._hidden(entry) and (where is None or evaluator.matches(where, self._view(rtype, entry)))
            ]

    def _candidates(self, rtype: ResourceType, where: Filter | None) -> Iterable[_Entry]:
        """The entries a filter can match. Entra's own queries (`id eq`, `userName eq`, `displayName eq`)
        narrow to a few without building a view of every resource; the evaluator still decides."""
        entries = self._entries[rtype.name]
        if not isinstance(where, Compare) or where.op != "eq" or not isinstance(where.value, str):
            return entries.values()
        path = where.path
        if path.schema is not None or path.filter is not None or path.sub is not None:
            return entries.values()
        if path.attr.lower() == "id":
            return [entries[where.value]] if where.value in entries else []
        name = path.attr.lower()
        if name in {u.lower() for u in rtype.unique} and name not in self._case_exact:
            wanted = where.value.casefold()
            return [e for e in entries.values() if e.folded.get(name) == wanted]
        return entries.values()

    @staticmethod
    def _view(rtype: ResourceType, entry: _Entry) -> Resource:
        """What a filter sees, without copying: the stored attributes plus id and meta."""
        meta = {"resourceType": rtype.name, "created": entry.created, "lastModified": entry.modified}
        return {"id": entry.id, **entry.attributes, "meta": meta}

    def replace(self, rtype: ResourceType, rid: str, body: Resource) -> Resource:
        with self._lock:
            entry = self._find(rtype, rid)
            entry.store(self._prepare(rtype, body, rid), rtype.unique)
            entry.modified = _now()
            return self._render(rtype, entry)

    def patch(self, rtype: ResourceType, rid: str, body: Resource) -> Resource:
        """All operations apply to a copy, so a failing operation leaves the resource untouched."""
        with self._lock:
            entry = self._find(rtype, rid)
            attributes = copy.deepcopy(entry.attributes)
            apply_patch(attributes, body, rtype, self._faults)
            entry.store(self._prepare(rtype, attributes, rid), rtype.unique)
            entry.modified = _now()
            if Fault.ID_CHANGES_ON_PATCH in self._faults:
                entries = self._entries[rtype.name]
                del entries[entry.id]
                entry.id = uuid.uuid4().hex
                entries[entry.id] = entry
            return self._render(rtype, entry)

    def delete(self, rtype: ResourceType, rid: str) -> Resource:
        """Removes the resource and every group membership that points at it."""
        with self._lock:
            entry = self._find(rtype, rid)
            if not (rtype.name == "User" and Fault.DELETED_USER_STILL_RETURNED in self._faults):
                del self._entries[rtype.name][rid]
                self._drop_memberships(rid)
            return self._render(rtype, entry)

    def _find(self, rtype: ResourceType, rid: str) -> _Entry:
        entry = self._entries[rtype.name].get(rid)
        if entry is None:
            raise ScimError(404, f"{rtype.name} {rid!r} not found")
        return entry

    def _hidden(self, entry: _Entry) -> bool:
        return Fault.SOFT_DELETED_HIDDEN in self._faults and get_ci(entry.attributes, "active") is False

    def _render(self, rtype: ResourceType, entry: _Entry) -> Resource:
        attributes = {
            key: copy.deepcopy(value)
            for key, value in entry.attributes.items()
            if key.lower() not in rtype.never_returned
        }
        return {
            "schemas": schemas_of(attributes, rtype),
            "id": entry.id,
            **attributes,
            "meta": {"resourceType": rtype.name, "created": entry.created, "lastModified": entry.modified},
        }

    def _prepare(self, rtype: ResourceType, body: Resource, rid: str | None) -> Resource:
        """The client's attributes as stored, refused unless required, unique and member rules hold."""
        attributes = normalize(
            {key: value for key, value in body.items() if key.lower() not in _SERVER_OWNED},
            rtype,
            coerce_booleans=Fault.FALSE_STRING_STORED not in self._faults,
        )
        if Fault.ENTERPRISE_EXTENSION_DROPPED in self._faults:
            attributes = {key: value for key, value in attributes.items() if key.lower() != _ENTERPRISE}
        if Fault.NUMBER_STORED_AS_STRING in self._faults:
            attributes = _numbers_as_strings(attributes)
        username = find_key(attributes, "userName")
        if Fault.USERNAME_TRANSFORMED in self._faults and username and isinstance(attributes[username], str):
            attributes[username] = attributes[username].lower()
        for name in rtype.required:
            value = get_ci(attributes, name)
            if not isinstance(value, str) or not value.strip():
                raise ScimError(400, f"{name} is required and must be a non-empty string", "invalidValue")
        if _UNIQUENESS_FAULTS.get(rtype.name) not in self._faults:
            self._check_unique(rtype, attributes, rid)
        self._check_members(attributes)
        return attributes

    def _check_unique(self, rtype: ResourceType, attributes: Resource, rid: str | None) -> None:
        """Entra matches on userName and displayName, so both are unique case-insensitively (entra-wire §1.2)."""
        for name in rtype.unique:
            value = get_ci(attributes, name)
            wanted = _folded(value)
            if wanted is not None and any(
                other.id != rid and other.folded.get(name.lower()) == wanted
                for other in self._entries[rtype.name].values()
            ):
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
        for entries in self._entries.values():
            for entry in entries.values():
                key = find_key(entry.attributes, "members")
                members = entry.attributes[key] if key else None
                if key and isinstance(members, list) and any(get_ci(m, "value") == rid for m in members):
                    entry.attributes[key] = [m for m in members if get_ci(m, "value") != rid]
                    entry.modified = _now()


def _folded(value: Any) -> str | None:
    return value.casefold() if isinstance(value, str) else None
