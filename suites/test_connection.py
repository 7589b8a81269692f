"""The connection cases: each is a YAML file in fixtures/sequences/connection/; this module only runs them."""

import pytest

from scimconform.engine.case_run import CaseRun

pytestmark = pytest.mark.scim_suite("connection")


def test_case(scim_case: CaseRun) -> None:
    scim_case.run()
