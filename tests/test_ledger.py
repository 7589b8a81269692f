"""The ownership rule, one answer at a time: cleanup deletes only what the run can prove it created.

A scripted target (httpx's MockTransport) answers each request from a table and records what was sent,
so every row states what the ledger may and may not send after a given answer to its POST.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from scimconform.client import RecordingClient
from scimconform.exchange import Exchange
from scimconform.ledger import GONE, OWNED, PENDING, REFUSED, UNANSWERED, Journal, Ledger, resource_path
from scimconform.target import Target, path_segment

BASE = "http://127.0.0.1:9/scim/v2"
TAG = "scf0a1b2c"
TOKEN = "ledger-test-token-5d1e"
USER_NAME = f"{TAG}-u1.Ann.Lee@example.com"
SENT: dict[str, Any] = {"userName": USER_NAME, "active": True}
MATCH = f'userName eq "{USER_NAME}"'
OURS = {"id": "ours-1", "userName": USER_NAME.upper(), "active": "True"}
FOREIGN = {"id": "foreign-1", "userName": "ceo@example.com", "active": True}
TWIN = {"id": "ours-2", "userName": USER_NAME, "active": True}


class ScriptedTarget:
    """Answers list queries with `listed`, reads of present ids with 200, and records every request."""

    def __init__(self, listed: list[dict[str, Any]], present: set[str] | None = None) -> None:
        self.listed = listed
        self.present = present if present is not None else {r["id"] for r in listed}
        self.sent: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        self.sent.append((request.method, path))
        resource = path.split("?", 1)[0].removeprefix("/scim/v2/Users").lstrip("/")
        if not resource:
            return httpx.Response(200, json={"totalResults": len(self.listed), "Resources": self.listed})
        resource = httpx.URL("http://x/" + resource).path.lstrip("/")  # decoded, as a server would read it
        if request.method == "DELETE" and resource in self.present:
            self.present.discard(resource)
            return httpx.Response(204)
        known = next((r for r in self.listed if r["id"] == resource), {"id": resource})
        return httpx.Response(200 if resource in self.present else 404, json=known)

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.sent if m != "GET"]


def client_for(target: ScriptedTarget) -> RecordingClient:
    return RecordingClient(Target(base_url=BASE, token=TOKEN), transport=httpx.MockTransport(target))


def answer(status: int | None, body: Any = None) -> Exchange:
    exchange = Exchange("POST", f"{BASE}/Users", {}, "{}", status=status)
    if status is None:
        exchange.transport_error = "no answer within 1 s (timeout)"
    exchange.raw_body = json.dumps(body) if body is not None else ""
    return exchange


def intend(ledger: Ledger, before: list[str] | None = None) -> Any:
    return ledger.intend("User", f"{TAG}-u1", "case", MATCH, dict(SENT), [] if before is None else before)


@pytest.mark.parametrize(
    ("post_answer", "listed", "outcome", "deleted", "left"),
    [
        pytest.param(answer(201, {"id": "ours-1"}), [], OWNED, ["ours-1"], "", id="2xx-id-is-proof"),
        pytest.param(answer(409), [FOREIGN], REFUSED, [], "", id="409-never-looked-up"),
        pytest.param(answer(302), [FOREIGN], REFUSED, [], "", id="3xx-never-looked-up"),
        pytest.param(answer(500), [OURS], "failed", [], "possibly left", id="5xx-reported-never-deleted"),
        pytest.param(answer(None), [FOREIGN, OURS], UNANSWERED, ["ours-1"], "", id="lost-answer-proven-by-lookup"),
        pytest.param(answer(None), [FOREIGN], UNANSWERED, [], "", id="lost-answer-nothing-of-ours"),
        pytest.param(answer(None), [OURS, TWIN], UNANSWERED, [], "possibly left", id="two-candidates-unproven"),
        pytest.param(answer(201, "created"), [FOREIGN, OURS], UNANSWERED, ["ours-1"], "", id="2xx-without-id"),
        pytest.param(answer(201, {"id": "foreign-1"}), [FOREIGN], UNANSWERED, [], "", id="2xx-naming-a-foreign-id"),
        pytest.param(answer(201, {"id": ".."}), [FOREIGN], UNANSWERED, [], "", id="2xx-with-a-dot-segment-id"),
    ],
)
def test_cleanup_deletes_only_what_the_answer_proves(
    post_answer: Exchange, listed: list[dict[str, Any]], outcome: str, deleted: list[str], left: str
) -> None:
    target = ScriptedTarget(listed)
    target.present.add("ours-1")  # the server holds what a 2xx create said it made
    ledger = Ledger(TAG)
    entry = intend(ledger, before=["foreign-1"])
    ledger.answered(entry, post_answer)
    assert entry.outcome == outcome
    stayed = ledger.clean(client_for(target))
    assert target.writes() == [("DELETE", f"/scim/v2/Users/{i}") for i in deleted]
    assert ("possibly left" in " ".join(stayed)) == bool(left), stayed
    assert all("GET /Users?filter=" in line for line in stayed), "a possible leftover names the request that finds it"


def test_a_candidate_that_differs_from_what_was_sent_is_not_proven() -> None:
    changed = {**OURS, "active": False}
    target = ScriptedTarget([changed])
    ledger = Ledger(TAG)
    ledger.answered(intend(ledger), answer(None))
    assert "possibly left" in ledger.clean(client_for(target))[0]
    assert target.writes() == []


def test_without_a_survey_before_the_post_a_lost_answer_proves_nothing() -> None:
    target = ScriptedTarget([OURS])
    ledger = Ledger(TAG)
    entry = ledger.intend("User", f"{TAG}-u1", "case", MATCH, dict(SENT), None)
    ledger.answered(entry, answer(None))
    assert "ownership unproven" in ledger.clean(client_for(target))[0]
    assert target.writes() == []


def test_an_id_from_the_target_is_one_path_segment() -> None:
    hostile = "abc/../../Groups/x?y=1#z%2F"
    target = ScriptedTarget([], present={hostile})
    ledger = Ledger(TAG)
    ledger.answered(intend(ledger), answer(201, {"id": hostile}))
    assert ledger.clean(client_for(target)) == []
    assert target.writes() == [("DELETE", "/scim/v2/Users/abc%2F..%2F..%2FGroups%2Fx%3Fy%3D1%23z%252F")]
    assert resource_path("Group", "a b") == "/Groups/a%20b"
    for unusable in ("", ".", ".."):
        with pytest.raises(ValueError, match="cannot name a resource"):
            path_segment(unusable)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/Users/../../admin", "outside the Tenant URL's path"),
        ("/Users/%2e%2e/x", "dot segment"),
        ("/..", "outside the Tenant URL's path"),
    ],
)
def test_the_client_sends_nothing_outside_the_tenant_url(path: str, why: str) -> None:
    target = ScriptedTarget([])
    exchange = client_for(target).send("DELETE", path)
    assert not exchange.sent and target.sent == []
    assert exchange.transport_error is not None and why in exchange.transport_error


def test_the_journal_holds_a_create_before_it_is_sent_and_cleanup_finishes_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger" / f"{TAG}-main.jsonl"
    ledger = Ledger(TAG, Journal(path, {"run_tag": TAG, "target": BASE}))
    intend(ledger)
    assert ledger.journal is not None
    ledger.journal.close(keep=True)  # as a kill -9 right now would leave it
    header, entries = Journal.read(path)
    assert header["target"] == BASE and [e.outcome for e in entries] == [PENDING]
    target = ScriptedTarget([FOREIGN, OURS])
    replayed = Ledger(TAG, Journal(path, header), entries)
    assert replayed.clean(client_for(target)) == []
    assert target.writes() == [("DELETE", "/scim/v2/Users/ours-1")]
    replayed.close()
    assert not path.exists(), "a ledger with nothing left is removed"


def test_a_second_interrupt_stops_cleanup_and_reports_the_rest() -> None:
    calls: list[str] = []

    def interrupted_on_first_delete(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if request.method == "DELETE":
            raise KeyboardInterrupt
        return httpx.Response(200, json={})

    client = RecordingClient(
        Target(base_url=BASE, token=TOKEN), transport=httpx.MockTransport(interrupted_on_first_delete)
    )
    ledger = Ledger(TAG)
    for number in (1, 2, 3):
        ledger.answered(intend(ledger), answer(201, {"id": f"ours-{number}"}))
    stayed = ledger.clean(client)
    assert calls == ["DELETE", "DELETE"], "a first interrupt is survived, the second stops the sweep"
    assert len(stayed) == 3 and all("interrupted" in line for line in stayed)
    assert ledger.stop.is_set()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_settled_create_is_journaled_as_gone(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    ledger = Ledger(TAG, Journal(path, {"run_tag": TAG, "target": BASE}))
    ledger.answered(intend(ledger), answer(201, {"id": "ours-1"}))
    target = ScriptedTarget([], present={"ours-1"})
    ledger.clean(client_for(target))
    assert _lines(path)[-1] == {"key": 1, "outcome": GONE, "status": 201, "id": "ours-1"}
    assert Journal.read(path)[1] == []
    ledger.close()
