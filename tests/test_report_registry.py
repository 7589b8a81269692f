"""The report registry is the one place a report format is declared: a format with an option of its own is
one module and one registry line, its option offered by `pytest` and `scimconform run` alike, and a report
writer that fails is noted once, in summary.json and on the console, without stopping the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scimconform.cli import main
from scimconform.datafiles import data_dir
from scimconform.events import Event, ExchangeRecorded, RunFinished
from scimconform.reporting import registry
from scimconform.reporting.registry import ReportFormat, ReportOption
from tests.harness import TOKEN, FailingReporter, reference_server

ONE_CASE = ("-k", "ENTRA-CONN-001")


class Tally:
    """A report format of the tests' own: how many exchanges the run recorded, written to the option's file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.exchanges = 0

    def handle(self, event: Event) -> None:
        if isinstance(event, ExchangeRecorded):
            self.exchanges += 1
        elif isinstance(event, RunFinished):
            self.path.write_text(str(self.exchanges), encoding="utf-8")


TALLY = ReportFormat(
    build=lambda request: Tally(request.files["tally"]),
    option=ReportOption("tally", "count the exchanges of the run into this file"),
)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)


def register(monkeypatch: pytest.MonkeyPatch, *formats: ReportFormat) -> None:
    """Add `formats` to the registry for this test, as a new report's one line would."""
    monkeypatch.setattr(registry, "REPORTERS", (*registry.REPORTERS, *formats))


def run_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_each_report_option_is_offered_by_pytest_and_by_run(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    register(monkeypatch, TALLY)
    pytest_help = " ".join(pytester.runpytest("--help").stdout.str().split())
    cli_help = run_help(capsys)
    options = {option.name: option.help for option in registry.report_options()}
    assert {"har", "tally"} <= set(options), "the HAR file's option, and the new format's, from the registry"
    for name, text in options.items():
        assert f"--scim-{name}=FILE {text}" in pytest_help, name
        assert f"--{name} FILE {text}" in cli_help, name


def test_a_registered_format_writes_its_file_when_its_option_is_given(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    register(monkeypatch, TALLY)
    result = pytester.runpytest(str(data_dir("suites")), *ONE_CASE, "--scim-tally", "pytest.tally")
    result.assert_outcomes(passed=1)
    assert int((pytester.path / "pytest.tally").read_text(encoding="utf-8")) > 0
    code = main(["run", "--report-dir", str(tmp_path), "--tally", str(tmp_path / "run.tally"), *ONE_CASE])
    assert code == 0, capsys.readouterr()
    assert int((tmp_path / "run.tally").read_text(encoding="utf-8")) > 0
    assert f"{tmp_path / 'run.tally'}" in capsys.readouterr().out, "the verdict lists it among the reports"


def test_a_format_is_built_when_its_option_is_given_for_the_commands_it_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`scimconform load` replays no case: it writes the summary, the Allure files and the verdict only."""
    register(monkeypatch, TALLY)

    def built(command: registry.Command, **asked: Any) -> list[str]:
        request = registry.ReportRequest(command=command, report_dir=tmp_path, run_tag="scf000001", **asked)
        return [type(reporter).__name__ for reporter in registry.reporters(request)]

    assert "Tally" not in built("run")
    assert built("run", files={"tally": tmp_path / "run.tally"}).count("Tally") == 1
    assert built("load", allure_dir=tmp_path / "allure-results") == [
        "AllureRunFiles",
        "SummaryWriter",
        "ConsoleVerdict",
    ]


def test_a_failing_report_writer_is_noted_once_and_the_run_goes_on(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(monkeypatch, ReportFormat(build=lambda request: FailingReporter()))
    with reference_server() as url:
        result = pytester.runpytest(str(data_dir("suites")), "--scim-url", url, *ONE_CASE)
    result.assert_outcomes(passed=1)
    summary = json.loads((pytester.path / "reports" / "summary.json").read_text(encoding="utf-8"))
    note = "FailingReporter failed on RunStarted: RecursionError('maximum recursion depth exceeded near ***')"
    assert summary["report_errors"] == [note], "once, for its first failure, with the token redacted"
    assert summary["totals"]["passed"] == 1 and summary["leftovers"] == []
    result.stdout.fnmatch_lines([f"REPORT {note} (the verdict stands; that report may be incomplete)"])
