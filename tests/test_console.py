"""The console verdict a user reads first: grouped by feature, the fix, the dialect at fault, one readiness line."""

from scimconform.reporting.console import readiness, render_verdict
from scimconform.reporting.results import NO_VERDICT, CaseResult, RunRecord


def result(case_id: str, status: str, dialect: str | None = None, severity: str = "blocking") -> CaseResult:
    message = "" if status == "passed" else "PATCH /Users/1 → 400: expected HTTP 200 or 204, got 400"
    return CaseResult(
        id=case_id,
        title="Disable a user",
        dialect=dialect,
        status=status,
        severity=severity,
        source="tutorial",
        message=message,
        duration=0.1,
        fix="Accept it.",
        feature="Users",
    )


def record(*results: CaseResult) -> RunRecord:
    return RunRecord(
        target="embedded",
        embedded=True,
        profile="alohi",
        dialects=("default", "aadOptscim062020"),
        seed=7,
        run_tag="scf000000",
        results=list(results),
    )


def test_a_failure_in_one_dialect_names_what_that_dialect_sends() -> None:
    lines: list[str] = []
    run = record(
        result("ENTRA-USER-010", "failed", "default"),
        result("ENTRA-USER-010", "passed", "aadOptscim062020"),
        result("ENTRA-CONN-001", "passed"),
    )
    render_verdict(run, lines.append, ["reports/junit.xml"])
    text = "\n".join(lines)
    assert "Users: 1 failed, 2 passed" in text
    assert "  FAIL   ENTRA-USER-010[default]  Disable a user" in text
    assert "fix: Accept it." in text
    note = "note: passes in aadOptscim062020; the default dialect sends op values Add/Replace/Remove, booleans as"
    assert note + ' the strings "True"/"False"' in text
    assert lines[-2:] == [
        "reports: reports/junit.xml",
        "Entra gallery readiness: NOT READY — 1 blocking failure (ENTRA-USER-010[default])",
    ]


def test_readiness_line() -> None:
    assert (
        readiness(record(result("ENTRA-CONN-001", "passed")))
        == "Entra gallery readiness: READY — every blocking case ran and passed"
    )
    warned = record(result("ENTRA-CONN-001", "passed"), result("ENTRA-HTTP-001", "warning", severity="warning"))
    assert readiness(warned) == "Entra gallery readiness: READY — every blocking case ran and passed; 1 warning"
    many = record(*(result(f"ENTRA-USER-00{n}", "failed") for n in range(1, 6)))
    assert readiness(many).endswith("5 blocking failures (ENTRA-USER-001, ENTRA-USER-002, ENTRA-USER-003, …)")
    broken = record()
    broken.target_error = "target unreachable"
    assert readiness(broken) == "Entra gallery readiness: NOT JUDGED — target unreachable"


def test_a_run_with_selected_cases_without_a_verdict_is_not_ready_or_not_judged() -> None:
    """pytest-xdist gave up on a worker that kept dying: what did run cannot make the run READY, and a failure
    that did run is still named."""
    partial = record(result("ENTRA-CONN-001", "passed"))
    partial.selected = partial.blocking_plan = ["ENTRA-CONN-001", "ENTRA-USER-001", "ENTRA-USER-002"]
    assert readiness(partial) == (
        "Entra gallery readiness: NOT JUDGED — 2 cases (ENTRA-USER-001, ENTRA-USER-002) reached no verdict"
    )
    assert not partial.gallery_ready and partial.exit_code() == 1
    assert [entry["reason"] for entry in partial.not_run()] == [NO_VERDICT] * 2
    failed = record(result("ENTRA-CONN-001", "failed"))
    failed.selected = ["ENTRA-CONN-001", "ENTRA-USER-001"]
    assert readiness(failed) == (
        "Entra gallery readiness: NOT READY — 1 blocking failure (ENTRA-CONN-001); "
        "1 case (ENTRA-USER-001) reached no verdict"
    )
    complete = record(result("ENTRA-CONN-001", "passed"))
    complete.selected = ["ENTRA-CONN-001"]
    assert complete.gallery_ready and complete.exit_code() == 0
