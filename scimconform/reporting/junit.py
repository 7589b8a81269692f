"""Readable JUnit testcase names (`ENTRA-USER-010[default] Disable a user…` instead of `test_case[…]`), and
warnings that show without failing: a broken SHOULD passes, with the failure in its `<system-out>` and a
`scimconform.status` property of `warning`, so a CI dashboard is red only for what makes the run exit 1.

pytest's `record_xml_attribute` fixture does the same but warns (experimental), and runs in xdist
workers, which have no JUnit writer. Setting the attribute on the writer's node reporter from the
report works in the controller and in a plain session alike.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from _pytest.junitxml import bin_xml_escape, xml_key


def name_testcase(config: pytest.Config, report: pytest.TestReport, name: str) -> None:
    """Give the report's <testcase> this name, when a JUnit file is being written."""
    writer = config.stash.get(xml_key, None)
    if writer is not None:
        writer.node_reporter(report).add_attribute("name", name)


def mark_warning(config: pytest.Config, report: pytest.TestReport, text: str) -> None:
    """Show a broken SHOULD on the report's passing <testcase>."""
    writer = config.stash.get(xml_key, None)
    if writer is not None:
        reporter = writer.node_reporter(report)
        reporter.add_property("scimconform.status", "warning")
        out = ET.Element("system-out")
        out.text = bin_xml_escape(f"WARNING (not blocking)\n{text}")
        reporter.append(out)
