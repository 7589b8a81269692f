"""Allure labels, steps and attachments for each case and each HTTP exchange."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager

import allure

from scimconform.catalogue import Case
from scimconform.client import Exchange

SEVERITY = {"blocking": allure.severity_level.BLOCKER, "warning": allure.severity_level.NORMAL}


def describe_case(case: Case, dialect: str | None, profile: str) -> None:
    """Label the running test with the case's metadata, rendered from its YAML."""
    allure.dynamic.title(f"{case.id} {case.title}" + (f" [{dialect}]" if dialect else ""))
    allure.dynamic.epic(case.epic)
    allure.dynamic.feature(case.feature)
    allure.dynamic.story(case.story)
    allure.dynamic.severity(SEVERITY[case.severity])
    allure.dynamic.tag(f"profile:{profile}")
    if dialect:
        allure.dynamic.tag(f"dialect:{dialect}")
    allure.dynamic.testcase(case.id, case.id)
    if case.link:
        allure.dynamic.link(case.link, name=case.source)
    allure.dynamic.description(
        f"**Requirement.** {case.requirement}\n\n**Source.** {case.source}\n\n**Fix.** {case.fix}"
    )


class AllureSteps:
    """The replay engine's step observer: one Allure step per sequence step."""

    def step(self, title: str) -> AbstractContextManager[object]:
        step: AbstractContextManager[object] = allure.step(title)
        return step


def attach_exchange(exchange: Exchange) -> None:
    """Attach the request, response and a curl reproducer to the current step."""
    prefix = exchange.label
    if exchange.request_body is not None:
        allure.attach(_pretty(exchange.request_body), f"{prefix} · request body", allure.attachment_type.JSON)
    if exchange.response_headers:
        headers = "\n".join(f"{k}: {v}" for k, v in exchange.response_headers.items())
        allure.attach(headers, f"{prefix} · response headers", allure.attachment_type.TEXT)
    if exchange.response_body:
        kind = allure.attachment_type.JSON if _is_json(exchange.response_body) else allure.attachment_type.TEXT
        allure.attach(_pretty(exchange.response_body), f"{prefix} · response body", kind)
    allure.attach(exchange.curl(), f"{prefix} · curl", allure.attachment_type.TEXT)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text
