"""A server that never returns a group's members — Entra allows it ("It isn't necessary to support
returning all the members of the group") — is judged by `id eq … and members eq …` queries instead:
it passes when its memberships are right and fails, in the same cases, when they are not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from scimconform.server import ReferenceServer, serve_in_thread
from tests.harness import TOKEN, expand, run_cli
from tests.test_verdicts import EXPECTED

GROUP_CASES = "ENTRA-GROUP-007 or ENTRA-GROUP-008 or ENTRA-CYCLE"
FALLBACK_STEP = "(the GET returned no members)"


class MembersNotReturned(ReferenceServer):
    """The reference server, with `members` left out of every group it returns by id."""

    def _get(self, request: Request, kind: str, rid: str) -> Response:
        response = super()._get(request, kind, rid)
        if kind == "Groups":
            body = json.loads(response.get_data())
            body.pop("members", None)
            response.set_data(json.dumps(body))
        return response


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)


@pytest.mark.parametrize("fault", [None, "only-first-member-added", "member-remove-list-removes-all"])
def test_memberships_are_judged_by_filter(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fault: str | None
) -> None:
    app = MembersNotReturned(token=TOKEN, faults=[fault] if fault else [])
    with serve_in_thread(app) as url:
        outcome = run_cli(capsys, tmp_path, "--url", url, "--users", "3", "-k", GROUP_CASES)
    judged = {case["id"] for case in outcome.summary["cases"] if case["status"] != "skipped"}
    assert judged == {"ENTRA-GROUP-007", "ENTRA-GROUP-008", "ENTRA-CYCLE-001", "ENTRA-CYCLE-002"}
    caught = {name for name in expand(EXPECTED[fault]) if name.split("-")[1] in ("GROUP", "CYCLE")} if fault else set()
    assert outcome.names("failed", "warning", "error") == caught
    steps = "".join(path.read_text() for path in (tmp_path / "allure-results").glob("*-result.json"))
    assert FALLBACK_STEP in steps
    assert outcome.summary["leftovers"] == []


def test_a_refused_member_query_alone_is_a_warning(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The `members eq` query is Entra's way of asking, but no public capture shows its exact form: a server that
    refuses it (here: no `and` filters) is warned, and told why, but not failed for it (issue #14)."""
    app = MembersNotReturned(token=TOKEN, faults=["and-filter-unsupported"])
    with serve_in_thread(app) as url:
        outcome = run_cli(capsys, tmp_path, "--url", url, "--users", "3", "-k", "ENTRA-GROUP-007[default]")
    (case,) = [case for case in outcome.summary["cases"] if case["id"] == "ENTRA-GROUP-007"]
    assert case["status"] == "warning" and case["severity"] == "warning", case
    assert case["failures"] and all(failure.get("inferred") for failure in case["failures"])
    assert FALLBACK_STEP in case["failures"][0]["step"]
    assert outcome.code == 0
    junit = "".join(path.read_text() for path in tmp_path.glob("**/*.xml"))
    assert "evidence: inferred form (alone, a warning)" in outcome.out + outcome.err + junit


def test_a_wrong_answer_to_the_member_query_still_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Answered, the inferred query was understood: a membership it says is missing is a blocking failure."""
    app = MembersNotReturned(token=TOKEN, faults=["only-first-member-added"])
    with serve_in_thread(app) as url:
        outcome = run_cli(capsys, tmp_path, "--url", url, "--users", "3", "-k", "ENTRA-GROUP-007[default]")
    (case,) = [case for case in outcome.summary["cases"] if case["id"] == "ENTRA-GROUP-007"]
    assert case["status"] == "failed" and not any(failure.get("inferred") for failure in case["failures"]), case
    assert outcome.code == 1
