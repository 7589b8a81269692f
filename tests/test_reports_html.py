"""The HTML report: built by the pinned Allure 3, free of analytics, and readable in a real browser.

The browser test drives Debian's Chromium with playwright-core (both installed by `.ci/run`). It skips
only where Node, the npm packages or Chromium are genuinely missing, and never in CI (`CI` set), where
a missing tool is a broken CI script, not a reason to pass.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scimconform.cli import main
from scimconform.reporting import html
from tests.harness import TOKEN, run_against, run_cli

pytestmark = pytest.mark.slow  # whole conformance runs: listed first (conftest.py)

ROOT = Path(__file__).resolve().parents[1]
BROWSER_SCRIPT = Path(__file__).with_name("report_in_browser.mjs")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FAILED = "ENTRA-USER-010[default] Disable a user with active=false; it stays visible"
GROUP_FAILED = "ENTRA-GROUP-003 GET /Groups/{id}?excludedAttributes=members returns the group without members"
WARNED = "ENTRA-USER-005 Filter by userName ignores case"  # a SHOULD rule: filter-username-case-sensitive warns
# Words of pytest and Python a reader of the report must not meet (issue #15): fixtures, test names, classes.
INTERNALS = ("scim_session", "scim_case", "test_case", "test_users", "ConformanceFailure", "CheckFailure")


def require(available: bool, what: str) -> None:
    """Skip with the reason when a tool is missing on a developer's machine; fail in CI."""
    if not available:
        reason = f"{what} is not installed (bash .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test, but {reason}")
        pytest.skip(reason)


def test_the_generator_is_pinned_once_and_installs_offline() -> None:
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    assert package["dependencies"]["allure"] == html.ALLURE_VERSION
    assert lock["packages"]["node_modules/allure"]["version"] == html.ALLURE_VERSION
    installed = {name: entry for name, entry in lock["packages"].items() if name}
    # `npm ci --offline` from a cache needs every package's tarball URL and hash (docs/allure-notes.md,
    # "Offline install").
    assert all(entry.get("resolved") and entry.get("integrity") for entry in installed.values())


def generator_installed() -> bool:
    try:
        html.generator(os.environ)
    except html.ReportToolMissing:
        return False
    return True


def fake_results(report_dir: Path) -> Path:
    results = report_dir / "allure-results"
    results.mkdir(parents=True)
    (results / "0-result.json").write_text("{}", encoding="utf-8")
    return report_dir


def test_report_without_node_says_in_one_line_how_to_install(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(html.ALLURE_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no node here
    assert main(["report", "--report-dir", str(fake_results(tmp_path / "reports"))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Node.js 20 or newer" in err and f"`npm ci --omit=dev` in {ROOT}" in err


def test_report_without_the_npm_package_names_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(shutil.which("node") is not None, "Node.js")
    monkeypatch.delenv(html.ALLURE_ENV, raising=False)
    monkeypatch.setattr(html, "CHECKOUT", tmp_path)  # an installed wheel: no package.json beside the code
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--report-dir", str(fake_results(tmp_path / "reports"))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Node.js" not in err
    assert f"`npm install allure@{html.ALLURE_VERSION}`" in err and html.ALLURE_ENV in err


def test_report_with_a_bad_generator_path_or_no_results(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["report", "--report-dir", str(tmp_path)]) == 2
    assert "no Allure results in" in capsys.readouterr().err
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(html.ALLURE_ENV, str(tmp_path / "nothing"))
        assert main(["report", "--report-dir", str(fake_results(tmp_path / "reports"))]) == 2
    assert f"{html.ALLURE_ENV}={tmp_path / 'nothing'} is not an executable" in capsys.readouterr().err


def test_run_html_without_node_still_gives_the_verdict(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(html.ALLURE_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    outcome = run_cli(capsys, tmp_path / "reports", "-k", "ENTRA-CONN-001", "--html")
    assert outcome.code == 0
    assert [line for line in outcome.err.splitlines() if "HTML" in line] == [
        f"scimconform: no HTML report: {html.install_hint(node_missing=True)}"
    ]
    assert "Entra gallery readiness: NOT JUDGED for the gallery" in outcome.out, "-k ran one case: the verdict stands"
    assert not (tmp_path / "reports" / "allure-report").exists()


def browse(page: Path, screenshot: Path) -> dict[str, Any]:
    """What a reader sees in the report, as reported by tests/report_in_browser.mjs."""
    done = subprocess.run(
        ["node", str(BROWSER_SCRIPT), str(page), str(screenshot), CHROMIUM, FAILED, WARNED.split()[0]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_html_report_opens_with_the_verdict_and_shows_cases_steps_and_curl_in_a_browser(tmp_path: Path) -> None:
    """The screenshots land in the test's tmp dir: report.png (the opening view), report-failed.png and
    report-warning.png (one case each). To look at them: `pytest -n 0 --basetemp=/tmp/scf-html -k in_a_browser
    tests/test_reports_html.py`, then `find /tmp/scf-html -name 'report*.png'` and open them."""
    require(shutil.which("node") is not None, "Node.js")
    require(generator_installed(), "the npm package allure (npm ci)")
    require((ROOT / "node_modules" / "playwright-core").is_dir(), "playwright-core (npm ci)")
    require(os.access(CHROMIUM, os.X_OK), "Chromium (apt-get install chromium)")
    reports = tmp_path / "reports"
    cases = "ENTRA-USER-010 or ENTRA-CONN-001 or ENTRA-USER-004 or ENTRA-GROUP-003 or ENTRA-USER-005"
    faults = ["false-string-stored", "excluded-members-ignored", "filter-username-case-sensitive"]
    assert run_against(reports, faults, "--dialect", "default", "-k", cases, "--html") == 1
    page = reports / "allure-report" / "index.html"
    assert [p.name for p in page.parent.iterdir()] == ["index.html"]
    text = page.read_text(encoding="utf-8")
    assert "googletagmanager" not in text and TOKEN not in text

    screenshot = tmp_path / "report.png"
    shown = browse(page, screenshot)
    # The verdict comes first, above Allure's own header: the console's last line, then the causes.
    readiness = json.loads((reports / "summary.json").read_text(encoding="utf-8"))["verdict"]["readiness"]
    assert readiness.startswith("Entra gallery readiness: NOT READY — 2 blocking failures"), readiness
    assert shown["opening"].startswith(f"NOT READY\n\n{readiness}\n"), shown["opening"]
    assert shown["verdictFirst"], "the verdict stands above the report's header"
    assert "1 warning" in shown["opening"] and "Root causes" in shown["texts"][0]
    # A warning passes, and nothing in its view is marked failed.
    assert shown["warningLeafStatus"] == "tree-leaf-status-passed"
    assert shown["warningFailedMarks"] == 0 and WARNED in shown["warningView"]
    assert "observed: expected totalResults 1, got 0" in shown["warningView"]
    for text in shown["texts"]:  # the opening view, the failed case and the warning case, every step unfolded
        assert not [word for word in INTERNALS if word in text]
        assert not {"host", "thread"} & set(text.splitlines()), "labels only a developer needs are hidden"
    assert "Clean up after the case" in shown["texts"][1]
    assert shown["total"] == "5"
    assert sorted(shown["failedTitles"]) == [GROUP_FAILED, FAILED], "exactly the two faults' cases failed"
    assert shown["failed"] == FAILED
    # Around Entra's POST, the ledger's own reads: what the user's filter found before it (so nothing that was
    # there already is ever taken for the run's) and the created user read back by id.
    steps = shown["steps"]
    assert steps[0] == "Setup: Create user" and steps[1].startswith('GET /Users?filter=userName eq "')
    assert steps[2:8] == [
        "POST /Users → 201",
        "GET /Users/{id} → 200",
        "Entra disables the user",
        "PATCH /Users/{id} → 200",
        "Read the disabled user",
        "GET /Users/{id} → 200",
    ]
    assert re.match(r"curl -sS -X GET '?http://127\.0\.0\.1:", shown["curl"]), shown["curl"]
    assert shown["curl"].endswith('-H "Authorization: Bearer $SCIM_TOKEN"')
    assert shown["outside"] == [], "the report calls nobody"
    assert screenshot.stat().st_size > 10_000
