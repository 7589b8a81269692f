"""The conformance suites under pytest-xdist: the same verdicts as a serial run, one report, nothing left.

Both runs go to one shared reference server. Without --scim-url every xdist worker starts its own
embedded server; that is correct too (every case creates and deletes its own resources), so only the
shared target, where workers could disturb each other, needs proving.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from scimconform.datafiles import data_dir
from scimconform.server import ReferenceServer, serve_in_thread
from tests.harness import TOKEN

pytestmark = pytest.mark.slow  # whole conformance runs: listed first (conftest.py)

# Paging over /Users while the other worker creates and deletes users may end undecided, an error
# (RFC 7644 §3.4.2.4: results may differ when the collection changes); it must never end failed.
CHURNED = "the collection changed while paging"


def verdicts(report_dir: Path) -> tuple[dict[str, str], dict[str, object]]:
    summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    cases = {
        f"{case['id']}[{case['dialect']}]": "undecided" if case["message"].startswith(CHURNED) else case["status"]
        for case in summary["cases"]
    }
    return cases, summary["verdict"] | {"leftovers": summary["leftovers"]}


def test_two_workers_judge_like_one_and_leave_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)
    app = ReferenceServer(token=TOKEN)
    common = [str(data_dir("suites")), "--scim-dialect", "aadOptscim062020", "--scim-seed", "3"]
    # The 25 requests/second case measures this machine's load as much as the server; it has its own tests.
    common += ["--scim-throughput-seconds", "0"]
    with serve_in_thread(app) as url:
        serial = pytester.runpytest_subprocess(*common, "--scim-url", url, "--scim-report-dir", "serial")
        parallel = pytester.runpytest_subprocess(
            *common, "--scim-url", url, "--scim-report-dir", "parallel", "-n", "2", "--alluredir", "allure"
        )
    assert app.resource_count() == {"User": 0, "Group": 0}
    serial_cases, serial_verdict = verdicts(pytester.path / "serial")
    parallel_cases, parallel_verdict = verdicts(pytester.path / "parallel")
    assert len(serial_cases) > 40
    undecided = {name for name, status in parallel_cases.items() if status == "undecided"}
    assert undecided <= {"ENTRA-GAL-023[None]", "ENTRA-GAL-024[None]"}
    assert {n: s for n, s in parallel_cases.items() if n not in undecided} == {
        n: s for n, s in serial_cases.items() if n not in undecided
    }
    if not undecided:  # an undecided case is an error, and errors fail the run
        assert parallel_verdict == serial_verdict
        assert serial.ret == parallel.ret
    assert serial_verdict["leftovers"] == [] and parallel_verdict["leftovers"] == []
    assert len(list((pytester.path / "allure").glob("*-result.json"))) == len(parallel_cases)


class DeletesFail(ReferenceServer):
    """Every DELETE is refused, so whatever a run creates stays behind."""

    def _delete(self, request: Request, kind: str, rid: str) -> Response:
        return Response('{"status": "500"}', status=500, content_type="application/scim+json")


def test_what_workers_could_not_delete_is_reported_by_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker cleans up in its own process; the summary, written by the controller, lists it all."""
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)
    app = DeletesFail(token=TOKEN)
    args = [str(data_dir("suites")), "-k", "ENTRA-USER-002 or ENTRA-USER-003 or ENTRA-USER-004", "-n", "2"]
    with serve_in_thread(app) as url:
        result = pytester.runpytest_subprocess(*args, "--scim-url", url, "--scim-report-dir", "reports")
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text(encoding="utf-8"))
    held = app.resource_count()["User"]
    assert held >= 3
    assert len(summary["leftovers"]) == held, summary["leftovers"]
    assert summary["verdict"]["gallery_ready"] is False and summary["verdict"]["exit_code"] == 1
    assert summary["ledgers"] and all(Path(pytester.path, p).exists() for p in summary["ledgers"])
    assert "LEFT" in result.stdout.str()
