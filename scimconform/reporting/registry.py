"""Which reporters a run builds. Each entry makes one `scimconform.events.Reporter` from the pytest config
and the report folder, or None when that report was not asked for. Every reporter is also registered as a
pytest plugin, so one that needs pytest's hooks has them: the HAR recorder gathers what pytest-xdist workers
recorded, the console verdict prints in pytest's terminal summary.

A new report format is a module in this package and one line in REPORTERS (docs/contributing.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from scimconform.events import EventStream, Reporter
from scimconform.identities import RUN_TAG_ENV
from scimconform.reporting.allure import AllureRunFiles, AllureSteps
from scimconform.reporting.console import ConsoleVerdict
from scimconform.reporting.har import HarRecorder
from scimconform.reporting.repro import ReproWriter
from scimconform.reporting.summary import SummaryWriter

REPORTERS: tuple[Callable[[pytest.Config, Path], Reporter | None], ...] = (
    lambda config, report_dir: AllureSteps(),
    lambda config, report_dir: AllureRunFiles(Path(d)) if (d := config.getoption("allure_report_dir", None)) else None,
    lambda config, report_dir: HarRecorder(Path(path)) if (path := config.getoption("scim_har", None)) else None,
    lambda config, report_dir: SummaryWriter(report_dir / "summary.json"),
    # The run tag is the plugin's by now (an xdist worker inherits it); only the controller clears and indexes.
    lambda config, report_dir: ReproWriter(
        report_dir / "repro", os.environ[RUN_TAG_ENV], controller=not hasattr(config, "workerinput")
    ),
    lambda config, report_dir: ConsoleVerdict(config, report_dir / "summary.json"),
)


def event_stream(config: pytest.Config, report_dir: Path, errors: list[str]) -> EventStream:
    """This process's reporters, in registry order, behind one stream; their failures go to `errors`."""
    reporters = [reporter for build in REPORTERS if (reporter := build(config, report_dir)) is not None]
    for reporter in reporters:
        config.pluginmanager.register(reporter)
    return EventStream(reporters, errors=errors)
