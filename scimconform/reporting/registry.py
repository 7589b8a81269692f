"""Which reporters a run builds. Each entry makes one `scimconform.events.Reporter` from the pytest config,
or None when that report was not asked for. Every reporter is also registered as a pytest plugin, so one
that needs pytest's hooks (the HAR recorder gathers what pytest-xdist workers recorded) has them.

A new report format is a module in this package and one line in REPORTERS (docs/contributing.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scimconform.events import EventStream, Reporter
from scimconform.reporting.allure import AllureRunFiles, AllureSteps
from scimconform.reporting.har import HarRecorder

REPORTERS: tuple[Callable[[pytest.Config], Reporter | None], ...] = (
    lambda config: AllureSteps(),
    lambda config: AllureRunFiles(Path(path)) if (path := config.getoption("allure_report_dir", None)) else None,
    lambda config: HarRecorder(Path(path)) if (path := config.getoption("scim_har", None)) else None,
)


def event_stream(config: pytest.Config) -> EventStream:
    """This process's reporters, in registry order, behind one stream."""
    reporters = [reporter for build in REPORTERS if (reporter := build(config)) is not None]
    for reporter in reporters:
        config.pluginmanager.register(reporter)
    return EventStream(reporters)
