"""Verdicts must be true: no failure on the clean reference server, and each named fault is caught
by exactly the cases listed for it in fixtures/faults.yaml — no more, no fewer."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from scimconform.datafiles import data_dir
from scimconform.server import FAULTS
from tests.harness import TOKEN, reference_server, run_cli

EXPECTED: dict[str, Any] = yaml.safe_load((data_dir("fixtures") / "faults.yaml").read_text())


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)


def test_every_fault_has_expectations() -> None:
    assert set(EXPECTED) == set(FAULTS)


@pytest.mark.parametrize(
    ("profile", "flag", "ran"),
    [("entra-default", "", 50), ("alohi", "", 30), ("entra-default", "?aadOptscim062020", 34)],
)
def test_clean_server_passes_every_case(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, profile: str, flag: str, ran: int
) -> None:
    with reference_server() as url:
        outcome = run_cli(capsys, tmp_path, "--url", url + flag, "--profile", profile)
    assert outcome.code == 0, outcome.out
    assert outcome.names("failed", "warning", "error") == set()
    assert len(outcome.names("passed")) == ran
    assert outcome.summary["leftovers"] == []
    assert outcome.summary["verdict"]["gallery_ready"] is True


def fault_params() -> list[Any]:
    params = []
    for fault, expected in EXPECTED.items():
        marks = [pytest.mark.xfail(reason=expected["pending"], strict=True)] if isinstance(expected, dict) else []
        params.append(pytest.param(fault, id=fault, marks=marks))
    return params


@pytest.mark.parametrize("fault", fault_params())
def test_fault_is_caught_by_exactly_its_cases(capsys: pytest.CaptureFixture[str], tmp_path: Path, fault: str) -> None:
    expected = EXPECTED[fault]
    with reference_server(fault) as url:
        outcome = run_cli(capsys, tmp_path, "--url", url)
    assert outcome.names("error") == set(), "a fault must be judged, not make cases undecidable"
    caught = outcome.names("failed", "warning")
    assert caught, f"no case catches {fault}: {FAULTS[fault]}"
    assert caught == set(expected)
    blocking = any(case["status"] == "failed" for case in outcome.summary["cases"])
    assert outcome.code == (1 if blocking or outcome.summary["leftovers"] else 0)
