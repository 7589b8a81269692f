"""An identity provider's provisioning traffic for N users, as phases of request chains that may run concurrently.

Match queries, POST bodies and membership batches come from the provider, every PATCH from a dialect,
values from the identity factory, so a load run sends exactly the shapes the conformance cases send, and
every name carries the run tag. A phase starts only when the one before it has finished, as in a
provisioning cycle: users before groups, groups before memberships. Within a phase the chains are
independent; the requests of one chain (match, then create) go in order and stop at the first unexpected
answer.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from scimconform import idp
from scimconform.client import RecordingClient
from scimconform.dialects import Change, Dialect
from scimconform.exchange import Exchange
from scimconform.identities import Identity, IdentityFactory
from scimconform.ledger import ENDPOINTS, Created, Ledger, found_ids, resource_path
from scimconform.profiles import Profile

USERS_PER_GROUP = 50
# Deprovisioning: of every ten users one is disabled (unassigned) and one hard-deleted.
DISABLED, DELETED = 7, 3
UPDATED_ATTRIBUTES = 2


@dataclass(frozen=True, kw_only=True)
class Call:
    """One request; `book` keeps the workload in step with an expected answer and says whether to go on."""

    op: str
    method: str
    path: str
    expect: tuple[int, ...]
    query: dict[str, str] | None = None
    body: Any = None
    book: Callable[[Exchange], bool] | None = None
    # A create is written to the ledger before it is sent, and the ledger is told its answer, whatever it is.
    before_send: Callable[[RecordingClient], None] | None = None
    after_send: Callable[[Exchange], None] | None = None

    def judge(self, exchange: Exchange) -> tuple[bool, bool]:
        """(the status was expected, the chain may go on)."""
        if exchange.status not in self.expect:
            return False, False
        return True, self.book is None or self.book(exchange)


Chain = list[Call]


@dataclass(frozen=True)
class Phase:
    name: str
    chains: Iterator[Chain]
    requests: int


@dataclass(kw_only=True)
class Workload:
    """One tenant's users and groups, what the target should end up holding, and what was created."""

    profile: Profile
    dialect: Dialect
    factory: IdentityFactory
    users: int
    provider: idp.Provider = field(default_factory=idp.provider)  # whose traffic the workload sends
    people: list[Identity] = field(init=False)
    teams: list[Identity] = field(init=False)
    ledger: Ledger = field(init=False)
    problems: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.ledger = Ledger(run_tag=self.factory.run_tag)
        self.people = [self.factory.new(self.profile.users) for _ in range(self.users)]
        groups = self.profile.groups
        count = math.ceil(self.users / USERS_PER_GROUP) if groups else 0
        self.teams = [self.factory.new(groups) for _ in range(count)] if groups else []

    # -- the plan ------------------------------------------------------------------------------------
    def phases(self) -> Iterator[Phase]:
        """The provider's initial cycle, an incremental cycle and deprovisioning, then the end-state check."""
        matches = len(self.provider.match_queries(self.profile.users, self.people[0]))
        size = self.provider.members_per_patch
        batches = sum(math.ceil(len(self._members(t)) / size) for t in range(len(self.teams)))
        leaving = sum(1 for i in range(self.users) if self._fate(i) == DELETED)
        disabled = sum(1 for i in range(self.users) if self._fate(i) == DISABLED)
        removals = sum(math.ceil(len(self._leaving(t)) / size) for t in range(len(self.teams)))
        yield Phase("probe", iter([[self._probe()]]), 1)
        yield Phase("users", (self._create_chain(p) for p in self.people), self.users * (matches + 1))
        yield Phase("groups", (self._create_chain(t) for t in self.teams), len(self.teams) * 2)
        yield Phase("members", (self._membership_chain(t) for t in range(len(self.teams))), batches)
        yield Phase("updates", (self._single(self._update(p)) for p in self.people if p.id), self.users)
        yield Phase("unassign", self._unassign_chains(), removals + disabled)
        yield Phase("delete", (self._single(self._delete(p)) for p in self._fated(DELETED)), leaving)
        yield Phase("verify", self._verify_chains(), self.users + len(self.teams))

    def _fate(self, index: int) -> int:
        return index % 10

    def _fated(self, fate: int) -> Iterator[Identity]:
        return (p for i, p in enumerate(self.people) if self._fate(i) == fate and p.id)

    def _members(self, team: int) -> list[int]:
        return list(range(team * USERS_PER_GROUP, min((team + 1) * USERS_PER_GROUP, self.users)))

    def _leaving(self, team: int) -> list[int]:
        return [i for i in self._members(team) if self._fate(i) == DELETED]

    @staticmethod
    def _single(call: Call | None) -> Chain:
        return [call] if call else []

    def _batches(self, ids: list[str]) -> list[list[str]]:
        """Members in the provider's batches, one membership PATCH each."""
        size = self.provider.members_per_patch
        return [ids[i : i + size] for i in range(0, len(ids), size)]

    # -- requests ------------------------------------------------------------------------------------
    def _probe(self) -> Call:
        """Test Connection: a filter for a random userName that must find nothing."""
        return Call(
            op="probe", method="GET", path="/Users", expect=(200,), query={"filter": f'userName eq "{uuid.uuid4()}"'}
        )

    def _create_chain(self, identity: Identity) -> Chain:
        """The provider's match queries, then the create (written down first)."""
        mapping = self.profile.mapping(identity.resource_type)
        endpoint = ENDPOINTS[identity.resource_type]
        kind = identity.resource_type.lower()
        match = mapping.match_filter(identity.values)
        surveyed: dict[str, list[str] | None] = {}
        intent: list[Created] = []

        def absent(query: str) -> Callable[[Exchange], bool]:
            def book(exchange: Exchange) -> bool:
                if query == match:  # what the create's own filter found just before it
                    surveyed[match] = found_ids(exchange)
                return self._expect_total(exchange, identity, 0)

            return book

        sender: list[RecordingClient] = []

        def write_down(client: RecordingClient) -> None:
            before = surveyed[match] if match in surveyed else self.ledger.survey(client, identity.resource_type, match)
            sent = {path: value for path, value in identity.values.items() if value is not None}
            sender.append(client)
            with self._lock:
                intent.append(self.ledger.intend(identity.resource_type, identity.label, "", match, sent, before))

        def settle(exchange: Exchange) -> None:
            identity.id = self.ledger.answered(intent[0], exchange, sender[0])  # reads the id back: no lock held

        chain = [
            Call(op=f"match-{kind}", method="GET", path=endpoint, expect=(200,), query=q.query, book=absent(q.filter))
            for q in self.provider.match_queries(mapping, identity)
        ]

        def created(exchange: Exchange) -> bool:
            if identity.id is None:
                return self._problem(f"the create of {identity.label} answered {exchange.status} without a new id")
            return True

        body = self.provider.create_body(mapping, identity)
        create = Call(
            op=f"create-{kind}",
            method="POST",
            path=endpoint,
            expect=(201,),
            body=body,
            book=created,
            before_send=write_down,
            after_send=settle,
        )
        return [*chain, create]

    def _membership_chain(self, team: int) -> Chain:
        group = self.teams[team]
        ids = [p.id for i in self._members(team) if (p := self.people[i]).id]
        if group.id is None:
            return []
        group.members = ids
        return [
            self._patch("add-members", group, Change("add-members", dict.fromkeys(batch)))
            for batch in self._batches(ids)
        ]

    def _unassign_chains(self) -> Iterator[Chain]:
        """Members leaving are removed from their group; users unassigned are disabled (active=false)."""
        for team, group in enumerate(self.teams):
            leaving = [p.id for i in self._leaving(team) if (p := self.people[i]).id]
            if group.id is None or not leaving:
                continue
            group.members = [m for m in group.members if m not in leaving]
            for batch in self._batches(leaving):
                yield [self._patch("remove-members", group, Change("remove-members", dict.fromkeys(batch)))]
        for person in self._fated(DISABLED):
            person.values["active"] = False
            yield [self._patch("disable", person, Change("replace", {"active": False}))]

    def _update(self, person: Identity) -> Call | None:
        """An incremental cycle's PATCH: new values for a few updatable attributes (none if none are mapped)."""
        chosen = self.profile.users.select("updatable")[:UPDATED_ATTRIBUTES]
        if not chosen:
            return None
        values = {a.path: self.factory.changed_value(person, a.path, a.generate) for a in chosen}
        person.values.update(values)
        return self._patch("update", person, Change("replace", values))

    def _patch(self, op: str, identity: Identity, change: Change) -> Call:
        body = self.dialect.render([change])
        return Call(
            op=op,
            method="PATCH",
            path=resource_path(identity.resource_type, identity.id or ""),
            expect=(200, 204),
            body=body,
        )

    def _delete(self, person: Identity) -> Call:
        def deleted(exchange: Exchange) -> bool:
            person.deleted = True
            with self._lock:
                self.ledger.delete_sent("User", person.id or "")
            return True

        return Call(
            op="delete", method="DELETE", path=resource_path("User", person.id or ""), expect=(204,), book=deleted
        )

    # -- the end state -------------------------------------------------------------------------------
    def _verify_chains(self) -> Iterator[Chain]:
        """Every user found exactly once (or gone), with its active flag; every group with exactly its members."""
        for person in self.people:
            query = self.provider.match_queries(self.profile.users, person)[0].query
            book = self._user_state(person)
            yield [Call(op="verify-user", method="GET", path="/Users", expect=(200,), query=query, book=book)]
        for group in self.teams:
            if group.id is not None:
                path = resource_path("Group", group.id)
                yield [Call(op="verify-group", method="GET", path=path, expect=(200,), book=self._group_state(group))]

    def _user_state(self, person: Identity) -> Callable[[Exchange], bool]:
        def check(exchange: Exchange) -> bool:
            if person.id is None:
                return self._problem(f"{person.label} was never created")
            if not self._expect_total(exchange, person, 0 if person.deleted else 1):
                return False
            found = (_json(exchange).get("Resources") or [{}])[0] if not person.deleted else {}
            if found and found.get("id") != person.id:
                return self._problem(f"{person.label} is found with id {found.get('id')}, created as {person.id}")
            active = person.values.get("active")
            if found and active is not None and _boolean(found.get("active")) != active:
                by = self.provider.name
                return self._problem(f"{person.label} has active={found.get('active')!r}, {by} sent {active}")
            return True

        return check

    def _group_state(self, group: Identity) -> Callable[[Exchange], bool]:
        def check(exchange: Exchange) -> bool:
            members = _json(exchange).get("members") or []
            held = sorted(str(m.get("value")) for m in members if isinstance(m, dict))
            if held != sorted(group.members):
                missing, extra = set(group.members) - set(held), set(held) - set(group.members)
                duplicated = len(held) - len(set(held))
                return self._problem(
                    f"group {group.label}: {len(missing)} member(s) missing, {len(extra)} unexpected, "
                    f"{duplicated} duplicated"
                )
            return True

        return check

    def _expect_total(self, exchange: Exchange, identity: Identity, expected: int) -> bool:
        total = _json(exchange).get("totalResults")
        if total != expected:
            verdict = "lost" if expected == 1 and total == 0 else "duplicated" if expected == 1 else "present"
            return self._problem(
                f"{identity.label}: a filter for it found {total} resource(s), expected {expected} ({verdict})"
            )
        return True

    def _problem(self, text: str) -> bool:
        self.problems.append(text)
        return False


def _json(exchange: Exchange) -> dict[str, Any]:
    try:
        document = exchange.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _boolean(value: Any) -> Any:
    """A boolean as a dialect with string booleans may have had it stored ("True"/"False")."""
    return {"true": True, "false": False}.get(value.lower(), value) if isinstance(value, str) else value


Recorder = Callable[[Call, Exchange, bool], None]


def run_chain(client: RecordingClient, chain: Chain, record: Recorder, pace: Callable[[], None] = lambda: None) -> None:
    """Send a chain's requests in order; an unexpected answer ends the chain (later steps depend on it)."""
    for call in chain:
        pace()
        if call.before_send is not None:
            call.before_send(client)
        exchange = client.send(call.method, call.path, call.query, call.body)
        if call.after_send is not None:
            call.after_send(exchange)
        expected, go_on = call.judge(exchange)
        record(call, exchange, expected)
        if not go_on:
            return
