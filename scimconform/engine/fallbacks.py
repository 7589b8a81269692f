"""Plainer forms of a refused request, and undoing what a refused request changed in the case's identities.

When the target refuses a request in the identity provider's exact shape, the engine sends it once more in each
plainer form (`bodies.FORMS`) until one is taken, so that one refused shape does not hide the rest of a case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from scimconform.checks import CheckFailure
from scimconform.engine.bodies import FORMS
from scimconform.engine.steps import Request
from scimconform.engine.templates import Templates
from scimconform.exchange import Exchange
from scimconform.identities import Identity

# What identities hold before a request: label -> (values, members).
Snapshot = dict[str, tuple[dict[str, Any], list[str]]]


def refused(failure: CheckFailure | None, exchange: Exchange | None) -> bool:
    """The target refused the request: an error status where the step expected another."""
    expected = failure.expected if failure is not None and failure.check == "status_code" else None
    return exchange is not None and (exchange.status or 0) >= 400 and bool(expected)


def has_plainer_form(step: Request) -> bool:
    """A create has two plainer forms, a PATCH one; a literal body has none."""
    if step.body is None or "json" in step.body:
        return False
    return step.form == FORMS[0] if "patch" in step.body else step.form != FORMS[-1]


def plainer_forms(step: Request, *, judged_here: str | None) -> list[Request]:
    """The step in each plainer form. Judged here (by case `judged_here`), a form keeps the step's expectations;
    otherwise it only has to be taken."""
    forms = FORMS[FORMS.index(step.form) + 1 :]
    if judged_here is not None:
        return [replace(step, form=f, name=f"{step.title} ({f} form)", owner=judged_here) for f in forms]
    return [replace(step, form=f, name=f"{step.title} ({f} form)", expect=_taken(step.expect)) for f in forms]


def _taken(expect: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in expect.items() if key in ("status", "has_id")}


def snapshot(names: Templates) -> Snapshot:
    return {i.label: (dict(i.values), list(i.members)) for i in names.identities.values()}


def restore(names: Templates, before: Snapshot) -> list[tuple[Identity, set[str]]]:
    """Put back what a refused request had changed in the identities; returns each identity with the paths (or
    "members") it changed."""
    undone = []
    for identity in names.identities.values():
        values, members = before.get(identity.label, (identity.values, identity.members))
        paths = changed({identity.label: (values, members)}, {identity.label: (identity.values, identity.members)})
        if paths:
            identity.values, identity.members = dict(values), list(members)
            undone.append((identity, paths))
    return undone


def changed(before: Snapshot, after: Snapshot) -> set[str]:
    """The attribute paths (and "members") that differ between two snapshots."""
    paths: set[str] = set()
    for label, (values, members) in after.items():
        old_values, old_members = before.get(label, ({}, []))
        paths |= {p for p in values.keys() | old_values.keys() if values.get(p) != old_values.get(p)}
        if members != old_members:
            paths.add("members")
    return paths
