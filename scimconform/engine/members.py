"""Steps run for each member of an identity list: one member after another, or several at once.

With workers (`scimconform run --workers N`) up to N members run at once (under pytest-xdist, N² in the steps
of an `alone` case, when no other worker sends), as an identity provider's provisioning service itself works on
several users in parallel. Each member's own requests keep their order. Members run at once only when their
steps change no identity but the member (`member_local`): each then runs in a branch of the case with its own
view of the identities, its own findings and its events held back. The branches are merged in member order, so reports,
findings and the verdict read as if the members had run one after another; the first member, in that order,
whose steps end the case ends it, as it would have then. The events of a member after it are still reported:
its requests were sent.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import ClassVar, Protocol

from scimconform.checks import CheckFailure
from scimconform.engine.findings import Findings
from scimconform.engine.outcomes import ConformanceFailure
from scimconform.engine.steps import Create, Engine, Match, Request, Step, Verify
from scimconform.errors import MissingDependency, NotApplicable
from scimconform.events import Event
from scimconform.exchange import Exchange

StepsFor = Callable[[Engine, str], Sequence[Step]]
_NAMED = re.compile(r"\{(?:\w+:)?([A-Za-z_]\w*)")


class Case(Engine, Protocol):
    """What a branch copies and merges back (implemented by `case_run.CaseRun`)."""

    at_once: int
    findings: Findings
    judged_any: bool
    dialect_name: str | None
    last_failure: tuple[CheckFailure | None, Exchange | None]


def run_each(case: Case, members: Sequence[str], alias: str | None, steps_for: StepsFor, setup: bool) -> None:
    """Run `steps_for(engine, member)` for each member, the member also named `alias` in them."""
    width = min(case.at_once, len(members))
    plans = [steps_for(case, member) for member in members] if width > 1 else []
    if width <= 1 or not all(member_local(plan, alias or member) for plan, member in zip(plans, members, strict=True)):
        for member in members:
            if alias is not None:
                case.names.identities[alias] = case.names.identities[member]
            case.run_steps(steps_for(case, member), setup)
        return
    _AtOnce(case, members, alias, plans, setup).run(width)


class _AtOnce:
    """One run of members at once: each member's steps in a thread of a pool, then settled in member order."""

    # Entra works on users in parallel: a public report of it doing so for one group's member additions is
    # https://github.com/scimmyjs/scimmy/issues/79.

    def __init__(
        self, case: Case, members: Sequence[str], alias: str | None, plans: list[Sequence[Step]], setup: bool
    ) -> None:
        self.case, self.members, self.alias, self.plans, self.setup = case, members, alias, plans, setup
        self.branches = [_branch(case, member, alias, members) for member in members]
        self.held: list[list[Event]] = [[] for _ in members]
        self.ended: list[BaseException | None] = [None] * len(members)
        self.at = [0] * len(members)  # the step each member is at, or ended at
        self.first = len(members)  # the first member whose steps ended the case; those after it do not start
        self._lock, self._stop = threading.Lock(), threading.Event()

    def run(self, width: int) -> None:
        interrupted = False
        pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="scimconform-member")
        futures: list[Future[None]] = []
        try:
            for index in range(len(self.members)):
                futures.append(pool.submit(self._member, index))
        except KeyboardInterrupt:  # while threads start: those begun end at once (`_member`), shutdown joins them
            interrupted, self.first = True, -1
            self._stop.set()
        while True:
            try:
                wait(futures)
                pool.shutdown(wait=True)  # an interrupt even here is taken in, so that no thread outlives the run
                break
            except KeyboardInterrupt:  # every branch ends its current step; none is left sending
                interrupted, self.first = True, -1
                self._stop.set()
        if interrupted:
            self._release(0)
            raise KeyboardInterrupt
        try:
            for index in range(len(self.members)):
                self._settle(index)
        except BaseException:
            self._release(index + 1)  # what later members sent is reported, though it no longer counts
            raise
        if self.alias is not None:  # as after one member after another
            self.case.names.identities[self.alias] = self.case.names.identities[self.members[-1]]

    def _member(self, index: int) -> None:
        if index > self.first:
            return
        branch, held = self.branches[index], self.held[index]
        with self.case.context.events.holding(held):
            for at, step in enumerate(self.plans[index]):
                if self._stop.is_set():  # interrupted: the member's later steps are not sent
                    return
                self.at[index] = at
                try:
                    branch.run_steps([step], self.setup)
                except (MissingDependency, NotApplicable) as error:
                    # Whether one ends the case depends on what members before it found: settled in order.
                    self.ended[index] = error
                    if not self.setup:
                        return
                except BaseException as error:  # handed to the case's own thread
                    self.ended[index] = error
                if self.ended[index] is not None:
                    with self._lock:
                        self.first = min(self.first, index)
                    return

    def _settle(self, index: int) -> None:
        """Take in one member, as if it had just run after the members before it. A step that lacked an id or a
        mapped attribute is judged again by the case itself, knowing every member before (`CaseRun.run_steps`
        leaves it out or ends the case), without being sent again; the member's later steps follow there."""
        case, error, branch = self.case, self.ended[index], self.branches[index]
        self.case.context.events.release(self.held[index])
        case.findings.merge(branch.findings)
        case.judged_any |= branch.judged_any
        case.surveyed.update(branch.surveyed)
        if isinstance(error, MissingDependency | NotApplicable) and not self.setup:
            if self.alias is not None:
                case.names.identities[self.alias] = case.names.identities[self.members[index]]
            step = self.plans[index][self.at[index]]
            ended = _Ended(error=error, name=getattr(step, "name", None) or step.key)
            case.run_steps([ended, *self.plans[index][self.at[index] + 1 :]], self.setup)
        elif error is not None:
            if isinstance(error, ConformanceFailure):
                case.findings.verdict(case.dialect_name)  # with every failure before it, not the branch's alone
            raise error

    def _release(self, start: int) -> None:
        for events in self.held[start:]:
            self.case.context.events.release(events)


@dataclass(frozen=True, kw_only=True)
class _Ended(Step):
    """A member's step that raised `error` in its branch, after whatever it sent: raised again where the case
    can judge it, so that nothing is sent twice."""

    key: ClassVar[str] = "ended"
    error: MissingDependency | NotApplicable
    name: str

    def run(self, engine: Engine, setup: bool) -> None:
        raise self.error


def member_local(steps: Sequence[Step], member: str) -> bool:
    """Whether these steps change no identity but `member`, capture nothing into the case's shared names and
    read no group's members (which reads every user of the case): then members can run at once."""
    return all(_local(step, member) for step in steps)


def _local(step: Step, member: str) -> bool:
    if step.needs is not None:  # it reads whether a step failed, in any member before it
        return False
    if isinstance(step, Create | Match | Verify):
        return step.of == member
    if not isinstance(step, Request) or step.capture or "members" in step.expect:
        return False
    body = step.body or {}
    if step.method == "GET":
        return True
    if "json" in body:  # a literal body may name any identity, or make one the ledger does not know
        return False
    changed = {body["create"]} if "create" in body else set()
    changed |= {detail["of"] for detail in (body.get("patch") or {}).values()}
    changed |= set(_NAMED.findall(step.path + " ".join(str(value) for value in step.query.values())))
    return changed <= {member}


def _branch(case: Case, member: str, alias: str | None, members: Sequence[str]) -> Case:
    """The case as one member's steps see it: the identities without the list's other members (which other
    branches change meanwhile), the member also under `alias`, and findings of its own."""
    branch = copy.copy(case)
    others = set(members) - {member}
    view = {name: identity for name, identity in case.names.identities.items() if name not in others}
    if alias is not None:
        view[alias] = case.names.identities[member]
    branch.names = replace(case.names, identities=view)
    branch.surveyed = {}
    branch.findings = case.findings.fork()
    branch.last_failure = (None, None)
    return branch
