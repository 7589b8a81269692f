"""Foreign data: the target already holds other people's users and groups, and the run must leave every one
of them exactly as it found it, byte for byte, whatever the target answers.

Each test seeds a fresh reference server with foreign users (one disabled, four with a manager) and two
groups with members (one nested), then runs `scimconform run`, `load` or `cleanup` through a hostile front:
list answers that ignore the filter or add foreign resources, creates refused with 409 because someone else
holds the userName, create answers lost after the user was made, ids with `/`, `..`, `?`, `#` and `%`,
answers nested 50,000 arrays deep, deletes that fail, stop signals at several moments, and `kill -9`. After
each, three things hold: every foreign resource reads back byte for byte as before; every request stayed
inside the Tenant URL and none changed a foreign resource; and whatever the run left is reported.
"""

from __future__ import annotations

import itertools
import json
import os
import posixpath
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus, urlencode

import pytest
from werkzeug.test import Client

from scimconform.cli import main
from scimconform.identities import RUN_TAG_ENV
from scimconform.server import ReferenceServer, serve_in_thread
from tests.harness import QUICK, TOKEN, Outcome, child_processes, run_cli
from tests.hostile import (
    FRONT_MARK,
    Connection,
    Front,
    HostileServer,
    Picks,
    Request,
    Rule,
    body_changed,
    collection,
    creates,
    creates_users,
    deeply_nested,
    delete_fails,
    deletes,
    every,
    everything,
    filter_ignored,
    filtered_lists,
    forward,
    forwarded_then_reset,
    hostile_server,
    listing_also,
    listing_twice,
    never_answers,
    repeated,
    truncated_json,
)

BASE = "/scim/v2"
SCIM_JSON = "application/scim+json"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# A few cases that create users and groups, read them back, delete one and add members; one dialect.
CASES = (
    "ENTRA-USER-002 or ENTRA-USER-003 or ENTRA-USER-006 or ENTRA-USER-012 or ENTRA-GROUP-002 or ENTRA-GROUP-007 "
    "or ENTRA-CYCLE-001"
)
RUN = ("--dialect", "default", "--users", "3", "-k", CASES)
LOAD = ("--users", "10", "--concurrency", "2", "--seed", "5")
# What the run names its identities: the run tag, the xdist worker when there is one, u or g and a number.
LABEL = re.compile(r"scf[0-9a-f]{6}(?:-gw\d+)?-[ug]\d+")
MUTATING = frozenset({"DELETE", "PATCH", "PUT"})
PEOPLE = [
    ("ada.lovelace@contoso.example", "Ada", "Lovelace", True),
    ("grace.hopper@contoso.example", "Grace", "Hopper", True),
    ("alan.turing@contoso.example", "Alan", "Turing", False),
    ("edsger.dijkstra@contoso.example", "Edsger", "Dijkstra", True),
    ("barbara.liskov@contoso.example", "Barbara", "Liskov", True),
]


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)
    monkeypatch.delenv(RUN_TAG_ENV, raising=False)  # each run in this process makes its own tag


# -- the target: foreign data, the reference server as it saw the run, the hostile front -------------------


class Foreign:
    """Other people's users and groups on the target, and how each read before the run.

    They are written and read through the reference server's own HTTP API, in process, so that none of
    these requests is mistaken for the run's."""

    def __init__(self, app: ReferenceServer) -> None:
        self.app = app
        self.users: list[str] = []
        self.groups: list[str] = []
        self.user_names: list[str] = []
        self.before: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def seed(self) -> None:
        """Five users, four of them managed by the first, one disabled; two groups, the second nesting the first."""
        for user_name, given, family, active in PEOPLE:
            body: dict[str, Any] = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                "userName": user_name,
                "externalId": f"contoso-{family.lower()}",
                "active": active,
                "displayName": f"{given} {family}",
                "name": {"givenName": given, "familyName": family, "formatted": f"{given} {family}"},
                "emails": [{"value": user_name, "type": "work", "primary": True}],
                "title": "Engineer",
            }
            if self.users:
                body[ENTERPRISE] = {"manager": {"value": self.users[0]}, "department": "R&D"}
            self.create("Users", body)
        group = ["urn:ietf:params:scim:schemas:core:2.0:Group"]
        first = self.create(
            "Groups",
            {"schemas": group, "displayName": "Contoso Finance", "members": [{"value": u} for u in self.users[:3]]},
        )
        members = [{"value": u} for u in [*self.users[3:], first]]
        self.create("Groups", {"schemas": group, "displayName": "Contoso Engineering", "members": members})
        self.before = self.snapshot()  # as the run will find them, with every reference in place

    def create(self, kind: str, body: dict[str, Any]) -> str:
        """Create a foreign resource (also while the run is going on) and remember how it reads."""
        response = self._client().post(f"{BASE}/{kind}", json=body, headers=self._headers())
        assert response.status_code == 201, response.get_data(as_text=True)
        resource_id: str = response.get_json()["id"]
        with self._lock:
            (self.users if kind == "Users" else self.groups).append(resource_id)
            if kind == "Users":
                self.user_names.append(body["userName"])
            self.before[kind, resource_id] = self.read(kind, resource_id)
        return resource_id

    def read(self, kind: str, resource_id: str) -> bytes:
        """Status and body of GET /<kind>/<id>, exactly as they come."""
        response = self._client().get(f"{BASE}/{kind}/{resource_id}", headers=self._headers())
        return f"{response.status_code} ".encode() + response.get_data()

    def snapshot(self) -> dict[tuple[str, str], bytes]:
        with self._lock:
            keys = list(self.before)
        return {key: self.read(*key) for key in keys}

    def listed(self, kind: str) -> list[dict[str, Any]]:
        """The foreign resources of a collection, as a list answer shows them."""
        with self._lock:
            ids = set(self.users if kind == "Users" else self.groups)
        return [r for r in self.everything(kind) if r["id"] in ids]

    def everything(self, kind: str) -> list[dict[str, Any]]:
        """Every resource the server holds in a collection, foreign or not."""
        response = self._client().get(f"{BASE}/{kind}?count=200", headers=self._headers())
        resources: list[dict[str, Any]] = response.get_json().get("Resources", [])
        return resources

    def owns(self, kind: str, resource_id: str) -> bool:
        with self._lock:
            return (kind, resource_id) in self.before

    def _client(self) -> Client:
        return Client(self.app)

    @staticmethod
    def _headers() -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}", "Content-Type": SCIM_JSON}


@dataclass
class Hit:
    """One request as the reference server saw it."""

    method: str
    path: str  # percent-decoded, as the server routes it
    via_front: bool


@dataclass
class Hold:
    """Keeps the first request `picks` picks waiting — before it is carried out, or after, with its answer
    held back — until the test releases it."""

    picks: Callable[[Hit], bool]
    after: bool
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


class Upstream:
    """The reference server behind the front: records what it is asked, slowed by `delay` seconds a request,
    with holds that stop a request at a chosen moment."""

    def __init__(self, app: ReferenceServer) -> None:
        self.app = app
        self.base_path = app.base_path
        self.delay = 0.0
        self.hits: list[Hit] = []
        self._holds: list[Hold] = []
        self._lock = threading.Lock()

    def hold(self, picks: Callable[[Hit], bool], after: bool = False) -> Hold:
        hold = Hold(picks, after)
        self._holds.append(hold)
        return hold

    def release_all(self) -> None:
        for hold in self._holds:
            hold.released.set()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        via_front = f"HTTP_{FRONT_MARK.upper().replace('-', '_')}" in environ
        hit = Hit(environ["REQUEST_METHOD"], unquote(environ.get("PATH_INFO", "")), via_front)
        self.hits.append(hit)
        time.sleep(self.delay)
        self._wait(hit, after=False)
        body = b"".join(self.app(environ, start_response))
        self._wait(hit, after=True)
        return [body]

    def _wait(self, hit: Hit, after: bool) -> None:
        with self._lock:
            hold = next((h for h in self._holds if h.after == after and not h.reached.is_set() and h.picks(hit)), None)
            if hold is not None:
                hold.reached.set()
        if hold is not None:
            hold.released.wait(30)


@dataclass
class World:
    """Foreign data on a reference server, behind a hostile front whose Tenant URL the run is given."""

    foreign: Foreign
    upstream: Upstream
    front: Front
    url: str

    def run_resources(self) -> list[dict[str, Any]]:
        """Whatever the server holds that is not foreign: what the run left."""
        return [
            resource
            for kind in ("Users", "Groups")
            for resource in self.foreign.everything(kind)
            if not self.foreign.owns(kind, resource["id"])
        ]


Sabotages = Callable[[Foreign], list[Rule]]


def honest(foreign: Foreign) -> list[Rule]:
    return []


@contextmanager
def world(sabotages: Sabotages = honest, delay: float = 0.0, faults: tuple[str, ...] = ()) -> Iterator[World]:
    app = ReferenceServer(token=TOKEN, faults=faults)
    foreign = Foreign(app)
    foreign.seed()
    upstream = Upstream(app)
    upstream.delay = delay
    front = Front(sabotages(foreign))
    try:
        with (
            serve_in_thread(upstream) as upstream_url,  # type: ignore[arg-type]
            hostile_server(upstream_url, HostileServer(front, picks=everything)) as url,
        ):
            yield World(foreign, upstream, front, url)
    finally:
        upstream.release_all()


# -- what must hold after every run ----------------------------------------------------------------------


def assert_left_as_found(world: World) -> None:
    """Every foreign user and group still exists and reads back byte for byte as before the run."""
    after = world.foreign.snapshot()
    changed = [f"{kind}/{rid}" for (kind, rid), body in world.foreign.before.items() if after[kind, rid] != body]
    assert not changed, f"foreign resources deleted or changed: {changed}"


def assert_stayed_inside(world: World) -> None:
    """No request left the Tenant URL or went round the front, and none changed a foreign resource."""
    for request in world.front.seen:
        where = f"{request.method} {request.target}"
        assert request.path.startswith(BASE + "/"), f"{where} is outside the Tenant URL"
        segments = request.path[len(BASE) + 1 :].split("/")
        assert not [s for s in segments if unquote(s) in (".", "..")], f"{where} holds a dot segment"
        if request.method in MUTATING:
            assert len(segments) == 2 and segments[0] in ("Users", "Groups") and segments[1], f"{where}: not one id"
    foreign = {*world.foreign.users, *world.foreign.groups}
    for hit in world.upstream.hits:
        assert hit.via_front, f"{hit.method} {hit.path} reached the server without going through the Tenant URL"
        touched = [rid for rid in foreign if rid in hit.path]
        assert not (hit.method != "GET" and touched), f"{hit.method} {hit.path} touched a foreign resource"


def named(text: str, resource: dict[str, Any]) -> bool:
    """`text` names the resource: by its id, or by the label the run gave it."""
    if resource["id"] in text:
        return True
    labels = set(LABEL.findall(json.dumps(resource, ensure_ascii=False)))
    return any(re.search(re.escape(label) + r"(?!\d)", text) for label in labels)


def assert_nothing_unreported(world: World, outcome: Outcome) -> list[dict[str, Any]]:
    """Everything the run left carries its tag and is reported, in summary.json and on a LEFT line;
    returns what was left."""
    summary = outcome.summary
    left = world.run_resources()
    for resource in left:
        assert summary["run_tag"] in json.dumps(resource, ensure_ascii=False), f"not the run's: {resource}"
    unreported = [r["id"] for r in left if not any(named(line, r) for line in summary["leftovers"])]
    assert not unreported, f"left on the target and not reported: {unreported}; reported: {summary['leftovers']}"
    lines = [line for line in outcome.out.splitlines() if line.startswith("LEFT")]
    for leftover in summary["leftovers"]:
        assert any(leftover in line for line in lines), f"no LEFT line for {leftover!r}"
    return left


def assert_safe(world: World, outcome: Outcome) -> list[dict[str, Any]]:
    """The three promises, and a run that ended as a run ends; returns what the run left."""
    assert "Traceback" not in outcome.out + outcome.err, outcome.out + outcome.err
    assert_left_as_found(world)
    assert_stayed_inside(world)
    return assert_nothing_unreported(world, outcome)


# -- sabotages that need to know the foreign data ----------------------------------------------------------


def lists(request: Request) -> bool:
    """Every GET of /Users or /Groups, filtered or not."""
    return request.method == "GET" and collection(request) is not None


def ignoring(foreign: Foreign) -> list[Rule]:
    return [(filtered_lists, filter_ignored)]


def padding(foreign: Foreign) -> list[Rule]:
    return [(lists, listing_also(foreign.listed))]


def lost(sabotage: Callable[[Connection], None], listing: Sabotages = honest) -> Sabotages:
    """Every other create is carried out and its answer lost; list answers as `listing` makes them."""
    return lambda foreign: [(every(2, creates), sabotage), *listing(foreign)]


def doubling(fakes: set[str]) -> Sabotages:
    """List answers show every resource twice, the second time under an id that does not exist."""
    return lambda foreign: [(filtered_lists, listing_twice(fakes))]


def taken_user_name(lists: Picks = filtered_lists) -> Sabotages:
    """Every other POST /Users goes out with a foreign user's userName (in capitals) and meets a real 409,
    while the list answers `lists` picks ignore the filter: a lookup after the 409 would find every user."""

    def sabotages(foreign: Foreign) -> list[Rule]:
        rename = body_changed(lambda body: {**body, "userName": foreign.user_names[0].upper()})
        return [(every(2, creates_users), rename), (lists, filter_ignored)]

    return sabotages


def twin_created_meanwhile(foreign: Foreign) -> list[Rule]:
    """Just before every other POST /Users arrives, someone else creates exactly that user; the POST meets a
    real 409. The twin carries the run's tag and every value the run sent, but it is not the run's."""

    def twin(connection: Connection) -> None:
        foreign.create("Users", json.loads(connection.request.body))
        forward(connection)

    return [(every(2, creates_users), twin)]


def mentions_the_run(request: Request) -> bool:
    """A filtered list query that names one of the run's identities (not the preflight's probe)."""
    return filtered_lists(request) and "scf" in unquote_plus(request.target)


def reads_a_user(request: Request) -> bool:
    return request.method == "GET" and re.fullmatch(rf"{BASE}/Users/[^/]+", request.path) is not None


def nested(foreign: Foreign) -> list[Rule]:
    """The first create's answer is cut short, and every lookup of the run's identities, and every read of a
    user, is answered with JSON nested 50,000 arrays deep."""
    return [
        (every(1_000_000, creates_users), truncated_json),
        (mentions_the_run, deeply_nested()),
        (reads_a_user, deeply_nested()),
    ]


def failing_deletes(foreign: Foreign) -> list[Rule]:
    return [(deletes, delete_fails)]


class Disguise:
    """Gives each resource the run creates a hostile id, everywhere the id appears in an answer (id,
    meta.location, Location, member values); requests reach the resource through that id written as one
    percent-encoded path segment. Any other spelling is resolved the way a lax server resolves it — decoded,
    dot segments removed — which is how a careless client reaches someone else's resource."""

    def __init__(self, form: str, foreign: Foreign) -> None:
        self.form = form
        self.foreign = foreign
        self.hidden: dict[str, str] = {}  # real id -> hostile id
        self.real: dict[str, str] = {}  # hostile id -> real id
        self._lock = threading.Lock()

    def __call__(self, connection: Connection) -> None:
        request = connection.request
        path, mark, query = request.target.partition("?")
        with self._lock:
            request.target = self._path(path) + mark + self._query(query)
            request.body = self._rewrite(request.body, self.real)
        answer = connection.forward()
        with self._lock:
            if creates(request) and 200 <= answer.status < 300:
                self._disguise(request, answer.body)
            body = self._rewrite(answer.body, self.hidden)
            headers = [(name, self._replace(value, self.hidden)) for name, value in answer.headers]
        connection.send(answer.status, headers, body)

    def _disguise(self, request: Request, body: bytes) -> None:
        real = _json(body).get("id")
        if not isinstance(real, str):
            return
        kind = collection(request)
        other = (self.foreign.users if kind == "Users" else self.foreign.groups)[1]
        hostile = self.form.format(real=real, foreign=other, group=self.foreign.groups[0])
        for n in itertools.count(2):  # forms without the real id repeat: keep each one unique
            if hostile not in self.real:
                break
            hostile = f"{hostile.split('#', 1)[0]}#{n}"
        self.hidden[real], self.real[hostile] = hostile, real

    def _path(self, path: str) -> str:
        match = re.fullmatch(r"(?P<collection>.*/(?:Users|Groups))/(?P<rest>.+)", path)
        if match is None:
            return path
        rest = match["rest"]
        if "/" not in rest and rest not in (".", "..") and unquote(rest) in self.real:
            return f"{match['collection']}/{self.real[unquote(rest)]}"
        return quote(posixpath.normpath(unquote(path)), safe="/")

    def _query(self, query: str) -> str:
        pairs = parse_qsl(query, keep_blank_values=True)
        mapped = [(name, self._replace(value, self.real)) for name, value in pairs]
        return query if mapped == pairs else urlencode(mapped, quote_via=quote_plus)

    def _rewrite(self, body: bytes, table: dict[str, str]) -> bytes:
        try:
            document = json.loads(body)
        except ValueError:
            return body
        return json.dumps(self._walk(document, table), ensure_ascii=False).encode()

    def _walk(self, value: Any, table: dict[str, str]) -> Any:
        if isinstance(value, str):
            return self._replace(value, table)
        if isinstance(value, list):
            return [self._walk(item, table) for item in value]
        if isinstance(value, dict):
            return {key: self._walk(item, table) for key, item in value.items()}
        return value

    @staticmethod
    def _replace(text: str, table: dict[str, str]) -> str:
        if not table:
            return text
        pattern = "|".join(re.escape(key) for key in sorted(table, key=len, reverse=True))
        return re.sub(pattern, lambda m: table[m[0]], text)


def disguised(form: str, made: list[Disguise]) -> Sabotages:
    """The `Disguise` in `form`, kept in `made` for the test to look at."""

    def sabotages(foreign: Foreign) -> list[Rule]:
        made.append(Disguise(form, foreign))
        return [(everything, made[-1])]

    return sabotages


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


# -- `scimconform run` -------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, world: World, timeout: float = 5, *more: str) -> Outcome:
    config = tmp_path / "scimconform.yaml"
    config.write_text(f"timeout: {timeout}\n")
    return run_cli(capsys, tmp_path / "reports", "--url", world.url, "--config", str(config), *RUN, *more)


def test_a_list_answer_that_ignores_the_filter_deletes_no_foreign_user(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A match query or a lookup that gets the whole collection must not make the run take it for its own."""
    with world(ignoring) as w:
        outcome = run(capsys, tmp_path, w)
        assert_safe(w, outcome)


def test_list_answers_padded_with_foreign_resources_delete_no_foreign_resource(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Foreign users and groups in every list answer are someone else's, whatever the answer claims."""
    with world(padding) as w:
        outcome = run(capsys, tmp_path, w)
        assert_safe(w, outcome)


def test_with_workers_users_at_once_and_threaded_cleanup_delete_no_foreign_resource(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The same padded answers with two workers: a case's users at once and its cleanup in threads follow the
    same ownership rule."""
    with world(padding) as w:
        outcome = run(capsys, tmp_path, w, 5, "--workers", "2")
        assert_safe(w, outcome)
        assert outcome.summary["workers"] == 2


def test_requests_resent_in_a_plainer_form_touch_no_foreign_resource(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Entra's group create and PascalCase PATCHes refused: every refused create and PATCH is sent again in a
    plainer form, each create surveyed and proven like the first, while every list answer is padded with
    foreign users and groups."""
    with world(padding, faults=("unknown-schema-uri-refused", "pascalcase-op-rejected")) as w:
        outcome = run(capsys, tmp_path, w)
        assert any(case["fallbacks"] for case in outcome.summary["cases"]), "the plainer forms were sent"
        assert_safe(w, outcome)


@pytest.mark.parametrize(
    ("sabotages", "timeout", "honest_lists"),
    [
        pytest.param(lost(forwarded_then_reset), 5, True, id="reset-honest-lists"),
        pytest.param(lost(never_answers), 0.5, True, id="timeout-honest-lists"),
        pytest.param(lost(forwarded_then_reset, ignoring), 5, False, id="reset-lists-ignore-the-filter"),
        pytest.param(lost(never_answers, ignoring), 0.5, False, id="timeout-lists-ignore-the-filter"),
        pytest.param(lost(forwarded_then_reset, padding), 5, False, id="reset-lists-padded-with-foreign"),
    ],
)
def test_a_create_whose_answer_was_lost_is_deleted_only_by_proof(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sabotages: Sabotages, timeout: float, honest_lists: bool
) -> None:
    """When a create's answer never arrives, the run may look its user up, but delete only what it can prove
    it made; on an honest server it can prove it, and nothing is left."""
    with world(sabotages) as w:
        outcome = run(capsys, tmp_path, w, timeout)
        left = assert_safe(w, outcome)
        assert any(creates(r) for r in w.front.seen), "the run sent no create"
    if honest_lists:
        assert left == [] and outcome.summary["leftovers"] == [], "an honest lookup proves what the run made"


def test_a_lookup_that_shows_each_match_twice_proves_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Two candidates for one lost create: the run cannot tell which is its own, so it deletes neither and
    reports the create as possibly left; it never deletes an id it did not prove."""
    fakes: set[str] = set()
    with world(lambda f: [*lost(forwarded_then_reset)(f), *doubling(fakes)(f)]) as w:
        outcome = run(capsys, tmp_path, w)
        left = assert_safe(w, outcome)
        assert left, "every other create's answer was lost, and no lookup could prove whose user it found"
        touched = [r.target for r in w.front.seen if r.method in MUTATING and any(f in r.target for f in fakes)]
        assert not touched, f"requests for ids the run never proved: {touched}"


def test_a_409_for_a_foreign_users_user_name_deletes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A 409 says the userName belongs to someone else: no lookup after it may lead to a delete."""
    with world(taken_user_name()) as w:
        outcome = run(capsys, tmp_path, w)
        assert_safe(w, outcome)


def test_a_409_because_a_twin_was_created_meanwhile_deletes_no_twin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Even a user identical to what the run sent, tag and all, is not the run's when its POST got a 409."""
    with world(twin_created_meanwhile) as w:
        outcome = run(capsys, tmp_path, w)
        assert len(w.foreign.users) > len(PEOPLE), "no twin was created: the sabotage never met a POST"
        assert_safe(w, outcome)


FORMS = {
    "slash-dot-dot": "{real}/../{foreign}",
    "parent-collection": "../Groups/{group}",
    "above-the-tenant-url": "../../Groups/{group}",
    "query": "{foreign}?x=1",
    "fragment": "{foreign}#frag",
    "percent-encoded-slash": "{real}%2F..%2F{foreign}",
    "dot-dot": "..",
}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_a_hostile_id_never_reaches_a_foreign_resource_or_leaves_the_tenant_url(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, form: str
) -> None:
    """An id is one path segment, percent-encoded: `/`, `?`, `#`, `%` and dots in it can neither point a
    request at another resource nor out of the Tenant URL. An id that cannot be sent is the target's fault,
    and what it names is reported, not guessed at."""
    made: list[Disguise] = []
    with world(disguised(form, made)) as w:
        outcome = run(capsys, tmp_path, w)
        assert_safe(w, outcome)
    assert made[0].real, "no create was answered: no id was disguised"


def test_a_deeply_nested_answer_does_not_abort_cleanup(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """JSON nested 50,000 deep costs the cases that read it, not the cleanup: everything the run owns is
    deleted, and only the create whose answer was cut (its lookup unreadable) may be left, reported."""
    with world(nested) as w:
        outcome = run(capsys, tmp_path, w)
        left = assert_safe(w, outcome)
        first = next((r for r in w.front.seen if creates_users(r)), None)
        assert first is not None, "the run sent no create"
        cut = json.loads(first.body)["userName"]
        assert all(r.get("userName") == cut for r in left), f"cleanup stopped early: {left}"


def test_deletes_that_fail_leave_everything_reported_and_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A target that refuses every DELETE keeps what the run made; the run says so, resource by resource."""
    with world(failing_deletes) as w:
        outcome = run(capsys, tmp_path, w)
        left = assert_safe(w, outcome)
    assert left, "the run created nothing"
    assert outcome.code == 1
    assert outcome.summary["verdict"]["exit_code"] == 1


# -- `scimconform load` ------------------------------------------------------------------------------------


def load(capsys: pytest.CaptureFixture[str], tmp_path: Path, world: World, *args: str) -> Outcome:
    report_dir = tmp_path / "reports"
    code = main(["load", "--url", world.url, "--report-dir", str(report_dir), *LOAD, *args])
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err, report_dir)


LOAD_SABOTAGES: dict[str, Sabotages] = {
    "lists-ignore-the-filter": lambda f: [(repeated(filtered_lists), filter_ignored)],
    "lists-padded-with-foreign": lambda f: [(repeated(lists), listing_also(f.listed))],
    "lost-answers-lists-ignore-the-filter": lambda f: [
        (every(3, creates), forwarded_then_reset),
        (repeated(filtered_lists), filter_ignored),
    ],
    "lost-answers-lists-padded": lambda f: [
        (every(3, creates), forwarded_then_reset),
        (repeated(lists), listing_also(f.listed)),
    ],
    "lost-answers-lists-doubled": lambda f: [
        (every(3, creates), forwarded_then_reset),
        (repeated(filtered_lists), listing_twice(set())),
    ],
    "409-foreign-user-name": taken_user_name(repeated(filtered_lists)),
    "409-twin-created-meanwhile": twin_created_meanwhile,
    "deletes-fail": failing_deletes,
}


@pytest.mark.parametrize("sabotages", LOAD_SABOTAGES.values(), ids=LOAD_SABOTAGES.keys())
def test_load_touches_no_foreign_resource_and_reports_what_it_leaves(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sabotages: Sabotages
) -> None:
    """`scimconform load` follows the same ownership rule as `run`, with two workers at once."""
    with world(sabotages) as w:
        outcome = load(capsys, tmp_path, w)
        left = assert_safe(w, outcome)
        assert any(creates(r) for r in w.front.seen), "the load sent no create"
    if sabotages is failing_deletes:
        assert left and outcome.code == 1


# -- stop signals and kill -9, in a process of its own -----------------------------------------------------


@dataclass
class Child:
    """`python -m scimconform.cli …` in its own process, its output in files."""

    process: subprocess.Popen[bytes]
    report_dir: Path
    out: Path
    err: Path

    def finish(self, timeout: float = 60) -> Outcome:
        try:
            code = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        return Outcome(code, self.out.read_text(), self.err.read_text(), self.report_dir)


def start(tmp_path: Path, world: World, command: str, *args: str) -> Child:
    report_dir, out, err = tmp_path / "reports", tmp_path / "out.txt", tmp_path / "err.txt"
    # A process of its own: no xdist worker's name, no run tag inherited from a run in this process.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != RUN_TAG_ENV}
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scimconform.cli",
                command,
                "--url",
                world.url,
                "--report-dir",
                str(report_dir),
                *args,
            ],
            env={**env, "SCIM_TOKEN": TOKEN},
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
        )
    return Child(process, report_dir, out, err)


def reached(hold: Hold, child: Child, timeout: float = 30) -> bool:
    """Wait until the held request arrives (True) or the process ends first (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hold.reached.wait(0.05):
            return True
        if child.process.poll() is not None:
            return False
    return False


def nth(n: int, method: str, kind: str) -> Callable[[Hit], bool]:
    """The n-th request with this method to this collection."""
    counter = itertools.count(1)
    return lambda hit: hit.method == method and hit.path.endswith(f"/{kind}") and next(counter) == n


def first_request(hit: Hit) -> bool:
    return True


def first_delete(hit: Hit) -> bool:
    return hit.method == "DELETE"


SIGNAL_CASES = (
    "--dialect",
    "default",
    "--users",
    "3",
    *QUICK,
    "-k",
    "ENTRA-USER-002 or ENTRA-GROUP-007 or ENTRA-CYCLE-001",
)
# Where an interrupt lands: the preflight (nothing made yet); a create carried out whose answer has not
# come back; a cleanup DELETE not yet carried out.
MOMENTS: dict[str, tuple[Callable[[], Callable[[Hit], bool]], bool]] = {
    "early": (lambda: first_request, False),
    "mid-create": (lambda: nth(3, "POST", "Users"), True),
    "during-cleanup": (lambda: first_delete, False),
}


def assert_interrupted(outcome: Outcome) -> None:
    assert outcome.code == 130, outcome.out + outcome.err
    summary = outcome.summary
    assert summary["interrupted"] is True
    assert summary["verdict"]["gallery_ready"] is False
    assert summary["verdict"]["exit_code"] == 130
    assert re.search(r"NOT JUDGED — interrupted after \d+ of \d+ cases", outcome.out), outcome.out


@pytest.mark.parametrize(
    ("number", "moment"),
    [
        (signal.SIGTERM, "early"),
        (signal.SIGTERM, "mid-create"),
        (signal.SIGHUP, "mid-create"),
        (signal.SIGTERM, "during-cleanup"),
    ],
    ids=["SIGTERM-early", "SIGTERM-mid-create", "SIGHUP-mid-create", "SIGTERM-during-cleanup"],
)
def test_a_stop_signal_cleans_up_writes_the_reports_and_exits_130(
    tmp_path: Path, number: signal.Signals, moment: str
) -> None:
    """SIGTERM (a CI runner's cancel) and SIGHUP (a closed terminal) stop a run as Ctrl-C does: the run's
    resources are deleted — even the one whose create was cut off, found by proof — and the reports say the
    run was interrupted, not judged."""
    picks, after = MOMENTS[moment]
    with world(delay=0.01) as w:
        hold = w.upstream.hold(picks(), after)
        child = start(tmp_path, w, "run", "--seed", "11", *SIGNAL_CASES)
        assert reached(hold, child), "the run never reached the moment"
        child.process.send_signal(number)
        time.sleep(0.3)
        hold.released.set()
        outcome = child.finish()
        assert_interrupted(outcome)
        left = assert_safe(w, outcome)
    if moment != "during-cleanup":  # one interrupt, then a full cleanup
        assert left == [] and outcome.summary["leftovers"] == []


def test_a_second_ctrl_c_stops_cleanup_at_once_and_lists_what_is_left(tmp_path: Path) -> None:
    """The second interrupt means "stop now": cleanup ends without another request, and what it did not
    reach is listed in summary.json and on the console."""
    with world(delay=0.01) as w:
        interrupted = w.upstream.hold(nth(1, "POST", "Groups"), after=True)
        cleaning = w.upstream.hold(first_delete)
        child = start(
            tmp_path, w, "run", "--seed", "11", "--dialect", "default", "--users", "3", *QUICK, "-k", "ENTRA-CYCLE-001"
        )
        assert reached(interrupted, child), "the run never created its group"
        child.process.send_signal(signal.SIGINT)
        time.sleep(0.3)
        w.upstream.delay = 2.0  # a cleanup that went on after the second interrupt would take many seconds
        interrupted.released.set()
        assert reached(cleaning, child), "cleanup never sent a DELETE"
        child.process.send_signal(signal.SIGINT)
        stopped = time.monotonic()
        time.sleep(0.3)
        cleaning.released.set()
        outcome = child.finish()
        took = time.monotonic() - stopped
        w.upstream.delay = 0.0
        assert_interrupted(outcome)
        left = assert_safe(w, outcome)
    assert left, "the second interrupt came before cleanup had deleted anything but the group"
    assert took < 8, f"cleanup went on for {took:.1f} s after the second interrupt"


def cleanup(capsys: pytest.CaptureFixture[str], report_dir: Path, *args: str) -> Outcome:
    code = main(["cleanup", "--report-dir", str(report_dir), *args])
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err, report_dir)


def gone(pids: list[int], within: float = 10) -> bool:
    """Whether every process in `pids` has ended (a zombie counts as ended) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists() and "Z" not in _state_of(pid)]
        if not alive:
            return True
        time.sleep(0.1)
    return False


def _state_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


KILLED = {
    "run": ("run", "--seed", "11", *SIGNAL_CASES),
    # Cases at once run in threads of the one process: none goes on creating what no ledger entry would settle.
    "run-2-workers": ("run", "--seed", "11", "--workers", "2", *SIGNAL_CASES),
    "load": ("load", *LOAD),
}


@pytest.mark.parametrize("argv", KILLED.values(), ids=KILLED.keys())
def test_kill_9_then_cleanup_deletes_exactly_what_the_run_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: tuple[str, ...]
) -> None:
    """A killed run cleans up nothing; its ledger, on disk before each create was sent, lets `scimconform
    cleanup` finish the job — including the user whose create was carried out as the process died."""
    with world(delay=0.01) as w:
        hold = w.upstream.hold(nth(3, "POST", "Users"), after=True)
        child = start(tmp_path, w, *argv)
        assert reached(hold, child), "the run never reached its third create"
        assert not child_processes(child.process.pid), "a run starts no process of its own"
        child.process.kill()
        child.process.wait(10)
        hold.released.set()
        assert w.run_resources(), "the killed run had created nothing"
        ledgers = list((child.report_dir / "ledger").glob("*.jsonl"))
        assert ledgers, "no ledger on disk"
        assert not [p for p in ledgers if TOKEN in p.read_text()], "the ledger holds the token"
        outcome = cleanup(capsys, child.report_dir, "--url", w.url)
        assert outcome.code == 0, outcome.out + outcome.err
        assert w.run_resources() == []
        assert_left_as_found(w)
        assert_stayed_inside(w)


def test_cleanup_after_kill_9_lists_what_it_cannot_prove_and_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """When the target's lookup cannot prove whose the cut-off create's user is, cleanup leaves it, names it
    and exits 1; what the ledger proves (ids from answers) is still deleted."""
    with world(delay=0.01) as w:
        hold = w.upstream.hold(nth(3, "POST", "Users"), after=True)
        child = start(tmp_path, w, "run", "--seed", "11", *SIGNAL_CASES)
        assert reached(hold, child), "the run never reached its third create"
        child.process.kill()
        child.process.wait(10)
        hold.released.set()
        w.front.rules[:] = [(filtered_lists, listing_twice(set()))]
        outcome = cleanup(capsys, child.report_dir, "--url", w.url)
        left = w.run_resources()
        assert outcome.code == 1, outcome.out + outcome.err
        cut_off = [json.loads(r.body)["userName"] for r in w.front.seen if creates_users(r)][2]
        assert [r.get("userName") for r in left] == [cut_off], "only the cut-off create cannot be proven"
        unnamed = [r["id"] for r in left if not named(outcome.out + outcome.err, r)]
        assert not unnamed, f"left and not listed: {unnamed}"
        assert_left_as_found(w)
        assert_stayed_inside(w)


def test_cleanup_after_a_run_that_left_nothing_says_so_and_exits_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An always-run CI step after a clean run must not fail the job; a report folder that is not there must."""
    outcome = cleanup(capsys, tmp_path)
    assert outcome.code == 0 and "nothing to clean up" in outcome.out
    missing = cleanup(capsys, tmp_path / "nowhere")
    assert missing.code == 2 and "does not exist" in missing.err
    assert "Traceback" not in outcome.out + outcome.err + missing.out + missing.err


def test_cleanup_sends_the_token_only_to_the_url_it_is_given(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A ledger is data: one that names another host (planted, or from another pipeline) is skipped, and
    no request goes there; without --url, cleanup asks for it instead of trusting the file."""
    ledger = tmp_path / "ledger" / "scf000000-main.jsonl"
    ledger.parent.mkdir()
    header = {"format": "scimconform-ledger/1", "run_tag": "scf000000", "target": "http://127.0.0.1:9/elsewhere"}
    intend = {"key": 1, "resource_type": "User", "label": "scf000000-u1", "scope": "", "match": 'userName eq "x"'}
    ledger.write_text(json.dumps(header) + "\n" + json.dumps({"intend": {**intend, "sent": {}, "before": []}}) + "\n")
    asked = cleanup(capsys, tmp_path)
    assert asked.code == 2 and "--url" in asked.err
    with world() as w:
        outcome = cleanup(capsys, tmp_path, "--url", w.url)
        assert "skipped, it was written for another Tenant URL" in outcome.out
        assert outcome.code == 1, "what that ledger holds is still unsettled"
        assert w.front.seen == [], "not even the preflight reached the target: nothing was ours to clean there"


def test_load_finishes_its_cleanup_after_one_interrupt(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """One interrupt (a CI cancel) arriving while load cleans up: cleanup goes on to the end, the run says it
    was interrupted (exit 130), and nothing is left."""
    with world() as w:
        hold = w.upstream.hold(lambda hit: hit.method == "DELETE" and "/Groups/" in hit.path)

        def interrupt_once() -> None:
            assert hold.reached.wait(60)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.3)
            hold.released.set()

        threading.Thread(target=interrupt_once, daemon=True).start()
        outcome = load(capsys, tmp_path, w, "--concurrency", "1")
        assert outcome.code == 130, outcome.out + outcome.err
        assert outcome.summary["interrupted"] is True
        assert w.run_resources() == [] and outcome.summary["leftovers"] == []
        assert_left_as_found(w)
