"""Reproducers must reproduce: each script a run writes, run with bash against a fresh reference server with
the same fault, shows the run's failure with the run's status (exit 1); against a clean server it passes
(exit 0); and either way the server holds nothing the script created."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from scimconform import attrpath, checks
from scimconform.checks import LIST_RESPONSE, CheckFailure
from scimconform.errors import UnsafeIdError
from scimconform.events import CaseEnded, CaseStarted, ExchangeRecorded, RunStarted, StepFinished, StepStarted
from scimconform.exchange import Exchange
from scimconform.reporting import repro_judge
from scimconform.reporting.repro import ReproWriter, script_name
from scimconform.reporting.results import case_name
from scimconform.target import path_segment
from tests.harness import TOKEN, reference_server, run_against

# Each fault with cases whose failures differ in kind: a PATCH refused after setup, and member ids carried
# into a group's PATCH (pascalcase); values the server did not store (pathless); a POST that creates what
# it must refuse, so the script must delete it too (duplicate).
SELECTIONS = {
    "pascalcase-op-rejected": ("-k", "ENTRA-USER-010 or ENTRA-GROUP-008", "--dialect", "default"),
    "pathless-dotted-keys-ignored": ("-k", "ENTRA-USER-007", "--dialect", "aadOptscim062020"),
    "duplicate-username-accepted": (
        "-k",
        "ENTRA-USER-006",
    ),
}


def run_script(script: Path, url: str, token: str) -> subprocess.CompletedProcess[str]:
    """The reproducer as a vendor runs it: bash, the Tenant URL as its argument, the token in SCIM_TOKEN."""
    environment = {**os.environ, "SCIM_TOKEN": token}
    return subprocess.run(["bash", str(script), url], capture_output=True, text=True, env=environment, timeout=60)


def stored(url: str, token: str) -> dict[str, int]:
    """How many users and groups the server holds, by its own listing."""
    headers = {"Authorization": f"Bearer {token}"}
    return {kind: httpx.get(f"{url}/{kind}", headers=headers).json()["totalResults"] for kind in ("Users", "Groups")}


def failed_cases(report_dir: Path) -> dict[str, str]:
    """Each failed (or warned) case's name → the status the run saw on its first failing request."""
    summary: dict[str, Any] = json.loads((report_dir / "summary.json").read_text())
    return {
        case_name(case["id"], case["dialect"]): re.search(r"→ (\d{3})", case["message"])[1]  # type: ignore[index]
        for case in summary["cases"]
        if case["status"] in ("failed", "warning")
    }


@pytest.mark.parametrize("fault", sorted(SELECTIONS))
def test_reproducers_show_the_failure_on_the_faulty_server_and_pass_on_a_clean_one(tmp_path: Path, fault: str) -> None:
    assert run_against(tmp_path, [fault], *SELECTIONS[fault]) == 1
    failed = failed_cases(tmp_path)
    scripts = {path.name: path for path in (tmp_path / "repro").glob("*.sh")}
    assert failed and set(scripts) == {script_name(name) for name in failed}
    assert all(name in (tmp_path / "repro" / "README").read_text() for name in scripts)
    for name, status in failed.items():
        with reference_server(fault) as url:
            faulty = run_script(scripts[script_name(name)], url, TOKEN)
            assert stored(url, TOKEN) == {"Users": 0, "Groups": 0}, faulty.stdout
        verdict = faulty.stdout.splitlines()[-1]
        assert faulty.returncode == 1 and verdict.startswith("REPRODUCED"), faulty.stdout + faulty.stderr
        assert f"→ HTTP {status}" in verdict, faulty.stdout
        with reference_server() as url:
            clean = run_script(scripts[script_name(name)], url, TOKEN)
            assert stored(url, TOKEN) == {"Users": 0, "Groups": 0}, clean.stdout
        assert clean.returncode == 0 and clean.stdout.splitlines()[-1].startswith("PASSES"), clean.stdout


def test_no_script_holds_the_token(tmp_path: Path) -> None:
    run_against(tmp_path, ["pascalcase-op-rejected"], "-k", "ENTRA-USER-010 or ENTRA-GROUP-008")
    written = list((tmp_path / "repro").iterdir())
    assert len(written) > 1
    assert all(TOKEN not in path.read_text() for path in written)


def _exchange(method: str, path: str, body: Any, status: int, answer: Any) -> Exchange:
    return Exchange(
        method=method,
        url=f"https://scim.example.com/v2{path}",
        request_headers={"authorization": "Bearer ***", "content-type": "application/scim+json"},
        request_body=json.dumps(body) if body is not None else None,
        status=status,
        response_body=json.dumps(answer),
        raw_body=json.dumps(answer),
    )


def test_a_run_id_is_replaced_only_where_it_stands_whole(tmp_path: Path) -> None:
    """SCIMMY numbers its resources: the id "1" must not be replaced inside "12" or a userName."""
    create = _exchange("POST", "/Users", {"userName": "scf000001-u1.1@example.com"}, 201, {"id": "1"})
    remove = {"Operations": [{"op": "Remove", "path": 'members[value eq "1"]'}, {"value": [{"value": "12"}]}]}
    patch = _exchange("PATCH", "/Groups/12", remove, 400, {})
    read = _exchange("GET", "/Users?filter=id+eq+%221%22&count=1", None, 200, {"totalResults": 0})
    writer = ReproWriter(tmp_path, "scf000001", controller=True)
    failure = CheckFailure("member_values", 'expected members ["1"], got []', expected=["1"])
    for event in (
        RunStarted("https://scim.example.com/v2"),
        CaseStarted("ENTRA-TEST-001", None),
        StepStarted("Create"),
        ExchangeRecorded(create),
        StepStarted("Remove"),
        ExchangeRecorded(patch),
        StepStarted("Read"),
        ExchangeRecorded(read),
        StepFinished("Read", failure, read),
        CaseEnded("ENTRA-TEST-001", None, failed=(read,)),
    ):
        writer.handle(event)
    script = (tmp_path / "ENTRA-TEST-001.sh").read_text()
    assert '"userName": "${TAG}-u1.1@example.com"' in script
    assert '"${URL}/Groups/12"' in script
    assert r'members[value eq \\"${ID1}\\"]' in script and '{"value": "12"}' in script
    assert '"${URL}/Users?filter=id+eq+%22${ID1_URL}%22&count=1"' in script
    assert '"expected": ["${ID1}"]' in script


@pytest.mark.parametrize(
    "path",
    ["userName", "NAME.givenName", 'emails[type eq "WORK"].value', "urn:x:User:manager.value", "missing.sub", "roles"],
)
def test_the_scripts_read_attributes_as_the_harness_does(path: str) -> None:
    resource = {
        "userName": "a",
        "name": {"givenName": "b"},
        "emails": [{"type": "home", "value": "c"}, {"type": "work", "value": "d"}],
        "urn:x:User": {"manager": {"value": "e"}},
        "roles": [],
    }
    ours, theirs = repro_judge.get(resource, path), attrpath.get(resource, path)
    assert ours == theirs or (ours is repro_judge.MISSING and theirs is attrpath.MISSING)


# Each dateTime the harness does not take for 2020-01-01T00:00:00Z (RFC 7643 §2.3.5: xsd:dateTime with a zone),
# though Python's fromisoformat reads it as that instant: basic, week, space-separated, without seconds, a
# two-digit zone, a zone past 14:00, and a seventh fractional digit.
NOT_MIDNIGHT = (
    "20200101T000000Z",
    "2020-W01-3T00:00:00Z",
    "2020-01-01 00:00:00Z",
    "2020-01-01T00:00Z",
    "2020-01-01T00:00:00+00",
    "2020-01-01T15:00:00+15:00",
    "2020-01-01T00:00:00.0000001Z",
)


def _judged_by_the_harness(check: str, status: int, document: Any, *arguments: Any) -> list[str]:
    """The harness's own check on the same answer: its failure message, or nothing when it holds."""
    try:
        getattr(checks, check)(_exchange("GET", "/Users", None, status, document), *arguments)
    except CheckFailure as failure:
        return [failure.message]
    return []


def test_the_scripts_judge_what_each_check_expected() -> None:
    user = {"active": "False", "members": [{"value": "1"}]}
    listing = {"totalResults": 1, "Resources": [user]}
    midnight = "2020-01-01T00:00:00Z"
    failures: list[tuple[str, Any, int, Any, list[str]]] = [
        ("status_code", [200, 204], 400, user, ["expected HTTP 200 or 204, got 400"]),
        ("status_code", [200, 204], 204, None, []),
        ("attribute_values", {"active": False}, 200, listing, ['active: expected false, got "False"']),
        ("attribute_values", {"title": None}, 200, user, []),
        ("member_values", ["1", "2"], 200, user, ['expected members ["1", "2"], got ["1"]']),
        ("total_results", 1, 200, listing, []),
        ("total_results", 2, 200, listing, ["expected totalResults 2, got 1"]),
        # A list answer holds only what its Resources array holds; one without any list attribute is a resource.
        ("total_results", 1, 200, {"totalResults": 1}, ["totalResults is 1 but Resources holds 0"]),
        ("attribute_values", {"title": None}, 200, {"startIndex": 1}, ["the answer is not one resource"]),
        ("attribute_values", {"title": None}, 200, {"schemas": LIST_RESPONSE}, []),
        ("total_results", 0, 200, {"schemas": [LIST_RESPONSE.lower()], "totalResults": 0}, []),  # a URN in any case
        # A complex value holds the expected sub-attributes, in any case; the server may add its own.
        ("attribute_values", {"manager": {"value": "m"}}, 200, {"Manager": {"Value": "m", "$ref": "../Users/m"}}, []),
        # A resource's own schemas say it is one, whatever attributes it holds; totalResults is read in any case.
        ("attribute_values", {"title": None}, 200, {"schemas": ["urn:x:User"], "itemsPerPage": 1}, []),
        ("total_results", 1, 200, {"schemas": [LIST_RESPONSE], "TotalResults": 1, "Resources": [user]}, []),
        # One JSON type at every depth: true is not 1, 1.0 is not 1.
        (
            "attribute_values",
            {"emails": [{"value": "a", "primary": True}]},
            200,
            {"emails": [{"value": "a", "primary": 1}]},
            ['emails: expected [{"value": "a", "primary": true}], got [{"value": "a", "primary": 1}]'],
        ),
        (
            "attribute_values",
            {"urn:x:User:level": {"value": 1}},
            200,
            {"urn:x:User": {"level": {"value": 1.0}}},
            ['urn:x:User:level: expected {"value": 1}, got {"value": 1.0}'],
        ),
        # dateTimes: the same instant at any depth, to the last fractional digit; 24:00:00 is the next day.
        (
            "attribute_values",
            {"meta": {"lastModified": midnight}},
            200,
            {"meta": {"lastModified": midnight[:-1] + ".0Z"}},
            [],
        ),
        (
            "attribute_values",
            {"meta.lastModified": midnight},
            200,
            {"meta": {"lastModified": "2019-12-31T24:00:00Z"}},
            [],
        ),
        *(
            (
                "attribute_values",
                {"meta.lastModified": midnight},
                200,
                {"meta": {"lastModified": stamp}},
                [f'meta.lastModified: expected "{midnight}", got "{stamp}"'],
            )
            for stamp in NOT_MIDNIGHT
        ),
        (
            "attribute_values",
            {"meta.lastModified": "2020-01-01T00:00:00.1234561Z"},
            200,
            {"meta": {"lastModified": "2020-01-01T00:00:00.1234562Z"}},
            ['meta.lastModified: expected "2020-01-01T00:00:00.1234561Z", got "2020-01-01T00:00:00.1234562Z"'],
        ),
        ("json_schema", None, 200, user, ["judged by its status alone, as the run's (200); look in the answer for: m"]),
        ("json_schema", None, 404, user, []),
    ]
    for check, expected, status, document, problems in failures:
        failure = {"check": check, "message": "m", "expected": expected}
        assert repro_judge.problems(failure, 200, status, document) == problems, (check, document)
        if expected is not None:  # with no structured expectation the run's status stands for the failure
            assert bool(_judged_by_the_harness(check, status, document, expected)) == bool(problems), (check, document)


# A script follows a create as the run did: with the id percent-encoded as one path segment (`path_segment`), so
# ids has_id fails (Entra appends them as they are) still lead the script to the resource the run reached.
@pytest.mark.parametrize("found", ["a%2Fb", "100%", "a/b", "a?b", "a#b", "2819c223 é", "", ".", "..", "\ud800"])
def test_the_scripts_follow_every_created_id_the_run_follows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], found: str
) -> None:
    answer = tmp_path / "answer"
    answer.write_text(json.dumps({"id": found}), encoding="utf-8")
    try:
        segment: str | None = path_segment(found)
    except UnsafeIdError:
        segment = None
    assert repro_judge.created_id(str(answer)) == (1 if segment is None else 0)
    assert capsys.readouterr().out == ("" if segment is None else f"{json.dumps(found)[1:-1]}\n{segment}\n")


def test_a_refusal_the_verdict_does_not_name_gets_no_script(tmp_path: Path) -> None:
    """A refused create another case judges (the case fell back to a plainer form and passed) is not this case's
    failure: no reproducer claims it."""
    create = _exchange("POST", "/Groups", {"displayName": "scf000001-g1"}, 400, {})
    writer = ReproWriter(tmp_path, "scf000001", controller=True)
    refused = CheckFailure("status_code", "expected HTTP 201, got 400", expected=[201])
    for event in (
        RunStarted("https://scim.example.com/v2"),
        CaseStarted("ENTRA-TEST-002", None),
        StepStarted("Create"),
        ExchangeRecorded(create),
        StepFinished("Create", refused, create),
        CaseEnded("ENTRA-TEST-002", None),
    ):
        writer.handle(event)
    assert not (tmp_path / "ENTRA-TEST-002.sh").exists()
