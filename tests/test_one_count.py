"""One count everywhere: the summary, the console's count line, the verdict line, JUnit and Allure agree on a run that
has failures, warnings, undecided cases and skips. Red (a JUnit failure, a failed or broken Allure result) means
a blocking failure or an undecided case, and nothing else: a warning is visible but passes."""

import contextlib
import io
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from scimconform.cli import main
from tests.harness import TOKEN, Outcome, reference_server
from tests.hostile import Connection, HostileServer, hostile_server

ERROR = b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", "detail": "refused"}'


def refused(connection: Connection) -> None:
    """A create refused in every form (a 4xx, so the client does not retry it)."""
    connection.send(400, [("Content-Type", "application/scim+json")], ERROR)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """POST /Users refused in every form (ENTRA-USER-002 fails, every case that needs a
    user is undecided), JSON served as application/json (the ENTRA-HTTP-001 warning), and a static token over
    http (the OAuth and TLS cases skipped)."""
    report_dir = tmp_path_factory.mktemp("one-count")
    with pytest.MonkeyPatch.context() as patch, reference_server("json-content-type") as upstream:
        patch.setenv("SCIM_TOKEN", TOKEN)
        with hostile_server(upstream, HostileServer(refused)) as url:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = main(
                    ["run", "--url", url, "--report-dir", str(report_dir), "--seed", "11", "--dialect", "default",
                     "--users", "3", "--throughput-seconds", "0", "-k", "ENTRA-USER-00 or ENTRA-HTTP or ENTRA-AUTH"]
                )  # fmt: skip
    return Outcome(code, out.getvalue(), "", report_dir)


def test_every_kind_of_verdict_is_in_the_run(outcome: Outcome) -> None:
    totals = outcome.summary["totals"]
    assert all(totals[status] for status in ("passed", "failed", "warning", "skipped", "error")), totals
    assert outcome.code == 1


def test_the_console_counts_what_the_summary_counts(outcome: Outcome) -> None:
    totals = outcome.summary["totals"]
    counted = next(line for line in outcome.out.splitlines() if re.match(r"\d+ cases in [\d.]+ s: ", line))
    shown = {kind: int(n) for n, kind in re.findall(r"(\d+) (failed|passed|warning|skipped|error)", counted)}
    assert shown == {status: n for status, n in totals.items() if n}


def test_the_verdict_line_counts_the_blocking_failures(outcome: Outcome) -> None:
    blocking = outcome.summary["totals"]["failed"] + outcome.summary["totals"]["error"]
    assert f"NOT READY — {blocking} blocking failures" in outcome.out.splitlines()[-1]


def test_junit_is_red_exactly_for_blocking_failures_and_undecided_cases(outcome: Outcome) -> None:
    totals = outcome.summary["totals"]
    testcases = list(ET.parse(outcome.report_dir / "junit.xml").iter("testcase"))
    red = [tc for tc in testcases if tc.find("failure") is not None or tc.find("error") is not None]
    skipped = [tc for tc in testcases if tc.find("skipped") is not None]
    assert len(red) == totals["failed"] + totals["error"]
    assert len(skipped) == totals["skipped"]
    warned = [tc for tc in testcases if any(p.get("value") == "warning" for p in tc.iter("property"))]
    assert len(warned) == totals["warning"] and not any(tc in red for tc in warned)


def test_allure_is_red_exactly_for_blocking_failures_and_undecided_cases(outcome: Outcome) -> None:
    totals = outcome.summary["totals"]
    results = [json.loads(p.read_text()) for p in (outcome.report_dir / "allure-results").glob("*-result.json")]
    statuses = Counter(result["status"] for result in results)
    assert statuses["failed"] + statuses["broken"] == totals["failed"] + totals["error"]
    assert statuses["skipped"] == totals["skipped"]
    assert statuses["passed"] == totals["passed"] + totals["warning"]
    tagged = [r for r in results if {"name": "tag", "value": "warning"} in r["labels"]]
    assert len(tagged) == totals["warning"]


def test_summary_json_is_where_the_counts_come_from(outcome: Outcome) -> None:
    summary = json.loads((Path(outcome.report_dir) / "summary.json").read_text(encoding="utf-8"))
    counted = Counter(case["status"] for case in summary["cases"])
    assert {status: counted[status] for status in summary["totals"]} == summary["totals"]
