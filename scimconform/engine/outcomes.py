"""How a case that ran ends when it does not pass: every step that broke a rule, each with the rule it broke,
the request that broke it and the fix."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scimconform.catalogue import Case
from scimconform.checks import CheckFailure
from scimconform.errors import CaseOutcome
from scimconform.exchange import Exchange


@dataclass(frozen=True, kw_only=True)
class Rule:
    """The rule a failed check stands for: a case's requirement, or a rule every answer is held to (a server
    error, a schema, …). `owner` is the case that judges it when that is not the case that ran into it."""

    requirement: str
    fix: str
    source: str
    owner: str | None = None

    @classmethod
    def of_case(cls, case: Case, *, owner: bool = False) -> Rule:
        return cls(requirement=case.requirement, fix=case.fix, source=case.source, owner=case.id if owner else None)


@dataclass(frozen=True, kw_only=True)
class FailedStep:
    """One failed step of a case: what it sent and saw, and which rule that breaks. `inferred`: the target refused a
    request whose form is Microsoft's nowhere in print nor in a public capture, so on its own it never fails a run."""

    step: str
    failure: CheckFailure
    exchange: Exchange
    rule: Rule
    inferred: bool = False

    def summary(self) -> dict[str, Any]:
        """The failure as summary.json holds it (`schemas/summary.json`, `$defs/failure`), secrets redacted."""
        redact = self.exchange.redact
        return {
            "step": redact(self.step),
            "request": redact(self.exchange.label),
            "observed": redact(self.failure.message),
            "category": self.failure.category,
            "rule": self.rule.requirement,
            "source": self.rule.source,
            "fix": self.rule.fix,
            "judged_by": self.rule.owner,
            "cause": redact(self.cause),
            **({"inferred": True} if self.inferred else {}),
        }

    @property
    def cause(self) -> str:
        return cause_of(self.exchange, self.failure)


def cause_of(exchange: Exchange, failure: CheckFailure) -> str:
    """What makes failures in different cases one problem: the request's shape (method and path, ids left out)
    and what came back, with the values of this run's identities left out. A refusal (4xx, 5xx) is the same
    cause whatever status the step expected: `POST /Groups → 400 (unknown schema …)`."""
    path = _ID_SEGMENT.sub(r"\1{id}", urlsplit(exchange.url).path)
    answer = exchange.status if exchange.status is not None else "no answer"
    observed = _QUOTED.sub('"…"', exchange.redact(failure.message))  # redacted before it is cut
    refused = _REFUSED.match(observed) if failure.check == "status_code" and (exchange.status or 0) >= 400 else None
    return (
        f"{exchange.method} {path} → {answer}{refused[1]}"
        if refused
        else f"{exchange.method} {path} → {answer}: {observed}"
    )


_ID_SEGMENT = re.compile(r"(/(?:Users|Groups)/)[^/]+")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_REFUSED = re.compile(r"expected HTTP [0-9 or]+, got \d+(.*)$")


class ConformanceFailure(CaseOutcome, AssertionError):
    """A case's rules are broken, in one or more steps. An AssertionError, so reports file it as failed."""

    def __init__(
        self, *, case: Case, dialect: str | None, failures: tuple[FailedStep, ...], left_out: tuple[str, ...] = ()
    ) -> None:
        assert failures, "a conformance failure names at least one failed step"
        self.case = case
        self.dialect = dialect
        self.failures = failures
        self.left_out = left_out  # later steps that needed what a failed step should have made
        first = failures[0]
        self.check = first.failure.check
        self.category = first.failure.category
        self.observed = first.failure.message
        self.exchange = first.exchange
        super().__init__(self.render())

    @property
    def severity(self) -> str:
        """The case's, except that failures of inferred request forms alone only warn (issue #14)."""
        return "warning" if all(failed.inferred for failed in self.failures) else self.case.severity

    @property
    def fix(self) -> str:
        """The fix of the first broken rule: what to change first."""
        return self.failures[0].rule.fix

    def render(self) -> str:
        lines = [f"{self.case.id} [{self.severity}] {self.case.requirement}"]
        many = len(self.failures) > 1
        if many:
            lines.append(f"  {len(self.failures)} steps failed:")
        for number, failed in enumerate(self.failures, 1):
            indent = "    " if many else "  "
            rule = failed.rule
            owner = f" (judged by {rule.owner})" if rule.owner and rule.owner != self.case.id else ""
            lines += [
                *([f"  {number}. {failed.step}"] if many else []),
                f"{indent}request: {failed.exchange.label}",
                f"{indent}observed: {failed.failure.message}",
                f"{indent}category: {failed.failure.category}",
                *(
                    [f"{indent}rule: {rule.requirement}{owner} [{rule.source}]"]
                    if rule.owner or rule.requirement != self.case.requirement
                    else []
                ),
                *([f"{indent}evidence: inferred form (alone, a warning)"] if failed.inferred else []),
                f"{indent}fix: {rule.fix}",
                f"{indent}reproduce: {failed.exchange.curl()}",
            ]
        if self.left_out:
            lines.append(f"  left out, as they needed what a failed step should have made: {'; '.join(self.left_out)}")
        return self.exchange.redact("\n".join(lines))
