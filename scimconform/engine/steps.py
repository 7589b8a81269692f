"""The step kinds a case is made of, one class each, parsed when the catalogue loads.

Each class carries its fields as `schemas/sequence.json` defines the step (its `$defs/<kind>Step`), parses
itself from YAML, and runs against the `Engine` it is given. `STEP_KINDS` maps the schema's key to the class:
a new step kind is one class here and one definition in the schema (tests check that the two agree).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol, TypeVar

from scimconform import checks
from scimconform.checks import CheckFailure
from scimconform.dialects import Change, Dialect
from scimconform.engine.context import RunContext
from scimconform.engine.templates import Templates
from scimconform.errors import CaseSkipped, PreconditionFailed
from scimconform.exchange import Exchange
from scimconform.idp import Provider
from scimconform.ledger import ENDPOINTS, found_ids, resource_path
from scimconform.settings import EMBEDDED_THROUGHPUT_SECONDS, THROUGHPUT_SECONDS
from scimconform.throughput import GALLERY_RATE, shortfall, sustain

MAX_PAGED = 2000
PAGING_PASSES = 5


@dataclass
class Judge:
    """The exchange a step is judged on, once it has been sent, and the case that judges what it sends when
    that is another case (a failure then names that case's rule)."""

    exchange: Exchange | None = None
    owner: str | None = None
    inferred: bool = False  # the request's form is inferred: its refusal alone is a warning


class Engine(Protocol):
    """What a step may ask of the case it runs in (implemented by `case_run.CaseRun`)."""

    context: RunContext
    names: Templates
    surveyed: dict[str, list[str] | None]
    dialect: Dialect

    def run_steps(self, steps: Sequence[Step], setup: bool) -> None: ...

    def each(
        self, members: Sequence[str], alias: str | None, steps_for: Callable[[Engine, str], Sequence[Step]], setup: bool
    ) -> None: ...

    def request(self, step: Request, setup: bool) -> Exchange: ...

    def judging(self, title: str, setup: bool, seconds: float | None = None) -> AbstractContextManager[Judge]: ...

    def judge_answer(self, expect: Mapping[str, Any], capture: Mapping[str, str], exchange: Exchange) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Step:
    """One step: `when` names a profile feature it needs (groups, or a kind of user attribute); `needs` names an
    earlier step whose effect on the target it reads, so that it is left out when that step failed."""

    key: ClassVar[str]
    when: str | None = None
    needs: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Step:
        raise NotImplementedError

    def run(self, engine: Engine, setup: bool) -> None:
        raise NotImplementedError

    def sends_patch(self) -> bool:
        """A case whose steps send PATCH bodies runs once per dialect."""
        return False

    def owners(self) -> set[str]:
        """The cases this step names as judging what it sends (the catalogue checks that they exist)."""
        return set()


STEP_KINDS: dict[str, type[Step]] = {}
S = TypeVar("S", bound=type[Step])


def step_kind(key: str) -> Callable[[S], S]:
    """Register a step class under the key that marks it in a case file."""

    def register(cls: S) -> S:
        cls.key = key
        STEP_KINDS[key] = cls
        return cls

    return register


def parse_steps(raw: Sequence[Mapping[str, Any]]) -> tuple[Step, ...]:
    """Typed steps from a case file's list (already validated against the schema); `when` and `needs` are read
    here, for every kind, so no step class can forget them."""
    return tuple(
        replace(
            STEP_KINDS[next(k for k in STEP_KINDS if k in item)].parse(item),
            when=item.get("when"),
            needs=item.get("needs"),
        )
        for item in raw
    )


@step_kind("request")
@dataclass(frozen=True, kw_only=True)
class Request(Step):
    """One HTTP request and its expectations; `body` is a `create`, `patch` or `json` spec, sent in `form`
    (`bodies.FORMS`: the provider's own, or a plainer one a refused request falls back to). `owner` is the case
    that judges this request when it is not the case it runs in; `inferred` marks a form no public source shows
    (the target refusing it is, alone, a warning). A header given as None is left out of the request."""

    method: str
    path: str
    name: str | None = None
    owner: str | None = None
    form: str = "provider"
    query: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str | None] = field(default_factory=dict)
    auth: str = "token"  # none | wrong | expired probe how the target treats credentials
    body: Mapping[str, Any] | None = None
    expect: Mapping[str, Any] = field(default_factory=dict)
    capture: Mapping[str, str] = field(default_factory=dict)
    provider_tls: bool = False  # offer only what the provider offers: TLS 1.2 with its cipher suites
    inferred: bool = False

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Request:
        request = raw["request"]
        return cls(
            method=request["method"],
            path=request["path"],
            name=raw.get("name"),
            when=raw.get("when"),
            owner=raw.get("owner"),
            query=dict(request.get("query") or {}),
            headers=dict(request.get("headers") or {}),
            auth=request.get("auth", "token"),
            body=request.get("body"),
            expect=dict(raw.get("expect") or {}),
            capture=dict(raw.get("capture") or {}),
            provider_tls=raw.get("tls") == "provider",
            inferred=raw.get("evidence") == "inferred",
        )

    @property
    def title(self) -> str:
        return self.name or f"{self.method} {self.path}"

    def sends_patch(self) -> bool:
        return self.body is not None and "patch" in self.body

    def owners(self) -> set[str]:
        return {self.owner} if self.owner else set()

    def run(self, engine: Engine, setup: bool) -> None:
        engine.request(self, setup)


@step_kind("create")
@dataclass(frozen=True, kw_only=True)
class Create(Step):
    """The provider's POST of an identity, as setup; `without` leaves some attributes out of it."""

    of: str
    without: Any = None
    take: int | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Create:
        spec = raw["create"]
        if isinstance(spec, str):
            return cls(of=spec, when=raw.get("when"))
        return cls(of=spec["of"], without=spec.get("without"), take=spec.get("take"), when=raw.get("when"))

    def run(self, engine: Engine, setup: bool) -> None:
        identity = engine.names.identities[self.of]
        if self.without is not None:
            for attribute in engine.names.mapping(identity).select(self.without)[: self.take]:
                identity.values.pop(attribute.path, None)
        post = Request(
            name=f"Create {self.of}",
            method="POST",
            path=ENDPOINTS[identity.resource_type],
            body={"create": self.of},
            expect={"status": [201], "has_id": True},
        )
        engine.request(post, setup)


@step_kind("match")
@dataclass(frozen=True, kw_only=True)
class Match(Step):
    """The provider's match: its match queries in the order it sends them (`Provider.match_queries`) until
    one finds the object."""

    of: str
    expect: str = "absent"

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Match:
        return cls(of=raw["match"], expect=raw.get("expect", "absent"), when=raw.get("when"))

    def run(self, engine: Engine, setup: bool) -> None:
        names = engine.names
        identity = names.identities[self.of]
        present = self.expect == "present"
        for match in engine.context.provider.match_queries(names.mapping(identity), identity):
            expect: dict[str, Any] = {"status": 200, "total": 1 if present else 0}
            if present:
                expect["id"] = self.of
            title = f"Match {self.of} by {match.attribute}"
            path = ENDPOINTS[identity.resource_type]
            request = Request(name=title, method="GET", path=path, query=match.query, expect=expect)
            exchange = engine.request(request, setup)
            engine.surveyed[match.filter] = found_ids(exchange)  # the "before" of a create that follows
            if present:
                return


@step_kind("verify")
@dataclass(frozen=True, kw_only=True)
class Verify(Step):
    """End state of an identity (or each of a list): there exactly once with its values and members, or gone."""

    of: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Verify:
        return cls(of=raw["verify"], when=raw.get("when"))

    def run(self, engine: Engine, setup: bool) -> None:
        """Each identity's checks are steps of their own, so one that fails does not hide the next."""
        engine.each(engine.names.names(self.of), None, self._checks, setup)

    @staticmethod
    def _checks(engine: Engine, name: str) -> list[Step]:
        identity = engine.names.identities[name]
        path = f"{ENDPOINTS[identity.resource_type]}/{{{name}.id}}"
        if identity.deleted:
            return [Request(name=f"{name} is gone", method="GET", path=path, expect={"status": 404}), Match(of=name)]
        expect: dict[str, Any] = {"status": 200, "id": name, "values": name}
        if identity.resource_type == "Group":
            expect["members"] = name
        title = f"{name} holds what {engine.context.provider.name} sent"
        read = Request(name=title, method="GET", path=path, expect=expect)
        return [read, Match(of=name, expect="present")] if identity.resource_type == "User" else [read]


@step_kind("paginate")
@dataclass(frozen=True, kw_only=True)
class Paginate(Step):
    """Page through a collection as the gallery's pagination test does (`startIndex=N&count=C`).

    By default every page must echo its startIndex and hold at most `count` resources; across all pages no id may
    repeat and every identity in `find` must appear. Results "MAY" differ when the collection changes
    between requests (RFC 7644 §3.4.2.4), as it does when other clients work on the same target: a pass
    that loses or repeats resources is repeated, the verdict stands once two passes find the same problem,
    and the case is undecided (an error) when every pass finds a different one.

    With `judge: gallery` it checks what the gallery's pagination test checks and no more: every page answers
    200 and echoes the startIndex asked for (`1 + page * count`), over at least two pages.
    """

    path: str
    count: int
    find: str
    name: str | None = None
    judge: str = "complete"

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Paginate:
        spec = raw["paginate"]
        judge = spec.get("judge", "complete")
        return cls(path=spec["path"], count=int(spec["count"]), find=spec["find"], name=raw.get("name"), judge=judge)

    def run(self, engine: Engine, setup: bool) -> None:
        if self.judge == "gallery":
            self._gallery(engine, setup)
            return
        wanted = {engine.names.id_of(member) for member in engine.names.names(self.find)}
        problems: list[str] = []
        for attempt in range(1, PAGING_PASSES + 1):
            seen, exchange, problem = self._pass(engine, setup, attempt)
            problem = problem or checks.paging_problem(seen, wanted)
            if problem is None or problem in problems:
                with engine.judging("Every resource appears exactly once", setup) as judge:
                    judge.exchange = exchange
                    if problem is not None:
                        raise CheckFailure("pagination", f"{problem} (the same in two passes)")
                return
            engine.context.events.note(f"Pass {attempt}: {problem}; the collection may have changed, again")
            problems.append(problem)
        raise PreconditionFailed(
            f"the collection changed while paging (other clients at work, or an order that is not stable): "
            f"{PAGING_PASSES} passes found {'; '.join(problems)}"
        )

    def _gallery(self, engine: Engine, setup: bool) -> None:
        start, pages, total = 1, 0, 1
        while start <= total and start <= MAX_PAGED:
            page_request = Request(
                name=f"{self.name or 'Page'}: startIndex={start}&count={self.count}",
                method="GET",
                path=self.path,
                query={"startIndex": start, "count": self.count},
                expect={"status": 200},
            )
            exchange = engine.request(page_request, setup)
            with engine.judging(f"Page at startIndex {start} echoes it", setup) as judge:
                judge.exchange = exchange
                total = checks.echoed_start(exchange, start)
            pages, start = pages + 1, start + self.count
        with engine.judging("At least two pages", setup) as judge:
            judge.exchange = exchange
            if pages < 2:
                raise CheckFailure(
                    "pagination", f"totalResults {total} leaves one page of {self.count}; expected two or more"
                )

    def _pass(self, engine: Engine, setup: bool, attempt: int) -> tuple[list[str], Exchange, str | None]:
        """One pass over every page: the ids seen, the last exchange, and a page that ended the pass early."""
        seen: list[str] = []
        start = 1
        again = f" (pass {attempt})" if attempt > 1 else ""
        while True:
            if len(seen) > MAX_PAGED:
                raise CaseSkipped(f"the target holds more than {MAX_PAGED} resources; paging through all is too long")
            page_request = Request(
                name=f"{self.name or 'Page'}{again}: startIndex={start}&count={self.count}",
                method="GET",
                path=self.path,
                query={"startIndex": start, "count": self.count},
                expect={"status": 200, "schema": "list-response"},
            )
            exchange = engine.request(page_request, setup)
            with engine.judging(f"Page at startIndex {start}", setup) as judge:
                judge.exchange = exchange
                page = checks.list_page(exchange, start, self.count)
            seen += page.ids
            if not page.ids and start <= page.total:
                return seen, exchange, f"page at startIndex {start} is empty but totalResults is {page.total}"
            start += len(page.ids)
            if start > page.total:
                return seen, exchange, None


@step_kind("token")
@dataclass(frozen=True, kw_only=True)
class Token(Step):
    """A client-credentials token request to the run's OAuth token endpoint, with the real secret or a wrong one."""

    wrong_secret: bool = False
    name: str | None = None
    expect: Mapping[str, Any] = field(default_factory=dict)
    capture: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Token:
        spec = raw["token"]
        return cls(
            wrong_secret=spec.get("secret") == "wrong",
            name=raw.get("name"),
            expect=dict(spec.get("expect") or {}),
            capture=dict(spec.get("capture") or {}),
        )

    def run(self, engine: Engine, setup: bool) -> None:
        client = engine.context.client
        assert client.tokens is not None, "token steps belong to cases that require oauth"
        with engine.judging(self.name or "Request a token from the token endpoint", setup) as judge:
            wrong = uuid.uuid4().hex if self.wrong_secret else None
            judge.exchange = client.fetch_token(client.tokens.oauth, wrong)
            engine.judge_answer(self.expect, self.capture, judge.exchange)


@step_kind("revoke")
@dataclass(frozen=True, kw_only=True)
class Revoke(Step):
    """An RFC 7009 revocation request for a token, the client authenticated as for the token endpoint."""

    token: str
    name: str | None = None
    expect: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Revoke:
        spec = raw["revoke"]
        return cls(token=spec["token"], name=raw.get("name"), expect=dict(spec.get("expect") or {}))

    def run(self, engine: Engine, setup: bool) -> None:
        client = engine.context.client
        assert client.tokens is not None, "revoke steps belong to cases that require revocation"
        with engine.judging(self.name or "Revoke a token at the revocation endpoint", setup) as judge:
            judge.exchange = client.revoke_token(client.tokens.oauth, engine.names.text(self.token))
            engine.judge_answer(self.expect, {}, judge.exchange)


@step_kind("throughput")
@dataclass(frozen=True, kw_only=True)
class Throughput(Step):
    """Provider-shaped load on the case's own users, alternating a match query and a PATCH of one updatable
    attribute, at the gallery's 25 requests/s for `throughput_seconds`; see `scimconform.throughput`."""

    of: str
    owners_by_method: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Throughput:
        spec = raw["throughput"]
        return cls(of=spec["of"], owners_by_method=dict(spec.get("owners") or {}))

    def owners(self) -> set[str]:
        return set(self.owners_by_method.values())

    def run(self, engine: Engine, setup: bool) -> None:
        settings, client, names = engine.context.settings, engine.context.client, engine.names
        provider = engine.context.provider
        seconds = settings.throughput_seconds
        if seconds is None:
            seconds = EMBEDDED_THROUGHPUT_SECONDS if client.target.embedded else THROUGHPUT_SECONDS
        if not seconds:
            raise CaseSkipped("throughput_seconds is 0: give --throughput-seconds 10 to measure the rate")
        if client.rate is not None and client.rate < GALLERY_RATE:
            raise CaseSkipped(f"--rate {client.rate:g}/s is below the {GALLERY_RATE:g} requests/s this case sends")
        people = names.names(self.of)
        attribute = names.select(people[0], "updatable", 1)[0]
        requests: list[tuple[str, str, dict[str, str] | None, Any]] = []
        for index in range(max(round(GALLERY_RATE * seconds), 1)):
            person = people[index // 2 % len(people)]
            identity = names.identities[person]
            if index % 2 == 0:
                query = provider.match_queries(names.mapping(identity), identity)[0].query
                requests.append(("GET", ENDPOINTS[identity.resource_type], query, None))
                continue
            value = engine.context.factory.changed_value(identity, attribute.path, attribute.generate)
            body = engine.dialect.render([Change("replace", {attribute.path: value})])
            requests.append(("PATCH", resource_path(identity.resource_type, names.id_of(person)), None, body))
        title = f"Sustain {GALLERY_RATE:g} requests/s for {seconds:g} s: match queries and PATCHes"
        stopping = engine.context.stopping

        def send(index: int) -> Exchange:
            if stopping.is_set():  # the run stops (`engine.ahead`): the rest of the window is not sent
                raise KeyboardInterrupt
            return client.send(*requests[index], retries=0, record=False)

        with engine.judging(title, setup, seconds) as judge:
            measured = sustain(send, GALLERY_RATE, seconds)
            engine.context.events.note(measured.summary())
            problem = shortfall(measured, GALLERY_RATE, settings.throughput_p95_ms)
            if problem is not None:
                judge.exchange, message, refused = problem
                if refused:  # an error answer is not a capacity problem: it names the case that judges that request
                    judge.owner = self.owners_by_method.get(judge.exchange.method)
                    raise CheckFailure("throughput", message, category=_error_category(judge.exchange))
                raise CheckFailure("throughput", message)


@step_kind("foreach")
@dataclass(frozen=True, kw_only=True)
class Foreach(Step):
    """Run `steps` once for each member of an identity list, the member named `alias` in them."""

    over: str
    alias: str
    steps: tuple[Step, ...]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Foreach:
        return cls(over=raw["foreach"], alias=raw["as"], steps=parse_steps(raw["steps"]), when=raw.get("when"))

    def sends_patch(self) -> bool:
        return any(step.sends_patch() for step in self.steps)

    def owners(self) -> set[str]:
        return {owner for step in self.steps for owner in step.owners()}

    def run(self, engine: Engine, setup: bool) -> None:
        engine.each(engine.names.names(self.over), self.alias, lambda _, member: self.steps, setup)


def _error_category(exchange: Exchange) -> str:
    """A request under load answered with an error: a server error (5xx), a refusal (4xx), or no answer."""
    if exchange.status is None:
        return checks.TRANSPORT
    return checks.SERVER_ERROR if exchange.status >= 500 else checks.WRONG_STATUS


def member_probes(names: Templates, provider: Provider, group: str) -> list[Step]:
    """For a server that returns a group without its members: one query per user of the case with the provider's
    `member_query`, which only the group's members may match."""
    probes: list[Step] = []
    asked: set[str] = set()  # a `foreach` alias names the same user as its list entry
    for user, identity in list(names.identities.items()):
        if identity.resource_type != "User" or identity.id is None or identity.deleted or identity.id in asked:
            continue
        asked.add(identity.id)
        listed = identity.id in names.identities[group].members
        probes.append(
            Request(
                name=f"{group} {'lists' if listed else 'does not list'} {user} (the GET returned no members)",
                method="GET",
                path=ENDPOINTS["Group"],
                query=provider.member_query(f"{{{group}.id}}", f"{{{user}.id}}"),  # templates: the ids
                expect={"status": 200, "total": 1 if listed else 0},
                # Entra asks this way (member_query), but no public capture shows the exact filter.
                inferred=True,
            )
        )
    return probes
