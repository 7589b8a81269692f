"""What one case found: every failed step with the rule it broke, the steps left out because of them, and the
requests that were taken only in a plainer form. The case's verdict is read from here when it ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scimconform import checks
from scimconform.catalogue import Case
from scimconform.checks import CheckFailure
from scimconform.engine.outcomes import ConformanceFailure, FailedStep
from scimconform.engine.rules import UNTOUCHED_VALUES, general_rules, rule_for
from scimconform.exchange import Exchange


@dataclass(kw_only=True)
class Findings:
    case: Case
    failures: list[FailedStep] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # judged steps not run: they needed what a failed step made
    # What was sent in a plainer form: {note, cause, judged_by} (schemas/summary.json, $defs/fallback).
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    sent_paths: set[str] = field(default_factory=set)  # attribute paths the case's own (judged) steps sent
    failed_steps: set[str] = field(default_factory=set)  # names of the case file's steps that failed (see `needs`)
    _base: tuple[int, int, int] = (0, 0, 0)  # a fork's lengths when it was made

    def record(
        self, title: str, failure: CheckFailure, exchange: Exchange, owner: str | None, *, inferred: bool = False
    ) -> None:
        """Keep the failure with the rule it breaks. Values the case's own steps never sent, found changed, break
        the rule that values stay as sent, so they are a failure of their own (when the case sent any)."""
        wrong = failure.expected if failure.check == "attribute_values" else None
        if isinstance(wrong, dict) and self.sent_paths and not wrong.keys() <= self.sent_paths:
            own = {p: v for p, v in wrong.items() if p in self.sent_paths}
            if own:
                self.record(title, _values(exchange, own), exchange, owner, inferred=inferred)
            untouched = _values(exchange, {p: v for p, v in wrong.items() if p not in own})
            rule = general_rules()[UNTOUCHED_VALUES]
            self.failures.append(FailedStep(step=title, failure=untouched, exchange=exchange, rule=rule))
            return
        rule = rule_for(failure, self.case, owner)
        self.failures.append(FailedStep(step=title, failure=failure, exchange=exchange, rule=rule, inferred=inferred))

    def fork(self) -> Findings:
        """Findings for one member's steps run beside the others' (`engine.members`), starting from these."""
        forked = Findings(case=self.case, sent_paths=set(self.sent_paths), failed_steps=set(self.failed_steps))
        forked.failures, forked.left_out, forked.fallbacks = (
            list(self.failures),
            list(self.left_out),
            list(self.fallbacks),
        )
        forked._base = (len(self.failures), len(self.left_out), len(self.fallbacks))
        return forked

    def merge(self, forked: Findings) -> None:
        """Take in what a fork found since it was made."""
        failures, left_out, fallbacks = forked._base
        self.failures += forked.failures[failures:]
        self.left_out += forked.left_out[left_out:]
        self.fallbacks += forked.fallbacks[fallbacks:]
        self.sent_paths |= forked.sent_paths
        self.failed_steps |= forked.failed_steps

    def verdict(self, dialect: str | None) -> None:
        """Raise the case's failure, if any step failed."""
        if self.failures:
            raise ConformanceFailure(
                case=self.case, dialect=dialect, failures=tuple(self.failures), left_out=tuple(self.left_out)
            )


def _values(exchange: Exchange, expected: dict[str, Any]) -> CheckFailure:
    """The values failure for just these paths, in the check's own words."""
    try:
        checks.attribute_values(exchange, expected)
    except CheckFailure as failure:
        return CheckFailure(failure.check, exchange.redact(failure.message), expected=failure.expected)
    raise AssertionError("these values were found wrong a moment ago")
