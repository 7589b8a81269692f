"""One case in one dialect: build its identities, run its setup and steps, judge every answer.

Setup steps establish a precondition; when one fails the case cannot be judged and is an error, not a
failure. Every request goes through `request`, which renders it, writes a create into the ledger before it
is sent, sends it, keeps ledger and identities in step with the answer, and applies the step's checks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

from scimconform import attrpath, checks
from scimconform.catalogue import Case
from scimconform.checks import CheckFailure
from scimconform.dialects import Dialect
from scimconform.engine.bodies import render_body
from scimconform.engine.context import RunContext
from scimconform.engine.expectations import apply_expectations
from scimconform.engine.outcomes import ConformanceFailure
from scimconform.engine.steps import Judge, Request, Step
from scimconform.engine.templates import Templates
from scimconform.errors import CaseSkipped, PreconditionFailed
from scimconform.exchange import Exchange
from scimconform.ledger import ENDPOINTS, Created


class CaseRun:
    """Runs one case's steps against the target; implements the `Engine` the steps talk to."""

    def __init__(self, case: Case, dialect: str | None, context: RunContext) -> None:
        self.case = case
        provider = context.provider
        self.dialect: Dialect = provider.dialects[dialect] if dialect else provider.setup_dialect
        self.dialect_name = dialect
        self.context = context
        self.scope = f"{case.id}:{dialect or '-'}:{uuid.uuid4().hex[:8]}"
        self.names = Templates(profile=context.profile)
        # What each match filter found just now: the "before" of the create that follows it (see ledger).
        self.surveyed: dict[str, list[str] | None] = {}

    def run(self) -> None:
        self._check_applicable()
        for name, spec in self.case.identities.items():
            self._make_identities(name, spec)
        self.run_steps(self.case.setup, setup=True)
        self.run_steps(self.case.steps, setup=False)

    def cleanup(self) -> list[str]:
        """Delete what this case created; returns what could not be deleted."""
        return self.context.ledger.clean(self.context.client, self.scope)

    # -- what steps call -----------------------------------------------------------------------------
    def run_steps(self, steps: Sequence[Step], setup: bool) -> None:
        for step in steps:
            if self._applies(step.when):
                step.run(self, setup)

    def request(self, step: Request, setup: bool) -> Exchange:
        """Send one request step and judge its answer; a group that came back without members is then
        asked about member by member."""
        names = self.names
        with self.judging(names.text(step.title), setup) as judge:
            path = names.path(step.path)
            query = {k: names.text(str(v)) for k, v in step.query.items()}
            dialect = self.context.provider.setup_dialect if setup else self.dialect
            body = render_body(step.body, dialect, names, self.context)
            headers = {k: names.text(str(v)) for k, v in step.headers.items()}
            intent = self._intend(step.body)
            ciphers = self.context.provider.tls_ciphers if step.provider_tls else None
            exchange = judge.exchange = self._send(step.method, path, query, body, headers, step.auth, ciphers)
            self._book(step.method, path, step.body, exchange, intent)
            if step.provider_tls and exchange.tls:
                self.context.events.note(f"Negotiated {exchange.tls}")
            self.judge_answer(step.expect, step.capture, exchange)
        group = step.expect.get("members")
        if group is not None and not checks.lists_members(exchange):
            self._members_by_filter(group, setup)
        return exchange

    def judge_answer(self, expect: Mapping[str, Any], capture: Mapping[str, str], exchange: Exchange) -> None:
        """Capture what the step names, then apply its expectations."""
        checks.answered(exchange)
        for name, attribute in capture.items():
            self.names.captured[name] = attrpath.get(checks.the_resource(exchange, "capture"), attribute)
            if self.names.captured[name] is attrpath.MISSING:
                raise CheckFailure("capture", f"the response carries no {attribute}")
        apply_expectations(expect, exchange, self.names)

    @contextmanager
    def judging(self, title: str, setup: bool) -> Iterator[Judge]:
        """Run one step inside a reported step; turn a broken check into the right kind of outcome."""
        judge = Judge()
        with self.context.events.step(("Setup: " if setup else "") + title):
            try:
                yield judge
            except CheckFailure as failure:
                if setup or judge.exchange is None:
                    label = judge.exchange.label if judge.exchange else "no request"
                    redact = judge.exchange.redact if judge.exchange else str
                    message = f"setup step '{title}' failed: {failure} [{label}] (category: {failure.category})"
                    raise PreconditionFailed(redact(message)) from None
                raise ConformanceFailure(
                    case=self.case, dialect=self.dialect_name, failure=failure, exchange=judge.exchange
                ) from None

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
            raise CaseSkipped(f"the target is served over plain http; {self.context.provider.name} connects over TLS")

    def _make_identities(self, name: str, spec: Any) -> None:
        kind, count = (spec, None) if isinstance(spec, str) else (spec["kind"], spec["count"])
        if kind == "Group" and self.context.profile.groups is None:
            return  # steps about groups carry `when: groups` and are left out for this profile
        mapping = self.context.profile.mapping(kind)
        if count is None:
            self.names.identities[name] = self.context.factory.new(mapping)
            return
        total = self.context.users if count == "users" else int(count)
        self.names.lists[name] = [f"{name}_{index}" for index in range(1, total + 1)]
        for member in self.names.lists[name]:
            self.names.identities[member] = self.context.factory.new(mapping)

    def _applies(self, condition: str | None) -> bool:
        """`when: groups` needs a group mapping; `when: <selector>` needs the profile to map such a user attribute."""
        profile = self.context.profile
        if condition is None:
            return True
        if condition == "groups":
            return profile.groups is not None
        return bool(profile.users.select(condition))

    # -- sending and booking -------------------------------------------------------------------------
    def _members_by_filter(self, name: str, setup: bool) -> None:
        """The group's members, asked about one user at a time with the provider's `member_query`, for a server
        that does not return them; only the members may match."""
        identities = self.names.identities
        group = identities[name]
        asked: set[str] = set()  # a `foreach` alias names the same user as its list entry
        for user, identity in list(identities.items()):
            if identity.resource_type != "User" or identity.id is None or identity.deleted or identity.id in asked:
                continue
            asked.add(identity.id)
            listed = identity.id in group.members
            query = self.context.provider.member_query(f"{{{name}.id}}", f"{{{user}.id}}")  # templates: the ids
            probe = Request(
                name=f"{name} {'lists' if listed else 'does not list'} {user} (the GET returned no members)",
                method="GET",
                path=ENDPOINTS["Group"],
                query=query,
                expect={"status": 200, "total": 1 if listed else 0},
            )
            self.request(probe, setup)

    def _send(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        headers: dict[str, str],
        auth: str,
        ciphers: str | None,
    ) -> Exchange:
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
            method, path, query or None, body, headers or None, without_credentials=auth == "none", ciphers=ciphers
        )

    def _intend(self, body_spec: Mapping[str, Any] | None) -> Created | None:
        """Write a create into the ledger before it is sent, with what its match filter finds right now (the
        match step just before it, as in the provider's flow, or else a survey of its own), so that a POST whose
        answer is lost can still be proven ours, and nothing that was there before ever is."""
        if body_spec is None or "create" not in body_spec:
            return None
        identity = self.names.identities[body_spec["create"]]
        ledger, match = self.context.ledger, self.names.match_filter(identity)
        before = self.surveyed.pop(match) if match in self.surveyed else None
        if before is None:
            before = ledger.survey(self.context.client, identity.resource_type, match)
        sent = {path: value for path, value in identity.values.items() if value is not None}
        return ledger.intend(identity.resource_type, identity.label, self.scope, match, sent, before)

    def _book(
        self, method: str, path: str, body_spec: Mapping[str, Any] | None, exchange: Exchange, intent: Created | None
    ) -> None:
        """Keep the ledger and identities in step with what the server now holds; an identity gets an id
        only when the ledger counts it as the run's own."""
        identities = self.names.identities
        if intent is not None and body_spec is not None:
            owned = self.context.ledger.answered(intent, exchange, self.context.client)
            identity = identities[body_spec["create"]]
            if owned is not None and identity.id is None:
                identity.id = owned
            return
        if exchange.status is None or not 200 <= exchange.status < 300:
            return
        kind = next((k for k, p in ENDPOINTS.items() if path.rstrip("/").startswith(p)), None)
        if kind is not None and method == "DELETE":
            resource_id = unquote(path.rstrip("/").rsplit("/", 1)[-1])
            self.context.ledger.delete_sent(kind, resource_id)
            for identity in identities.values():
                if identity.id == resource_id:
                    identity.deleted = True
