"""A recording as a case file (fixtures/sequences/README.md): the users and groups it created become the
case's identities, so that a replay runs with fresh test identities, and each request expects the status the
endpoint answered when it was recorded.

Only what a run can send safely becomes a step. A create becomes the provider's create of an identity (the
ledger then tracks and removes it); every id the recording's creates got back becomes `{user1.id}`, and the
values those creates sent become the identity's values (`{user1.userName}`) wherever a request repeats them.
A request about a resource the recording did not create, or a create that made nothing, is left out and
listed: replayed, it would read or change someone else's data, or make a resource no ledger tracks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scimconform import attrpath
from scimconform.profiles import Profile
from scimconform.traffic.recording import Recorded, map_strings

_COLLECTIONS = {"users": "User", "groups": "Group"}
_SCIM_JSON = "application/scim+json"


@dataclass
class Conversion:
    """The case document (None when nothing could be kept) and a line for each request left out."""

    case: dict[str, Any] | None
    left_out: list[str] = field(default_factory=list)


@dataclass
class _Names:
    """What the recording's creates made: recorded id → identity, recorded value → template."""

    identities: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    literals: dict[str, str] = field(default_factory=dict)
    creates: dict[int, str] = field(default_factory=dict)  # recorded exchange index → identity it created

    def text(self, text: str) -> str:
        """`text` with each recorded id or value it holds — whole, or quoted as in a filter — as its template."""
        if text in self.literals:
            return self.literals[text]
        for literal in sorted(self.literals, key=len, reverse=True):
            text = text.replace(f'"{literal}"', f'"{self.literals[literal]}"')
        return text


def _created(recorded: list[Recorded], profile: Profile) -> _Names:
    """Each 2xx POST to /Users or /Groups whose answer names an id is an identity, numbered per kind."""
    names = _Names()
    for exchange in recorded:
        kind = _collection(exchange)
        answer = exchange.response_json()
        created_id = answer.get("id") if isinstance(answer, dict) else None
        if exchange.method != "POST" or kind is None or not 200 <= exchange.status < 300:
            continue
        if not isinstance(created_id, str) or (kind == "Group" and profile.groups is None):
            continue
        name = f"{kind.lower()}{sum(k == kind for k in names.identities.values()) + 1}"
        names.identities[name], names.creates[exchange.index] = kind, name
        names.ids[created_id] = name
        names.literals[created_id] = f"{{{name}.id}}"
        body = exchange.request_json()
        for attribute in profile.mapping(kind).attributes:
            value = attrpath.get(body, attribute.path) if attribute.type != "reference" else None
            if isinstance(value, str) and value:
                names.literals.setdefault(value, f"{{{name}.{attribute.path}}}")
    return names


def _collection(exchange: Recorded) -> str | None:
    """User or Group for a request to exactly /Users or /Groups."""
    segments = exchange.segments
    return _COLLECTIONS.get(segments[0].lower()) if len(segments) == 1 else None


def to_sequence(recorded: list[Recorded], profile: Profile, *, case_id: str, source: str) -> Conversion:
    """The case the recording makes for `profile`; `source` says where and when it was recorded."""
    names = _created(recorded, profile)
    steps: list[dict[str, Any]] = []
    left_out: list[str] = []
    for exchange in recorded:
        step, reason = _step(exchange, names)
        if step is not None:
            steps.append(step)
        else:
            left_out.append(f"{exchange.label} → {exchange.status}: {reason}")
    if not steps:
        return Conversion(None, left_out)
    case: dict[str, Any] = {
        "id": case_id,
        "title": "The recorded provisioning cycle is answered as it was when recorded",
        "feature": "Recorded traffic",
        "story": "Recorded cycle",
        "requirement": (
            "Each request of the vendor's recorded provisioning cycle, replayed in order with fresh test "
            "identities, is answered with the status the endpoint gave when it was recorded."
        ),
        "source": source,
        "severity": "warning",
        "evidence": "recorded",
        "fix": (
            "Compare the step's answer with the recorded exchange in traffic.har: the endpoint now answers "
            "this request of Entra's differently from when the cycle was recorded."
        ),
    }
    if names.identities:
        case["identities"] = dict(names.identities)
    case["steps"] = steps
    return Conversion(case, left_out)


def _step(exchange: Recorded, names: _Names) -> tuple[dict[str, Any] | None, str]:
    """One request step, or None and why it is left out."""
    if exchange.path is None:
        return None, "not a request to a SCIM endpoint (an OAuth token request, say)"
    if exchange.status == 0:
        return None, "the endpoint gave no answer"
    segments = exchange.segments
    request: dict[str, Any] = {"method": exchange.method}
    if exchange.index in names.creates:
        request |= {"path": exchange.path, "body": {"create": names.creates[exchange.index]}}
        return {
            "name": f"Entra creates {names.creates[exchange.index]}",
            "request": request,
            "expect": _expect(exchange),
        }, ""
    if exchange.method == "POST" and _collection(exchange) is not None:
        return None, "a create that made no resource the run could track (replayed, it might make one)"
    if exchange.method == "POST" and segments[-1:] != [".search"]:
        return None, "a POST that is neither a create nor a .search query"
    if len(segments) >= 2 and segments[0].lower() in _COLLECTIONS and segments[1] != ".search":
        if segments[1] not in names.ids:
            return None, "about a resource the recording did not create (replayed, it would touch someone else's)"
        segments[1] = f"{{{names.ids[segments[1]]}.id}}"
    request["path"] = "/" + "/".join(segments)
    if exchange.query:
        request["query"] = {key: names.text(value) for key, value in exchange.query}
    content_type = exchange.request_headers.get("content-type", "")
    if content_type and content_type.lower() != _SCIM_JSON:
        request["headers"] = {"Content-Type": content_type}
    if exchange.request_body:
        body = exchange.request_json()
        if body is None:
            return None, "its body is not JSON"
        request["body"] = {"json": map_strings(body, names.text)}
    return {"request": request, "expect": _expect(exchange)}, ""


def _expect(exchange: Recorded) -> dict[str, Any]:
    return {"status": exchange.status}
