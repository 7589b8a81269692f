"""A recording as a case file (fixtures/sequences/README.md): the users and groups it created become the
case's identities, so that a replay runs with fresh test identities, and each request expects the status the
endpoint answered when it was recorded.

Only what a run can send safely becomes a step. A create becomes the provider's create of an identity (the
ledger then tracks and removes it); every id the recording's creates got back becomes `{user1.id}`, and the
values those creates sent become the identity's values (`{user1.userName}`) wherever a request repeats them.
A request about a resource the recording did not create, or a create that made nothing, is left out and
listed: replayed, it would read or change someone else's data, or make a resource no ledger tracks. So is a
PUT, PATCH or DELETE of anything but `/Users/<id>` or `/Groups/<id>` of a resource the recording created in
that collection (a user and a group may have the same id), a body naming as member or manager a resource the
recording did not create, a path with a dot segment (kept encoded, never resolved), a method a case cannot
send (HEAD, OPTIONS), and a recorded string with `{` or `}`, which a case file would read as a template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scimconform import attrpath
from scimconform.profiles import Profile
from scimconform.target import climbs
from scimconform.traffic.recording import Recorded, map_strings, referenced_ids, strings, substitute

_COLLECTIONS = {"users": "User", "groups": "Group"}
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")  # those schemas/sequence.json allows
_CHANGES = ("PUT", "PATCH", "DELETE")
_SCIM_JSON = "application/scim+json"


@dataclass
class Conversion:
    """The case document (None when nothing could be kept) and a line for each request left out."""

    case: dict[str, Any] | None
    left_out: list[str] = field(default_factory=list)


@dataclass
class _Names:
    """What the recording's creates made: (kind, recorded id) → identity, recorded value → template; `shared`
    are recorded ids two identities had, which a query or a body (that do not say the kind) cannot name."""

    identities: dict[str, str] = field(default_factory=dict)
    ids: dict[tuple[str, str], str] = field(default_factory=dict)
    literals: dict[str, str] = field(default_factory=dict)
    shared: set[str] = field(default_factory=set)
    creates: dict[int, str] = field(default_factory=dict)  # recorded exchange index → identity it created

    def text(self, text: str) -> str:
        """`text` with each recorded id or value it holds — whole, or quoted as in a filter — as its template."""
        return substitute(text, self.literals)

    def unclear(self, texts: list[str]) -> bool:
        """Whether one of `texts` names a shared id, whole or quoted."""
        blanked = dict.fromkeys(self.shared, "")
        return any(substitute(text, blanked) != text for text in texts)


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
        names.ids[(kind, created_id)] = name
        if names.literals.setdefault(created_id, f"{{{name}.id}}") != f"{{{name}.id}}":
            names.shared.add(created_id)
        body = exchange.request_json()
        for attribute in profile.mapping(kind).attributes:
            value = attrpath.get(body, attribute.path) if attribute.type != "reference" else None
            if isinstance(value, str) and value:
                names.literals.setdefault(value, f"{{{name}.{attribute.path}}}")
    for shared in names.shared:
        del names.literals[shared]
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
    if exchange.method not in _METHODS:
        return None, f"{exchange.method} is not a method a case can send"
    if climbs(exchange.path):
        return None, "its path holds a dot segment (`..`), which could lead out of the Tenant URL"
    body = exchange.request_json()
    content_type = exchange.request_headers.get("content-type", "")
    texts = [exchange.path, content_type, *(part for pair in exchange.query for part in pair), *strings(body)]
    if any("{" in text or "}" in text for text in texts):
        return None, "it holds `{` or `}`, which a case file would read as a template"
    request: dict[str, Any] = {"method": exchange.method}
    if exchange.index in names.creates:
        request |= {"path": exchange.path, "body": {"create": names.creates[exchange.index]}}
        return {
            "name": f"Entra creates {names.creates[exchange.index]}",
            "request": request,
            "expect": _expect(exchange),
        }, ""
    path, why = _path(exchange, names)
    if path is None:
        return None, why
    if foreign := sorted({ref for ref in referenced_ids(body) if ref not in names.literals}):
        return None, f"it names as member or manager {', '.join(foreign)}, which the recording did not create"
    if names.unclear(texts):
        return None, "it names a recorded id a created user and a created group both had"
    request["path"] = path
    if exchange.query:
        request["query"] = {key: names.text(value) for key, value in exchange.query}
    if content_type and content_type.lower() != _SCIM_JSON:
        request["headers"] = {"Content-Type": content_type}
    if exchange.request_body:
        if body is None:
            return None, "its body is not JSON"
        request["body"] = {"json": map_strings(body, names.text)}
    return {"request": request, "expect": _expect(exchange)}, ""


def _path(exchange: Recorded, names: _Names) -> tuple[str | None, str]:
    """The step's path, segments kept as recorded (still encoded), a created resource's id as its template;
    or None and why the request is left out."""
    segments, raw = exchange.segments, (exchange.path or "").strip("/").split("/")
    kind = _COLLECTIONS.get(segments[0].lower()) if segments else None
    if exchange.method == "POST":
        if kind is not None and len(segments) == 1:
            return None, "a create that made no resource the run could track (replayed, it might make one)"
        if segments[-1:] != [".search"]:
            return None, "a POST that is neither a create nor a .search query"
    elif exchange.method in _CHANGES and (kind is None or len(segments) != 2):
        return None, "it changes what is not a user or a group the recording created"
    if kind is not None and len(segments) >= 2 and segments[1] != ".search":
        identity = names.ids.get((kind, segments[1]))
        if identity is None:
            return None, f"about a {kind} the recording did not create (replayed, it would touch someone else's)"
        raw[1] = f"{{{identity}.id}}"
    return "/" + "/".join(raw), ""


def _expect(exchange: Recorded) -> dict[str, Any]:
    return {"status": exchange.status}
