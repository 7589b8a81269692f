"""Which rule a failed check stands for, so that a failure names the rule that actually broke.

A case's own requirement and fix apply when its own step broke them. A transport error or a server error
breaks a rule every answer is held to (`fixtures/rules.yaml`), wherever it happens; a step
that sends what another case judges (a create, a manager PATCH, …) breaks that case's rule; and a value the
case never changed, found changed, breaks the rule that values stay as sent.
"""

from __future__ import annotations

from functools import cache

from scimconform.catalogue import Case, load_catalogue
from scimconform.checks import SERVER_ERROR, TRANSPORT, CheckFailure
from scimconform.datafiles import data_dir
from scimconform.documents import load_document
from scimconform.engine.outcomes import Rule

GENERAL_BY_CATEGORY = {TRANSPORT: "transport", SERVER_ERROR: "server_error"}
UNTOUCHED_VALUES = "untouched_values"


@cache
def general_rules() -> dict[str, Rule]:
    rules = load_document(data_dir("fixtures") / "rules.yaml", "rules.json")
    return {name: Rule(**fields) for name, fields in rules.items()}


def case_by_id(case_id: str) -> Case:
    return next(case for case in load_catalogue() if case.id == case_id)


def rule_for(failure: CheckFailure, case: Case, owner: str | None) -> Rule:
    """The rule `failure` breaks, for a step of `case` that sends what case `owner` judges (None: its own)."""
    general = GENERAL_BY_CATEGORY.get(failure.category)
    if general is not None:
        return general_rules()[general]
    if owner is not None and owner != case.id:
        return Rule.of_case(case_by_id(owner), owner=True)
    return Rule.of_case(case)
