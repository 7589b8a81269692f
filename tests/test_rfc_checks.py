"""The checks the RFC breadth cases added to `scimconform/checks.py`, judged on hand-built exchanges.

One row per behaviour: an answer, what the case expects, and either None (the check passes) or a fragment of
the `CheckFailure` message naming what was observed.
"""

from __future__ import annotations

from typing import Any

import pytest

from scimconform import checks
from scimconform.checks import CheckFailure
from scimconform.exchange import Exchange
from tests.test_checks import answer as scim_answer

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
CREATED = "2024-05-01T10:00:00Z"


def answer(body: Any, status: int = 200, text: str | None = None) -> Exchange:
    """An answer to `GET /Users` holding `body` (tests/test_checks.py builds it)."""
    return scim_answer(status, body, text=text)


def error(status: Any, scim_type: str | None = None) -> dict[str, Any]:
    return {"schemas": [ERROR], "status": status, **({"scimType": scim_type} if scim_type else {})}


def user(meta: dict[str, Any]) -> dict[str, Any]:
    return {"id": "7", "userName": "a@example.com", "meta": meta}


ERRORS = [
    ("error-matches", answer(error("400", "invalidFilter"), 400), {"status": "400", "scimType": "invalidFilter"}, None),
    ("scimtype-missing", answer(error("400"), 400), {"scimType": "invalidFilter"}, '"invalidFilter", got absent'),
    (
        "scimtype-other",
        answer(error("400", "invalidSyntax"), 400),
        {"scimType": "invalidFilter"},
        'got "invalidSyntax"',
    ),
    ("status-as-number", answer(error(409, "uniqueness"), 409), {"status": "409"}, 'status: expected "409", got 409'),
    ("status-not-the-http-one", answer(error("400", "uniqueness"), 409), {"status": "409"}, 'got "400"'),
    ("body-not-an-object", answer(["not", "an", "object"]), {"status": "400"}, "got absent"),
    ("body-not-json", answer(None, text="<html>Bad Request</html>"), {"status": "400"}, "not JSON"),
]
LISTS = [
    ("startindex-echoed", answer({"startIndex": 1, "Resources": []}), {"startIndex": 1}, None),
    ("startindex-as-text", answer({"startIndex": "1"}), {"startIndex": 1}, 'startIndex: expected 1, got "1"'),
    ("startindex-zero", answer({"startIndex": 0}), {"startIndex": 1}, "expected 1, got 0"),
]
LAST_MODIFIED = {"meta.lastModified": CREATED}
META = [
    ("meta-matches", answer(user({"resourceType": "User", "lastModified": CREATED})), LAST_MODIFIED, None),
    ("same-instant-other-text", answer(user({"lastModified": "2024-05-01T10:00:00.000Z"})), LAST_MODIFIED, None),
    ("a-millisecond-later", answer(user({"lastModified": "2024-05-01T10:00:00.001Z"})), LAST_MODIFIED, "expected"),
    ("plural-resource-type", answer(user({"resourceType": "Users"})), {"meta.resourceType": "User"}, 'got "Users"'),
    ("resource-type-absent", answer(user({})), {"meta.resourceType": "User"}, "got absent"),
    (
        "expected-null-said-so",
        answer(user({"lastModified": CREATED})),
        {"meta.lastModified": None},
        "expected null, got",
    ),
    (
        "same-instant-in-another-form",
        answer(user({"lastModified": "2024-05-01T12:00:00+0200"})),
        LAST_MODIFIED,
        "(the same instant",
    ),
]


@pytest.mark.parametrize(
    ("exchange", "expected", "fails"), [pytest.param(*r[1:], id=r[0]) for r in ERRORS + LISTS + META]
)
def test_body_fields(exchange: Exchange, expected: dict[str, Any], fails: str | None) -> None:
    if fails is None:
        checks.body_fields(exchange, expected)
        return
    with pytest.raises(CheckFailure) as raised:
        checks.body_fields(exchange, expected)
    assert raised.value.check == "fields"
    assert fails in raised.value.message
