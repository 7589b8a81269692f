"""One defect never hides another: a refused request shape is judged once, by the case that owns it, while every
other case sets up in a plainer form and is judged on its own behaviour; a case goes on past a failed step and
reports every step that failed; each failure names the rule that actually broke."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.wrappers import Request, Response

from scimconform.datafiles import data_dir
from scimconform.server import ReferenceServer, serve_in_thread
from scimconform.server.errors import ScimError
from scimconform.server.resources import RESOURCE_TYPES
from tests.harness import TOKEN, Outcome, expand, reference_server, run_cli

pytestmark = pytest.mark.slow  # whole conformance runs: listed first (conftest.py)

EXPECTED: dict[str, Any] = yaml.safe_load((data_dir("fixtures") / "faults.yaml").read_text())
REFUSAL = "unknown-schema-uri-refused"  # Entra's Create Group body refused, as scim2-server does
GROUP_FAULTS = [
    "duplicate-displayname-accepted",
    "member-remove-list-removes-all",
    "members-filter-path-unsupported",
    "only-first-member-added",
    "excluded-members-ignored",
]


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)


def run(capsys: pytest.CaptureFixture[str], report_dir: Path, *faults: str) -> Outcome:
    with reference_server(*faults) as url:
        return run_cli(capsys, report_dir, "--url", url, "--users", "3")


def failures_of(outcome: Outcome, name: str) -> list[dict[str, Any]]:
    (case,) = (c for c in outcome.summary["cases"] if f"{c['id']}[{c['dialect']}]".replace("[None]", "") == name)
    failures: list[dict[str, Any]] = case["failures"]
    return failures


@pytest.mark.parametrize("fault", GROUP_FAULTS)
def test_a_refused_group_create_hides_no_group_defect(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fault: str
) -> None:
    outcome = run(capsys, tmp_path, REFUSAL, fault)
    assert outcome.names("error") == set(), "every case could set up its group in a plainer form"
    assert outcome.names("failed", "warning") == expand(EXPECTED[fault]) | {"ENTRA-GROUP-002"}
    fell_back = [c for c in outcome.summary["cases"] if c["fallbacks"]]
    assert fell_back and all(
        c["fallbacks"][0]["judged_by"] == "ENTRA-GROUP-002" for c in fell_back if c["id"] != "ENTRA-GROUP-002"
    )
    assert outcome.summary["verdict"]["unjudged_refusals"] == [], "ENTRA-GROUP-002 failed for exactly that refusal"
    causes = [cause["cause"] for cause in outcome.summary["causes"]]
    assert sum("unknown schema" in cause for cause in causes) == 1, "the refusal is one cause, owned by one case"


def test_two_defects_on_one_cycle_are_both_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    outcome = run(capsys, tmp_path, "duplicate-username-accepted", "readd-member-conflict")
    steps = [failure["step"] for failure in failures_of(outcome, "ENTRA-CYCLE-002[default]")]
    assert "Re-send a membership add after a retry (mover is already a member)" in steps
    assert "Re-send the create of retry after a timeout" in steps


def test_a_refused_patch_shape_is_judged_by_its_owner_and_the_cycle_goes_on_to_its_end_state(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """PascalCase refused: a cycle's PATCH that another case judges (the manager, a disable, a member removal)
    is sent in the plain form and the cycle is judged on the rest — its end state included, which holds; the
    cycle's own step (re-sending a membership add) stays its failure, with the same cause as the owners'."""
    outcome = run(capsys, tmp_path, "pascalcase-op-rejected")
    initial = next(c for c in outcome.summary["cases"] if c["id"] == "ENTRA-CYCLE-001" and c["dialect"] == "default")
    assert initial["status"] == "passed" and initial["fallbacks"], initial
    assert any(fallback["judged_by"] == "ENTRA-GAL-025" for fallback in initial["fallbacks"])
    failures = failures_of(outcome, "ENTRA-CYCLE-002[default]")
    assert [f["step"] for f in failures] == ["Re-send a membership add after a retry (mover is already a member)"]
    cause = next(c for c in outcome.summary["causes"] if "ENTRA-CYCLE-002[default]" in c["cases"])
    assert "ENTRA-GROUP-007[default]" in cause["cases"], "one cause: the refused PascalCase op"


def test_a_value_changed_that_the_case_never_sent_names_its_own_rule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """ENTRA-USER-008 replaces userName; a server that lower-cases userName breaks the case's own rule, while a
    server that drops an attribute the case never touched breaks the rule that values stay as sent."""
    outcome = run(capsys, tmp_path, "enterprise-extension-dropped")
    for failure in failures_of(outcome, "ENTRA-USER-008[default]"):
        assert failure["rule"].startswith("An attribute keeps the value Entra last sent"), failure
        assert "allow userName to be replaced" not in failure["fix"].lower()


def test_throughput_tells_a_refused_request_from_capacity(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The throughput case's PATCHes refused (PascalCase): an error answer, named with the case that judges that
    request, not "size the endpoint"."""
    with reference_server("pascalcase-op-rejected") as url:
        outcome = run_cli(
            capsys, tmp_path, "--url", url, "--dialect", "default", "--throughput-seconds", "1", "-k", "ENTRA-RATE-001"
        )
    (failure,) = failures_of(outcome, "ENTRA-RATE-001")
    assert (failure["category"], failure["judged_by"]) == ("Wrong status code", "ENTRA-USER-007")
    assert "Size the endpoint" not in failure["fix"] and "HTTP 400" in failure["observed"]


def test_a_default_dialect_run_never_sends_a_lower_case_op(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Setup PATCHes speak the case's own dialect (the run's, for a case that runs once): a server that takes
    only Entra's default dialect is never sent another one unless it refused it first."""
    har = tmp_path / "run.har"
    with reference_server() as url:
        # Cases whose setup sends a PATCH: two that run once, one per dialect (with literal JSON bodies, some cases
        # send a lower-case op on purpose, as Microsoft's examples print it).
        selection = "ENTRA-GROUP-003 or ENTRA-GROUP-004 or ENTRA-GROUP-008 or ENTRA-CYCLE-002"
        outcome = run_cli(
            capsys, tmp_path, "--url", url, "--users", "3", "--dialect", "default", "--har", str(har), "-k", selection
        )
    assert outcome.code == 0, outcome.out
    entries = json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]
    patches = [json.loads(e["request"]["postData"]["text"]) for e in entries if e["request"]["method"] == "PATCH"]
    ops = {operation["op"] for body in patches for operation in body["Operations"]}
    assert patches and ops <= {"Add", "Replace", "Remove"}, ops


class RefusesSomeLanguages(ReferenceServer):
    """Refuses a user create whose preferredLanguage is not en-US: Entra's request refused for some values only,
    so the case that owns the create may well pass with its own user."""

    def _create(self, request: Request, kind: str) -> Response:
        body = json.loads(request.get_data() or b"{}")
        language = body.get("preferredLanguage") if isinstance(body, dict) else None
        if RESOURCE_TYPES[kind].name == "User" and language not in (None, "en-US"):
            raise ScimError(400, f"unsupported preferredLanguage {language}", "invalidValue")
        return super()._create(request, kind)


def test_a_refusal_its_owner_did_not_fail_for_fails_the_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A case falls back from a refused create that another case judges; when that case passed (its own user drew
    an accepted value) the refusal is still reported, and the run is not ready."""
    with serve_in_thread(RefusesSomeLanguages(token=TOKEN)) as url:
        outcome = run_cli(capsys, tmp_path, "--url", url, "--users", "3", "-k", "ENTRA-USER-00 or ENTRA-USER-01")
    refusals = outcome.summary["verdict"]["unjudged_refusals"]
    assert refusals and all(r["judged_by"] == "ENTRA-USER-002" for r in refusals), refusals
    assert all("unsupported preferredLanguage" in r["cause"] for r in refusals)
    assert outcome.code == 1 and outcome.summary["verdict"]["gallery_ready"] is False
    assert any(line.startswith("REFUSED POST /scim/v2/Users → 400") for line in outcome.out.splitlines())
