"""What this run created on the target, and how it is removed again.

Every POST that returns an id is written down, even one a case expected to fail: a server that
wrongly accepts a duplicate still gets its duplicate deleted. Cleanup runs in reverse creation order
(groups before the users they contain), after each case and once more at the end of the session, so
an interrupted run still leaves nothing behind. Whatever cannot be removed is reported, never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scimconform.client import RecordingClient

ENDPOINTS = {"User": "/Users", "Group": "/Groups"}


@dataclass
class Created:
    resource_type: str
    id: str
    label: str
    scope: str
    delete_sent: bool = False

    @property
    def path(self) -> str:
        return f"{ENDPOINTS[self.resource_type]}/{self.id}"


@dataclass
class Ledger:
    entries: list[Created] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    def register(self, resource_type: str, resource_id: str, label: str, scope: str) -> None:
        if not any(e.resource_type == resource_type and e.id == resource_id for e in self.entries):
            self.entries.append(Created(resource_type, resource_id, label, scope))

    def delete_sent(self, resource_type: str, resource_id: str) -> None:
        """A case deleted this itself; cleanup will only confirm that it is gone."""
        for entry in self.entries:
            if entry.resource_type == resource_type and entry.id == resource_id:
                entry.delete_sent = True

    def clean(self, client: RecordingClient, scope: str | None = None) -> list[str]:
        """Delete this scope's resources (all, when scope is None), newest first; return what stayed."""
        stayed = []
        for entry in reversed([e for e in self.entries if scope is None or e.scope == scope]):
            if not self._remove(client, entry):
                stayed.append(f"{entry.resource_type} {entry.id} ({entry.label})")
            self.entries.remove(entry)
        self.leftovers += stayed
        return stayed

    @staticmethod
    def _remove(client: RecordingClient, entry: Created) -> bool:
        """Delete unless a case already did; it stayed only if a read still returns it."""
        if not entry.delete_sent or client.send("GET", entry.path).status == 200:
            client.send("DELETE", entry.path)
        return client.send("GET", entry.path).status != 200
