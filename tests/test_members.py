"""Members of an identity list at once (`engine/members.py`): the same reports, findings and verdict as one
after another, each member's requests in order, nothing left behind."""

from __future__ import annotations

import _thread
import json
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pytest

from scimconform.catalogue import Case, load_catalogue
from scimconform.client import RecordingClient
from scimconform.engine.case_run import CaseRun
from scimconform.engine.context import RunContext
from scimconform.engine.members import member_local
from scimconform.engine.outcomes import ConformanceFailure
from scimconform.engine.steps import Create, Foreach, Match, Request, parse_steps
from scimconform.events import EventStream
from scimconform.exchange import Exchange
from scimconform.identities import IdentityFactory, new_run_tag
from scimconform.ledger import Ledger
from scimconform.profiles import load_profile
from scimconform.server import ReferenceServer, serve_in_thread
from scimconform.target import parse_tenant_url
from tests.harness import TOKEN, Titles

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


RUN_TAG = new_run_tag()  # the same identity labels in both runs of a comparison


class Slowed(ReferenceServer):
    """The reference server, 20 ms slower per request, counting how many requests it holds at once."""

    def __init__(self, *faults: str, delay: float = 0.02) -> None:
        super().__init__(token=TOKEN, faults=faults)
        self.inside, self.most, self.delay = 0, 0, delay
        self._counting = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with self._counting:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(self.delay)
        try:
            return list(super().__call__(environ, start_response))
        finally:
            with self._counting:
                self.inside -= 1


@contextmanager
def context(url: str, at_once: int, reporter: Titles, sent: list[Exchange]) -> Iterator[RunContext]:
    client = RecordingClient(parse_tenant_url(url, TOKEN))
    client.listeners.append(sent.append)
    try:
        yield RunContext(
            client=client,
            profile=load_profile("entra-default"),
            factory=IdentityFactory(5, RUN_TAG),
            ledger=Ledger(run_tag=RUN_TAG),
            events=EventStream([reporter]),
            users=6,
            dialect="aadOptscim062020",
            at_once=at_once,
        )
    finally:
        client.close()


@dataclass
class Replayed:
    titles: list[str]  # the steps reported
    failures: list[tuple[str, str]]  # (step, check) of each failure found
    left_out: list[str]
    sent: list[Exchange]


def replay(case: Case, at_once: int, server: Slowed) -> Replayed:
    """One case against a fresh server, its members one after another (1) or at once; nothing is left behind."""
    reporter, sent = Titles(), list[Exchange]()
    failures: list[tuple[str, str]] = []
    with serve_in_thread(server) as url, context(url, at_once, reporter, sent) as run_context:
        run = CaseRun(case, "aadOptscim062020", run_context)
        try:
            run.run()
        except ConformanceFailure as failed:
            failures = [(f.step, f.failure.check) for f in failed.failures]
        assert run.cleanup() == []
        assert server.resource_count() == {"User": 0, "Group": 0}, "everything was deleted"
    return Replayed(reporter.titles, failures, run.findings.left_out, sent)


def catalogued(case_id: str) -> Case:
    return next(case for case in load_catalogue() if case.id == case_id)


@pytest.mark.parametrize("case_id", ["ENTRA-CYCLE-001", "ENTRA-CYCLE-002"])
def test_members_at_once_report_as_one_after_another(case_id: str) -> None:
    serial, at_once = Slowed(), Slowed()
    one, many = replay(catalogued(case_id), 1, serial), replay(catalogued(case_id), 4, at_once)
    assert serial.most == 1 and at_once.most > 1, "the members' requests overlapped"
    assert many.titles == one.titles, "each member's steps reported together, in member order"
    assert many.failures == one.failures == []
    sent = many.sent
    # Each user's own requests keep Entra's order: its match comes before its create, which comes before its read.
    for user in {e.url.rsplit("/", 1)[1] for e in sent if e.method == "GET" and "/Users/" in e.url}:
        mine = [e.method for e in sent if e.url.endswith(f"/Users/{user}")]
        assert mine[0] == "GET" and "PATCH" not in mine[: mine.index("GET")], mine


@pytest.mark.parametrize(
    ("case_id", "fault"),
    [
        ("ENTRA-CYCLE-001", "manager-ignored"),
        ("ENTRA-CYCLE-001", "id-changes-on-patch"),
        ("ENTRA-CYCLE-002", "value-filter-path-no-add"),
        ("ENTRA-CYCLE-002", "filter-zero-match-404"),
    ],
)
def test_members_at_once_find_the_same_failures_in_the_same_order(case_id: str, fault: str) -> None:
    one, many = (replay(catalogued(case_id), at_once, Slowed(fault)) for at_once in (1, 4))
    assert one.failures, f"{fault} breaks {case_id}"
    assert (many.failures, many.titles) == (one.failures, one.titles)


def test_members_run_at_once_only_when_their_steps_change_only_the_member() -> None:
    cycle = catalogued("ENTRA-CYCLE-001")
    foreach = next(step for step in cycle.steps if isinstance(step, Foreach))
    assert member_local(foreach.steps, "person")
    assert member_local([Create(of="person"), Match(of="person")], "person")
    assert not member_local([Create(of="boss")], "person")
    patch_other = parse_steps(
        [
            {
                "request": {
                    "method": "PATCH",
                    "path": "/Groups/{team.id}",
                    "body": {"patch": {"add-members": {"of": "team", "members": ["person"]}}},
                }
            }
        ]
    )
    assert not member_local(patch_other, "person"), "adding the member to a shared group changes the group"
    delete_other = Request(method="DELETE", path="/Users/{boss.id}")
    assert not member_local([delete_other], "person")
    assert member_local([Request(method="DELETE", path="/Users/{person.id}")], "person")
    assert not member_local([Request(method="GET", path="/Users/{person.id}", capture={"x": "id"})], "person")
    assert not member_local([Request(method="GET", path="/Groups/{team.id}", expect={"members": "team"})], "person")


class Interrupting(Slowed):
    """Interrupts the main thread (as Ctrl-C does) when its 8th and its 14th request arrive, while armed."""

    def __init__(self) -> None:
        super().__init__(delay=0.05)
        self.armed, self.seen = True, 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with self._counting:
            self.seen += 1
            if self.armed and self.seen in (8, 14):
                _thread.interrupt_main()
        return super().__call__(environ, start_response)


def test_an_interrupt_while_members_run_at_once_stops_them_and_reports_what_they_sent() -> None:
    """Ctrl-C twice while members run: each member ends its current step and no thread goes on sending; what
    they sent reaches the reports; cleanup then removes everything."""
    case = catalogued("ENTRA-CYCLE-001")
    server, reporter, sent = Interrupting(), Titles(), list[Exchange]()
    with serve_in_thread(server) as url, context(url, 4, reporter, sent) as run_context:
        run = CaseRun(case, "aadOptscim062020", run_context)
        with pytest.raises(KeyboardInterrupt):
            run.run()
        server.armed = False
        assert not [t for t in threading.enumerate() if t.name.startswith("scimconform-member")]
        stopped = len(sent)
        time.sleep(0.3)
        assert len(sent) == stopped, "no member sends after the run stopped"
        assert len(sent) < 30, "the members stopped at their current step"
        assert any(title.startswith("Match") for title in reporter.titles), "what members did was reported"
        assert run.cleanup() == []
        assert server.resource_count() == {"User": 0, "Group": 0}


class RefusesPatches(Slowed):
    """Refuses every PATCH of the users it created in the given positions (0: the first)."""

    def __init__(self, *positions: int) -> None:
        super().__init__()
        self.positions, self.created = positions, list[str]()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        refused = {self.created[n] for n in self.positions if n < len(self.created)}
        if method == "PATCH" and path.rsplit("/", 1)[-1] in refused:
            start_response("400 Bad Request", [("Content-Type", "application/scim+json")])
            error = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", "detail": "no"}
            return [json.dumps(error).encode()]
        answer = list(super().__call__(environ, start_response))
        if method == "POST" and path.endswith("/Users"):
            self.created.append(json.loads(b"".join(answer))["id"])
        return answer


def each_member(*steps: dict[str, Any], after: tuple[dict[str, Any], ...] = ()) -> Case:
    """A case of three users, created in setup, whose steps run `steps` for each, then `after`."""
    return replace(
        catalogued("ENTRA-CYCLE-002"),
        identities={"people": {"kind": "User", "count": 3}, "ghost": "User"},
        setup=parse_steps([{"create": f"people_{n}"} for n in (1, 2, 3)]),
        steps=parse_steps([{"foreach": "people", "as": "p", "steps": list(steps)}, *after]),
        alone=False,
    )


DISABLE = {
    "name": "Disable",
    "request": {
        "method": "PATCH",
        "path": "/Users/{p.id}",
        "body": {"patch": {"replace": {"of": "p", "set": {"active": False}}}},
    },
    "expect": {"status": [200, 204]},
}
LATER = {"name": "Later check", "request": {"method": "GET", "path": "/Users"}, "expect": {"status": 299}}


@pytest.mark.parametrize("refused", [(0,), (0, 2)], ids=["first", "first-and-third"])
def test_a_step_left_out_for_a_missing_id_is_judged_as_one_after_another(refused: tuple[int, ...]) -> None:
    """A member's step that needs an identity nobody created is left out when any member before it failed, and
    ends the case otherwise: at once, that is decided in member order too, and no later failure is hidden."""
    ghost = {"name": "Read ghost", "request": {"method": "GET", "path": "/Users/{ghost.id}"}, "expect": {"status": 200}}
    case = each_member(DISABLE, ghost, after=(LATER,))
    one, many = (replay(case, at_once, RefusesPatches(*refused)) for at_once in (1, 4))
    assert (many.failures, many.left_out) == (one.failures, one.left_out)
    assert (
        one.failures.count(("Disable", "status_code")) == len(refused)
        and ("Later check", "status_code") in one.failures
    )


def test_a_step_that_needs_another_runs_members_one_after_another() -> None:
    read_back = {"name": "Read back", "needs": "Disable", "request": {"method": "GET", "path": "/Users/{p.id}"}}
    case = each_member(DISABLE, {**read_back, "expect": {"status": 299}})
    one, many = (replay(case, at_once, RefusesPatches(0)) for at_once in (1, 4))
    assert (many.failures, many.left_out) == (one.failures, one.left_out)
    assert one.left_out == ["Read back: needs 'Disable'"] * 3


def test_a_step_that_lacked_an_id_after_it_was_sent_is_not_sent_again() -> None:
    """A read whose expectation names an identity nobody created raises only once its answer is in: judged again
    by the case, it is not sent a second time."""
    ghost_id = {
        "request": {"method": "GET", "path": "/Users/{p.id}"},
        "expect": {"status": 200, "fields": {"id": "{ghost.id}"}},
    }
    case = each_member(DISABLE, ghost_id)
    one, many = (replay(case, at_once, RefusesPatches(0)) for at_once in (1, 4))
    assert (many.failures, many.left_out) == (one.failures, one.left_out)
    assert len(many.sent) == len(one.sent), "the same requests, each once"
