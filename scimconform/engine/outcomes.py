"""How a case that ran ends when it does not pass: a broken rule, with the request that broke it."""

from __future__ import annotations

from scimconform.catalogue import Case
from scimconform.checks import CheckFailure
from scimconform.errors import CaseOutcome
from scimconform.exchange import Exchange


class ConformanceFailure(CaseOutcome, AssertionError):
    """A case's rule is broken. An AssertionError, so reports file it as failed, not broken."""

    def __init__(self, *, case: Case, dialect: str | None, failure: CheckFailure, exchange: Exchange) -> None:
        self.case = case
        self.dialect = dialect
        self.check = failure.check
        self.category = failure.category
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
            f"  category: {self.category}\n"
            f"  fix: {self.case.fix}\n"
            f"  reproduce: {self.exchange.curl()}"
        )
