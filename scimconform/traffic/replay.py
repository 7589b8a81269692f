"""`scimconform replay`: a recording's requests, in order, against another endpoint; every exchange whose
status or answer shape differs from the recorded one is reported.

Safety, as for every run: requests go only inside the given Tenant URL (the client refuses anything else);
only what this replay created is changed or deleted. A resource is the replay's when its own POST was
answered 201 Created with its id (RFC 7644 §3.3) and the target did not have it before: before each create
the replay looks (a filter on the body's userName or displayName) and does not send a create of what exists
already, which a server that upserts would change. A recorded PUT, PATCH or DELETE of anything but a
resource the replay created in that same collection (ids are per collection: a user and a group may share
one) is skipped and reported, never sent, as is any POST that is neither a create nor a `.search`
(RFC 7644 §3.4.3), `/Bulk` included, a body naming as member or manager a resource the replay did not
create, and a path whose segments climb out (`..`). What the replay created and the recording did not
delete is deleted at the end; what cannot be, or a create answered without an id to track it by, is
reported — also when Ctrl-C stops the replay. Every id a create got back replaces the recorded one: in
its collection's paths, and in queries and bodies. Credentials in a recorded query (a browser HAR's
`access_token`) are not sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from scimconform.client import RecordingClient
from scimconform.errors import UnsafeIdError
from scimconform.exchange import Exchange
from scimconform.interrupts import interrupts_as_keyboard_interrupt
from scimconform.target import climbs, path_segment
from scimconform.traffic.recording import (
    SECRET_FIELDS,
    Recorded,
    map_strings,
    referenced_ids,
    strings,
    substitute,
)

_COLLECTIONS = {"users": "Users", "groups": "Groups"}
_LOOKUP = {"Users": "userName", "Groups": "displayName"}  # what a create is looked up by first (RFC 7643 §4)
_CHANGES = ("PUT", "PATCH", "DELETE")
_SENT = ("GET", "POST", *_CHANGES)


@dataclass
class Outcome:
    """What the replay found: a line per differing or skipped exchange, what it left behind."""

    replayed: int = 0
    differences: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 also when nothing was replayed: a replay that sent nothing showed nothing to be alike."""
        return 1 if self.differences or self.leftovers or not self.replayed else 0


@dataclass
class Replay:
    """One replay against one client. `ids` maps (collection, recorded id) to the id the target gave this
    replay; `created` holds (collection, id) of what the replay made and has not deleted yet; `existing`,
    the ids the target's answers named before a create, which the replay never takes for its own."""

    client: RecordingClient
    ids: dict[tuple[str, str], str] = field(default_factory=dict)
    created: list[tuple[str, str]] = field(default_factory=list)
    existing: set[tuple[str, str]] = field(default_factory=set)

    def run(self, recorded: list[Recorded], out: TextIO) -> Outcome:
        outcome = Outcome()
        try:
            with interrupts_as_keyboard_interrupt():
                try:
                    for exchange in recorded:
                        self._one(exchange, outcome, out)
                finally:
                    self._clean(outcome)
        finally:  # Ctrl-C too: what stays on the target is always told
            for line in outcome.leftovers:
                out.write(f"LEFT    {line}\n")
            out.write(
                f"replayed {outcome.replayed} of {len(recorded)} exchanges: {len(outcome.differences)} differ, "
                f"{len(outcome.skipped)} skipped, {len(outcome.leftovers)} left behind\n"
            )
            if not outcome.replayed:
                out.write("nothing was replayed: every exchange was skipped, so nothing was compared\n")
        return outcome

    def _one(self, recorded: Recorded, outcome: Outcome, out: TextIO) -> None:
        body = recorded.request_json()
        why = self._unsafe(recorded, body)
        if why is None and recorded.request_body and body is None:
            why = "its body is not JSON"
        values = self._values()
        body = map_strings(body, lambda text: substitute(text, values))
        if why is None and _creates(recorded):
            why = self._exists(_COLLECTIONS[recorded.segments[0].lower()], body)
        if why is not None:
            line = self.client.redact(f"{recorded.label}: {why}")
            outcome.skipped.append(line)
            out.write(f"SKIPPED {line}\n")
            return
        query = {name: substitute(value, values) for name, value in recorded.query if name.lower() not in SECRET_FIELDS}
        content_type = recorded.request_headers.get("content-type")
        headers = {"Content-Type": content_type} if content_type and body is not None else None
        exchange = self.client.send(recorded.method, self._path(recorded), query or None, body, headers)
        outcome.replayed += 1
        found = differences(recorded, exchange) + self._book(recorded, exchange, outcome)
        if found:
            line = self.client.redact(f"{recorded.label} → " + "; ".join(found))
            outcome.differences.append(line)
            out.write(f"DIFFERS {line}\n")

    def _path(self, recorded: Recorded) -> str:
        """The recorded path, the id after /Users or /Groups the one this replay got for it."""
        segments = list(recorded.segments)
        if len(segments) >= 2 and (collection := _COLLECTIONS.get(segments[0].lower())):
            segments[1] = self.ids.get((collection, segments[1]), segments[1])
        return "/" + "/".join(path_segment(segment) for segment in segments)

    def _values(self) -> dict[str, str]:
        """Recorded id → new id, for queries and bodies, which do not say the collection: only ids no two
        collections share."""
        values: dict[str, str] = {}
        for (_, old), new in self.ids.items():
            values[old] = new if values.get(old, new) == new else ""
        return {old: new for old, new in values.items() if new}

    def _unsafe(self, recorded: Recorded, body: Any) -> str | None:
        """Why sending this exchange could touch what is not the replay's, or None."""
        segments = recorded.segments
        if recorded.path is None or not segments:
            return "not a request to a SCIM endpoint (an OAuth token request, say)"
        if recorded.method not in _SENT:
            return f"{recorded.method} is not a SCIM request method"
        if climbs(recorded.path):
            return "its path holds a dot segment (`..`), which could lead out of the Tenant URL"
        if recorded.method == "POST" and not (_creates(recorded) or segments[-1] == ".search"):
            return "a POST that is neither a create nor a .search could change anything: not sent"
        if recorded.method in _CHANGES and not self._owns(segments):
            return "it changes a resource this replay did not create: not sent"
        values = self._values()
        if foreign := sorted({ref for ref in referenced_ids(body) if ref not in values}):
            return f"it names as member or manager {', '.join(foreign)}, which this replay did not create: not sent"
        shared = {old for _, old in self.ids} - set(values)
        texts = [value for _, value in recorded.query] + list(strings(body))
        if any(substitute(text, dict.fromkeys(shared, "")) != text for text in texts):
            return "it names a recorded id a created user and a created group both had: not sent"
        try:
            self._path(recorded)
        except UnsafeIdError as exc:
            return str(exc)
        return None

    def _owns(self, segments: list[str]) -> bool:
        """Whether the path is exactly /Users/<id> or /Groups/<id> of a resource this replay created there."""
        collection = _COLLECTIONS.get(segments[0].lower()) if len(segments) == 2 else None
        new = self.ids.get((collection, segments[1])) if collection else None
        return collection is not None and (collection, new) in self.created

    def _exists(self, collection: str, body: Any) -> str | None:
        """Why not to send this create because the target may have its resource already, or None."""
        key = _LOOKUP[collection]
        value = next((v for k, v in body.items() if k.lower() == key.lower()), None) if isinstance(body, dict) else None
        if not isinstance(value, str):
            return None
        look = self.client.send("GET", f"/{collection}", {"filter": f"{key} eq {json.dumps(value)}"})
        found = _answer(look)
        if look.status != 200 or not isinstance(found, dict):
            return f"looking first whether it exists answered {look.status or look.transport_error}: not sent"
        resources = found.get("Resources") if isinstance(found.get("Resources"), list) else []
        self.existing.update((collection, found) for found in _ids(found))
        if resources or found.get("totalResults"):
            return f"the target has a {collection[:-1]} with this {key} already, which a create could change: not sent"
        return None

    def _book(self, recorded: Recorded, exchange: Exchange, outcome: Outcome) -> list[str]:
        """Learn the id a create got back, report a create it cannot track; forget what a DELETE removed.
        What is wrong about the answer beyond its shape, one line each."""
        segments = recorded.segments
        status = exchange.status or 0
        if _creates(recorded) and 200 <= status < 300:
            collection = _COLLECTIONS[segments[0].lower()]
            old, new = _id(recorded.response_json()), _id(_answer(exchange))
            if status != 201 or new is None:
                where = exchange.header("location") or (new and f"id {new}") or "no Location, no id"
                outcome.leftovers.append(
                    self.client.redact(f"{recorded.label} answered {status} ({where}): possibly created, not deleted")
                )
            elif (collection, new) in self.existing:
                return [f"answered 201 with the id {new} of a resource that existed before: not this replay's"]
            else:
                self.created.append((collection, new))
                if old is not None:
                    self.ids[(collection, old)] = new
        elif recorded.method == "DELETE" and (200 <= status < 300 or status == 404):
            collection = _COLLECTIONS[segments[0].lower()]
            self.created.remove((collection, self.ids[(collection, segments[1])]))
        elif (listed := _COLLECTIONS.get(segments[0].lower())) is not None:
            self.existing.update((listed, found) for found in _ids(_answer(exchange)))
        return []

    def _clean(self, outcome: Outcome) -> None:
        """Delete what the replay created and the recording did not; what stays, a line each in `outcome`."""
        try:
            while self.created:
                collection, resource_id = self.created[0]
                path = f"/{collection}/{path_segment(resource_id)}"
                self.client.send("DELETE", path)
                if self.client.send("GET", path).status not in (404, 410):
                    outcome.leftovers.append(self.client.redact(f"{collection} {resource_id} could not be deleted"))
                self.created.pop(0)
        finally:
            outcome.leftovers += [
                self.client.redact(f"{collection} {resource_id} was not deleted: the replay was stopped")
                for collection, resource_id in self.created
            ]


def _creates(recorded: Recorded) -> bool:
    segments = recorded.segments
    return recorded.method == "POST" and len(segments) == 1 and segments[0].lower() in _COLLECTIONS


def _id(document: Any) -> str | None:
    found = document.get("id") if isinstance(document, dict) else None
    return found if isinstance(found, str) and found else None


def _ids(document: Any) -> Iterator[str]:
    """The ids an answer names: a resource's, or those of a list's Resources."""
    resources = document.get("Resources") if isinstance(document, dict) else None
    for resource in [document, *(resources if isinstance(resources, list) else [])]:
        if (found := _id(resource)) is not None:
            yield found


def _answer(exchange: Exchange) -> Any:
    try:
        return exchange.json()
    except ValueError:
        return None


def differences(recorded: Recorded, exchange: Exchange) -> list[str]:
    """How the replayed answer differs from the recorded one: its status, whether it is JSON, its key
    structure (lists folded: `Resources[].name.givenName`) and its `schemas` (RFC 7643 §3)."""
    if exchange.status is None:
        return [f"no answer ({exchange.transport_error}), recorded {recorded.status}"]
    found = [] if exchange.status == recorded.status else [f"status {exchange.status}, recorded {recorded.status}"]
    before, after = recorded.response_json(), _answer(exchange)
    if (before is None) != (after is None):
        found.append("the answer is JSON" if after is not None else "the answer is not JSON, as it was")
    elif before is not None:
        was, now = set(shape(before)), set(shape(after))
        if now - was:
            found.append("new in the answer: " + ", ".join(sorted(now - was)))
        if was - now:
            found.append("missing from the answer: " + ", ".join(sorted(was - now)))
    return found


def shape(node: Any, prefix: str = "") -> Iterator[str]:
    """A JSON document's key paths, and the schema URIs it names."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            yield path
            if key == "schemas" and isinstance(value, list):
                yield from (f"{path}={uri}" for uri in value if isinstance(uri, str))
            else:
                yield from shape(value, path)
    elif isinstance(node, list):
        for item in node:
            yield from shape(item, f"{prefix}[]")
