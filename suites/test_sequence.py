"""The case files a run is given (`scimconform run --sequence FILE`), run besides the bundled suites."""

import pytest

from scimconform.engine.case_run import CaseRun

pytestmark = pytest.mark.scim_suite("sequence")


def test_case(scim_case: CaseRun) -> None:
    scim_case.run()
