"""Report writers. Each one is a `scimconform.events.Reporter`; REPORTERS says which a conformance run
builds, from the pytest config and the Tenant URL (None: that report was not asked for). Nothing upstream
imports a reporter: the engine only emits events.

A new report format is a module here and one line below (docs/contributing.md).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scimconform.events import Reporter
from scimconform.reporting.allure import AllureSteps
from scimconform.reporting.har import HAR_PLUGIN, HarRecorder


def _har(config: pytest.Config, base_url: str) -> Reporter | None:
    """The HAR file, when --scim-har names one. The recorder is also a pytest plugin, registered when the
    session is configured, since the xdist controller (which runs no case) gathers and writes the file."""
    recorder = config.pluginmanager.get_plugin(HAR_PLUGIN)
    return recorder if isinstance(recorder, HarRecorder) else None


REPORTERS: tuple[Callable[[pytest.Config, str], Reporter | None], ...] = (
    lambda config, base_url: AllureSteps(base_url),
    _har,
)


def reporters_for(config: pytest.Config, base_url: str) -> list[Reporter]:
    """The reporters this session writes, in registry order."""
    return [reporter for build in REPORTERS if (reporter := build(config, base_url)) is not None]
