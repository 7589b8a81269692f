"""Readable JUnit testcase names: `ENTRA-USER-010[default] Disable a user…` instead of `test_case[…]`.

pytest's `record_xml_attribute` fixture does the same but warns (experimental), and runs in xdist
workers, which have no JUnit writer. Setting the attribute on the writer's node reporter from the
report works in the controller and in a plain session alike.
"""

from __future__ import annotations

import pytest
from _pytest.junitxml import xml_key


def name_testcase(config: pytest.Config, report: pytest.TestReport, name: str) -> None:
    """Give the report's <testcase> this name, when a JUnit file is being written."""
    writer = config.stash.get(xml_key, None)
    if writer is not None:
        writer.node_reporter(report).add_attribute("name", name)
