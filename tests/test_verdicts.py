"""Verdicts must be true: no failure on the clean reference server, and each named fault is caught
by exactly the cases listed for it in fixtures/faults.yaml — no more, no fewer."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from scimconform.catalogue import load_catalogue
from scimconform.datafiles import data_dir
from scimconform.dialects import DIALECTS
from scimconform.server import FAULTS, ReferenceServer, serve_in_thread
from tests.harness import TOKEN, expand, reference_server, run_cli

pytestmark = pytest.mark.slow  # whole conformance runs: listed first (conftest.py)

EXPECTED: dict[str, Any] = yaml.safe_load((data_dir("fixtures") / "faults.yaml").read_text())


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)


def test_every_fault_has_expectations() -> None:
    assert set(EXPECTED) == set(FAULTS)


IMPORTED = str(data_dir("fixtures") / "imports" / "graph-synchronization-schema.json")


@pytest.mark.parametrize(
    ("profile", "flag", "dialects"),
    [
        ("entra-default", "", len(DIALECTS)),
        ("alohi", "", len(DIALECTS)),
        ("custom-extension", "", len(DIALECTS)),
        (IMPORTED, "", len(DIALECTS)),
        ("entra-default", "?aadOptscim062020", 1),
    ],
    ids=["entra-default", "alohi", "custom-extension", "imported-export", "flag-in-url"],
)
def test_clean_server_passes_every_case(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, profile: str, flag: str, dialects: int
) -> None:
    with reference_server() as url:
        outcome = run_cli(capsys, tmp_path, "--url", url + flag, "--profile", profile)
    assert outcome.code == 0, outcome.out
    assert outcome.names("failed", "warning", "error") == set()
    cases = load_catalogue()
    assert len(outcome.summary["cases"]) == sum(dialects if case.uses_dialect else 1 for case in cases)
    skipped = [case["message"] for case in outcome.summary["cases"] if case["status"] == "skipped"]
    # Not applicable: to the profile, to a static token, to plain http, or switched off in tests.
    reasons = ("profile ", "the run uses a static bearer token", "the target is served over plain http", "throughput")
    assert all(message.startswith(reasons) for message in skipped), skipped
    assert outcome.summary["leftovers"] == []
    # Ready for the gallery only when every blocking case ran: here a static token and plain http leave some out.
    verdict = outcome.summary["verdict"]
    assert verdict["gallery_ready"] is False and verdict["not_run"], verdict
    assert all(entry["reason"].startswith(reasons) for entry in verdict["not_run"]), verdict["not_run"]
    assert "NOT JUDGED for the gallery" in outcome.out.splitlines()[-1]


# Faults of the OAuth token endpoint need a client-credentials run: tests/test_auth.py takes those.
SCIM_FAULTS = sorted(name for name, entry in EXPECTED.items() if not (isinstance(entry, dict) and "auth" in entry))


@pytest.mark.parametrize("fault", SCIM_FAULTS)
def test_fault_is_caught_by_exactly_its_cases(capsys: pytest.CaptureFixture[str], tmp_path: Path, fault: str) -> None:
    expected = EXPECTED[fault]
    # A fault about attributes only some profiles map names that profile: {profile: …, cases: […]}.
    profile, cases = (
        (expected["profile"], expected["cases"]) if isinstance(expected, dict) else ("entra-default", expected)
    )
    server = ReferenceServer(token=TOKEN, faults=[fault])
    with serve_in_thread(server) as url:
        outcome = run_cli(capsys, tmp_path, "--url", url, "--users", "3", "--profile", profile)
    assert outcome.names("error") == set(), "a fault must be judged, not make cases undecidable"
    left = {kind: n for kind, n in server.resource_count().items() if n}
    assert len(outcome.summary["leftovers"]) >= sum(left.values()), (
        f"{left} stayed; listed: {outcome.summary['leftovers']}"
    )
    caught = outcome.names("failed", "warning")
    assert caught, f"no case catches {fault}: {FAULTS[fault]}"
    assert caught == expand(cases)
    blocking = any(case["status"] == "failed" for case in outcome.summary["cases"])
    assert outcome.code == (1 if blocking or outcome.summary["leftovers"] else 0)
