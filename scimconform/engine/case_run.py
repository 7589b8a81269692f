"""One case in one dialect: build its identities, run its setup and steps, judge every answer.

Every request goes through `request`, which renders it, writes a create into the ledger before it is sent,
sends it, keeps ledger and identities in step with the answer, and applies the step's checks.

One defect must not hide another. A failed step is recorded and the case goes on: a step that needs what a
failed step should have made is left out, and the end-state checks leave out what a refused request changed.
A request the target refused is sent once more in each plainer form (`engine/fallbacks.py`) until one is
taken. A refused shape that another case judges (a create: `owns` in its case file) is that case's failure, not
this one's; the plainer form is then judged by the step's own expectations, so the case is judged on its own
behaviour. This case's own refused request stays its failure, and the plainer form only gives the steps after
it what they need. Setup that cannot be done in any form leaves the case undecided (an error). After a
transport failure the case stops: nothing later would be answered either.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any
from urllib.parse import unquote

from scimconform import attrpath, checks
from scimconform.catalogue import Case, load_catalogue, owner_of
from scimconform.checks import TRANSPORT, CheckFailure
from scimconform.dialects import Dialect
from scimconform.engine import fallbacks
from scimconform.engine.applicability import applies, check_applicable, make_identities
from scimconform.engine.bodies import render_body
from scimconform.engine.context import RunContext
from scimconform.engine.expectations import apply_expectations
from scimconform.engine.findings import Findings
from scimconform.engine.members import StepsFor, run_each
from scimconform.engine.outcomes import cause_of
from scimconform.engine.steps import Judge, Request, Step, member_probes
from scimconform.engine.templates import Templates
from scimconform.errors import CaseSkipped, MissingDependency, NotApplicable, PreconditionFailed, StepFailed
from scimconform.events import StepFinished, StepStarted
from scimconform.exchange import Exchange
from scimconform.ledger import ENDPOINTS, Created


class CaseRun:
    """Runs one case's steps against the target; implements the `Engine` the steps talk to."""

    def __init__(self, case: Case, dialect: str | None, context: RunContext) -> None:
        self.case = case
        # A case that runs once (no PATCH of its own) speaks the run's dialect in its setup PATCHes.
        self.dialect: Dialect = context.provider.dialects[dialect or context.dialect]
        self.dialect_name = dialect
        self.context = context
        self.scope = f"{case.id}:{dialect or '-'}:{uuid.uuid4().hex[:8]}"
        self.names = Templates(profile=context.profile)
        # What each match filter found just now: the "before" of the create that follows it (see ledger).
        self.surveyed: dict[str, list[str] | None] = {}
        self.findings = Findings(case=case)
        self.last_failure: tuple[CheckFailure | None, Exchange | None] = (None, None)
        self.judged_any = False  # a judged request was sent: a step about an unmapped attribute is then left out
        self.at_once = context.at_once  # members of an identity list run at once (`engine.members`)

    def run(self) -> None:
        self.prepare()
        self.replay()

    def prepare(self) -> None:
        """Skip a case that does not apply; make its identities (before any request: in the run's order)."""
        check_applicable(self.case, self.context)
        make_identities(self.case, self.context, self.names)

    def replay(self) -> None:
        """Send the case's setup and steps, judge them, and raise its verdict."""
        self.run_steps(self.case.setup, setup=True)
        try:
            alone = self.case.runs_alone(self.context.users)
            with self.context.alone() if alone else nullcontext():
                # No other case sends now: its members may take the whole run's share.
                self.at_once = self.context.alone_at_once if alone else self.context.at_once
                self.run_steps(self.case.steps, setup=False)
        except (CaseSkipped, PreconditionFailed) as stopped:
            if not self.findings.failures:
                raise
            self.findings.left_out.append(f"the rest of the case: {stopped}")  # the failures so far stand
        finally:
            self.at_once = self.context.at_once
        self.findings.verdict(self.dialect_name)

    def cleanup(self) -> list[str]:
        """Delete what this case created, in as many threads as its members run at once; returns what could
        not be deleted."""
        with self.context.events.per_thread() as each_thread:
            return self.context.ledger.clean(
                self.context.client, self.scope, at_once=self.at_once, each_thread=each_thread
            )

    # -- what steps call -----------------------------------------------------------------------------
    def run_steps(self, steps: Sequence[Step], setup: bool) -> None:
        """Each step that applies, in order; a failed step is recorded and the next one runs."""
        for step in steps:
            if not applies(step.when, self.context.profile):
                continue
            if step.needs in self.findings.failed_steps:
                self.findings.left_out.append(f"{getattr(step, 'name', None) or step.key}: needs '{step.needs}'")
                self.context.events.note(f"Left out: it reads what '{step.needs}' should have changed, and that failed")
                continue
            try:
                step.run(self, setup)
            except StepFailed:
                self.findings.failed_steps.add(str(getattr(step, "name", None)))
                continue
            except MissingDependency as missing:
                if setup or not self.findings.failures:
                    raise
                self.findings.left_out.append(f"{getattr(step, 'name', None) or step.key}: {missing}")
                self.context.events.note(f"Left out, as an earlier step failed: {missing}")
            except NotApplicable as unmapped:
                if setup or not self.judged_any:  # the case is about what the profile does not map
                    raise
                self.findings.left_out.append(f"{getattr(step, 'name', None) or step.key}: {unmapped}")
                self.context.events.note(f"Left out: {unmapped}")

    def each(self, members: Sequence[str], alias: str | None, steps_for: StepsFor, setup: bool) -> None:
        """Steps for each member, one after another or several at once (`engine.members`)."""
        run_each(self, members, alias, steps_for, setup)

    def request(self, step: Request, setup: bool) -> Exchange:
        """Send one request step and judge its answer. When the target refuses it, send it once more in each
        plainer form until one is taken. A refusal of what another case judges (a create) is that case's
        failure, not this one's: here the plainer form is judged by this step's own expectations instead."""
        before, failures = fallbacks.snapshot(self.names), self.findings.failures
        mark = len(failures)
        try:
            return self._request(step, setup)
        except (StepFailed, PreconditionFailed) as refusal:
            if isinstance(refusal, MissingDependency) or not fallbacks.has_plainer_form(step):
                raise
            if not fallbacks.refused(*self.last_failure):
                raise
            failure, exchange = self.last_failure
            cause = cause_of(exchange, failure) if failure is not None and exchange is not None else str(refusal)
            undone = fallbacks.restore(self.names, before)
            owner = step.owner or self._owner_of(step)
            foreign = owner if owner is not None and owner != self.case.id else None
            for plainer in fallbacks.plainer_forms(step, judged_here=self.case.id if foreign and not setup else None):
                try:
                    taken = self._attempt(plainer, setup=setup or not foreign)
                except StepFailed:
                    del failures[mark]  # judged on its own behaviour, and that failed: the refusal is the owner's
                    raise
                if taken is None:
                    continue
                self._fell_back(step, plainer.form, cause, foreign)
                del failures[mark : mark + (1 if foreign else 0)]  # a foreign refusal is judged, once, by its owner
                if foreign or setup:
                    return taken
                raise  # this case's own request was refused: that stays its failure; later steps can go on
            for identity, paths in undone:
                identity.unsure |= paths
            raise

    def judge_answer(self, expect: Mapping[str, Any], capture: Mapping[str, str], exchange: Exchange) -> None:
        """Capture what the step names, then apply its expectations."""
        checks.answered(exchange)
        if "status" in expect:  # a refused request is a refusal first, not a missing value to capture
            apply_expectations({"status": expect["status"]}, exchange, self.names)
        for name, attribute in capture.items():
            self.names.captured[name] = attrpath.get(checks.the_resource(exchange, "capture"), attribute)
            if self.names.captured[name] is attrpath.MISSING:
                raise CheckFailure("capture", f"the response carries no {attribute}")
        apply_expectations({k: v for k, v in expect.items() if k != "status"}, exchange, self.names)

    @contextmanager
    def judging(self, title: str, setup: bool, seconds: float | None = None) -> Iterator[Judge]:
        """Run one step inside a reported step. A failed check in setup leaves the case undecided; in a judged
        step it is recorded with the rule it breaks, and the step ends (`StepFailed`); after a transport failure
        the case ends, as nothing later would be answered either. `seconds`: the step's length, if it is timed."""
        judge = Judge()
        shown = ("Setup: " if setup else "") + title
        events = self.context.events
        events.emit(StepStarted(shown, seconds))
        try:
            yield judge
        except CheckFailure as raw:
            exchange = judge.exchange
            failure = _redacted(raw, exchange.redact if exchange else self.context.client.redact)
            self.last_failure = (failure, exchange)
            if setup or exchange is None:
                label, redact = (exchange.label, exchange.redact) if exchange else ("no request", str)
                message = f"setup step '{title}' failed: {failure} [{label}] (category: {failure.category})"
                error = PreconditionFailed(redact(message))
                events.emit(StepFinished(shown, error, exchange))
                raise error from None
            events.emit(StepFinished(shown, failure, exchange))
            # Only a refusal of the inferred form is in doubt: an answer to it (a wrong count) is the server's own.
            refused = exchange.status is not None and exchange.status >= 400
            self.findings.record(title, failure, exchange, judge.owner, inferred=judge.inferred and refused)
            if failure.category == TRANSPORT:
                self.findings.verdict(self.dialect_name)
            raise StepFailed from None
        except BaseException as error:
            events.emit(StepFinished(shown, error, judge.exchange))
            raise
        events.emit(StepFinished(shown, None, judge.exchange))

    # -- sending, falling back -----------------------------------------------------------------------
    def _request(self, step: Request, setup: bool) -> Exchange:
        if self.context.stopping.is_set():  # the run stops: no survey, no intent, nothing sent
            raise KeyboardInterrupt
        names = self.names
        with self.judging(names.text(step.title), setup) as judge:
            # A create re-sent to see it refused (409) asks this case's own question, whoever owns creates.
            refusal_expected = any(status >= 300 for status in _listed(step.expect.get("status", [])))
            judge.owner = step.owner or (None if refusal_expected else self._owner_of(step))
            path = names.path(step.path)
            query = {k: names.text(str(v)) for k, v in step.query.items()}
            before = fallbacks.snapshot(names)
            body = render_body(step.body, self.dialect, names, self.context, step.form)
            if not setup:  # what the case's own steps send is its own to judge (see Findings.record)
                self.findings.sent_paths |= fallbacks.changed(before, fallbacks.snapshot(names))
                self.findings.sent_paths |= _created_paths(step.body, names)
            headers = {k: None if v is None else names.text(v) for k, v in step.headers.items()}
            judge.inferred = step.inferred
            intent = self._intend(step.body)
            deleting = _deleted(step.method, path)
            # Before it is sent: a run killed after it must not look for the resource under another id.
            marked = deleting is not None and self.context.ledger.delete_sent(*deleting)
            ciphers = self.context.provider.tls_ciphers if step.provider_tls else None
            exchange = judge.exchange = _send(self.context, step.method, path, query, body, headers, step.auth, ciphers)
            self.judged_any = self.judged_any or not setup
            _book(self.context, names, (step.method, path, step.body), exchange, intent, marked)
            if step.provider_tls and exchange.tls:
                self.context.events.note(f"Negotiated {exchange.tls}")
            self.judge_answer(step.expect, step.capture, exchange)
        group = step.expect.get("members")
        if group is not None and not checks.lists_members(exchange) and "members" not in names.identities[group].unsure:
            self.run_steps(member_probes(names, self.context.provider, group), setup)
        return exchange

    def _attempt(self, step: Request, setup: bool) -> Exchange | None:
        """Send a plainer form; None when it is refused too (and nothing of it is kept)."""
        before, mark = fallbacks.snapshot(self.names), len(self.findings.failures)
        try:
            return self._request(step, setup)
        except PreconditionFailed:
            fallbacks.restore(self.names, before)
            return None
        except StepFailed:
            if not fallbacks.refused(*self.last_failure):
                raise
            del self.findings.failures[mark:]
            fallbacks.restore(self.names, before)
            return None

    def _fell_back(self, step: Request, form: str, cause: str, owner: str | None) -> None:
        """Say what was refused and sent in a plainer form; a refusal another case judges is checked against that
        case's verdict when the run ends (`RunRecord.unjudged_refusals`)."""
        judged = f"; that refusal is judged by {owner}" if owner else ""
        note = f"{self.context.provider.name}'s request was refused ({cause}); sent in the {form} form{judged}"
        self.findings.fallbacks.append({"note": note, "cause": cause, "judged_by": owner})
        self.context.events.note(f"Fell back: {note}")

    def _owner_of(self, step: Request) -> str | None:
        """The case that judges this request, when it is a provider request some case owns (a create)."""
        if step.body is None or "create" not in step.body:
            return None
        kind = self.names.identities[step.body["create"]].resource_type
        return owner_of(f"create {kind}", load_catalogue(self.context.provider))

    # -- sending and booking -------------------------------------------------------------------------
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
    context: RunContext,
    names: Templates,
    request: tuple[str, str, Mapping[str, Any] | None],
    exchange: Exchange,
    intent: Created | None,
    marked: bool,
) -> None:
    """Keep the ledger and identities in step with what the server now holds after `request` (method, path,
    body spec); an identity gets an id only when the ledger counts it as the run's own."""
    method, path, body_spec = request
    identities = names.identities
    if intent is not None and body_spec is not None:
        owned = context.ledger.answered(intent, exchange, context.client)
        identity = identities[body_spec["create"]]
        if owned is not None and identity.id is None:
            identity.id = owned
        return
    deleting = _deleted(method, path)
    if deleting is None:
        return
    if marked and (not exchange.sent or (exchange.status in (404, 410) and exchange.attempt == 1)):
        # Not sent, or the id names nothing: the resource, if it is still there, is under another id, for
        # cleanup to find. Any other answer, or none, may have come after the deletion: cleanup reads
        # before it takes the resource for gone. (A DELETE sent again after one that worked stays marked.)
        context.ledger.delete_sent(*deleting, sent=False)
    elif exchange.status is not None and 200 <= exchange.status < 300:
        for identity in identities.values():
            if identity.id == deleting[1]:
                identity.deleted = True


def _redacted(failure: CheckFailure, redact: Callable[[str], str]) -> CheckFailure:
    """The failure as reports may show it: a check quotes what the target answered, which may echo a secret."""
    return CheckFailure(failure.check, redact(failure.message), category=failure.category, expected=failure.expected)


def _deleted(method: str, path: str) -> tuple[str, str] | None:
    """(resource type, id) of a DELETE of one resource."""
    kind = next((k for k, p in ENDPOINTS.items() if path.rstrip("/").startswith(p)), None)
    if method != "DELETE" or kind is None:
        return None
    return kind, unquote(path.rstrip("/").rsplit("/", 1)[-1])


def _listed(statuses: Any) -> list[int]:
    return [int(s) for s in (statuses if isinstance(statuses, list) else [statuses])]


def _created_paths(body: Mapping[str, Any] | None, names: Templates) -> set[str]:
    """Every path a judged create sends: values set at creation are the case's own."""
    if body is None or "create" not in body:
        return set()
    return set(names.identities[body["create"]].values)


def _send(
    context: RunContext,
    method: str,
    path: str,
    query: dict[str, str],
    body: Any,
    headers: dict[str, str | None],
    auth: str,
    ciphers: str | None,
) -> Exchange:
    """Send one request with the credentials the step's `auth` asks for: the run's, none, a wrong token, or the
    expired token the settings name."""
    if context.stopping.is_set():  # the run stops: a case running beside pytest's sends nothing more
        raise KeyboardInterrupt
    if auth == "wrong":
        headers = {"Authorization": f"Bearer {uuid.uuid4().hex}", **headers}
    if auth == "expired":
        expired = context.client.target.expired_token
        if expired is None:
            raise CaseSkipped(
                f"no expired token: set {context.settings.expired_token_env} to an access token "
                "the target issued that has since expired (or was revoked)"
            )
        headers = {"Authorization": f"Bearer {expired}", **headers}
    return context.client.send(
        method, path, query or None, body, headers or None, without_credentials=auth == "none", ciphers=ciphers
    )
