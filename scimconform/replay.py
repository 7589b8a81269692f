"""The replay engine: runs one case's steps through the recording client and applies its checks.

A step is one HTTP request and its expectations. Bodies come from the profile (`create`), from a
dialect (`patch`: what changes, rendered as Entra would send it) or from a literal template (`json`).
Template strings refer to the case's identities: `{user.id}`, `{user.userName}`, `{upper:user.userName}`,
`{match:user}` (the matching-attribute filter Entra sends), `{captured.location}`, `{guid}`. An identity
may be a list (`people`, one per user of `--users`); `foreach` walks it and `members: [people]` names them all.

Setup steps establish a precondition; when one fails the case cannot be judged and is an error,
not a failure. Setup PATCHes use the RFC-shaped dialect, so only the step under test speaks the
dialect being tested.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from scimconform import attrpath, checks
from scimconform.catalogue import Case
from scimconform.checks import CheckFailure
from scimconform.client import Exchange, RecordingClient
from scimconform.dialects import DIALECTS, Change, Dialect
from scimconform.identities import Identity, IdentityFactory
from scimconform.ledger import ENDPOINTS, Created, Ledger
from scimconform.profiles import Attribute, ObjectMapping, Profile
from scimconform.settings import EMBEDDED_THROUGHPUT_SECONDS, THROUGHPUT_SECONDS, Settings
from scimconform.throughput import GALLERY_RATE, shortfall, sustain

SETUP_DIALECT = DIALECTS["aadOptscim062020"]
MAX_PAGED = 2000
PAGING_PASSES = 5
_TEMPLATE = re.compile(r"\{(?:(?P<func>\w+):)?(?P<name>[A-Za-z_]\w*)(?:\.(?P<attr>[^{}]+))?\}")


class CaseSkipped(Exception):
    """The case does not apply to this profile or target; the message says why."""


class PreconditionFailed(Exception):
    """The case could not be judged: a setup step failed, or the answers allow no verdict."""


class ConformanceFailure(AssertionError):
    """A case's rule is broken. An AssertionError, so reports file it as failed, not broken."""

    def __init__(self, case: Case, dialect: str | None, failure: CheckFailure, exchange: Exchange) -> None:
        self.case = case
        self.dialect = dialect
        self.check = failure.check
        self.observed = failure.message
        self.exchange = exchange
        super().__init__(self.render())

    @property
    def severity(self) -> str:
        return self.case.severity

    def render(self) -> str:
        return self.exchange.redact(self._text())

    def _text(self) -> str:
        return (
            f"{self.case.id} [{self.severity}] {self.case.requirement}\n"
            f"  request: {self.exchange.label}\n"
            f"  observed: {self.observed}\n"
            f"  fix: {self.case.fix}\n"
            f"  reproduce: {self.exchange.curl()}"
        )


class StepObserver(Protocol):
    """Lets a reporter wrap each step (e.g. as an Allure step); the engine imports no reporter."""

    def step(self, title: str) -> AbstractContextManager[object]: ...


@dataclass
class RunContext:
    client: RecordingClient
    profile: Profile
    factory: IdentityFactory
    ledger: Ledger
    observer: StepObserver
    users: int = 12
    settings: Settings = field(default_factory=Settings)


class CaseRun:
    """One case in one dialect: build identities, replay setup and steps, judge each answer."""

    def __init__(self, case: Case, dialect: str | None, context: RunContext) -> None:
        self.case = case
        self.dialect: Dialect = DIALECTS[dialect] if dialect else SETUP_DIALECT
        self.dialect_name = dialect
        self.context = context
        self.scope = f"{case.id}:{dialect or '-'}:{uuid.uuid4().hex[:8]}"
        self.identities: dict[str, Identity] = {}
        self.lists: dict[str, list[str]] = {}
        self.captured: dict[str, Any] = {}
        self.guid = str(uuid.uuid4())

    def run(self) -> None:
        self._check_applicable()
        for name, spec in self.case.identities.items():
            self._make_identities(name, spec)
        for step in self.case.setup:
            self._run_step(step, setup=True)
        for step in self.case.steps:
            self._run_step(step, setup=False)

    def cleanup(self) -> list[str]:
        """Delete what this case created; returns what could not be deleted."""
        return self.context.ledger.clean(self.context.client, self.scope)

    # -- identities and applicability ----------------------------------------------------------------
    def _check_applicable(self) -> None:
        profile = self.context.profile
        for requirement in self.case.requires:
            if requirement == "groups" and profile.groups is None:
                raise CaseSkipped(f"profile {profile.name} maps no groups")
            if requirement == "manager" and not profile.users.select("manager"):
                raise CaseSkipped(f"profile {profile.name} maps no manager")
        target, client = self.context.client.target, self.context.client
        if "oauth" in self.case.requires and client.tokens is None:
            raise CaseSkipped(
                "the run uses a static bearer token: give --oauth-token-url and --oauth-client-id to test OAuth"
            )
        if "revocation" in self.case.requires and (client.tokens is None or not client.tokens.oauth.revocation_url):
            raise CaseSkipped(
                "no token revocation endpoint: give --oauth-revocation-url (RFC 7009) to test that a revoked "
                "token is refused"
            )
        if "tls" in self.case.requires and not target.base_url.startswith("https:"):
            raise CaseSkipped("the target is served over plain http; Entra connects over TLS 1.2 only")

    def _make_identities(self, name: str, spec: Any) -> None:
        kind, count = (spec, None) if isinstance(spec, str) else (spec["kind"], spec["count"])
        if kind == "Group" and self.context.profile.groups is None:
            return  # steps about groups carry `when: groups` and are left out for this profile
        mapping = self.context.profile.mapping(kind)
        if count is None:
            self.identities[name] = self.context.factory.new(mapping)
            return
        total = self.context.users if count == "users" else int(count)
        self.lists[name] = [f"{name}_{index}" for index in range(1, total + 1)]
        for member in self.lists[name]:
            self.identities[member] = self.context.factory.new(mapping)

    # -- steps ---------------------------------------------------------------------------------------
    def _applies(self, condition: str | None) -> bool:
        """`when: groups` needs a group mapping; `when: <selector>` needs the profile to map such a user attribute."""
        profile = self.context.profile
        if condition is None:
            return True
        if condition == "groups":
            return profile.groups is not None
        return bool(profile.users.select(condition))

    def _run_step(self, step: dict[str, Any], setup: bool) -> None:
        if not self._applies(step.get("when")):
            return
        if "foreach" in step:
            for member in self._names(step["foreach"]):
                self.identities[step["as"]] = self.identities[member]
                for inner in step["steps"]:
                    self._run_step(inner, setup)
            return
        if "match" in step:
            self._match(step["match"], step.get("expect", "absent"), setup)
            return
        if "paginate" in step:
            self._paginate(step.get("name"), step["paginate"], setup)
            return
        if "verify" in step:
            for member in self._names(step["verify"]):
                self._verify(member, setup)
            return
        if "token" in step or "revoke" in step:
            self._oauth_step(step, setup)
            return
        if "throughput" in step:
            self._throughput(step["throughput"], setup)
            return
        if "create" in step:
            step = self._create_step(step["create"])
        self._request_step(step, setup)

    def _request_step(self, step: dict[str, Any], setup: bool) -> Exchange:
        request = step["request"]
        dialect = SETUP_DIALECT if setup else self.dialect
        title = self._render(step.get("name") or f"{request['method']} {request['path']}")
        with self._judging(title, setup) as judge:
            method = request["method"]
            path = self._render(request["path"])
            query = {k: self._render(str(v)) for k, v in (request.get("query") or {}).items()}
            body = self._body(request.get("body"), dialect)
            headers = {k: self._render(str(v)) for k, v in (request.get("headers") or {}).items()}
            intent = self._intend(request.get("body"))
            auth, entra_tls = request.get("auth", "token"), step.get("tls") == "entra"
            exchange = judge.exchange = self._send(method, path, query, body, headers, auth, entra_tls)
            self._book(method, path, request.get("body"), exchange, intent)
            if entra_tls and exchange.tls:
                with self.context.observer.step(f"Negotiated {exchange.tls}"):
                    pass
            self._judge_answer(step, exchange)
        group = (step.get("expect") or {}).get("members")
        if group is not None and not checks.lists_members(exchange):
            self._members_by_filter(group, setup)
        return exchange

    def _members_by_filter(self, name: str, setup: bool) -> None:
        """The group's members, asked about one user at a time, for a server that does not return them:
        Entra needs no server to ("It isn't necessary to support returning all the members of the group",
        tutorial) but requires "querying groups by ID and by member" (entra-wire §1). Each of the case's
        users is asked about with `id eq "<group>" and members eq "<user>"`; only the members may match."""
        group = self.identities[name]
        asked: set[str] = set()  # a `foreach` alias names the same user as its list entry
        for user, identity in self.identities.items():
            if identity.resource_type != "User" or identity.id is None or identity.deleted or identity.id in asked:
                continue
            asked.add(identity.id)
            listed = identity.id in group.members
            query = {"filter": f'id eq "{{{name}.id}}" and members eq "{{{user}.id}}"', "attributes": "id"}
            step = {
                "name": f"{name} {'lists' if listed else 'does not list'} {user} (the GET returned no members)",
                "request": {"method": "GET", "path": ENDPOINTS["Group"], "query": query},
                "expect": {"status": 200, "total": 1 if listed else 0},
            }
            self._request_step(step, setup)

    def _judge_answer(self, step: dict[str, Any], exchange: Exchange) -> None:
        """Capture what the step names, then apply its expectations."""
        checks.answered(exchange)
        for name, attribute in (step.get("capture") or {}).items():
            self.captured[name] = attrpath.get(checks.the_resource(exchange, "capture"), attribute)
            if self.captured[name] is attrpath.MISSING:
                raise CheckFailure("capture", f"the response carries no {attribute}")
        self._expect(step.get("expect") or {}, exchange)

    def _oauth_step(self, step: dict[str, Any], setup: bool) -> None:
        """Ask the run's OAuth token endpoint for a token, with the real client secret or a wrong one
        (`token`), or revoke a token at its revocation endpoint (`revoke`, RFC 7009)."""
        client = self.context.client
        assert client.tokens is not None, "token and revoke steps belong to cases that require oauth"
        oauth = client.tokens.oauth
        if "revoke" in step:
            spec, title = step["revoke"], step.get("name") or "Revoke a token at the revocation endpoint"
        else:
            spec, title = step["token"], step.get("name") or "Request a token from the token endpoint"
        with self._judging(title, setup) as judge:
            if "revoke" in step:
                judge.exchange = client.revoke_token(oauth, self._render(spec["token"]))
            else:
                wrong = uuid.uuid4().hex if spec.get("secret") == "wrong" else None
                judge.exchange = client.fetch_token(oauth, wrong)
            self._judge_answer(spec, judge.exchange)

    def _throughput(self, spec: dict[str, Any], setup: bool) -> None:
        """Entra-shaped load on the case's own users, alternating a match query and a PATCH of one updatable
        attribute, at the gallery's 25 requests/s for `throughput_seconds`; see `scimconform.throughput`."""
        settings, client = self.context.settings, self.context.client
        seconds = settings.throughput_seconds
        if seconds is None:
            seconds = EMBEDDED_THROUGHPUT_SECONDS if client.target.embedded else THROUGHPUT_SECONDS
        if not seconds:
            raise CaseSkipped("throughput_seconds is 0")
        if client.rate is not None and client.rate < GALLERY_RATE:
            raise CaseSkipped(f"--rate {client.rate:g}/s is below the {GALLERY_RATE:g} requests/s this case sends")
        people = self._names(spec["of"])
        attribute = self._select(people[0], "updatable", 1)[0]
        requests: list[tuple[str, str, dict[str, str] | None, Any]] = []
        for index in range(max(round(GALLERY_RATE * seconds), 1)):
            identity = self.identities[people[index // 2 % len(people)]]
            if index % 2 == 0:
                query = {"filter": self._match_filter(identity)}
                requests.append(("GET", ENDPOINTS[identity.resource_type], query, None))
                continue
            value = self.context.factory.changed_value(identity, attribute.path, attribute.generate)
            body = SETUP_DIALECT.render([Change("replace", {attribute.path: value})])
            requests.append(("PATCH", f"{ENDPOINTS[identity.resource_type]}/{identity.id}", None, body))
        title = f"Sustain {GALLERY_RATE:g} requests/s for {seconds:g} s: match queries and PATCHes"
        with self._judging(title, setup) as judge:
            measured = sustain(lambda i: client.send(*requests[i], retries=0, record=False), GALLERY_RATE, seconds)
            with self.context.observer.step(measured.summary()):
                pass
            problem = shortfall(measured, GALLERY_RATE, settings.throughput_p95_ms)
            if problem is not None:
                judge.exchange = problem[0]
                raise CheckFailure("throughput", problem[1])

    @contextmanager
    def _judging(self, title: str, setup: bool) -> Iterator[_Judge]:
        """Run one step inside a reported step; turn a broken check into the right kind of outcome."""
        judge = _Judge()
        with self.context.observer.step(("Setup: " if setup else "") + title):
            try:
                yield judge
            except CheckFailure as failure:
                if setup or judge.exchange is None:
                    label = judge.exchange.label if judge.exchange else "no request"
                    redact = judge.exchange.redact if judge.exchange else str
                    raise PreconditionFailed(redact(f"setup step '{title}' failed: {failure} [{label}]")) from None
                raise ConformanceFailure(self.case, self.dialect_name, failure, judge.exchange) from None

    def _create_step(self, spec: Any) -> dict[str, Any]:
        """`create: user` or `create: {of: user, without: <selector>}` — Entra's POST, as setup."""
        name = spec if isinstance(spec, str) else spec["of"]
        identity = self.identities[name]
        if isinstance(spec, dict) and "without" in spec:
            for attribute in self._mapping(identity).select(spec["without"])[: spec.get("take")]:
                identity.values.pop(attribute.path, None)
        return {
            "name": f"Create {name}",
            "request": {"method": "POST", "path": ENDPOINTS[identity.resource_type], "body": {"create": name}},
            "expect": {"status": [201], "has_id": True},
        }

    def _match(self, name: str, expected: str, setup: bool) -> None:
        """Entra's match: one filter per matching attribute, in precedence order, until one finds it.

        Attributes the object has no value for are not queried (entra-wire §4.5).
        """
        identity = self.identities[name]
        endpoint = ENDPOINTS[identity.resource_type]
        query_extra = {"excludedAttributes": "members"} if identity.resource_type == "Group" else {}
        for attribute in self._mapping(identity).matching_order():
            if attribute.path not in identity.values:
                continue
            expect: dict[str, Any] = {"status": 200, "total": 1 if expected == "present" else 0}
            if expected == "present":
                expect["id"] = name
            query = {**query_extra, "filter": self._match_filter(identity, attribute.path)}
            self._request_step(
                {
                    "name": f"Match {name} by {attribute.path}",
                    "request": {"method": "GET", "path": endpoint, "query": query},
                    "expect": expect,
                },
                setup,
            )
            if expected == "present":
                return

    def _verify(self, name: str, setup: bool) -> None:
        """End-state check: the object is there exactly once with the values it should have, or gone."""
        identity = self.identities[name]
        endpoint = ENDPOINTS[identity.resource_type]
        path = f"{endpoint}/{{{name}.id}}"
        if identity.deleted:
            self._request_step(
                {"name": f"{name} is gone", "request": {"method": "GET", "path": path}, "expect": {"status": 404}},
                setup,
            )
            self._match(name, "absent", setup)
            return
        expect: dict[str, Any] = {"status": 200, "id": name, "values": name}
        if identity.resource_type == "Group":
            expect["members"] = name
        self._request_step(
            {"name": f"{name} holds what Entra sent", "request": {"method": "GET", "path": path}, "expect": expect},
            setup,
        )
        if identity.resource_type == "User":
            self._match(name, "present", setup)

    def _paginate(self, title: str | None, spec: dict[str, Any], setup: bool) -> None:
        """Page through a collection as the gallery's pagination test does (`startIndex=N&count=C`).

        Every page must echo its startIndex and hold at most `count` resources; across all pages no id
        may repeat and every identity in `find` must appear. Results "MAY" differ when the collection
        changes between requests (RFC 7644 §3.4.2.4), as it does when other clients work on the same
        target: a pass that loses or repeats resources is repeated, the verdict stands once two passes
        find the same problem, and the case is undecided (an error) when every pass finds a different one.
        """
        wanted = {self._id_of(member) for member in self._names(spec["find"])}
        problems: list[str] = []
        for attempt in range(1, PAGING_PASSES + 1):
            seen, exchange, problem = self._page_pass(title, spec, setup, attempt)
            problem = problem or checks.paging_problem(seen, wanted)
            if problem is None or problem in problems:
                with self._judging("Every resource appears exactly once", setup) as judge:
                    judge.exchange = exchange
                    if problem is not None:
                        raise CheckFailure("pagination", f"{problem} (the same in two passes)")
                return
            with self.context.observer.step(f"Pass {attempt}: {problem}; the collection may have changed, again"):
                problems.append(problem)
        raise PreconditionFailed(
            f"the collection changed while paging (other clients at work, or an order that is not stable): "
            f"{PAGING_PASSES} passes found {'; '.join(problems)}"
        )

    def _page_pass(
        self, title: str | None, spec: dict[str, Any], setup: bool, attempt: int
    ) -> tuple[list[str], Exchange, str | None]:
        """One pass over every page: the ids seen, the last exchange, and a page that ended the pass early."""
        seen: list[str] = []
        start, count = 1, int(spec["count"])
        again = f" (pass {attempt})" if attempt > 1 else ""
        while True:
            if len(seen) > MAX_PAGED:
                raise CaseSkipped(f"the target holds more than {MAX_PAGED} resources; paging through all is too long")
            step = {
                "name": f"{title or 'Page'}{again}: startIndex={start}&count={count}",
                "request": {"method": "GET", "path": spec["path"], "query": {"startIndex": start, "count": count}},
                "expect": {"status": 200, "schema": "list-response"},
            }
            exchange = self._request_step(step, setup)
            with self._judging(f"Page at startIndex {start}", setup) as judge:
                judge.exchange = exchange
                page = checks.list_page(exchange, start, count)
            total = page.total
            seen += page.ids
            if not page.ids and start <= total:
                return seen, exchange, f"page at startIndex {start} is empty but totalResults is {total}"
            start += len(page.ids)
            if start > total:
                return seen, exchange, None

    def _send(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        headers: dict[str, str],
        auth: str,
        entra_tls: bool = False,
    ) -> Exchange:
        # `auth: none | wrong | expired` probe how the target treats credentials (entra-wire §6.1).
        if auth == "wrong":
            headers = {"Authorization": f"Bearer {uuid.uuid4().hex}", **headers}
        if auth == "expired":
            expired = self.context.client.target.expired_token
            if expired is None:
                raise CaseSkipped(
                    f"no expired token: set {self.context.settings.expired_token_env} to an access token "
                    "the target issued that has since expired (or was revoked)"
                )
            headers = {"Authorization": f"Bearer {expired}", **headers}
        return self.context.client.send(
            method, path, query or None, body, headers or None, without_credentials=auth == "none", entra_tls=entra_tls
        )

    def _intend(self, body_spec: Any) -> Created | None:
        """Write a create into the ledger before it is sent, so an interrupted POST is still cleaned."""
        if not isinstance(body_spec, dict) or "create" not in body_spec:
            return None
        identity = self.identities[body_spec["create"]]
        return self.context.ledger.intend(
            identity.resource_type, self._match_filter(identity), identity.label, self.scope
        )

    def _book(self, method: str, path: str, body_spec: Any, exchange: Exchange, intent: Created | None) -> None:
        """Keep the ledger and identities in step with what the server now holds."""
        if exchange.status is None or not 200 <= exchange.status < 300:
            return
        kind = next((k for k, p in ENDPOINTS.items() if path.rstrip("/").startswith(p)), None)
        if kind is None:
            return
        if method == "POST":
            try:
                created = exchange.json()
            except ValueError:
                return
            if isinstance(created, dict) and isinstance(created.get("id"), str):
                name = body_spec.get("create") if isinstance(body_spec, dict) else None
                identity = self.identities.get(name) if name else None
                if identity is not None and identity.id is None:
                    identity.id = created["id"]
                label = identity.label if identity else "unnamed"
                self.context.ledger.created(kind, created["id"], label, self.scope, intent)
        elif method == "DELETE":
            resource_id = path.rstrip("/").rsplit("/", 1)[-1]
            self.context.ledger.delete_sent(kind, resource_id)
            for identity in self.identities.values():
                if identity.id == resource_id:
                    identity.deleted = True

    # -- bodies --------------------------------------------------------------------------------------
    def _body(self, spec: Any, dialect: Dialect) -> Any:
        if spec is None:
            return None
        if "create" in spec:
            identity = self.identities[spec["create"]]
            return self._mapping(identity).create_body(identity.values)
        if "patch" in spec:
            return dialect.render(self._changes(spec["patch"]))
        return self._render_tree(spec["json"])

    def _changes(self, spec: dict[str, Any]) -> list[Change]:
        changes = []
        for op, detail in spec.items():
            identity = self.identities[detail["of"]]
            if op in ("add-members", "remove-members"):
                members = [self._id_of(m) for entry in detail["members"] for m in self._names(entry)]
                if op == "add-members":
                    identity.members += [m for m in members if m not in identity.members]
                else:
                    identity.members = [m for m in identity.members if m not in members]
                changes.append(Change(op, dict.fromkeys(members)))
                continue
            values = {path: self._render_tree(v) for path, v in (detail.get("set") or {}).items()}
            for attribute in (
                self._select(detail["of"], detail["attrs"], detail.get("take")) if "attrs" in detail else []
            ):
                values[attribute.path] = (
                    self._render_tree(detail["value"])
                    if "value" in detail
                    else self.context.factory.changed_value(identity, attribute.path, attribute.generate)
                )
            # "" and null clear an attribute (gallery test 16); the identity remembers it as cleared.
            identity.values.update({p: None if v in ("", None) else v for p, v in values.items()})
            changes.append(Change(op, values))
        return changes

    def _select(self, name: str, selector: Any, take: int | None) -> list[Attribute]:
        mapping = self._mapping(self.identities[name])
        chosen = mapping.select(selector)[:take]
        if not chosen:
            raise CaseSkipped(
                f"profile {self.context.profile.name} maps no {selector} {mapping.resource_type} attribute"
            )
        return chosen

    def _names(self, name: str) -> list[str]:
        """An identity list's member names, or the single name itself."""
        return self.lists.get(name, [name])

    def _mapping(self, identity: Identity) -> ObjectMapping:
        return self.context.profile.mapping(identity.resource_type)

    def _id_of(self, name: str) -> str:
        identity = self.identities[name]
        if identity.id is None:
            raise PreconditionFailed(f"{name} has no id yet: a case step refers to it before it was created")
        return identity.id

    # -- templates -----------------------------------------------------------------------------------
    def _render_tree(self, value: Any) -> Any:
        if isinstance(value, str):
            whole = _TEMPLATE.fullmatch(value)
            return self._resolve(whole) if whole else self._render(value)
        if isinstance(value, list):
            return [self._render_tree(v) for v in value]
        if isinstance(value, dict):
            return {self._render(k): self._render_tree(v) for k, v in value.items()}
        return value

    def _render(self, text: str) -> str:
        return _TEMPLATE.sub(lambda m: str(self._resolve(m)), text)

    def _resolve(self, match: re.Match[str]) -> Any:
        func, name, attr = match["func"], match["name"], match["attr"]
        if name == "guid":
            return self.guid
        if name == "captured":
            return self.captured[attr]
        identity = self.identities[name]
        if func == "match":
            return self._match_filter(identity)
        value = self._id_of(name) if attr == "id" else identity.values[attr] if attr else identity.label
        if func == "upper":
            return str(value).upper()
        return value

    def _match_filter(self, identity: Identity, path: str | None = None) -> str:
        return self._mapping(identity).match_filter(identity.values, path)

    # -- expectations --------------------------------------------------------------------------------
    def _expect(self, expect: dict[str, Any], exchange: Exchange) -> None:
        runners: dict[str, Callable[[Any], None]] = {
            "status": lambda v: checks.status_code(exchange, v if isinstance(v, list) else [v]),
            "content_type": lambda v: checks.content_type(exchange),
            "schema": lambda v: checks.json_schema(exchange, v, expect.get("items")),
            "items": lambda v: None,  # consumed by `schema`
            "total": lambda v: checks.total_results(exchange, int(v)),
            "total_min": lambda v: checks.total_at_least(exchange, len(self._names(v))),
            "returned": lambda v: checks.returned_count(exchange, int(v)),
            "has_id": lambda v: checks.has_id(exchange),
            "id": lambda v: checks.resource_id(exchange, self._id_of(v)),
            "values": lambda v: checks.attribute_values(exchange, self._expected_values(v)),
            "absent": lambda v: checks.attributes_absent(exchange, v),
            "members": lambda v: self._listed_members(exchange, v),
            "headers": lambda v: checks.header_values(exchange, {k: self._render_tree(x) for k, x in v.items()}),
            "discoverable": lambda v: self._discoverable(exchange, v),
            "resource_types": lambda v: checks.resource_types_include(exchange, self._resource_types(v)),
            "grant": lambda v: checks.token_grant(exchange, float(v["min_lifetime"]), float(v["max_lifetime"])),
            "tls": lambda v: checks.tls_version(exchange, v),
        }
        for key, value in expect.items():
            runners[key](value)

    def _listed_members(self, exchange: Exchange, name: str) -> None:
        """Exactly the group's members, when the answer lists members; `_request_step` asks by filter when not."""
        if checks.lists_members(exchange):
            checks.member_values(exchange, self.identities[name].members)

    def _expected_values(self, spec: Any) -> dict[str, Any]:
        """What the resource must hold: the identity's values; a reference is compared by its `value`."""
        name = spec if isinstance(spec, str) else spec["of"]
        identity = self.identities[name]
        values = dict(identity.values)
        if isinstance(spec, dict) and "attrs" in spec:
            paths = {a.path for a in self._mapping(identity).select(spec["attrs"])}
            values = {p: v for p, v in values.items() if p in paths}
        if isinstance(spec, dict):
            values.update({p: self._render_tree(v) for p, v in (spec.get("set") or {}).items()})
        references = {a.path for a in self._mapping(identity).attributes if a.type == "reference"}
        return {(f"{p}.value" if p in references and v is not None else p): v for p, v in values.items()}

    def _discoverable(self, exchange: Exchange, resource_type: str) -> None:
        mapping = self.context.profile.mapping(resource_type)
        core = f"urn:ietf:params:scim:schemas:core:2.0:{resource_type}"
        checks.schemas_cover(exchange, core, [a.path for a in mapping.attributes])

    def _resource_types(self, spec: Any) -> list[str]:
        profile = self.context.profile
        return ["User"] + (["Group"] if profile.groups is not None else []) if spec == "profile" else list(spec)


@dataclass
class _Judge:
    """The exchange a step is judged on, once it has been sent."""

    exchange: Exchange | None = None
