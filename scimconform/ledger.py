"""What this run created on the target, and how it is removed again.

A create is written down *before* its POST is sent, with the filter that finds it, so a user whose
POST was interrupted or timed out is still found and deleted. Every POST that returns an id is
kept, even one a case expected to fail: a duplicate the server wrongly accepted is deleted too.
Cleanup runs in reverse creation order (groups before the users they contain), after each case and
once more at the end of the session. Whatever cannot be removed is reported, never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scimconform.client import RecordingClient

ENDPOINTS = {"User": "/Users", "Group": "/Groups"}


@dataclass
class Created:
    resource_type: str
    label: str
    scope: str
    id: str | None = None
    match: str | None = None
    delete_sent: bool = False

    def path(self, resource_id: str) -> str:
        return f"{ENDPOINTS[self.resource_type]}/{resource_id}"


@dataclass
class Ledger:
    entries: list[Created] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    _by_id: dict[tuple[str, str], Created] = field(default_factory=dict, repr=False)

    def intend(self, resource_type: str, match: str, label: str, scope: str) -> Created:
        """Note a create about to be sent; `match` is the filter that finds it if no id comes back."""
        entry = Created(resource_type, label, scope, match=match)
        self.entries.append(entry)
        return entry

    def created(self, resource_type: str, resource_id: str, label: str, scope: str, intent: Created | None) -> None:
        """Record the id a POST returned, on its intent unless that already holds another resource."""
        if (resource_type, resource_id) in self._by_id:
            return
        if intent is None or intent.id is not None:
            intent = Created(resource_type, label, scope)
            self.entries.append(intent)
        intent.id = resource_id
        self._by_id[resource_type, resource_id] = intent

    def delete_sent(self, resource_type: str, resource_id: str) -> None:
        """A case deleted this itself; cleanup will only confirm that it is gone."""
        if (entry := self._by_id.get((resource_type, resource_id))) is not None:
            entry.delete_sent = True

    def clean(self, client: RecordingClient, scope: str | None = None) -> list[str]:
        """Delete this scope's resources (all, when scope is None), newest first; return what stayed."""
        stayed: list[str] = []
        handled: set[int] = set()
        try:
            for entry in reversed([e for e in self.entries if scope is None or e.scope == scope]):
                for resource_id in self._ids(client, entry):
                    if not self._remove(client, entry, resource_id):
                        stayed.append(f"{entry.resource_type} {resource_id} ({entry.label})")
                self._by_id.pop((entry.resource_type, entry.id or ""), None)
                handled.add(id(entry))
        finally:  # an interrupted cleanup leaves the rest for the end-of-session sweep
            self.entries = [e for e in self.entries if id(e) not in handled]
            self.leftovers += stayed
        return stayed

    @staticmethod
    def _ids(client: RecordingClient, entry: Created) -> list[str]:
        """The entry's id, or whatever its match filter finds when the POST's answer never arrived."""
        if entry.id is not None:
            return [entry.id]
        if entry.match is None:
            return []
        exchange = client.send("GET", ENDPOINTS[entry.resource_type], {"filter": entry.match})
        try:
            found = exchange.json().get("Resources") or []
        except (ValueError, AttributeError):
            return []
        return [r["id"] for r in found if isinstance(r, dict) and isinstance(r.get("id"), str)]

    @staticmethod
    def _remove(client: RecordingClient, entry: Created, resource_id: str) -> bool:
        """Delete unless a case already did; it stayed only if a read still returns it."""
        path = entry.path(resource_id)
        if not entry.delete_sent or client.send("GET", path).status == 200:
            client.send("DELETE", path)
        return client.send("GET", path).status != 200
