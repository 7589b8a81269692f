"""The groups cases: each is a YAML file in fixtures/sequences/groups/; this module only runs them."""

import pytest

from scimconform.engine.case_run import CaseRun

pytestmark = pytest.mark.scim_suite("groups")


def test_case(scim_case: CaseRun) -> None:
    scim_case.run()
