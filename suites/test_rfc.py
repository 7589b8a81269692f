"""The rfc cases: each is a YAML file in fixtures/sequences/rfc/; this module only runs them."""

import pytest

from scimconform.engine.case_run import CaseRun

pytestmark = pytest.mark.scim_suite("rfc")


def test_case(scim_case: CaseRun) -> None:
    scim_case.run()
