"""The Python half of a reproducer (`reporting.repro`): its whole source is embedded in each script and run
with `python3 -c`, so it uses the standard library only and imports nothing from scimconform — the script
must work where scimconform is not installed. It reads the answers curl saved the way the harness reads
them (`attrpath.get`, `checks.the_resource`, `checks.attribute_values`, `checks.total_results`, `checks.has_id`),
by the rules copied here; tests/test_repro.py holds the two to the same results.

`python3 -c "$JUDGE" id ANSWER` prints the id of the resource a POST answered with, as it goes into a JSON
string and as one URL path segment. `python3 -c "$JUDGE" judge STATUS ANSWER < EXPECTED` judges the answer
again against what the run's failed checks expected; it exits 1 when a failure is still there.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote

MISSING = object()
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
LIST_ATTRIBUTES = ("Resources", "totalResults", "startIndex", "itemsPerPage")  # a ListResponse's, no resource's
_VALUE_FILTER = re.compile(r'^(?P<attr>[A-Za-z$][\w$-]*)\[(?P<key>\w+) eq "(?P<value>[^"]*)"\](?:\.(?P<sub>[\w$]+))?$')


def _key(mapping: dict[str, Any], name: str) -> str | None:
    return next((k for k in mapping if k.lower() == name.lower()), None)


def get(resource: Any, text: str) -> Any:
    """The value at the SCIM attribute path `text`, or MISSING (names compare case-insensitively)."""
    urn, rest = None, text
    if text.lower().startswith("urn:"):
        urn, _, rest = text.rpartition(":")
    match = _VALUE_FILTER.match(rest)
    attr, sub = (match["attr"], match["sub"]) if match else (rest.partition(".")[0], rest.partition(".")[2] or None)
    holder = resource
    if urn is not None and isinstance(holder, dict):
        holder = holder[key] if (key := _key(holder, urn)) is not None else MISSING
    if not isinstance(holder, dict) or (key := _key(holder, attr)) is None:
        return MISSING
    value = holder[key]
    if match:
        if not isinstance(value, list):
            return MISSING
        wanted = match["value"].lower()
        fkey = match["key"]
        value = next(
            (e for e in value if isinstance(e, dict) and str(e.get(_key(e, fkey) or "", "")).lower() == wanted),
            MISSING,
        )
    if sub is not None:
        if not isinstance(value, dict) or (sub_key := _key(value, sub)) is None:
            return MISSING
        value = value[sub_key]
    return value


# xsd:dateTime (RFC 7643 §2.3.5) as `checks` reads it: extended format, seconds always, Z or an offset of at most
# 14:00. Python's fromisoformat also takes basic, week, space-separated and minute-only forms the harness refuses.
_DATETIME = re.compile(
    r"(?P<date>\d{4}-\d\d-\d\d)T(?P<hour>\d\d):(?P<rest>\d\d:\d\d)(?P<fraction>\.\d+)?"
    r"(?P<zone>Z|(?P<sign>[+-])(?P<zone_hours>\d\d):(?P<zone_minutes>\d\d))?",
    re.ASCII,
)


def _instant(text: str) -> tuple[datetime, Decimal] | None:
    """The instant a zoned xsd:dateTime names, down to its last fractional digit (a datetime keeps six);
    24:00:00 starts the next day. None for any other text: without a zone it names no instant."""
    match = _DATETIME.fullmatch(text)
    if match is None or match["zone"] is None:
        return None
    zone_hours, zone_minutes = int(match["zone_hours"] or 0), int(match["zone_minutes"] or 0)
    if zone_minutes > 59 or zone_hours * 60 + zone_minutes > 14 * 60:
        return None
    zone = timezone(timedelta(hours=zone_hours, minutes=zone_minutes) * (-1 if match["sign"] == "-" else 1))
    fraction = Decimal(f"0{match['fraction'] or ''}")
    end_of_day = match["hour"] == "24" and match["rest"] == "00:00" and fraction == 0
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{'00' if end_of_day else match['hour']}:{match['rest']}")
        return moment.replace(tzinfo=zone) + timedelta(days=1 if end_of_day else 0), fraction
    except (ValueError, OverflowError):  # no such date or time, or past the year 9999
        return None


def holds(expected: Any, observed: Any) -> bool:
    """None: cleared (absent, null or empty); otherwise the same JSON value (`_same`)."""
    if expected is None:
        return observed is MISSING or observed in (None, "", [], {})
    return _same(expected, observed)


def _same(expected: Any, observed: Any) -> bool:
    """Of one JSON type and equal at every depth, where Python's == takes true for 1 and 1.0 for 1; two
    dateTimes, at any depth, are equal when they name the same instant."""
    if isinstance(expected, dict) and isinstance(observed, dict):
        named: dict[str, Any] = {}
        for key, value in observed.items():  # every expected sub-attribute, in any case; the first of two names
            named.setdefault(key.lower(), value)
        return all(_same(v, named.get(k.lower(), MISSING)) for k, v in expected.items())
    if isinstance(expected, list) and isinstance(observed, list):
        return len(expected) == len(observed) and all(map(_same, expected, observed))
    if type(observed) is type(expected) and observed == expected:
        return True
    if isinstance(expected, str) and isinstance(observed, str):
        instants = [_instant(expected), _instant(observed)]
        return None not in instants and instants[0] == instants[1]
    return False


def resources(document: Any) -> list[Any]:
    """The resources of an answer. A list answer (the ListResponse URN or a `Resources`; without either and
    without a `schemas` naming another URN, any ListResponse attribute) holds its `Resources` array's, and none
    without one (RFC 7644 §3.4.2 leaves it out when totalResults is 0); any other body is the one resource."""
    if not isinstance(document, dict):
        return [document]
    schemas = get(document, "schemas")
    named = [urn.lower() for urn in schemas if isinstance(urn, str)] if isinstance(schemas, list) else []
    listed = get(document, "Resources")
    if LIST_RESPONSE.lower() in named or listed is not MISSING:
        return list(listed) if isinstance(listed, list) else []
    if (isinstance(schemas, list) and schemas) or all(get(document, name) is MISSING for name in LIST_ATTRIBUTES):
        return [document]
    return []


def _show(value: Any) -> str:
    return "absent" if value is MISSING else json.dumps(value, ensure_ascii=False)


def problems(failure: dict[str, Any], observed: int, status: int, document: Any) -> list[str]:
    """What is still wrong with the answer for one failure of the run (`observed`: the status the run saw);
    empty when it holds now."""
    check, expected = failure["check"], failure.get("expected")
    if check == "status_code" and expected is not None:
        return [] if status in expected else [f"expected HTTP {' or '.join(map(str, expected))}, got {status}"]
    if check == "total_results" and expected is not None:
        total = get(document, "totalResults")
        if type(total) is not int or total != expected:  # a JSON integer: Python reads true and 1.0 as equal to 1
            return [f"expected totalResults {expected}, got {_show(total)}"]
        listed = len(resources(document))
        return [] if listed == total else [f"totalResults is {total} but Resources holds {listed}"]
    if check in ("attribute_values", "member_values") and expected is not None:
        found = resources(document)
        if len(found) != 1 or not isinstance(found[0], dict):
            return ["the answer is not one resource"]
        if check == "member_values":
            return _member_problems(found[0], expected)
        return [
            f"{path}: expected {'it cleared' if value is None else _show(value)}, got {_show(get(found[0], path))}"
            for path, value in expected.items()
            if not holds(value, get(found[0], path))
        ]
    # No structured expectation: the status the run saw stands for the failure (the answer is printed).
    if status == observed:
        return [f"judged by its status alone, as the run's ({status}); look in the answer for: {failure['message']}"]
    return []


def _member_problems(group: dict[str, Any], expected: list[str]) -> list[str]:
    members = get(group, "members")
    values = sorted(str(m.get("value")) for m in members if isinstance(m, dict)) if isinstance(members, list) else []
    return [] if values == sorted(expected) else [f"expected members {_show(sorted(expected))}, got {_show(values)}"]


def judge(status: int, answer: str, expected: dict[str, Any]) -> int:
    try:
        with open(answer, encoding="utf-8") as file:
            document: Any = json.load(file)
    except (OSError, ValueError):
        document = None  # no JSON answer: a value or count expectation cannot hold
    still = 0
    for failure in expected["failures"]:
        found = problems(failure, expected["observed"], status, document)
        still += bool(found)
        verdict = "STILL FAILS" if found else "holds now"
        sys.stdout.write(f"    {verdict}: {failure['check']}\n" + "".join(f"      {problem}\n" for problem in found))
    return 1 if still else 0


def created_id(answer: str) -> int:
    """Prints the created id as a JSON string holds it and as one percent-encoded path segment, as the run sent it
    (`target.path_segment`); exits 1 for an id no path segment can carry: empty, a dot segment, a lone surrogate."""
    try:
        with open(answer, encoding="utf-8") as file:
            document = json.load(file)
    except (OSError, ValueError):
        return 1
    found = document.get("id") if isinstance(document, dict) else None
    if not isinstance(found, str) or found in ("", ".", ".."):
        return 1
    try:
        segment = quote(found, safe="")
    except UnicodeEncodeError:
        return 1
    sys.stdout.write(f"{json.dumps(found)[1:-1]}\n{segment}\n")
    return 0


def main(argv: list[str]) -> int:
    if argv[0] == "id":
        return created_id(argv[1])
    return judge(int(argv[1]), argv[2], json.load(sys.stdin))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
