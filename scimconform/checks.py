"""Small named checks on one exchange. Each raises `CheckFailure` naming what was expected and seen.

Checks know nothing of cases or reports: the replay engine wraps a `CheckFailure` into a
`ConformanceFailure` that carries the case, its severity, the fix and a curl reproducer.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeGuard

from scimconform import attrpath
from scimconform.client import SCIM_MEDIA_TYPE
from scimconform.errors import ScimconformError
from scimconform.exchange import Exchange, NotJsonError
from scimconform.validation import schema_errors

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
# A ListResponse's own attributes (RFC 7644 §3.4.2).
LIST_ATTRIBUTES = ("Resources", "totalResults", "startIndex", "itemsPerPage")


# The kinds of problem reports group failures by (Allure's categories), named by the check that found them;
# a failure's category travels with it, so rewording a message never moves it to another group.
TRANSPORT, SERVER_ERROR, WRONG_STATUS, SCHEMA, CAPACITY, WRONG_VALUE = (
    "Timeouts and connection errors",
    "Server errors",
    "Wrong status code",
    "Schema violations",
    "Capacity",
    "Wrong values",
)
CATEGORY_OF_CHECK = {"answered": TRANSPORT, "status_code": WRONG_STATUS, "json_schema": SCHEMA, "throughput": CAPACITY}


class CheckFailure(ScimconformError, AssertionError):
    """One broken rule: `check` is the check's name, `message` says expected versus observed, `category`
    the kind of problem (one of the names above). `expected`, when a check gives it, is what the answer had to
    hold, as data a reproducer can judge again: `status_code` the allowed statuses, `total_results` the count,
    `attribute_values` each path's value (None: cleared), `member_values` the member ids."""

    def __init__(self, check: str, message: str, *, category: str | None = None, expected: Any = None) -> None:
        super().__init__(f"{check}: {message}")
        self.check = check
        self.message = message
        self.category = category or CATEGORY_OF_CHECK.get(check, WRONG_VALUE)
        self.expected = expected


def _show(value: Any) -> str:
    if value is attrpath.MISSING:
        return "absent"
    return json.dumps(value, ensure_ascii=False)


def _integer(value: object) -> TypeGuard[int]:
    """A JSON integer: Python reads `true` as an int and `1.0` as a float, and neither is one."""
    return type(value) is int


def _not_integer(value: Any) -> str:
    """Why `true` or `1.0` fails where a JSON integer is due, though Python reads it as equal."""
    if isinstance(value, bool):
        return " (a boolean, not a JSON integer)"
    return " (not a JSON integer: RFC 7643 §2.3.4 allows no fraction)" if isinstance(value, float) else ""


# A parsed JSON value's type, as a message names it.
_JSON_KINDS = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def body(exchange: Exchange, check: str) -> Any:
    """The parsed body, or a failure of `check` saying why there is none."""
    try:
        return exchange.json()
    except NotJsonError as exc:
        raise CheckFailure(check, str(exc)) from None


def resources(exchange: Exchange, check: str) -> list[Any]:
    """The resources in a response. A list answer (the ListResponse URN or any of its attributes) holds those in
    its `Resources`, and none when that is not an array or is left out, as RFC 7644 §3.4.2 allows when
    totalResults is 0; any other body is itself the one resource."""
    document = body(exchange, check)
    if not isinstance(document, dict) or not _is_list(document):
        return [document]
    listed = attrpath.get(document, "Resources")
    return list(listed) if isinstance(listed, list) else []


def _is_list(document: dict[str, Any]) -> bool:
    """A ListResponse: its URN, or a `Resources`; with neither, an answer whose `schemas` names another URN is a
    resource (which may hold an attribute named like a ListResponse's), and one without is known by the
    ListResponse's other attributes."""
    schemas = _top(document, "schemas")
    named = [urn.lower() for urn in schemas if isinstance(urn, str)] if isinstance(schemas, list) else []
    if LIST_RESPONSE.lower() in named or _top(document, "Resources") is not attrpath.MISSING:  # URNs in any case
        return True
    if isinstance(schemas, list) and schemas:
        return False
    return any(_top(document, name) is not attrpath.MISSING for name in LIST_ATTRIBUTES)


def _top(document: Any, name: str) -> Any:
    """A top-level attribute of an answer, its name in any case (RFC 7643 §2.1); MISSING when there is none."""
    return attrpath.get(document, name) if isinstance(document, dict) else attrpath.MISSING


def the_resource(exchange: Exchange, check: str) -> dict[str, Any]:
    """The one resource an answer holds: the body itself, or the only one in a ListResponse's `Resources`."""
    document = body(exchange, check)
    if not isinstance(document, dict):
        kind = _JSON_KINDS[type(document)]
        raise CheckFailure(check, f"the response body is {kind}, not an object; answer with the resource as an object")
    found = resources(exchange, check)
    if len(found) != 1:
        raise CheckFailure(check, f"expected exactly one resource in the response, found {len(found)}")
    if not isinstance(found[0], dict):
        kind = _JSON_KINDS[type(found[0])]
        raise CheckFailure(
            check, f"expected exactly one resource in the response, found {kind} in Resources, not an object"
        )
    return found[0]


def answered(exchange: Exchange) -> None:
    if exchange.transport_error:
        raise CheckFailure("answered", exchange.transport_error)


def status_code(exchange: Exchange, allowed: Iterable[int]) -> None:
    allowed = sorted(allowed)
    if exchange.status is None and exchange.transport_error:  # no status to compare: say why none came
        raise CheckFailure("status_code", exchange.transport_error, category=TRANSPORT)
    if exchange.status not in allowed:
        detail = ""
        if exchange.response_body:
            try:
                doc = exchange.json()
                if isinstance(doc, dict) and doc.get("detail"):
                    # the server's own words, on one line: a validation library's report can span several
                    detail = f" ({' '.join(str(doc['detail']).split())})"
            except NotJsonError:
                detail = ""
        shown = " or ".join(map(str, allowed))
        retried = f" after {exchange.attempt} attempts" if exchange.attempt > 1 else ""
        category = SERVER_ERROR if exchange.status is not None and exchange.status >= 500 else WRONG_STATUS
        message = f"expected HTTP {shown}, got {exchange.status}{detail}{retried}"
        raise CheckFailure("status_code", message, category=category, expected=allowed)


def content_type(exchange: Exchange) -> None:
    """Entra expects `application/scim+json` on every response with a body.

    Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint", § "General".
    """
    if not exchange.response_body:
        return
    media = (exchange.header("content-type") or "").split(";")[0].strip().lower()
    if media != SCIM_MEDIA_TYPE:
        raise CheckFailure("content_type", f"expected Content-Type {SCIM_MEDIA_TYPE}, got {media or 'none'}")


def json_schema(exchange: Exchange, ref: str, items: str | None = None) -> None:
    """The body follows schema `ref`; with `items`, each of its `Resources` follows that one too."""
    if exchange.status == 204:
        return
    document = body(exchange, "json_schema")
    try:
        problems = schema_errors(document, ref)
        if items and isinstance(document, dict) and isinstance(document.get("Resources"), list):
            for index, resource in enumerate(document["Resources"]):
                problems += schema_errors(resource, items, prefix=f"$.Resources[{index}]")
    except RecursionError:  # a body nested just shallow enough to parse still overflows the validator
        raise CheckFailure("json_schema", f"{ref} schema cannot be checked: the body is nested too deeply") from None
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CheckFailure("json_schema", f"{ref} schema violated at {problems[0]}{more}")


def total_results(exchange: Exchange, expected: int) -> None:
    document = body(exchange, "total_results")
    observed = _top(document, "totalResults")
    if not _integer(observed) or observed != expected:
        message = f"expected totalResults {expected}, got {_show(observed)}{_not_integer(observed)}"
        raise CheckFailure("total_results", message, expected=expected)
    listed = resources(exchange, "total_results")
    if len(listed) != expected:
        message = f"totalResults is {expected} but Resources holds {len(listed)}"
        raise CheckFailure("total_results", message, expected=expected)


def attribute_values(exchange: Exchange, expected: dict[str, Any]) -> None:
    """Each attribute holds exactly the value Entra sent: same type, same text (Microsoft Learn, "Tutorial:
    Develop and plan provisioning for a SCIM endpoint", § "General": values are stored as they were sent).

    An expected None means the attribute was cleared: absent, null or empty all satisfy it. Every attribute
    that differs is named in the one failure, so a server that drops seven attributes hears of all seven.
    """
    resource = the_resource(exchange, "attribute_values")
    wrong = {path: value for path, value in expected.items() if not _holds(value, attrpath.get(resource, path))}
    if wrong:
        problems = [_difference(path, value, attrpath.get(resource, path)) for path, value in wrong.items()]
        raise CheckFailure("attribute_values", "; ".join(problems), expected=wrong)


def _holds(expected: Any, observed: Any) -> bool:
    if expected is None:
        return observed in (attrpath.MISSING, None, "", [], {})
    return _same_value(expected, observed)


def _difference(path: str, expected: Any, observed: Any) -> str:
    wanted = "it cleared" if expected is None else _show(expected)
    return f"{path}: expected {wanted}, got {_show(observed)}{_not_xsd_note(expected, observed)}"


def _not_xsd_note(expected: Any, observed: Any) -> str:
    """Why a dateTime that names the expected instant in another ISO 8601 form (`+0000`, a space for T) differs."""
    wanted = _instant(expected) if isinstance(expected, str) else None
    if wanted is None or not isinstance(observed, str) or _instant(observed) is not None:
        return ""
    if wanted[1] * 10**6 % 1 or re.search(r"[.,]\d{7}", observed):  # past what a datetime holds: no claim
        return ""
    try:
        lax = datetime.fromisoformat(observed.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return ""
    if lax.tzinfo is None or lax != wanted[0] + timedelta(microseconds=int(wanted[1] * 10**6)):
        return ""
    return " (the same instant, but not written as xsd:dateTime, which RFC 7643 §2.3.5 requires: 2008-01-23T04:56:22Z)"


def _same_value(expected: Any, observed: Any) -> bool:
    """Equal and of the same JSON type, at every depth of an object or array (true is not 1, and 1.0 is not 1);
    two dateTimes are equal when they name the same instant (RFC 7643 §2.3.5: xsd:dateTime, so
    2020-01-01T00:00:00Z and 2020-01-01T00:00:00.000Z are one value). A complex value holds every expected
    sub-attribute, its name in any case (RFC 7643 §2.1); a server may add its own, such as a reference's
    `display` and `$ref` (RFC 7643 §2.3.7, §4.1.2)."""
    if isinstance(expected, dict) and isinstance(observed, dict):
        named: dict[str, Any] = {}
        for key, value in observed.items():  # the first of two names that differ in case, as attrpath reads
            named.setdefault(key.lower(), value)
        return all(_same_value(v, named.get(k.lower(), attrpath.MISSING)) for k, v in expected.items())
    if isinstance(expected, list) and isinstance(observed, list):
        return len(expected) == len(observed) and all(map(_same_value, expected, observed))
    if type(observed) is type(expected) and observed == expected:
        return True
    if isinstance(expected, str) and isinstance(observed, str):
        instants = [_instant(expected), _instant(observed)]
        return None not in instants and instants[0] == instants[1]
    return False


# The lexical form of xsd:dateTime (XML Schema Part 2 §3.2.7), which RFC 7643 §2.3.5 requires: extended format
# only, seconds always, optional fractional seconds, and Z or an offset of at most 14:00 when a time zone is given.
_DATETIME = re.compile(
    r"(?P<date>\d{4}-\d\d-\d\d)T(?P<hour>\d\d):(?P<rest>\d\d:\d\d)(?P<fraction>\.\d+)?"
    r"(?P<zone>Z|(?P<sign>[+-])(?P<zone_hours>\d\d):(?P<zone_minutes>\d\d))?",
    re.ASCII,
)


def _instant(text: str) -> tuple[datetime, Decimal] | None:
    """The instant an xsd:dateTime with a time zone names, down to its last fractional digit; None for any other
    text, and for one without a zone, which names no instant. 24:00:00 starts the next day, as xsd:dateTime says."""
    match = _DATETIME.fullmatch(text)
    if match is None or match["zone"] is None:
        return None
    zone_hours, zone_minutes = int(match["zone_hours"] or 0), int(match["zone_minutes"] or 0)
    if zone_minutes > 59 or zone_hours * 60 + zone_minutes > 14 * 60:
        return None
    zone = timezone(timedelta(hours=zone_hours, minutes=zone_minutes) * (-1 if match["sign"] == "-" else 1))
    fraction = Decimal(f"0{match['fraction'] or ''}")
    end_of_day = match["hour"] == "24" and match["rest"] == "00:00" and fraction == 0
    hour = "00" if end_of_day else match["hour"]
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{hour}:{match['rest']}").replace(tzinfo=zone)
        return moment + timedelta(days=1 if end_of_day else 0), fraction
    except (ValueError, OverflowError):  # no such date or time (February 30, 25:00), or past the year 9999
        return None


def total_at_least(exchange: Exchange, minimum: int) -> None:
    document = body(exchange, "total_at_least")
    observed = _top(document, "totalResults")
    if not _integer(observed) or observed < minimum:
        message = f"expected totalResults of at least {minimum}, got {_show(observed)}{_not_integer(observed)}"
        raise CheckFailure("total_at_least", message)


def returned_count(exchange: Exchange, expected: int) -> None:
    listed = resources(exchange, "returned_count")
    if len(listed) != expected:
        raise CheckFailure("returned_count", f"expected {expected} resources in the response, got {len(listed)}")


def header_values(exchange: Exchange, expected: dict[str, Any]) -> None:
    """Each header is present, and equal to its expected value unless that is null."""
    for name, value in expected.items():
        observed = exchange.header(name)
        if observed is None:
            raise CheckFailure("header_values", f"the response lacks the {name} header")
        if value is not None and observed != str(value):
            raise CheckFailure("header_values", f"{name}: expected {_show(value)}, got {_show(observed)}")


@dataclass(frozen=True)
class Page:
    total: int
    ids: list[str]


def list_page(exchange: Exchange, start: int, count: int) -> Page:
    """One page of a paginated list (RFC 7644 §3.4.2.4): startIndex echoed, at most `count` resources."""
    document = body(exchange, "pagination")
    if not isinstance(document, dict):
        raise CheckFailure("pagination", "the response is not a ListResponse object")
    echoed = _top(document, "startIndex")
    if not _integer(echoed) or echoed != start:
        message = f"asked for startIndex {start}, the response says {_show(echoed)}{_not_integer(echoed)}"
        raise CheckFailure("pagination", message)
    listed = resources(exchange, "pagination")
    if len(listed) > count:
        raise CheckFailure("pagination", f"asked for count {count}, got {len(listed)} resources")
    per_page = _top(document, "itemsPerPage")  # optional, but an integer when given
    per_page = len(listed) if per_page is attrpath.MISSING else per_page
    if not _integer(per_page) or per_page != len(listed):
        message = f"itemsPerPage is {_show(per_page)} but the page holds {len(listed)}{_not_integer(per_page)}"
        raise CheckFailure("pagination", message)
    total = _top(document, "totalResults")
    if not _integer(total):
        raise CheckFailure("pagination", f"totalResults must be an integer, got {_show(total)}{_not_integer(total)}")
    return Page(total, [str(r.get("id")) for r in listed if isinstance(r, dict)])


def echoed_start(exchange: Exchange, start: int) -> int:
    """A page echoes the startIndex it was asked for (what the gallery's pagination tests check); returns its
    totalResults."""
    document = body(exchange, "pagination")
    echoed = _top(document, "startIndex")
    if not _integer(echoed) or echoed != start:
        message = f"asked for startIndex {start}, the response says {_show(echoed)}{_not_integer(echoed)}"
        raise CheckFailure("pagination", message)
    total = _top(document, "totalResults")
    if not _integer(total):
        raise CheckFailure("pagination", f"totalResults must be an integer, got {_show(total)}{_not_integer(total)}")
    return total


def paging_problem(seen: list[str], wanted: set[str]) -> str | None:
    """What is wrong across all pages: a resource on more than one page, or one the run created on none."""
    counts = Counter(seen)
    repeated = sorted(i for i, n in counts.items() if n > 1)
    if repeated:
        return f"resources returned on more than one page: {', '.join(repeated[:5])}"
    missing = sorted(wanted - counts.keys())
    if missing:
        return f"{len(missing)} created resources never appeared on any page: {', '.join(missing[:5])}"
    return None


def attributes_absent(exchange: Exchange, paths: Iterable[str]) -> None:
    paths = list(paths)  # walked once per resource
    for resource in resources(exchange, "attributes_absent"):
        for path in paths:
            if isinstance(resource, dict) and attrpath.get(resource, path) is not attrpath.MISSING:
                raise CheckFailure("attributes_absent", f"{path} was returned, where it must be absent")


def resource_id(exchange: Exchange, expected: str) -> None:
    observed = the_resource(exchange, "resource_id").get("id", attrpath.MISSING)
    if observed != expected:
        raise CheckFailure("resource_id", f"expected the resource with id {_show(expected)}, got {_show(observed)}")


def has_id(exchange: Exchange) -> None:
    """A non-empty string id that can stand in a URL path as it is: Entra appends it to the Tenant URL
    (`/Users/{id}`, RFC 7644 §3.2), so `/`, `?`, `#` or a dot segment would send its requests elsewhere, and a
    `%` would be read as an escape (RFC 3986 §2.1: `a%2Fb` arrives as `a/b`), and a `\\` as a `/` (WHATWG URL
    Standard, path state: a backslash in an http(s) URL ends the segment)."""
    observed = the_resource(exchange, "has_id").get("id", attrpath.MISSING)
    if not isinstance(observed, str) or not observed:
        raise CheckFailure("has_id", f"expected a non-empty string id, got {_show(observed)}")
    if observed in (".", "..") or any(c in observed for c in "/?#%\\"):
        raise CheckFailure(
            "has_id",
            f"the id {_show(observed)} would point a request for this resource elsewhere once appended to a URL "
            'path as it is; issue ids that hold none of /, ?, #, % and \\ and are not "." or ".." (GUIDs, for '
            "instance)",
        )


def lists_members(exchange: Exchange) -> bool:
    """Whether the group in the answer carries a `members` attribute at all (an empty list counts)."""
    return attrpath.get(the_resource(exchange, "member_values"), "members") is not attrpath.MISSING


def member_values(exchange: Exchange, expected: Iterable[str]) -> None:
    """The group's members are exactly `expected`, no more and no fewer."""
    members = attrpath.get(the_resource(exchange, "member_values"), "members")
    observed = sorted(str(m.get("value")) for m in members if isinstance(m, dict)) if isinstance(members, list) else []
    wanted = sorted(expected)
    if observed != wanted:
        message = f"expected members {_show(wanted)}, got {_show(observed)}"
        raise CheckFailure("member_values", message, expected=wanted)


def schemas_cover(exchange: Exchange, schema_urn: str, paths: Iterable[str]) -> None:
    """Every mapped attribute is discoverable in /Schemas, case-insensitively (gallery test 15)."""
    definitions = {str(r.get("id", "")).lower(): r for r in resources(exchange, "schemas_cover") if isinstance(r, dict)}
    missing = [p for p in paths if not _discoverable(definitions, schema_urn, attrpath.parse(p))]
    if missing:
        raise CheckFailure("schemas_cover", f"/Schemas does not describe {', '.join(missing)}")


# RFC 7643 §3.1: common attributes belong to every resource and are not part of any schema definition.
COMMON_ATTRIBUTES = frozenset({"id", "externalid", "meta", "schemas"})


def _discoverable(definitions: dict[str, Any], core_urn: str, path: attrpath.AttrPath) -> bool:
    if path.urn is None and path.attr.lower() in COMMON_ATTRIBUTES:
        return True
    schema = definitions.get((path.urn or core_urn).lower())
    if schema is None:
        return False
    attribute = _named(schema.get("attributes"), path.attr)
    if attribute is None:
        return False
    sub = path.sub or ("value" if path.filter else None)
    return sub is None or _named(attribute.get("subAttributes"), sub) is not None


def _named(attributes: Any, name: str) -> dict[str, Any] | None:
    if not isinstance(attributes, list):
        return None
    return next((a for a in attributes if isinstance(a, dict) and str(a.get("name", "")).lower() == name.lower()), None)


def resource_types_include(exchange: Exchange, names: Iterable[str]) -> None:
    listed = {
        str(r.get("name", "")).lower() for r in resources(exchange, "resource_types_include") if isinstance(r, dict)
    }
    missing = [n for n in names if n.lower() not in listed]
    if missing:
        raise CheckFailure("resource_types_include", f"/ResourceTypes does not list {', '.join(missing)}")


def token_grant(exchange: Exchange, min_lifetime: float, max_lifetime: float) -> None:
    """An RFC 6749 §5.1 token response Entra can use: an access_token, token_type Bearer, and an expires_in
    within the gallery's bounds of 60 minutes to 6 hours (Microsoft Learn, "User provisioning requirements for
    Microsoft Entra App Gallery", § "OAuth 2.0 client credentials")."""
    document = body(exchange, "grant")
    if not isinstance(document, dict):
        raise CheckFailure("grant", f"expected a JSON object, found {_show(document)}")
    token, token_type, lifetime = (document.get(k) for k in ("access_token", "token_type", "expires_in"))
    if not isinstance(token, str) or not token:
        raise CheckFailure("grant", "the token response carries no access_token")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise CheckFailure("grant", f"expected token_type Bearer, found {_show(token_type)}")
    if not isinstance(lifetime, int | float) or isinstance(lifetime, bool):
        raise CheckFailure("grant", f"expected expires_in in seconds, found {_show(lifetime)}")
    if not min_lifetime <= lifetime <= max_lifetime:
        raise CheckFailure(
            "grant", f"expected expires_in between {min_lifetime:g} and {max_lifetime:g} s, found {lifetime:g}"
        )


def tls_version(exchange: Exchange, expected: str) -> None:
    """The connection was made with this protocol version (`TLSv1.2`)."""
    negotiated = exchange.tls or "no TLS"
    if negotiated.split(" ", 1)[0] != expected:
        raise CheckFailure("tls", f"expected {expected}, negotiated {negotiated}")


def body_fields(exchange: Exchange, expected: dict[str, Any]) -> None:
    """Members of the response body itself rather than of an identity: a ListResponse's startIndex, an Error's
    status and scimType (RFC 7644 §3.4.2.4, §3.12), a resource's meta (RFC 7643 §3.1). Paths are attribute paths
    into the body; a dateTime equals any text of the same instant."""
    document = body(exchange, "fields")
    for path, value in expected.items():
        observed = attrpath.get(document, path) if isinstance(document, dict) else attrpath.MISSING
        if not _same_value(value, observed):
            message = f"{path}: expected {_show(value)}, got {_show(observed)}{_not_xsd_note(value, observed)}"
            raise CheckFailure("fields", message)
