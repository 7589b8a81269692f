"""`scimconform load`: an exact end state and nothing left behind on a clean server, the figures in
summary.json and Allure, exit 1 when the end state is wrong, exit 2 with one line for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scimconform.cli import main
from scimconform.events import Event
from scimconform.reporting import registry
from scimconform.reporting.registry import ReportFormat
from scimconform.server import ReferenceServer, serve_in_thread
from scimconform.validation import schema_errors
from tests.harness import TOKEN, FailingReporter
from tests.test_auth import CLIENT_ID, SECRET, oauth_server
from tests.test_cli import assert_one_line_error

OPERATIONS = {
    "probe",
    "match-user",
    "create-user",
    "match-group",
    "create-group",
    "add-members",
    "update",
    "remove-members",
    "disable",
    "delete",
    "verify-user",
    "verify-group",
}


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)


def load(capsys: pytest.CaptureFixture[str], report_dir: Path, *args: str) -> tuple[int, str, str]:
    code = main(["load", "--report-dir", str(report_dir), "--seed", "5", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_embedded_server_exact_end_state_and_reports(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = load(capsys, tmp_path, "--users", "160", "--concurrency", "4")
    assert code == 0, out + err
    assert "end state: exact" in out and "0 left behind" in out and "Traceback" not in err
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert schema_errors(summary, "summary") == []
    section = summary["load"]
    assert section["ok"] and section["end_state"] == {"ok": True, "problems": [], "problem_count": 0}
    assert (section["users"], section["groups"], section["errors"]) == (160, 4, {})
    assert set(section["operations"]) == OPERATIONS
    assert section["operations"]["create-user"]["count"] == 160
    assert section["requests"] == sum(row["count"] for row in section["operations"].values())
    assert summary["leftovers"] == [] and summary["verdict"]["exit_code"] == 0
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure-results").glob("*-result.json")]
    assert [r["status"] for r in results] == ["passed"]
    attached = tmp_path / "allure-results" / results[0]["attachments"][0]["source"]
    assert json.loads(attached.read_text())["requests"] == section["requests"]


def test_shared_server_is_left_as_found_and_rate_is_kept(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    app = ReferenceServer(token=TOKEN)
    with serve_in_thread(app) as url:
        code, out, err = load(capsys, tmp_path, "--url", url, "--users", "20", "--rate", "100", "--profile", "alohi")
    assert code == 0, out + err
    assert app.resource_count() == {"User": 0, "Group": 0}
    section = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["load"]
    assert section["groups"] == 0 and section["rate"] == 100
    assert section["throughput"] <= 110


def test_an_oauth_only_target_is_loaded_with_client_credentials(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCIM_CLIENT_SECRET", SECRET)
    monkeypatch.delenv("SCIM_TOKEN")
    with oauth_server() as (url, token_url, app):
        code, out, err = load(
            capsys, tmp_path, "--url", url, "--users", "12", "--oauth-token-url", token_url,
            "--oauth-client-id", CLIENT_ID, "--oauth-auth-method", "client_secret_post",
        )  # fmt: skip
        assert app.issuer is not None
        secrets = [SECRET, *app.issuer.issued]
    assert code == 0, out + err
    assert app.resource_count() == {"User": 0, "Group": 0}
    written = out + err + (tmp_path / "summary.json").read_text(encoding="utf-8")
    assert len(secrets) > 1 and not [secret for secret in secrets if secret in written]


def test_a_wrong_end_state_fails_the_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    app = ReferenceServer(token=TOKEN, faults=["only-first-member-added"])
    with serve_in_thread(app) as url:
        code, out, _ = load(capsys, tmp_path, "--url", url, "--users", "30", "--dialect", "aadOptscim062020")
    assert code == 1
    assert app.resource_count() == {"User": 0, "Group": 0}
    state = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["load"]["end_state"]
    assert not state["ok"] and "member(s) missing" in state["problems"][0]
    assert "load: FAILED" in out
    results = [json.loads(p.read_text()) for p in (tmp_path / "allure-results").glob("*-result.json")]
    assert [r["status"] for r in results] == ["failed"]


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["--concurrency", "0"], "concurrency must be at least 1"),
        (["--rate", "-3"], "rate must be a positive number"),
        (["--users", "0"], "users must be at least 1"),
        (["--url", "http://127.0.0.1:9/scim"], "unreachable"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], cause: str
) -> None:
    code, _, err = load(capsys, tmp_path, *args)
    assert code == 2
    assert_one_line_error(err, cause)


def test_a_refused_token_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with serve_in_thread(ReferenceServer(token="another-token")) as url:
        code, _, err = load(capsys, tmp_path, "--url", url, "--users", "3")
    assert code == 2
    assert_one_line_error(err, "refused the bearer token")
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["verdict"]["exit_code"] == 2


class Witness:
    """A reporter that keeps the name of every event it is handed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def handle(self, event: Event) -> None:
        self.seen.append(type(event).__name__)


def test_the_load_reports_through_the_registry_s_reporters(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reporters `run` uses write the load's reports too: a reporter registered for load hears the run
    begin and end, one registered for `run` only is not built, and one that fails is noted, as in a run."""
    for_load, for_run = Witness(), Witness()
    formats = (
        ReportFormat(build=lambda request: for_load, commands=("run", "load")),
        ReportFormat(build=lambda request: for_run),
        ReportFormat(build=lambda request: FailingReporter(), commands=("load",)),
    )
    monkeypatch.setattr(registry, "REPORTERS", (*registry.REPORTERS, *formats))
    with serve_in_thread(ReferenceServer(token=TOKEN)) as url:
        code, out, err = load(capsys, tmp_path, "--url", url, "--users", "5")
    assert code == 0, out + err
    assert (for_load.seen, for_run.seen) == (["RunStarted", "RunFinished"], [])
    note = "FailingReporter failed on RunStarted: RecursionError('maximum recursion depth exceeded near ***')"
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["report_errors"] == [note]
    assert f"REPORT {note}" in out and "load: PASSED" in out
