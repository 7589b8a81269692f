"""Which reporters a run builds. Each entry of REPORTERS makes one `scimconform.events.Reporter` from a
`ReportRequest` — what this process was asked to report, by pytest's options or by `scimconform load` — and
may declare the option that switches it on, which the pytest plugin and `scimconform run` then offer.

A new report format is a module in this package and one line in REPORTERS (docs/contributing.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from scimconform.events import Reporter
from scimconform.reporting.allure import AllureRunFiles, AllureSteps
from scimconform.reporting.console import ConsoleVerdict
from scimconform.reporting.har import HarRecorder
from scimconform.reporting.progress import Display, RunConsole
from scimconform.reporting.repro import ReproWriter
from scimconform.reporting.summary import SummaryWriter
from scimconform.settings import cli_flag, plugin_option

Command = Literal["run", "load"]  # `run` is every conformance run: `scimconform run` and `pytest suites`


@dataclass(frozen=True, kw_only=True)
class ReportRequest:
    """What this process is asked to report, however it was asked, so no reporter reads pytest's options."""

    command: Command
    report_dir: Path
    run_tag: str
    allure_dir: Path | None = None
    junit: Path | None = None
    files: Mapping[str, Path] = field(default_factory=dict)  # each report option given: its name → the file
    controller: bool = True  # the process that writes the run's files: not a pytest-xdist worker
    out: TextIO | None = None  # where the verdict is printed when the run ends; None: pytest's terminal summary
    display: Display | None = None  # `scimconform run`'s own console, in place of pytest's output and `out`

    @property
    def summary(self) -> Path:
        return self.report_dir / "summary.json"

    @property
    def written(self) -> list[str]:
        """Every file or folder the run's reports go to, as the verdict lists them."""
        return [str(p) for p in (self.junit, self.allure_dir, *self.files.values()) if p] + [str(self.summary)]


@dataclass(frozen=True)
class ReportOption:
    """The option that switches a report on and names its file: `--<name> FILE` on `scimconform run`,
    `--scim-<name> FILE` for pytest (the settings' spellings), `files[name]` in the request."""

    name: str
    help: str

    @property
    def cli_flag(self) -> str:
        return cli_flag(self.name)

    @property
    def plugin_option(self) -> str:
        return plugin_option(self.name)

    @property
    def dest(self) -> str:
        """pytest's and argparse's attribute for the option."""
        return "scim_" + self.name


@dataclass(frozen=True, kw_only=True)
class ReportFormat:
    """One report: how to build its reporter, the option that asks for it (built only when given), and the
    commands that write it (`scimconform load` replays no case, so writes no per-case report)."""

    build: Callable[[ReportRequest], Reporter | None]
    option: ReportOption | None = None
    commands: tuple[Command, ...] = ("run",)


REPORTERS: tuple[ReportFormat, ...] = (
    ReportFormat(build=lambda request: AllureSteps()),
    ReportFormat(
        build=lambda request: AllureRunFiles(request.allure_dir) if request.allure_dir else None,
        commands=("run", "load"),
    ),
    ReportFormat(
        build=lambda request: HarRecorder(request.files["har"]),
        option=ReportOption("har", "write every HTTP exchange, secrets redacted, to this HAR 1.2 file"),
    ),
    ReportFormat(build=lambda request: SummaryWriter(request.summary), commands=("run", "load")),
    ReportFormat(
        build=lambda request: ReproWriter(request.report_dir / "repro", request.run_tag, controller=request.controller)
    ),
    ReportFormat(
        build=lambda request: (
            ConsoleVerdict(request.written, out=request.out, load=request.command == "load")
            if request.display is None
            else RunConsole(request.display, request.written)
        ),
        commands=("run", "load"),
    ),
)


def report_options(command: Command = "run") -> list[ReportOption]:
    """The options of the reports `command` writes, in registry order."""
    return [f.option for f in REPORTERS if f.option is not None and command in f.commands]


def reporters(request: ReportRequest) -> list[Reporter]:
    """This process's reporters, in registry order: every report its command writes that was asked for."""
    return [
        reporter
        for f in REPORTERS
        if request.command in f.commands
        and (f.option is None or f.option.name in request.files)
        and (reporter := f.build(request)) is not None
    ]
