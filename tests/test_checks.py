"""Every check in `scimconform/checks.py`, judged on hand-built exchanges (issue #12).

One table per check. A row is an answer, the check's further arguments, and either nothing (the row must
pass, and the check return `gives`) or `fails`: a fragment of the `CheckFailure` message naming what was
observed (a `Whole` fragment is the entire message). The failure's `.check` must name the check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import pytest
from _pytest.mark.structures import ParameterSet

from scimconform import checks
from scimconform.checks import LIST_RESPONSE, CheckFailure, Page
from scimconform.exchange import Exchange

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = {"content-type": "application/scim+json"}
DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000
ROW = ("exchange", "args", "fails", "gives")


class Whole(str):
    """A failure message expected in full, not as a fragment."""

    __slots__ = ()


def answer(
    status: int | None = 200,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    text: str | None = None,
    transport_error: str | None = None,
    tls: str | None = None,
    attempt: int = 1,
    truncated: bool = False,
) -> Exchange:
    """An answer to `GET /Users`: `body` as JSON (None: no body) or `text` as it came."""
    raw = text if text is not None else "" if body is None else json.dumps(body)
    return Exchange(
        method="GET",
        url="https://scim.example.com/scim/Users",
        request_headers={"accept": "application/scim+json"},
        request_body=None,
        status=status,
        response_headers=SCIM_JSON if headers is None else headers,
        response_body=raw,
        raw_body=raw,
        transport_error=transport_error,
        tls=tls,
        attempt=attempt,
        truncated=truncated,
    )


def row(name: str, exchange: Exchange, *args: Any, fails: str | None = None, gives: Any = None) -> ParameterSet:
    return pytest.param(exchange, args, fails, gives, id=name)


def judge(name: str, fails: str | None, check: Callable[..., Any], *args: Any) -> Any:
    """What `check(*args)` returns when `fails` is None; otherwise it must fail as `name`, saying `fails`."""
    if fails is None:
        return check(*args)
    with pytest.raises(CheckFailure) as caught:
        check(*args)
    assert caught.value.check == name
    if isinstance(fails, Whole):
        assert caught.value.message == fails
    else:
        assert fails in caught.value.message
    return None


def user(**attributes: Any) -> dict[str, Any]:
    return {"schemas": [USER], "id": "2819c223", "userName": "bjensen@example.com", **attributes}


def listing(*resources: Any, **fields: Any) -> dict[str, Any]:
    return {"schemas": [LIST_RESPONSE], "totalResults": len(resources), "Resources": list(resources), **fields}


def error(detail: Any, status: str = "400") -> dict[str, Any]:
    return {"schemas": [ERROR], "status": status, "detail": detail}


HTML = answer(200, text="<html><body>Service Unavailable</body></html>", headers={"content-type": "text/html"})
NO_BODY = answer(200)
EMPTY = answer(200, listing())
ONE = answer(200, listing(user()))
TWO = answer(200, listing(user(), user(id="2")))


# ---------------------------------------------------------------------------------------------- answered

ANSWERED = [
    row("an-answer", answer(200)),
    row("an-error-status-is-an-answer", answer(500)),
    row("refused", answer(None, transport_error="connection refused"), fails=Whole("connection refused")),
    row("timed-out", answer(None, transport_error="no answer within 30 s"), fails="no answer within 30 s"),
    row("not-sent", answer(None, transport_error="not sent: the request would leave the Tenant URL"), fails="not sent"),
]


@pytest.mark.parametrize(ROW, ANSWERED)
def test_answered(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("answered", fails, checks.answered, exchange, *args) == gives


# ------------------------------------------------------------------------------------------- status_code

STATUS_CODE = [
    row("200-allowed", answer(200, user()), [200]),
    row("201-one-of-two", answer(201, user()), [200, 201]),
    row("a-set-of-codes", answer(204), {200, 204}),
    row("404-not-allowed", answer(404), [200], fails=Whole("expected HTTP 200, got 404")),
    row("alternatives-sorted", answer(500), [201, 200], fails=Whole("expected HTTP 200 or 201, got 500")),
    row("error-detail-quoted", answer(409, error("userName is taken")), [201], fails="got 409 (userName is taken)"),
    row("detail-on-one-line", answer(400, error("line one\n    line two")), [201], fails="got 400 (line one line two)"),
    row("non-string-detail", answer(400, error(42)), [201], fails=Whole("expected HTTP 201, got 400 (42)")),
    row("error-without-detail", answer(400, {"status": "400"}), [201], fails=Whole("expected HTTP 201, got 400")),
    row("array-body", answer(400, ["detail"]), [201], fails=Whole("expected HTTP 201, got 400")),
    row("html-error-page", answer(502, text="<h1>Bad gateway</h1>"), [200], fails=Whole("expected HTTP 200, got 502")),
    row("truncated-body", answer(500, text="{", truncated=True), [200], fails=Whole("expected HTTP 200, got 500")),
    row("deeply-nested-body", answer(500, text=DEEP), [200], fails=Whole("expected HTTP 200, got 500")),
    row("429-first-attempt", answer(429), [200], fails=Whole("expected HTTP 200, got 429")),
    row("429-after-retries", answer(429, attempt=4), [200], fails=Whole("expected HTTP 200, got 429 after 4 attempts")),
    row("503-retried-detail", answer(503, error("busy"), attempt=3), [200], fails="got 503 (busy) after 3 attempts"),
    row("transport-error", answer(None, transport_error="refused"), [200], fails="refused"),
]


@pytest.mark.parametrize(ROW, STATUS_CODE)
def test_status_code(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("status_code", fails, checks.status_code, exchange, *args) == gives


# ------------------------------------------------------------------------------------------ content_type


def typed(content_type: str) -> Exchange:
    return answer(200, user(), {"content-type": content_type})


CONTENT_TYPE = [
    row("scim+json", answer(200, user())),
    row("charset-parameter", typed("application/scim+json; charset=utf-8")),
    row("spaced-parameter", typed("application/scim+json ; charset=UTF-8")),
    row("media-type-in-capitals", typed("Application/SCIM+JSON")),
    row("no-body-needs-no-type", answer(204, headers={})),
    row("json", typed("application/json"), fails="expected Content-Type application/scim+json, got application/json"),
    row("json-with-charset", typed("application/json; charset=utf-8"), fails="got application/json"),
    row("html", HTML, fails="got text/html"),
    row("header-missing", answer(200, user(), {}), fails="got none"),
    row("header-empty", typed(""), fails="got none"),
    row("a-longer-subtype", typed("application/scim+json2"), fails="got application/scim+json2"),
]


@pytest.mark.parametrize(ROW, CONTENT_TYPE)
def test_content_type(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("content_type", fails, checks.content_type, exchange, *args) == gives


# ------------------------------------------------------------------------------------------- json_schema

NO_ID = {"schemas": [USER], "userName": "b"}
LIST = "list-response"

JSON_SCHEMA = [
    row("user", answer(200, user()), "user"),
    row("204-is-not-read", answer(204, text="not json"), "user"),
    row("error", answer(404, error("no such user", "404")), "error"),
    row("list-of-users", ONE, LIST, "user"),
    row("empty-list", EMPTY, LIST, "user"),
    row("no-id", answer(200, NO_ID), "user", fails=Whole("user schema violated at $: 'id' is a required property")),
    row("userName-a-number", answer(200, user(userName=5)), "user", fails="at $.userName: 5 is not of type 'string'"),
    row("more-problems-counted", answer(200, {"schemas": ["x"], "userName": 5}), "user", fails="(+2 more)"),
    row("item-with-its-path", answer(200, listing(NO_ID)), LIST, "user", fails="at $.Resources[0]: 'id' is a required"),
    row("items-unchecked-unless-asked", answer(200, listing(NO_ID)), LIST),
    row("list-without-total", answer(200, {"schemas": [LIST_RESPONSE]}), LIST, fails="'totalResults' is a required"),
    row("no-body", NO_BODY, "user", fails="the response has no body"),
    row("not-json", HTML, "user", fails="the response body is not JSON"),
    row("truncated", answer(200, text="{", truncated=True), "user", fails="larger than 1024 KiB"),
    row("nested-100000-deep", answer(200, text=DEEP), "user", fails="nested too deeply"),
]


@pytest.mark.parametrize(ROW, JSON_SCHEMA)
def test_json_schema(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("json_schema", fails, checks.json_schema, exchange, *args) == gives


def test_json_schema_on_a_body_just_shallow_enough_to_parse() -> None:
    """Between "parses easily" and "too deep to parse", no depth may escape as anything but a CheckFailure."""
    for depth in range(600, 1000):
        nested = "[" * depth + '"x"' + "]" * depth
        exchange = answer(200, text=f'{{"schemas": ["{USER}"], "id": "1", "userName": {nested}}}')
        with suppress(CheckFailure):
            checks.json_schema(exchange, "user")


# ----------------------------------------------------------------------------------------- total_results

TOTAL_RESULTS = [
    row("one", ONE, 1),
    row("zero-with-empty-Resources", EMPTY, 0),
    row("zero-without-Resources", answer(200, {"schemas": [LIST_RESPONSE], "totalResults": 0}), 0),
    row("Resources-any-case", answer(200, {"schemas": [LIST_RESPONSE], "totalResults": 1, "resources": [{}]}), 1),
    row("two-expected-one", TWO, 1, fails=Whole("expected totalResults 1, got 2")),
    row("absent", answer(200, {"Resources": []}), 0, fails=Whole("expected totalResults 0, got absent")),
    row("null", answer(200, listing(totalResults=None)), 0, fails="got null"),
    row("a-string", answer(200, listing(user(), totalResults="1")), 1, fails='got "1"'),
    row("true-is-not-1", answer(200, listing(user(), totalResults=True)), 1, fails="got true"),
    row(
        "false-is-not-0", answer(200, listing(totalResults=False)), 0, fails="got false (a boolean, not a JSON integer)"
    ),
    row("urn-in-any-case", answer(200, {"schemas": [LIST_RESPONSE.upper()], "totalResults": 0}), 0),
    row("Resources-short", answer(200, listing(user(), totalResults=2)), 2, fails="is 2 but Resources holds 1"),
    row("Resources-an-object", answer(200, listing(totalResults=1, Resources={})), 1, fails="Resources holds 0"),
    row("non-list-answer", answer(200, user()), 1, fails=Whole("expected totalResults 1, got absent")),
    row("json-array-answer", answer(200, [user()]), 1, fails="got absent"),
    row("not-json", HTML, 0, fails="not JSON"),
    row("no-body", NO_BODY, 0, fails="the response has no body"),
    row("float-1.0-is-not-1", answer(200, listing({}, totalResults=1.0)), 1, fails="got 1.0"),
    row("no-Resources-no-urn", answer(200, {"totalResults": 1}), 1, fails="is 1 but Resources holds 0"),
    row("zero-no-Resources-no-urn", answer(200, {"totalResults": 0}), 0),
    row(
        "totalResults-any-case", answer(200, {"schemas": [LIST_RESPONSE], "TotalResults": 1, "Resources": [user()]}), 1
    ),
    row("float-says-why", answer(200, listing({}, totalResults=1.0)), 1, fails="got 1.0 (not a JSON integer"),
]


@pytest.mark.parametrize(ROW, TOTAL_RESULTS)
def test_total_results(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("total_results", fails, checks.total_results, exchange, *args) == gives


# -------------------------------------------------------------------------------------- attribute_values


def holding(**attributes: Any) -> Exchange:
    """A user that holds `attributes`."""
    return answer(200, user(**attributes))


def created(stamp: Any) -> Exchange:
    return holding(meta={"created": stamp})


EMAILS = [{"type": "home", "value": "b@home"}, {"type": "work", "value": "b@work"}]
WORK_EMAIL = 'emails[type eq "work"].value'
EXTENDED = holding(**{ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "42"}}})
Z = "2020-01-01T00:00:00Z"
BJENSEN = {"userName": "bjensen@example.com"}

ATTRIBUTE_VALUES = [
    row("string", holding(), BJENSEN),
    row("nothing-expected", holding(), {}),
    row("path-any-case", holding(), {"USERNAME": "bjensen@example.com"}),
    row("sub-attribute", holding(name={"givenName": "Barbara"}), {"name.givenName": "Barbara"}),
    row("value-filter", holding(emails=EMAILS), {WORK_EMAIL: "b@work"}),
    row("extension-urn", EXTENDED, {f"{ENTERPRISE}:employeeNumber": "701984", f"{ENTERPRISE}:Manager.Value": "42"}),
    row("boolean", holding(active=False), {"active": False}),
    row("object", holding(name={"givenName": "B"}), {"name": {"givenName": "B"}}),
    row("one-resource-in-a-list", ONE, BJENSEN),
    row("other-text", holding(), {"userName": "BJensen@example.com"}, fails='"BJensen@example.com", got "bjensen'),
    row("absent", holding(), {"displayName": "Babs"}, fails=Whole('displayName: expected "Babs", got absent')),
    row("null", holding(displayName=None), {"displayName": "Babs"}, fails='expected "Babs", got null'),
    row("bool-as-string", holding(active="True"), {"active": True}, fails='active: expected true, got "True"'),
    row("bool-as-number", holding(active=1), {"active": True}, fails="active: expected true, got 1"),
    row("number-as-bool", holding(level=True), {"level": 1}, fails="level: expected 1, got true"),
    row("number-as-string", holding(level="5"), {"level": 5}, fails='level: expected 5, got "5"'),
    row("int-as-float", holding(level=5.0), {"level": 5}, fails="level: expected 5, got 5.0"),
    row("string-as-list", holding(title=["Guide"]), {"title": "Guide"}, fails='title: expected "Guide", got ["Guide"]'),
    row("first-broken-named", holding(title="x"), {**BJENSEN, "title": "y"}, fails='title: expected "y", got "x"'),
    row("datetime-milliseconds", created("2020-01-01T00:00:00.000Z"), {"meta.created": Z}),
    row("datetime-offset", created("2020-01-01T01:00:00+01:00"), {"meta.created": Z}),
    row("datetime-seven-digits", created("2020-01-01T00:00:00.0000000Z"), {"meta.created": Z}),
    row("datetime-naive-same-text", created("2020-01-01T00:00:00"), {"meta.created": "2020-01-01T00:00:00"}),
    row("datetime-other-instant", created(Z), {"meta.created": "2020-01-01T00:00:01Z"}, fails=f'got "{Z}"'),
    row("datetime-naive-no-instant", created("2020-01-01T00:00:00"), {"meta.created": Z}, fails='got "2020-01-01T00'),
    row("datetime-a-number", created(1577836800), {"meta.created": Z}, fails="got 1577836800"),
    row("datetime-not-a-date", created("soon"), {"meta.created": Z}, fails='got "soon"'),
    row("cleared-absent", holding(), {"title": None}),
    row("cleared-null", holding(title=None), {"title": None}),
    row("cleared-empty-string", holding(title=""), {"title": None}),
    row("cleared-empty-list", holding(title=[]), {"title": None}),
    row("cleared-empty-object", holding(title={}), {"title": None}),
    row("cleared-but-kept", holding(title="G"), {"title": None}, fails=Whole('title: expected it cleared, got "G"')),
    row("cleared-but-zero", holding(level=0), {"level": None}, fails="expected it cleared, got 0"),
    row("cleared-but-false", holding(active=False), {"active": None}, fails="expected it cleared, got false"),
    row("cleared-but-list-of-empty", holding(title=[""]), {"title": None}, fails='expected it cleared, got [""]'),
    row("no-resource", EMPTY, BJENSEN, fails=Whole("expected exactly one resource in the response, found 0")),
    row("two-resources", TWO, BJENSEN, fails="found 2"),
    row("not-json", HTML, BJENSEN, fails="not JSON"),
    row("datetime-negative-offset", created("2019-12-31T23:00:00-01:00"), {"meta.created": Z}),
    row("datetime-fourteen-hours-ahead", created("2020-01-01T14:00:00+14:00"), {"meta.created": Z}),
    row("datetime-24-ends-the-day", created("2019-12-31T24:00:00Z"), {"meta.created": Z}),
    row("datetime-basic", created("20200101T000000Z"), {"meta.created": Z}, fails='got "20200101T000000Z"'),
    row(
        "datetime-java-offset-says-why",
        created("2020-01-01T01:00:00+0100"),
        {"meta.created": Z},
        fails=Whole(
            'meta.created: expected "2020-01-01T00:00:00Z", got "2020-01-01T01:00:00+0100" (the same instant, but not '
            "written as xsd:dateTime, which RFC 7643 §2.3.5 requires: 2008-01-23T04:56:22Z)"
        ),
    ),
    row("datetime-other-instant-no-why", created("2020-01-01T01:00:00+0000"), {"meta.created": Z}, fails='0000"'),
    row(
        "datetime-past-microseconds-no-why",
        created("2020-01-01 00:00:00.0000009+00:00"),
        {"meta.created": Z},
        fails=Whole('meta.created: expected "2020-01-01T00:00:00Z", got "2020-01-01 00:00:00.0000009+00:00"'),
    ),
    row(
        "nested-first-of-two-names",
        holding(name={"givenName": "Wrong", "GivenName": "Right"}),
        {"name": {"givenName": "Right"}},
        fails="name: expected",
    ),
    row("datetime-week", created("2020-W01-3T00:00:00Z"), {"meta.created": Z}, fails='got "2020-W01-3T00:00:00Z"'),
    row("datetime-space-for-T", created("2020-01-01 00:00:00Z"), {"meta.created": Z}, fails='got "2020-01-01 00'),
    row("datetime-no-seconds", created("2020-01-01T00:00Z"), {"meta.created": Z}, fails='got "2020-01-01T00:00Z"'),
    row("datetime-lowercase-t", created("2020-01-01t00:00:00Z"), {"meta.created": Z}, fails='got "2020-01-01t00'),
    row("datetime-offset-past-14", created("2020-01-01T15:00:00+15:00"), {"meta.created": Z}, fails='got "2020-01'),
    row("datetime-24-past-midnight", created("2019-12-31T24:00:01Z"), {"meta.created": Z}, fails='got "2019-12-31'),
    row("datetime-no-such-day", created("2019-02-29T00:00:00Z"), {"meta.created": Z}, fails='got "2019-02-29'),
    row("datetime-every-digit-counts", created(f"{Z[:-1]}.0000001Z"), {"meta.created": Z}, fails='got "2020-01'),
    row("nested-same", holding(emails=EMAILS), {"emails": EMAILS}),
    row("nested-datetime", holding(x={"at": "2020-01-01T00:00:00.000Z"}), {"x": {"at": Z}}),
    row("nested-int-as-bool", holding(x={"primary": 1}), {"x": {"primary": True}}, fails='got {"primary": 1}'),
    row("nested-float-as-int", holding(x=[{"n": 1.0}]), {"x": [{"n": 1}]}, fails='got [{"n": 1.0}]'),
    row(
        "nested-server-adds-sub-attributes",
        holding(x={"value": "m", "$ref": "../Users/m", "display": "M"}),
        {"x": {"value": "m"}},
    ),
    row("nested-sub-attribute-any-case", holding(name={"GivenName": "B"}), {"name": {"givenName": "B"}}),
    row(
        "nested-sub-attribute-missing",
        holding(x={"a": 1}),
        {"x": {"a": 1, "b": 2}},
        fails='x: expected {"a": 1, "b": 2}',
    ),
    row("nested-shorter-list", holding(x=[1]), {"x": [1, 2]}, fails="x: expected [1, 2], got [1]"),
]


@pytest.mark.parametrize(ROW, ATTRIBUTE_VALUES)
def test_attribute_values(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("attribute_values", fails, checks.attribute_values, exchange, *args) == gives


# ---------------------------------------------------------------------------------------- total_at_least


def total(value: Any) -> Exchange:
    return answer(200, listing(totalResults=value))


TOTAL_AT_LEAST = [
    row("equal", TWO, 2),
    row("more", total(40), 2),
    row("zero-of-zero", EMPTY, 0),
    row("fewer", ONE, 2, fails=Whole("expected totalResults of at least 2, got 1")),
    row("a-string", total("3"), 2, fails='got "3"'),
    row("true", total(True), 1, fails="got true"),
    row("a-float", total(3.0), 2, fails="got 3.0"),
    row("null", total(None), 0, fails="got null"),
    row("a-json-array", answer(200, [1, 2, 3]), 0, fails="expected totalResults of at least 0"),
    row("not-json", HTML, 0, fails="not JSON"),
    row("absent", answer(200, {"Resources": []}), 0, fails=Whole("expected totalResults of at least 0, got absent")),
]


@pytest.mark.parametrize(ROW, TOTAL_AT_LEAST)
def test_total_at_least(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("total_at_least", fails, checks.total_at_least, exchange, *args) == gives


# ---------------------------------------------------------------------------------------- returned_count

RETURNED_COUNT = [
    row("two", TWO, 2),
    row("none", EMPTY, 0),
    row("list-without-Resources", answer(200, {"schemas": [LIST_RESPONSE], "totalResults": 0}), 0),
    row("Resources-an-object", answer(200, listing(Resources={"id": "1"})), 0),
    row("a-bare-resource-is-one", answer(200, user()), 1),
    row("the-page-not-the-total", answer(200, listing(user(), totalResults=9)), 1),
    row("too-many", TWO, 1, fails=Whole("expected 1 resources in the response, got 2")),
    row("too-few", EMPTY, 1, fails="got 0"),
    row("not-json", HTML, 1, fails="not JSON"),
]


@pytest.mark.parametrize(ROW, RETURNED_COUNT)
def test_returned_count(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("returned_count", fails, checks.returned_count, exchange, *args) == gives


# ----------------------------------------------------------------------------------------- header_values

LOCATION = "https://scim.example.com/scim/Users/1"
LOCATED = answer(201, headers={**SCIM_JSON, "location": LOCATION, "etag": 'W/"3"', "x-count": "5"})

HEADER_VALUES = [
    row("nothing-expected", answer(201, headers={}), {}),
    row("equal", LOCATED, {"location": LOCATION}),
    row("name-any-case", LOCATED, {"ETag": 'W/"3"'}),
    row("null-means-present", LOCATED, {"Location": None}),
    row("number-as-text", LOCATED, {"x-count": 5}),
    row("missing", answer(201), {"Location": None}, fails=Whole("the response lacks the Location header")),
    row("different", LOCATED, {"x-count": "6"}, fails=Whole('x-count: expected "6", got "5"')),
    row("value-case-matters", LOCATED, {"etag": 'w/"3"'}, fails='got "W/\\"3\\""'),
]


@pytest.mark.parametrize(ROW, HEADER_VALUES)
def test_header_values(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("header_values", fails, checks.header_values, exchange, *args) == gives


# -------------------------------------------------------------------------------------------- list_page

A, B, C = ({"id": i, "userName": i} for i in "abc")


def page(*resources: Any, **fields: Any) -> Exchange:
    """A page of a list of three: startIndex 1 unless `fields` say otherwise; a field given as None is left out."""
    document = listing(*resources, **{"totalResults": 3, "startIndex": 1, **fields})
    return answer(200, {k: v for k, v in document.items() if v is not None})


BARE_EMPTY_PAGE = page(schemas=None, Resources=None, itemsPerPage=0)  # neither Resources nor the URN

LIST_PAGE = [
    row("first-page", page(A, B, itemsPerPage=2), 1, 2, gives=Page(3, ["a", "b"])),
    row("last-page-short", page(C, startIndex=3, itemsPerPage=1), 3, 2, gives=Page(3, ["c"])),
    row("itemsPerPage-optional", page(A, B), 1, 2, gives=Page(3, ["a", "b"])),
    row("empty-page-past-the-end", page(startIndex=4, itemsPerPage=0), 4, 2, gives=Page(3, [])),
    row("count-zero-no-Resources", page(Resources=None), 1, 0, gives=Page(3, [])),
    row("non-object-resources-skipped", page(A, "b"), 1, 2, gives=Page(3, ["a"])),
    row("startIndex-not-echoed", page(startIndex=2), 1, 2, fails=Whole("asked for startIndex 1, the response says 2")),
    row("startIndex-a-string", page(A, startIndex="1"), 1, 2, fails='the response says "1"'),
    row("startIndex-missing", page(A, startIndex=None), 1, 2, fails="asked for startIndex 1"),
    row("count-exceeded", page(A, B, C), 1, 2, fails=Whole("asked for count 2, got 3 resources")),
    row("itemsPerPage-wrong", page(A, B, itemsPerPage=5), 1, 2, fails=Whole("itemsPerPage is 5 but the page holds 2")),
    row("itemsPerPage-a-string", page(A, itemsPerPage="1"), 1, 2, fails='itemsPerPage is "1"'),
    row("totalResults-missing", page(A, totalResults=None), 1, 2, fails="totalResults must be an integer"),
    row("totalResults-a-string", page(A, totalResults="3"), 1, 2, fails='totalResults must be an integer, got "3"'),
    row("totalResults-true", page(A, totalResults=True), 1, 2, fails="got true"),
    row("totalResults-a-float", page(A, totalResults=3.0), 1, 2, fails="got 3.0"),
    row("a-json-array", answer(200, [A, B]), 1, 2, fails=Whole("the response is not a ListResponse object")),
    row("not-json", HTML, 1, 2, fails="not JSON"),
    row("startIndex-true-is-not-1", page(A, startIndex=True), 1, 2, fails="says true"),
    row("startIndex-a-float", page(A, startIndex=1.0), 1, 2, fails="says 1.0 (not a JSON integer: RFC 7643 §2.3.4"),
    row("startIndex-any-case", page(A, startIndex=None, StartIndex=1), 1, 2, gives=Page(3, ["a"])),
    row("startIndex-absent", page(A, startIndex=None), 1, 2, fails="the response says absent"),
    row("itemsPerPage-true-is-not-1", page(A, itemsPerPage=True), 1, 2, fails="itemsPerPage is true but the page"),
    row("totalResults-absent", page(A, totalResults=None), 1, 2, fails="totalResults must be an integer, got absent"),
    row("bare-empty-page", BARE_EMPTY_PAGE, 1, 2, gives=Page(3, [])),
]


@pytest.mark.parametrize(ROW, LIST_PAGE)
def test_list_page(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("pagination", fails, checks.list_page, exchange, *args) == gives


# ------------------------------------------------------------------------------------------ echoed_start

ECHOED_START = [
    row("first-page", page(A), 1, gives=3),
    row("a-later-page", page(startIndex=6), 6, gives=3),
    row("not-echoed", page(startIndex=2), 1, fails=Whole("asked for startIndex 1, the response says 2")),
    row("true-is-not-1", page(startIndex=True), 1, fails="the response says true"),
    row("a-float", page(startIndex=1.0), 1, fails="the response says 1.0"),
    row("absent", page(startIndex=None), 1, fails="the response says absent"),
    row("a-json-array", answer(200, [A]), 1, fails="the response says absent"),
    row("totalResults-absent", page(totalResults=None), 1, fails=Whole("totalResults must be an integer, got absent")),
    row("totalResults-true", page(totalResults=True), 1, fails="got true"),
    row("not-json", HTML, 1, fails="not JSON"),
]


@pytest.mark.parametrize(ROW, ECHOED_START)
def test_echoed_start(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("pagination", fails, checks.echoed_start, exchange, *args) == gives


# ---------------------------------------------------------------------------------------- paging_problem

REPEATED = "resources returned on more than one page: "
NEVER = " created resources never appeared on any page: "

PAGING_PROBLEM = [
    pytest.param([], set(), None, id="nothing-created-nothing-seen"),
    pytest.param(["a", "b", "c"], {"a", "b"}, None, id="all-seen-once-others-allowed"),
    pytest.param(["b", "a", "b"], {"a", "b"}, REPEATED + "b", id="repeated"),
    pytest.param(list("fedcba" * 2), set(), REPEATED + "a, b, c, d, e", id="repeats-sorted-first-five"),
    pytest.param(["a"], {"a", "c", "b"}, "2" + NEVER + "b, c", id="missing"),
    pytest.param([], set("gfedcba"), "7" + NEVER + "a, b, c, d, e", id="missing-counted-first-five-named"),
    pytest.param(["a", "a"], {"a", "b"}, REPEATED + "a", id="repeats-named-before-missing"),
]


@pytest.mark.parametrize(("seen", "wanted", "problem"), PAGING_PROBLEM)
def test_paging_problem(seen: list[str], wanted: set[str], problem: str | None) -> None:
    assert checks.paging_problem(seen, wanted) == problem


# ------------------------------------------------------------------------------------- attributes_absent

EMAILED = answer(200, listing(user(), user(id="2", emails=[])))

ATTRIBUTES_ABSENT = [
    row("absent", holding(), ["password", "emails"]),
    row("no-paths", holding(password="x"), []),
    row("absent-from-every-resource", TWO, ["emails"]),
    row("empty-list", EMPTY, ["emails"]),
    row("non-object-resources-skipped", answer(200, listing("emails", 3)), ["emails"]),
    row("other-sub-attribute", holding(name={"familyName": "Jensen"}), ["name.givenName"]),
    row(
        "kept",
        holding(password="x"),
        ["password"],
        fails=Whole("password was returned, where it must be absent"),
    ),
    row("returned-any-case", holding(emails=[]), ["Emails"], fails="Emails was returned"),
    row("sub-attribute-returned", holding(name={"givenName": "B"}), ["name.givenName"], fails="name.givenName was"),
    row("extension-returned", EXTENDED, [f"{ENTERPRISE}:employeeNumber"], fails="employeeNumber was returned"),
    row("in-the-second-resource", EMAILED, ["emails"], fails="emails was returned"),
    row("not-json", HTML, ["emails"], fails="not JSON"),
    row("paths-an-iterator", EMAILED, iter(["emails"]), fails="emails was returned"),
    row("a-resource-with-totalResults", holding(emails=[], totalResults=1), ["emails"], fails="emails was returned"),
]


@pytest.mark.parametrize(ROW, ATTRIBUTES_ABSENT)
def test_attributes_absent(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("attributes_absent", fails, checks.attributes_absent, exchange, *args) == gives


# ------------------------------------------------------------------------------------------- resource_id

RESOURCE_ID = [
    row("same", holding(), "2819c223"),
    row("in-a-list-of-one", ONE, "2819c223"),
    row("other", holding(), "9", fails=Whole('expected the resource with id "9", got "2819c223"')),
    row("case-matters", holding(id="ABC"), "abc", fails='got "ABC"'),
    row("number-is-not-text", holding(id=5), "5", fails="got 5"),
    row("absent", answer(200, {"userName": "b"}), "1", fails="got absent"),
    row("none-found", EMPTY, "1", fails=Whole("expected exactly one resource in the response, found 0")),
    row("two-found", TWO, "1", fails="found 2"),
    row("not-json", HTML, "1", fails="not JSON"),
]


@pytest.mark.parametrize(ROW, RESOURCE_ID)
def test_resource_id(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("resource_id", fails, checks.resource_id, exchange, *args) == gives


# ------------------------------------------------------------------------------------------------ has_id

HAS_ID = [
    row("guid", holding(id="2819c223-7f76-453a-919d-413861904646")),
    row("in-a-list-of-one", ONE),
    row("three-dots-is-no-dot-segment", holding(id="...")),
    row("leading-dot", holding(id=".hidden")),
    row("at-sign", holding(id="bjensen@example.com")),
    row("empty", holding(id=""), fails=Whole('expected a non-empty string id, got ""')),
    row("number", holding(id=5), fails="expected a non-empty string id, got 5"),
    row("null", holding(id=None), fails="got null"),
    row("list", holding(id=["a"]), fails='got ["a"]'),
    row("slash", holding(id="a/b"), fails='the id "a/b" would point'),
    row("question-mark", holding(id="a?b"), fails='the id "a?b" would point'),
    row("hash", holding(id="a#b"), fails='the id "a#b" would point'),
    row("dot", holding(id="."), fails='the id "." would point'),
    row("dot-dot", holding(id=".."), fails='the id ".." would point'),
    row("none-found", EMPTY, fails="found 0"),
    row("not-json", HTML, fails="not JSON"),
    row("absent", answer(200, {"userName": "b"}), fails=Whole("expected a non-empty string id, got absent")),
    row(
        "percent-sign",
        holding(id="a%2Fb"),
        fails=Whole(
            'the id "a%2Fb" would point a request for this resource elsewhere once appended to a URL path as it is; '
            'issue ids that hold none of /, ?, #, % and \\ and are not "." or ".." (GUIDs, for instance)'
        ),
    ),
    row("lone-percent-sign", holding(id="50%"), fails='the id "50%" would point'),
    row("backslash", holding(id="a\\b"), fails='the id "a\\\\b" would point'),
]


@pytest.mark.parametrize(ROW, HAS_ID)
def test_has_id(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("has_id", fails, checks.has_id, exchange, *args) == gives


# ------------------------------------------------------------------------------- lists_members, member_values


def group(*values: Any, members: Any = None) -> Exchange:
    """A group whose members hold `values`; `members` replaces that list, whatever it is."""
    listed = [{"value": v} for v in values] if members is None else members
    return answer(200, {"schemas": [GROUP], "id": "e9e30dba", "displayName": "Sales", "members": listed})


UNLISTED = answer(200, {"schemas": [GROUP], "id": "e9e30dba", "displayName": "Sales"})

LISTS_MEMBERS = [
    row("members", group("1"), gives=True),
    row("empty-members", group(), gives=True),
    row("members-any-case", answer(200, {"id": "g", "Members": []}), gives=True),
    row("no-members-attribute", UNLISTED, gives=False),
    row("in-a-list-of-one", answer(200, listing({"id": "g", "members": []})), gives=True),
    row("none-found", EMPTY, fails="found 0"),
    row("not-json", HTML, fails="not JSON"),
]

MEMBER_VALUES = [
    row("same", group("1", "2"), ["1", "2"]),
    row("any-order", group("2", "1"), ["1", "2"]),
    row("none", group(), []),
    row("absent-is-none", UNLISTED, []),
    row("extra-sub-attributes", group(members=[{"value": "1", "display": "B", "$ref": "../Users/1"}]), ["1"]),
    row("expected-as-a-set", group("1"), {"1"}),
    row("missing", group("1"), ["1", "2"], fails=Whole('expected members ["1", "2"], got ["1"]')),
    row("extra", group("1", "2", "3"), ["1", "2"], fails='got ["1", "2", "3"]'),
    row("duplicate", group("1", "1"), ["1"], fails='expected members ["1"], got ["1", "1"]'),
    row("other", group("3"), ["1"], fails='got ["3"]'),
    row("case-matters", group("ABC"), ["abc"], fails='got ["ABC"]'),
    row("null-members", answer(200, {"id": "g", "members": None}), ["1"], fails="got []"),
    row("members-an-object", group(members={"value": "1"}), ["1"], fails="got []"),
    row("members-bare-strings", group(members=["1"]), ["1"], fails="got []"),
    row("none-found", EMPTY, ["1"], fails="found 0"),
    row("not-json", HTML, ["1"], fails="not JSON"),
]


@pytest.mark.parametrize(ROW, LISTS_MEMBERS)
def test_lists_members(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("member_values", fails, checks.lists_members, exchange, *args) == gives


@pytest.mark.parametrize(ROW, MEMBER_VALUES)
def test_member_values(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("member_values", fails, checks.member_values, exchange, *args) == gives


# ----------------------------------------------------------------------------------------- schemas_cover


def attribute(name: str, *subs: str) -> dict[str, Any]:
    return {"name": name, "subAttributes": [{"name": s} for s in subs]} if subs else {"name": name}


CORE = {"id": USER, "attributes": [attribute("userName"), attribute("name", "givenName"), attribute("emails", "value")]}
EXTENSION = {"id": ENTERPRISE, "attributes": [attribute("employeeNumber"), attribute("manager", "value")]}
SCHEMAS = answer(200, listing(CORE, EXTENSION, {"id": GROUP, "attributes": [attribute("phoneNumbers", "type")]}))
CORE_ONLY = answer(200, listing(CORE))
PHONE = 'phoneNumbers[type eq "work"].value'

SCHEMAS_COVER = [
    row("attribute", SCHEMAS, USER, ["userName"]),
    row("attribute-any-case", SCHEMAS, USER, ["USERNAME"]),
    row("sub-attribute", SCHEMAS, USER, ["name.givenName"]),
    row("filtered-sub-attribute", SCHEMAS, USER, [WORK_EMAIL]),
    row("filter-implies-value", SCHEMAS, USER, ['emails[type eq "work"]']),
    row("extension", SCHEMAS, USER, [f"{ENTERPRISE}:employeeNumber", f"{ENTERPRISE}:manager.value"]),
    row("schema-id-any-case", answer(200, listing({**CORE, "id": USER.upper()})), USER, ["userName"]),
    row("common-attributes-need-no-schema", EMPTY, USER, ["id", "externalId", "meta", "schemas"]),
    row("a-single-schema-resource", answer(200, CORE), USER, ["userName"]),
    row("nothing-mapped", EMPTY, USER, []),
    row("unknown-attribute", SCHEMAS, USER, ["userName", "title"], fails=Whole("/Schemas does not describe title")),
    row("unknown-sub-attribute", SCHEMAS, USER, ["name.familyName"], fails="does not describe name.familyName"),
    row("attribute-of-another-schema", SCHEMAS, USER, [PHONE], fails=f"does not describe {PHONE}"),
    row("extension-not-listed", CORE_ONLY, USER, [f"{ENTERPRISE}:manager"], fails=f"describe {ENTERPRISE}:manager"),
    row("all-named", EMPTY, USER, ["userName", "title"], fails=Whole("/Schemas does not describe userName, title")),
    row("attributes-an-object", answer(200, listing({"id": USER, "attributes": {}})), USER, ["title"], fails="title"),
    row("extension-id-is-not-common", CORE_ONLY, USER, [f"{ENTERPRISE}:id"], fails=f"{ENTERPRISE}:id"),
    row("not-json", HTML, USER, ["userName"], fails="not JSON"),
]


@pytest.mark.parametrize(ROW, SCHEMAS_COVER)
def test_schemas_cover(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("schemas_cover", fails, checks.schemas_cover, exchange, *args) == gives


# -------------------------------------------------------------------------------- resource_types_include

USER_TYPE_ONLY = answer(200, listing({"name": "User"}))
RESOURCE_TYPES = answer(200, listing({"name": "User", "endpoint": "/Users"}, {"name": "Group", "endpoint": "/Groups"}))

RESOURCE_TYPES_INCLUDE = [
    row("both", RESOURCE_TYPES, ["User", "Group"]),
    row("any-case", RESOURCE_TYPES, ["user", "GROUP"]),
    row("nothing-asked", EMPTY, []),
    row("a-single-resource-type", answer(200, {"name": "User"}), ["User"]),
    row("group-missing", USER_TYPE_ONLY, ["User", "Group"], fails=Whole("/ResourceTypes does not list Group")),
    row("all-missing-named", EMPTY, ["User", "Group"], fails="does not list User, Group"),
    row("by-name-not-id", answer(200, listing({"id": "User"})), ["User"], fails="does not list User"),
    row("not-json", HTML, ["User"], fails="not JSON"),
]


@pytest.mark.parametrize(ROW, RESOURCE_TYPES_INCLUDE)
def test_resource_types_include(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("resource_types_include", fails, checks.resource_types_include, exchange, *args) == gives


# ------------------------------------------------------------------------------------------- token_grant

HOUR, SIX_HOURS = 3600.0, 21600.0


def grant(**fields: Any) -> Exchange:
    """A token response; a field given as None is left out."""
    document = {"access_token": "eyJ0eXAi.x.y", "token_type": "Bearer", "expires_in": 3600, **fields}
    return answer(200, {k: v for k, v in document.items() if v is not None}, {"content-type": "application/json"})


TOKEN_GRANT = [
    row("one-hour", grant()),
    row("six-hours-inclusive", grant(expires_in=21600)),
    row("bearer-any-case", grant(token_type="bearer")),
    row("fractional-seconds", grant(expires_in=3600.5)),
    row("extra-fields", grant(scope="scim", refresh_token="r")),
    row("other-bounds", grant(expires_in=60), 30.0, 90.0),
    row("too-short", grant(expires_in=3599), fails=Whole("expected expires_in between 3600 and 21600 s, found 3599")),
    row("too-long", grant(expires_in=86400), fails="found 86400"),
    row("lifetime-a-string", grant(expires_in="3600"), fails=Whole('expected expires_in in seconds, found "3600"')),
    row("lifetime-true", grant(expires_in=True), fails="expires_in in seconds, found true"),
    row("lifetime-missing", grant(expires_in=None), fails="expires_in in seconds, found null"),
    row("no-token", grant(access_token=None), fails=Whole("the token response carries no access_token")),
    row("empty-token", grant(access_token=""), fails="carries no access_token"),
    row("token-not-a-string", grant(access_token=123), fails="carries no access_token"),
    row("mac-token", grant(token_type="mac"), fails=Whole('expected token_type Bearer, found "mac"')),
    row("type-missing", grant(token_type=None), fails="token_type Bearer, found null"),
    row("a-json-array", answer(200, [{"access_token": "t"}]), fails='expected a JSON object, found [{"access_token"'),
    row("json-null", answer(200, text="null"), fails=Whole("expected a JSON object, found null")),
    row("form-encoded", answer(200, text="access_token=t&token_type=bearer"), fails="not JSON"),
    row("no-body", NO_BODY, fails="the response has no body"),
]


@pytest.mark.parametrize(ROW, TOKEN_GRANT)
def test_token_grant(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    bounds = args or (HOUR, SIX_HOURS)
    assert judge("grant", fails, checks.token_grant, exchange, *bounds) == gives


# ------------------------------------------------------------------------------------------- tls_version

TLS13 = "TLSv1.3 TLS_AES_256_GCM_SHA384"

TLS_VERSION = [
    row("with-cipher", answer(200, tls="TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256"), "TLSv1.2"),
    row("protocol-only", answer(200, tls="TLSv1.3"), "TLSv1.3"),
    row("newer-is-not-asked", answer(200, tls=TLS13), "TLSv1.2", fails=Whole(f"expected TLSv1.2, negotiated {TLS13}")),
    row("older", answer(200, tls="TLSv1.1 ECDHE-RSA-AES128-SHA"), "TLSv1.2", fails="negotiated TLSv1.1"),
    row("plain-http", answer(200), "TLSv1.2", fails=Whole("expected TLSv1.2, negotiated no TLS")),
    row("prefix-is-not-a-match", answer(200, tls="TLSv1.2x"), "TLSv1.2", fails="negotiated TLSv1.2x"),
]


@pytest.mark.parametrize(ROW, TLS_VERSION)
def test_tls_version(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("tls", fails, checks.tls_version, exchange, *args) == gives


# --------------------------------------------------------------------------- body, resources, the_resource

BODY = [
    row("an-object", holding(), "mine", gives=user()),
    row("json-null", answer(200, text="null"), "mine", gives=None),
    row("surrounding-whitespace", answer(200, text=' \n {"a": 1} \n'), "mine", gives={"a": 1}),
    row("no-body", NO_BODY, "mine", fails=Whole("the response has no body")),
    row("only-whitespace", answer(200, text=" \r\n "), "mine", fails=Whole("the response has no body")),
    row("html", HTML, "mine", fails="the response body is not JSON (Expecting value): '<html><body>Service"),
    row("cut-json", answer(200, text='{"id": "1"'), "mine", fails="the response body is not JSON ("),
    row("truncated", answer(200, text="{}", truncated=True), "mine", fails="larger than 1024 KiB; scimconform reads"),
    row("deep-arrays", answer(200, text=DEEP), "mine", fails=Whole("the response body is nested too deeply to read")),
    row("deep-objects", answer(200, text=DEEP_OBJECT), "mine", fails="nested too deeply"),
    row("a-number-of-5000-digits", answer(200, text='{"id": ' + "9" * 5000 + "}"), "mine", fails="number too long"),
]

RESOURCES = [
    row("list-response", answer(200, listing(A, B)), "mine", gives=[A, B]),
    row("empty-list-response", EMPTY, "mine", gives=[]),
    row("list-response-without-Resources", answer(200, {"schemas": [LIST_RESPONSE]}), "mine", gives=[]),
    row("Resources-any-case", answer(200, {"resources": [A]}), "mine", gives=[A]),
    row("Resources-an-object", answer(200, listing(Resources=A)), "mine", gives=[]),
    row("a-bare-resource", answer(200, A), "mine", gives=[A]),
    row("a-json-array-is-one-value", answer(200, [A]), "mine", gives=[[A]]),
    row("a-list-by-its-totalResults", answer(200, {"totalResults": 0}), "mine", gives=[]),
    row("a-list-by-its-startIndex", answer(200, {"StartIndex": 1, "itemsPerPage": 0}), "mine", gives=[]),
    row("schemas-not-a-list", answer(200, {"schemas": 5, "id": "a"}), "mine", gives=[{"schemas": 5, "id": "a"}]),
    # A resource may hold an attribute named like a ListResponse's: its schemas say what it is.
    row("a-resource-with-itemsPerPage", answer(200, user(itemsPerPage=1)), "mine", gives=[user(itemsPerPage=1)]),
    row("a-resource-with-Resources-is-a-list", answer(200, user(Resources=[A])), "mine", gives=[A]),
    row(
        "Schemas-in-any-case",
        answer(200, {"Schemas": [USER], "itemsPerPage": 5}),
        "mine",
        gives=[{"Schemas": [USER], "itemsPerPage": 5}],
    ),
    row("not-json", HTML, "mine", fails="not JSON"),
]

THE_RESOURCE = [
    row("a-bare-resource", answer(200, A), "mine", gives=A),
    row("a-list-of-one", answer(200, listing(A)), "mine", gives=A),
    row("none", EMPTY, "mine", fails=Whole("expected exactly one resource in the response, found 0")),
    row("two", answer(200, listing(A, B)), "mine", fails="found 2"),
    row(
        "a-string-resource",
        answer(200, listing("a")),
        "mine",
        fails=Whole("expected exactly one resource in the response, found a string in Resources, not an object"),
    ),
    row("not-json", HTML, "mine", fails="not JSON"),
    row(
        "a-json-array",
        answer(200, [A]),
        "mine",
        fails=Whole("the response body is an array, not an object; answer with the resource as an object"),
    ),
    row("json-null", answer(200, text="null"), "mine", fails="the response body is null, not an object"),
    row("a-list-without-Resources", answer(200, {"totalResults": 1}), "mine", fails="found 0"),
]


@pytest.mark.parametrize(ROW, BODY)
def test_body(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("mine", fails, checks.body, exchange, *args) == gives


@pytest.mark.parametrize(ROW, RESOURCES)
def test_resources(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("mine", fails, checks.resources, exchange, *args) == gives


@pytest.mark.parametrize(ROW, THE_RESOURCE)
def test_the_resource(exchange: Exchange, args: tuple[Any, ...], fails: str | None, gives: Any) -> None:
    assert judge("mine", fails, checks.the_resource, exchange, *args) == gives


# ------------------------------------------------------------------ every body-reading check, 100,000 deep

DEEP_BODY = [
    pytest.param("status_code", lambda x: checks.status_code(x, [201]), id="status_code"),
    pytest.param("json_schema", lambda x: checks.json_schema(x, "user"), id="json_schema"),
    pytest.param("total_results", lambda x: checks.total_results(x, 1), id="total_results"),
    pytest.param("attribute_values", lambda x: checks.attribute_values(x, BJENSEN), id="attribute_values"),
    pytest.param("total_at_least", lambda x: checks.total_at_least(x, 1), id="total_at_least"),
    pytest.param("returned_count", lambda x: checks.returned_count(x, 1), id="returned_count"),
    pytest.param("pagination", lambda x: checks.list_page(x, 1, 1), id="list_page"),
    pytest.param("pagination", lambda x: checks.echoed_start(x, 1), id="echoed_start"),
    pytest.param("attributes_absent", lambda x: checks.attributes_absent(x, ["password"]), id="attributes_absent"),
    pytest.param("resource_id", lambda x: checks.resource_id(x, "1"), id="resource_id"),
    pytest.param("has_id", checks.has_id, id="has_id"),
    pytest.param("member_values", checks.lists_members, id="lists_members"),
    pytest.param("member_values", lambda x: checks.member_values(x, ["1"]), id="member_values"),
    pytest.param("schemas_cover", lambda x: checks.schemas_cover(x, USER, ["userName"]), id="schemas_cover"),
    pytest.param("resource_types_include", lambda x: checks.resource_types_include(x, ["User"]), id="resource_types"),
    pytest.param("grant", lambda x: checks.token_grant(x, HOUR, SIX_HOURS), id="token_grant"),
]


@pytest.mark.parametrize("text", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
@pytest.mark.parametrize(("name", "check"), DEEP_BODY)
def test_a_body_nested_100000_deep_fails_the_check(name: str, check: Callable[[Exchange], object], text: str) -> None:
    """A CheckFailure of the check itself, not a RecursionError (status_code: the status, the body unread)."""
    with pytest.raises(CheckFailure) as caught:
        check(answer(200, text=text))
    assert caught.value.check == name
    assert caught.value.message in ("expected HTTP 201, got 200", "the response body is nested too deeply to read")
