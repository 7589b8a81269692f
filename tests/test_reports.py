"""What a run leaves in `reports/`: Allure results, JUnit XML, summary.json and the HAR file.

One real run against a reference server with two faults feeds most tests: ENTRA-CONN-001 passes,
ENTRA-USER-010 fails a blocking rule (a "False" string stored for active) and ENTRA-HTTP-001 breaks a
warning-level rule (application/json instead of application/scim+json).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from scimconform import checks
from scimconform.catalogue import load_catalogue
from scimconform.checks import CheckFailure
from scimconform.client import RecordingClient
from scimconform.datafiles import data_dir
from scimconform.engine.outcomes import ConformanceFailure, FailedStep, Rule
from scimconform.events import EventStream
from scimconform.exchange import Exchange
from scimconform.reporting.allure import CATEGORIES, ci_executor, source_links, write_run_files
from scimconform.reporting.har import HarRecorder
from scimconform.reporting.results import RunRecord, public_url
from scimconform.target import Target
from scimconform.validation import schema_errors
from tests.harness import TOKEN, reference_server, run_against

CASES = "ENTRA-USER-010 or ENTRA-CONN-001 or ENTRA-HTTP-001"
FAILED = "ENTRA-USER-010[default] Disable a user with active=false; it stays visible"
WARNED = "ENTRA-HTTP-001 Responses carry Content-Type application/scim+json"
PASSED = "ENTRA-CONN-001 Test Connection probe for a random user answers 200 with an empty list"
Json = dict[str, Any]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    report_dir = tmp_path_factory.mktemp("reports")
    har = report_dir / "exchanges.har"
    code = run_against(
        report_dir, ["false-string-stored", "json-content-type"], "--dialect", "default", "-k", CASES, "--har", str(har)
    )
    assert code == 1
    return report_dir


def allure_results(results_dir: Path) -> dict[str, Json]:
    """The Allure test results of a run, by title."""
    found = (json.loads(p.read_text(encoding="utf-8")) for p in results_dir.glob("*-result.json"))
    return {result["name"]: result for result in found}


def labels(result: Json) -> set[tuple[str, str]]:
    return {(label["name"], label["value"]) for label in result["labels"]}


def walk(steps: list[Json]) -> Iterator[Json]:
    for step in steps:
        yield step
        yield from walk(step.get("steps", []))


# --- Allure -------------------------------------------------------------------------------------------


def test_every_case_carries_its_labels_title_links_and_description(reports: Path) -> None:
    results = allure_results(reports / "allure-results")
    assert set(results) == {FAILED, WARNED, PASSED}
    failed = results[FAILED]
    assert {
        ("epic", "Entra ID provisioning"),
        ("feature", "Users"),
        ("story", "Disable user"),
        ("severity", "blocker"),
        ("tag", "dialect:default"),
        ("tag", "profile:entra-default"),
    } <= labels(failed)
    assert ("severity", "normal") in labels(results[WARNED])
    assert {link["url"] for link in failed["links"]} == {
        "https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups"
    }
    assert failed["description"].startswith("**Requirement.** After a PATCH setting active to false")
    assert "**Source.** Entra tutorial" in failed["description"]
    assert "**Fix.** Accept" in failed["description"]
    assert "**Fix.**" not in results[PASSED]["description"], "only a failure says what to fix"


def test_the_epic_says_where_the_rule_comes_from() -> None:
    """Cases whose source is only RFC sections belong to the RFC epic, all others to Entra's."""
    for case in load_catalogue():
        pure_rfc = all(part.strip().startswith("RFC ") for part in case.source.split(";"))
        assert case.epic == ("SCIM RFC 7644" if pure_rfc else "Entra ID provisioning"), case.id


def test_links_lead_to_the_documentation_page_and_each_cited_rfc_section() -> None:
    (case,) = (c for c in load_catalogue() if c.id == "ENTRA-USER-012")
    assert "RFC 7644 §3.6" in case.source
    assert source_links(case) == [
        ("use-scim-to-provision-users-and-groups", str(case.link)),
        ("RFC 7644 §3.6", "https://www.rfc-editor.org/rfc/rfc7644#section-3.6"),
    ]


def test_a_failure_is_failed_with_one_step_per_exchange_and_its_attachments(reports: Path) -> None:
    results = allure_results(reports / "allure-results")
    assert (results[FAILED]["status"], results[WARNED]["status"], results[PASSED]["status"]) == (
        "failed",
        "passed",
        "passed",
    ), "only a blocking rule fails: a warning passes, marked as one"
    assert ("tag", "warning") in labels(results[WARNED]) and ("tag", "warning") not in labels(results[FAILED])
    assert results[WARNED]["description"].startswith("**Warning (not blocking)")
    assert "schema violated at $.active" in results[FAILED]["statusDetails"]["message"]
    case_steps = results[FAILED]["steps"]
    assert [s["name"] for s in case_steps] == [
        "Setup: Create user",
        "Entra disables the user",
        "Read the disabled user",
        "Match the disabled user",
    ], "the case goes on past the failed read: the step after it is judged too"
    assert [s["name"] for s in case_steps[1]["steps"]] == ["PATCH /Users/{id} → 200"]
    read = case_steps[2]
    assert read["status"] == "failed"
    (exchange,) = read["steps"]
    assert exchange["name"] == "GET /Users/{id} → 200"
    (attachment,) = exchange["attachments"]
    assert attachment["name"] == "request and response" and attachment["type"] == "text/plain"
    headers = {p["name"]: p["value"] for p in exchange["parameters"]}
    assert headers["server"] == "scimconform" and "content-type" in headers, headers
    curl, answer = (reports / "allure-results" / attachment["source"]).read_text(encoding="utf-8").split("\n\n", 1)
    assert curl.startswith("curl -sS -X GET http://127.0.0.1:") and '"Authorization: Bearer $SCIM_TOKEN"' in curl
    assert answer.startswith('Response: HTTP 200\n{\n  "') and json.loads(answer.split("\n", 1)[1])["id"]
    ((patch,),) = [step["attachments"] for step in case_steps[1]["steps"]]
    sent = (reports / "allure-results" / patch["source"]).read_text(encoding="utf-8").split("\n\n")
    assert sent[0].startswith("curl -sS -X PATCH ") and "--data-binary" in sent[0]
    assert sent[1].startswith('Request body:\n{\n  "schemas"') and sent[2].startswith("Response: HTTP 200")


def test_not_applicable_is_skipped_and_an_unjudged_target_reports_no_case(tmp_path: Path) -> None:
    assert run_against(tmp_path / "skip", [], "--profile", "alohi", "-k", "ENTRA-GROUP-001") == 0
    (skipped,) = allure_results(tmp_path / "skip" / "allure-results").values()
    assert skipped["status"] == "skipped"
    assert "profile alohi maps no groups" in skipped["statusDetails"]["message"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WRONG_TOKEN", "not-the-token")
        assert run_against(tmp_path / "broken", [], "--token-env", "WRONG_TOKEN", "-k", "ENTRA-CONN-001") == 2
    # the preflight stops the run before its first case: no case result, only summary.json says why
    assert allure_results(tmp_path / "broken" / "allure-results") == {}
    summary = json.loads((tmp_path / "broken" / "summary.json").read_text(encoding="utf-8"))
    assert "refused the bearer token" in summary["target_error"]


def test_the_run_files_describe_the_run_without_secrets(reports: Path) -> None:
    results = reports / "allure-results"
    environment = (results / "environment.properties").read_text(encoding="utf-8").splitlines()
    keys = dict(line.split("=", 1) for line in environment)
    assert keys["target"].startswith("http://127.0.0.1:") and keys["target"].endswith("/scim/v2")
    assert keys["profile"] == "entra-default" and keys["dialects"] == "default" and keys["seed"] == "11"
    assert re.fullmatch(r"scf[0-9a-f]{6}", keys["run_tag"]) and keys["harness_version"]
    assert json.loads((results / "categories.json").read_text(encoding="utf-8")) == CATEGORIES


def test_environment_file_drops_credentials_from_the_url_and_names_the_ci_executor(tmp_path: Path) -> None:
    record = RunRecord(
        target="https://bob:hunter2@scim.example.com/v2",
        embedded=False,
        profile="alohi",
        dialects=("default",),
        seed=3,
        run_tag="scf000001",
    )
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/scim",
        "GITHUB_RUN_ID": "42",
        "GITHUB_RUN_NUMBER": "7",
        "GITHUB_WORKFLOW": "conformance",
    }
    write_run_files(tmp_path, record, github)
    assert "target=https://scim.example.com/v2\n" in (tmp_path / "environment.properties").read_text()
    assert json.loads((tmp_path / "executor.json").read_text()) == {
        "name": "GitHub Actions",
        "type": "github",
        "reportName": "scimconform: SCIM conformance",
        "buildName": "conformance #7",
        "buildOrder": 7,
        "buildUrl": "https://github.com/acme/scim/actions/runs/42",
    }
    write_run_files(tmp_path / "local", record, {})
    assert not (tmp_path / "local" / "executor.json").exists()


@pytest.mark.parametrize(
    ("environ", "name", "build", "url"),
    [
        (
            {"GITLAB_CI": "true", "CI_JOB_NAME": "scim", "CI_PIPELINE_IID": "12", "CI_JOB_URL": "https://gl/j/1"},
            "GitLab CI",
            "scim #12",
            "https://gl/j/1",
        ),
        (
            {
                "TF_BUILD": "True",
                "BUILD_DEFINITIONNAME": "scim",
                "BUILD_BUILDID": "99",
                "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme/",
                "SYSTEM_TEAMPROJECT": "idp",
            },
            "Azure Pipelines",
            "scim #99",
            "https://dev.azure.com/acme/idp/_build/results?buildId=99",
        ),
    ],
)
def test_executor_from_gitlab_and_azure(environ: dict[str, str], name: str, build: str, url: str) -> None:
    executor = ci_executor(environ)
    assert executor is not None
    assert (executor["name"], executor["buildName"], executor["buildUrl"]) == (name, build, url)


def _exchange(status: int | None, body: str = "", error: str | None = None) -> Exchange:
    return Exchange(
        method="POST", url="https://x/scim/v2/Users", request_headers={}, request_body=None, status=status,
        response_body=body, raw_body=body, transport_error=error,
    )  # fmt: skip


def _judged(check: Callable[[], object]) -> CheckFailure:
    with pytest.raises(CheckFailure) as caught:
        check()
    return caught.value


TIMEOUT = "no answer within 30 s (timeout)"
USER = '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "a", "active": "False"}'
FAILURES: dict[str, tuple[Callable[[], object], str]] = {
    "schema": (lambda: checks.json_schema(_exchange(200, USER), "user"), "Schema violations"),
    "timeout": (lambda: checks.answered(_exchange(None, error=TIMEOUT)), "Timeouts and connection errors"),
    "server-error": (lambda: checks.status_code(_exchange(500, '{"detail": "boom"}'), [201]), "Server errors"),
    "wrong-status": (lambda: checks.status_code(_exchange(404), [200, 204]), "Wrong status code"),
    "wrong-value": (lambda: checks.attribute_values(_exchange(200, USER), {"userName": "b"}), "Wrong values"),
}  # fmt: skip


def _category_of(status: str, text: str) -> str | None:
    """Allure 3 takes the first category whose status and message regex (a JS search) match."""
    return next(
        (
            c["name"]
            for c in CATEGORIES
            if status in c["matchedStatuses"] and re.search(c.get("messageRegex", ""), text)
        ),
        None,
    )


@pytest.mark.parametrize(("check", "category"), FAILURES.values(), ids=FAILURES.keys())
def test_each_failure_is_filed_under_the_category_its_check_names(check: Callable[[], object], category: str) -> None:
    """The category travels with the failure, in the rendered message and in setup errors alike."""
    failure = _judged(check)
    case = load_catalogue()[0]
    failed = FailedStep(step="Read", failure=failure, exchange=_exchange(200), rule=Rule.of_case(case))
    text = str(ConformanceFailure(case=case, dialect=None, failures=(failed,)))
    assert _category_of("failed", text) == category
    assert _category_of("broken", f"setup step 'Create user' failed: {failure} (category: {failure.category})") == (
        category
    )


@pytest.mark.parametrize(
    ("status", "message", "category"),
    [
        ("broken", "target http://x unreachable: cannot connect: [Errno 111]", "Timeouts and connection errors"),
        ("skipped", "Skipped: profile alohi maps no groups", "Not supported by target or profile"),
        ("broken", "KeyError: 'user'", "Harness errors"),
    ],
)
def test_what_no_check_found_is_filed_too(status: str, message: str, category: str) -> None:
    assert _category_of(status, message) == category


# --- JUnit ----------------------------------------------------------------------------------------------


def test_junit_names_each_case_and_its_failure_holds_rule_observation_and_reproducer(reports: Path) -> None:
    testcases = {tc.get("name"): tc for tc in ET.parse(reports / "junit.xml").iter("testcase")}
    assert set(testcases) == {FAILED, WARNED, PASSED}
    failure = testcases[FAILED].find("failure")
    assert failure is not None and failure.text is not None
    assert failure.text.startswith("ENTRA-USER-010 [blocking] After a PATCH setting active to false")
    assert "observed: user schema violated at $.active: 'False'" in failure.text
    assert "fix: Accept" in failure.text
    assert re.search(r'reproduce: curl -sS -X GET \S+ .*"Authorization: Bearer \$SCIM_TOKEN"', failure.text)
    assert testcases[PASSED].find("failure") is None
    warned = testcases[WARNED]
    assert warned.find("failure") is None, "a warning is not a JUnit failure: the job is not red for it"
    properties = {p.get("name"): p.get("value") for p in warned.iter("property")}
    assert properties["scimconform.status"] == "warning"
    out = warned.find("system-out")
    assert out is not None and out.text is not None and out.text.startswith("WARNING (not blocking)\nENTRA-HTTP-001")
    assert not (reports / "allure-results" / "junit.xml").exists(), "Allure would count every case twice"


# --- summary.json ---------------------------------------------------------------------------------------


def test_summary_validates_against_its_schema_and_holds_the_verdict(reports: Path) -> None:
    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    assert schema_errors(summary, "summary") == []
    assert summary["$schema"] == "https://scimconform.example/schemas/summary.json"
    assert {(c["id"], c["status"]) for c in summary["cases"]} == {
        ("ENTRA-CONN-001", "passed"),
        ("ENTRA-USER-010", "failed"),
        ("ENTRA-HTTP-001", "warning"),
    }
    assert summary["totals"] == {"passed": 1, "failed": 1, "warning": 1, "skipped": 0, "error": 0}
    verdict = summary["verdict"]
    assert (verdict["gallery_ready"], verdict["blocking_failures"], verdict["exit_code"]) == (
        False,
        ["ENTRA-USER-010[default]"],
        1,
    )
    not_run = {entry["case"] for entry in verdict["not_run"]}
    assert "ENTRA-USER-002" in not_run and "ENTRA-USER-010[default]" not in not_run, "-k left the rest out"
    causes = {tuple(cause["cases"]): cause for cause in summary["causes"]}
    assert set(causes) == {("ENTRA-USER-010[default]",), ("ENTRA-HTTP-001",)}
    disable = causes[("ENTRA-USER-010[default]",)]
    assert disable["cause"].startswith("GET /scim/v2/Users/{id} → 200: user schema violated at $.active")
    assert disable["explains"] == 1 and disable["fix"].startswith('Accept "False"/"True" strings')


def test_summary_schema_refuses_what_a_summary_must_not_say(reports: Path) -> None:
    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    summary["target"]["url"] = "https://bob:hunter2@scim.example.com/v2"
    summary["cases"][0]["status"] = "broken"
    del summary["verdict"]["gallery_ready"]
    problems = "\n".join(schema_errors(summary, "summary"))
    assert "$.target.url" in problems and "$.cases[0].status" in problems and "'gallery_ready'" in problems


def test_summary_schema_is_the_one_the_harness_ships() -> None:
    schema = json.loads((Path(__file__).parents[1] / "schemas" / "summary.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["format"]["const"] == "scimconform-summary/3"


def test_public_url_drops_only_credentials() -> None:
    assert public_url("https://bob:hunter2@scim.example.com:8443/v2") == "https://scim.example.com:8443/v2"
    assert public_url("https://scim.example.com/v2") == "https://scim.example.com/v2"


# --- HAR --------------------------------------------------------------------------------------------------

HAR_ENTRY = {
    "type": "object",
    "required": ["startedDateTime", "time", "request", "response", "cache", "timings"],
    "properties": {
        "request": {
            "type": "object",
            "required": [
                "method",
                "url",
                "httpVersion",
                "cookies",
                "headers",
                "queryString",
                "headersSize",
                "bodySize",
            ],
        },
        "response": {
            "type": "object",
            "required": [
                "status",
                "statusText",
                "httpVersion",
                "cookies",
                "headers",
                "content",
                "redirectURL",
                "headersSize",
                "bodySize",
            ],
            "properties": {"content": {"type": "object", "required": ["size", "mimeType"]}},
        },
        "timings": {"type": "object", "required": ["send", "wait", "receive"]},
    },
}
HAR_1_2 = {
    "type": "object",
    "required": ["log"],
    "properties": {
        "log": {
            "type": "object",
            "required": ["version", "creator", "entries"],
            "properties": {"version": {"const": "1.2"}, "entries": {"type": "array", "items": HAR_ENTRY}},
        }
    },
}


def test_har_holds_every_exchange_redacted(reports: Path) -> None:
    text = (reports / "exchanges.har").read_text(encoding="utf-8")
    assert TOKEN not in text
    har = json.loads(text)
    Draft202012Validator(HAR_1_2).validate(har)
    entries = har["log"]["entries"]
    assert [e["startedDateTime"] for e in entries] == sorted(e["startedDateTime"] for e in entries)
    assert {e["request"]["method"] for e in entries} == {"GET", "POST", "PATCH", "DELETE"}
    curls = [p for p in (reports / "allure-results").glob("*-attachment.txt") if p.read_text().startswith("curl ")]
    assert len(entries) >= len(curls) > 0
    authorizations = {h["value"] for e in entries for h in e["request"]["headers"] if h["name"] == "authorization"}
    assert authorizations == {"Bearer ***"}
    patch = next(e for e in entries if e["request"]["method"] == "PATCH")
    assert patch["request"]["postData"]["mimeType"] == "application/scim+json"
    assert json.loads(patch["request"]["postData"]["text"])["Operations"]


def test_har_redacts_cookies_and_records_requests_that_got_no_answer(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/down"):
            raise httpx.ConnectError("Connection refused")
        return httpx.Response(200, headers={"Set-Cookie": "session=c00k1e-secret; Path=/"}, json={"echo": TOKEN})

    recorder = HarRecorder(tmp_path / "x.har")
    client = RecordingClient(
        Target(base_url="https://scim.example.com/v2", token=TOKEN), transport=httpx.MockTransport(handler)
    )
    client.listeners.append(EventStream([recorder]).exchange)
    client.send("GET", "/Users", headers={"Cookie": "session=c00k1e-secret"})
    client.send("GET", "/down")
    recorder.write()
    text = (tmp_path / "x.har").read_text(encoding="utf-8")
    assert "c00k1e-secret" not in text and TOKEN not in text
    ok, down = json.loads(text)["log"]["entries"]
    assert {"name": "set-cookie", "value": "***"} in ok["response"]["headers"]
    assert {"name": "cookie", "value": "***"} in ok["request"]["headers"]
    assert (down["response"]["status"], down["_error"]) == (0, "cannot connect: Connection refused")


def test_no_report_file_holds_the_token(reports: Path) -> None:
    for path in reports.rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(encoding="utf-8", errors="replace"), path


# --- pytest-xdist -------------------------------------------------------------------------------------------


def test_under_xdist_every_result_reaches_the_controller(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)
    with reference_server() as url:
        result = pytester.runpytest_subprocess(
            str(data_dir("suites")),
            "-n",
            "2",
            "--scim-url",
            url,
            "--scim-dialect",
            "default",
            "-k",
            "ENTRA-USER-00 or ENTRA-CONN",
            "--alluredir",
            "allure-results",
            "--junitxml",
            "junit.xml",
            "--scim-har",
            "run.har",
        )
    outcomes = result.parseoutcomes()
    cases = outcomes["passed"] + outcomes.get("failed", 0)
    assert cases > 4
    assert len(allure_results(pytester.path / "allure-results")) == cases
    assert (pytester.path / "allure-results" / "environment.properties").is_file()
    names = [tc.get("name", "") for tc in ET.parse(pytester.path / "junit.xml").iter("testcase")]
    assert len(names) == cases and all(re.match(r"ENTRA-[A-Z]+-\d{3}(\[\w+\])? \S", n) for n in names)
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text(encoding="utf-8"))
    assert len(summary["cases"]) == cases
    entries = json.loads((pytester.path / "run.har").read_text(encoding="utf-8"))["log"]["entries"]
    preflights = [e for e in entries if "scimconform-preflight" in e["request"]["url"]]
    assert len(preflights) == 1 + 2, "the main process's preflight and each worker's are in the one HAR file"
