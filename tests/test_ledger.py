"""The ownership rule, one answer at a time: cleanup deletes only what the run can prove it created.

A scripted target (httpx's MockTransport) answers each request from a table and records what was sent,
so every row states what the ledger may and may not send after a given answer to its POST.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
    """Holds resources by id (reads answer them), answers list queries with `listed` whatever the filter,
    and records every request."""

    def __init__(self, listed: list[dict[str, Any]], held: Sequence[dict[str, Any]] = ()) -> None:
        self.listed = listed
        self.held = {r["id"]: r for r in [*listed, *held]}
        self.sent: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        self.sent.append((request.method, path))
        resource = path.split("?", 1)[0].removeprefix("/scim/v2/Users").lstrip("/")
        if not resource:
            return httpx.Response(200, json={"totalResults": len(self.listed), "Resources": self.listed})
        resource = httpx.URL("http://x/" + resource).path.lstrip("/")  # decoded, as a server would read it
        if resource not in self.held:
            return httpx.Response(404, json={"status": "404"})
        if request.method == "DELETE":
            del self.held[resource]
            return httpx.Response(204)
        return httpx.Response(200, json=self.held[resource])

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.sent if m != "GET"]


def client_for(target: ScriptedTarget) -> RecordingClient:
    return RecordingClient(Target(base_url=BASE, token=TOKEN), transport=httpx.MockTransport(target))


def answer(status: int | None, body: Any = None, attempt: int = 1) -> Exchange:
    exchange = Exchange(
        method="POST", url=f"{BASE}/Users", request_headers={}, request_body="{}", status=status, attempt=attempt
    )
    if status is None:
        exchange.transport_error = "no answer within 1 s (timeout)"
    exchange.raw_body = json.dumps(body) if body is not None else ""
    return exchange


def intend(ledger: Ledger, before: list[str] | None = None) -> Any:
    return ledger.intend("User", f"{TAG}-u1", "case", MATCH, dict(SENT), [] if before is None else before)


@pytest.mark.parametrize(
    ("post_answer", "listed", "outcome", "deleted", "left"),
    [
        pytest.param(answer(201, {"id": "ours-1"}), [], OWNED, ["ours-1"], "", id="2xx-id-read-back-is-proof"),
        pytest.param(answer(409), [FOREIGN, OURS], REFUSED, [], "", id="409-never-looked-up"),
        pytest.param(answer(409, attempt=2), [OURS], "failed", [], "possibly left", id="409-after-a-retried-503"),
        pytest.param(answer(303), [OURS], "failed", [], "possibly left", id="3xx-reported-never-deleted"),
        pytest.param(answer(500), [OURS], "failed", [], "possibly left", id="5xx-reported-never-deleted"),
        pytest.param(answer(None), [FOREIGN, OURS], UNANSWERED, ["ours-1"], "", id="lost-answer-proven-by-lookup"),
        pytest.param(answer(None), [FOREIGN], UNANSWERED, [], "", id="lost-answer-nothing-of-ours"),
        pytest.param(answer(None), [OURS, TWIN], UNANSWERED, [], "possibly left", id="two-candidates-unproven"),
        pytest.param(answer(201, "created"), [FOREIGN, OURS], UNANSWERED, ["ours-1"], "", id="2xx-without-id"),
        pytest.param(answer(201, {"id": "foreign-1"}), [FOREIGN], UNANSWERED, [], "", id="2xx-naming-a-foreign-id"),
        pytest.param(answer(201, {"id": "foreign-2"}), [], UNANSWERED, [], "", id="2xx-naming-an-unlisted-foreign-id"),
        pytest.param(answer(201, {"id": ".."}), [FOREIGN], UNANSWERED, [], "", id="2xx-with-a-dot-segment-id"),
        pytest.param(answer(201, {"id": "\udc80"}), [FOREIGN], UNANSWERED, [], "", id="2xx-with-a-lone-surrogate"),
    ],
)
def test_cleanup_deletes_only_what_the_answer_proves(
    post_answer: Exchange, listed: list[dict[str, Any]], outcome: str, deleted: list[str], left: str
) -> None:
    # The server holds the run's user, and a foreign one that no filter shows.
    target = ScriptedTarget(listed, held=[OURS, {**FOREIGN, "id": "foreign-2"}])
    ledger = Ledger(run_tag=TAG)
    entry = intend(ledger, before=["foreign-1"])
    ledger.answered(entry, post_answer, client_for(target))
    assert entry.outcome == outcome
    stayed = ledger.clean(client_for(target))
    assert target.writes() == [("DELETE", f"/scim/v2/Users/{i}") for i in deleted]
    assert ("possibly left" in " ".join(stayed)) == bool(left), stayed
    assert all("GET /Users?filter=" in line for line in stayed), "a possible leftover names the request that finds it"


def test_an_id_a_case_deleted_and_the_server_gave_to_someone_else_is_left_alone() -> None:
    """Servers that reuse ids (an integer key) can hand a deleted user's id to the next user created."""
    target = ScriptedTarget([], held=[OURS])
    ledger = Ledger(run_tag=TAG)
    entry = intend(ledger)
    ledger.answered(entry, answer(201, {"id": "ours-1"}), client_for(target))
    ledger.delete_sent("User", "ours-1")
    target.held["ours-1"] = {**FOREIGN, "id": "ours-1"}  # deleted by the case, then reused
    assert ledger.clean(client_for(target)) == []
    assert target.writes() == []


@pytest.mark.parametrize(
    ("moved", "deleted", "left"),
    [
        pytest.param({**OURS, "id": "ours-9"}, ["ours-9"], "", id="found-under-its-new-id-and-deleted"),
        pytest.param({**OURS, "id": "ours-9", "active": False}, [], "possibly left", id="changed-since-reported"),
        # Gone, or moved and renamed by a case (RFC 7644's PATCH may change userName): nothing proves which.
        pytest.param(None, [], "possibly left", id="neither-id-nor-match-finds-it"),
    ],
)
def test_a_resource_whose_id_changed_is_looked_up_again(
    moved: dict[str, Any] | None, deleted: list[str], left: str
) -> None:
    """A server that gives a resource a new id on PATCH: its old id reads 404, yet the resource is still there."""
    target = ScriptedTarget([], held=[OURS])
    ledger = Ledger(run_tag=TAG)
    ledger.answered(intend(ledger), answer(201, {"id": "ours-1"}), client_for(target))
    del target.held["ours-1"]
    if moved is not None:
        target.listed = [moved]
        target.held[moved["id"]] = moved
    stayed = ledger.clean(client_for(target))
    assert target.writes() == [("DELETE", f"/scim/v2/Users/{i}") for i in ["ours-1", *deleted]]
    assert ("possibly left" in " ".join(stayed)) == bool(left), stayed


def test_a_lookup_that_does_not_hold_every_match_proves_nothing() -> None:
    """totalResults 101, 100 foreign users on the page: the run's user may be on a page never read."""
    padded = [{**FOREIGN, "id": f"f{n}"} for n in range(100)]
    target = ScriptedTarget(padded)
    ledger = Ledger(run_tag=TAG)
    ledger.answered(intend(ledger), answer(None), client_for(target))

    def a_first_page(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("filter"):
            return httpx.Response(200, json={"totalResults": 101, "Resources": padded})
        return target(request)

    client = RecordingClient(Target(base_url=BASE, token=TOKEN), transport=httpx.MockTransport(a_first_page))
    assert "possibly left" in ledger.clean(client)[0]
    assert target.writes() == []


def test_a_candidate_that_differs_from_what_was_sent_is_not_proven() -> None:
    changed = {**OURS, "active": False}
    target = ScriptedTarget([changed])
    ledger = Ledger(run_tag=TAG)
    ledger.answered(intend(ledger), answer(None), client_for(target))
    assert "possibly left" in ledger.clean(client_for(target))[0]
    assert target.writes() == []


def test_without_a_survey_before_the_post_a_lost_answer_proves_nothing() -> None:
    target = ScriptedTarget([OURS])
    ledger = Ledger(run_tag=TAG)
    entry = ledger.intend("User", f"{TAG}-u1", "case", MATCH, dict(SENT), None)
    ledger.answered(entry, answer(None), client_for(target))
    assert "ownership unproven" in ledger.clean(client_for(target))[0]
    assert target.writes() == []


def test_an_id_from_the_target_is_one_path_segment() -> None:
    hostile = "abc/x?y=1#z%2F"
    target = ScriptedTarget([], held=[{**OURS, "id": hostile}])
    ledger = Ledger(run_tag=TAG)
    ledger.answered(intend(ledger), answer(201, {"id": hostile}), client_for(target))
    assert ledger.clean(client_for(target)) == []
    assert target.writes() == [("DELETE", "/scim/v2/Users/abc%2Fx%3Fy%3D1%23z%252F")]
    assert resource_path("Group", "a b") == "/Groups/a%20b"
    for unusable in ("", ".", ".."):
        with pytest.raises(ValueError, match="cannot name a resource"):
            path_segment(unusable)


def test_an_id_that_climbs_once_its_slashes_are_decoded_is_left_and_reported() -> None:
    """As one segment `abc%2F..%2F..%2FGroups%2Fx` stays put, but a server that decodes %2F before routing
    deletes /Groups/x: the run cannot prove what that DELETE would reach, so it sends none and says so."""
    hostile = "abc/../../Groups/x"
    target = ScriptedTarget([], held=[{**OURS, "id": hostile}])
    ledger = Ledger(run_tag=TAG)
    ledger.answered(intend(ledger), answer(201, {"id": hostile}), client_for(target))
    (left,) = ledger.clean(client_for(target))
    assert hostile in left and target.writes() == []


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
    ledger = Ledger(run_tag=TAG, journal=Journal(path, {"run_tag": TAG, "target": BASE}))
    intend(ledger)
    assert ledger.journal is not None
    ledger.journal.close(keep=True)  # as a kill -9 right now would leave it
    header, entries = Journal.read(path)
    assert header["target"] == BASE and [e.outcome for e in entries] == [PENDING]
    target = ScriptedTarget([FOREIGN, OURS])
    replayed = Ledger(run_tag=TAG, journal=Journal(path, header), entries=entries)
    assert replayed.clean(client_for(target)) == []
    assert target.writes() == [("DELETE", "/scim/v2/Users/ours-1")]
    replayed.close()
    assert not path.exists(), "a ledger with nothing left is removed"


def test_an_intent_is_synced_to_disk_before_its_post_an_outcome_only_flushed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power loss may drop an outcome: the create then reads as pending, which cleanup settles by lookup (the
    row above). It must never drop an intent, or a create would be sent that no ledger knows."""
    synced: list[str] = []
    path = tmp_path / "ledger" / f"{TAG}-main.jsonl"
    ledger = Ledger(run_tag=TAG, journal=Journal(path, {"run_tag": TAG, "target": BASE}))
    monkeypatch.setattr("os.fsync", lambda fd: synced.append(path.read_text().splitlines()[-1]))
    entry = intend(ledger)
    assert len(synced) == 1 and '"intend"' in synced[0]
    ledger.answered(entry, answer(201, {"id": "ours-1"}), client_for(ScriptedTarget([], held=[OURS])))
    assert len(synced) == 1 and '"outcome": "owned"' in path.read_text().splitlines()[-1]
    ledger.close()


def test_a_delete_its_case_sent_survives_a_kill_in_the_journal(tmp_path: Path) -> None:
    """Killed after a case's own DELETE: `scimconform cleanup` must take the 404 for what the case did, not look
    for the resource under another id and call it possibly left."""
    path = tmp_path / "ledger" / f"{TAG}-main.jsonl"
    ledger = Ledger(run_tag=TAG, journal=Journal(path, {"run_tag": TAG, "target": BASE}))
    ledger.answered(intend(ledger), answer(201, {"id": "ours-1"}), client_for(ScriptedTarget([], held=[OURS])))
    ledger.delete_sent("User", "ours-1")
    assert ledger.journal is not None
    ledger.journal.close(keep=True)  # as a kill -9 right now would leave it
    header, entries = Journal.read(path)
    assert [(e.outcome, e.delete_sent) for e in entries] == [(OWNED, True)]
    target = ScriptedTarget([])  # the case's DELETE removed it
    replayed = Ledger(run_tag=TAG, journal=Journal(path, header), entries=entries)
    assert replayed.clean(client_for(target)) == [] and target.writes() == []
    replayed.close()


def test_a_second_interrupt_stops_cleanup_and_reports_the_rest() -> None:
    calls: list[str] = []

    def interrupted_on_first_delete(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            calls.append(request.method)
            raise KeyboardInterrupt
        return httpx.Response(200, json={**OURS, "id": request.url.path.rsplit("/", 1)[-1]})

    client = RecordingClient(
        Target(base_url=BASE, token=TOKEN), transport=httpx.MockTransport(interrupted_on_first_delete)
    )
    ledger = Ledger(run_tag=TAG)
    for number in (1, 2, 3):
        ledger.answered(intend(ledger), answer(201, {"id": f"ours-{number}"}), client)
    stayed = ledger.clean(client)
    assert calls == ["DELETE", "DELETE"], "a first interrupt is survived, the second stops the sweep"
    assert len(stayed) == 3 and all("interrupted" in line for line in stayed)
    assert ledger.stop.is_set()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_settled_create_is_journaled_as_gone(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    ledger = Ledger(run_tag=TAG, journal=Journal(path, {"run_tag": TAG, "target": BASE}))
    target = ScriptedTarget([], held=[OURS])
    ledger.answered(intend(ledger), answer(201, {"id": "ours-1"}), client_for(target))
    ledger.clean(client_for(target))
    assert _lines(path)[-1] == {"key": 1, "outcome": GONE, "status": 201, "id": "ours-1"}
    assert Journal.read(path)[1] == []
    ledger.close()


def test_an_id_the_server_reuses_after_a_cleanup_is_the_new_create_s() -> None:
    """With cases at once, a case's deleted entry lingers until its whole cleanup ends; an id the server hands out
    again meanwhile (an integer key) belongs to the create that received it, not to the gone one."""
    target = ScriptedTarget([], held=[OURS])
    ledger = Ledger(run_tag=TAG)
    gone = intend(ledger)
    ledger.answered(gone, answer(201, {"id": "ours-1"}), client_for(target))
    gone.outcome = GONE
    assert not ledger.owns("User", "ours-1")
    later = intend(ledger)
    assert ledger.answered(later, answer(201, {"id": "ours-1"}), client_for(target)) == "ours-1"


def test_a_delete_the_halt_kept_from_being_sent_is_listed_as_interrupted_not_as_the_target_s_refusal() -> None:
    target = ScriptedTarget([], held=[dict(OURS)])
    ledger = Ledger(run_tag=TAG)
    ledger.answered(intend(ledger), answer(201, OURS), client_for(target))
    client = client_for(target)
    client.halt.set()  # a second stop as this ledger's sweep began (another ledger's stop, say)
    (left,) = ledger.clean(client)
    assert "not cleaned up, interrupted" in left and target.writes() == []
