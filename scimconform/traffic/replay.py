"""`scimconform replay`: a recording's requests, in order, against another endpoint; every exchange whose
status or answer shape differs from the recorded one is reported.

Safety, as for every run: requests go only inside the given Tenant URL (the client refuses anything else);
only what this replay created is changed or deleted — a resource is the replay's when its own POST was
answered 201 Created with its id (RFC 7644 §3.3), and a recorded PUT, PATCH or DELETE of any other id is
skipped and reported, never sent, as is any POST that is neither a create nor a `.search` (RFC 7644 §3.4.3),
`/Bulk` included. What the replay created and the recording did not delete is deleted at the end; what
cannot be is reported. Every id a create got back replaces the recorded one wherever it appears later: in
paths, queries and bodies.
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
from scimconform.target import path_segment
from scimconform.traffic.recording import Recorded, map_strings

_COLLECTIONS = ("users", "groups")
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
        return 1 if self.differences or self.leftovers else 0


@dataclass
class Replay:
    """One replay against one client; `ids` maps each recorded id to the one the target gave this replay."""

    client: RecordingClient
    ids: dict[str, str] = field(default_factory=dict)
    created: dict[str, str] = field(default_factory=dict)  # id this replay created -> its collection

    def run(self, recorded: list[Recorded], out: TextIO) -> Outcome:
        outcome = Outcome()
        with interrupts_as_keyboard_interrupt():
            try:
                for exchange in recorded:
                    self._one(exchange, outcome, out)
            finally:
                outcome.leftovers = self._clean()
        for line in outcome.leftovers:
            out.write(f"LEFT    {line}\n")
        out.write(
            f"replayed {outcome.replayed} of {len(recorded)} exchanges: {len(outcome.differences)} differ, "
            f"{len(outcome.skipped)} skipped, {len(outcome.leftovers)} left behind\n"
        )
        return outcome

    def _one(self, recorded: Recorded, outcome: Outcome, out: TextIO) -> None:
        why = self._unsafe(recorded)
        body = recorded.request_json()
        if why is None and recorded.request_body and body is None:
            why = "its body is not JSON"
        if why is not None:
            line = f"{recorded.label}: {why}"
            outcome.skipped.append(line)
            out.write(f"SKIPPED {line}\n")
            return
        path = "/" + "/".join(path_segment(self.ids.get(segment, segment)) for segment in recorded.segments)
        query = {name: self._rewritten(value) for name, value in recorded.query}
        content_type = recorded.request_headers.get("content-type")
        headers = {"Content-Type": content_type} if content_type and body is not None else None
        exchange = self.client.send(recorded.method, path, query or None, map_strings(body, self._rewritten), headers)
        outcome.replayed += 1
        self._book(recorded, exchange)
        found = differences(recorded, exchange)
        if found:
            line = self.client.redact(f"{recorded.label} → " + "; ".join(found))
            outcome.differences.append(line)
            out.write(f"DIFFERS {line}\n")

    def _unsafe(self, recorded: Recorded) -> str | None:
        """Why sending this exchange could touch what is not the replay's, or None."""
        segments = recorded.segments
        if recorded.path is None or not segments:
            return "not a request to a SCIM endpoint (an OAuth token request, say)"
        if recorded.method not in _SENT:
            return f"{recorded.method} is not a SCIM request method"
        if recorded.method == "POST" and not (_creates(recorded) or segments[-1] == ".search"):
            return "a POST that is neither a create nor a .search could change anything: not sent"
        if recorded.method in _CHANGES:
            own = (
                len(segments) == 2 and segments[0].lower() in _COLLECTIONS and self.ids.get(segments[1]) in self.created
            )
            if not own:
                return "it changes a resource this replay did not create: not sent"
        try:
            for segment in segments:
                path_segment(self.ids.get(segment, segment))
        except UnsafeIdError as exc:
            return str(exc)
        return None

    def _book(self, recorded: Recorded, exchange: Exchange) -> None:
        """Learn the id a create got back; forget what a DELETE removed."""
        segments = recorded.segments
        if _creates(recorded) and exchange.status == 201:
            old, new = _id(recorded.response_json()), _id(_answer(exchange))
            if new is not None:
                self.created[new] = segments[0]
                if old is not None:
                    self.ids[old] = new
        elif (
            recorded.method == "DELETE"
            and exchange.status is not None
            and (200 <= exchange.status < 300 or exchange.status == 404)
        ):
            self.created.pop(self.ids.get(segments[1], ""), None)

    def _rewritten(self, text: str) -> str:
        """`text` with every recorded id the replay has a new one for replaced: whole, or quoted in a filter."""
        if text in self.ids:
            return self.ids[text]
        for old, new in self.ids.items():
            text = text.replace(f'"{old}"', json.dumps(new))
        return text

    def _clean(self) -> list[str]:
        """Delete what the replay created and the recording did not; what stays, one line each."""
        stayed = []
        for resource_id, collection in list(self.created.items()):
            path = f"/{collection}/{path_segment(resource_id)}"
            self.client.send("DELETE", path)
            if self.client.send("GET", path).status not in (404, 410):
                stayed.append(self.client.redact(f"{collection} {resource_id} could not be deleted"))
            del self.created[resource_id]
        return stayed


def _creates(recorded: Recorded) -> bool:
    segments = recorded.segments
    return recorded.method == "POST" and len(segments) == 1 and segments[0].lower() in _COLLECTIONS


def _id(document: Any) -> str | None:
    found = document.get("id") if isinstance(document, dict) else None
    return found if isinstance(found, str) and found else None


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
