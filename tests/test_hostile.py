"""Hostile targets: whatever a server does wrong at the HTTP level, the run finishes, fails exactly the
cases that met it with a one-line cause, writes every report, prints no traceback, and leaves nothing
behind — even when the server created a user and then broke its answer.

(Refused connections, a silent port, a web page and a refused token at the preflight are in test_cli.py.)
"""

import json
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from scimconform.client import MAX_RETRIES
from scimconform.exchange import MAX_BODY_BYTES
from scimconform.server import ReferenceServer, serve_in_thread
from tests.harness import TOKEN, Outcome, run_cli
from tests.hostile import (
    HostileServer,
    Sabotage,
    cut_mid_headers,
    everything,
    fifty_megabytes,
    hostile_server,
    html_500,
    never_answers,
    not_json,
    nothing,
    redirect_loop,
    reset,
    slow_down,
    truncated_json,
)
from tests.test_cli import assert_one_line_error, target_error_run

# One case whose step under test is Entra's POST /Users, one that needs it as setup.
UNDER_TEST, IN_SETUP = "ENTRA-USER-002", "ENTRA-USER-003"


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)


@contextmanager
def behind(server: HostileServer, tls: ssl.SSLContext | None = None) -> Iterator[tuple[str, ReferenceServer]]:
    """A hostile server in front of a fresh reference server; yields the hostile URL and the reference app."""
    app = ReferenceServer(token=TOKEN)
    with serve_in_thread(app) as upstream, hostile_server(upstream, server, tls) as url:
        yield url, app


def run_two_cases(capsys: pytest.CaptureFixture[str], tmp_path: Path, sabotage: Sabotage) -> tuple[Outcome, int]:
    """Run the two cases against a server that sabotages every POST /Users; also count what was left."""
    config = tmp_path / "scimconform.yaml"
    config.write_text("timeout: 0.5\n")
    with behind(HostileServer(sabotage)) as (url, app):
        outcome = run_cli(
            capsys, tmp_path / "reports", "--url", url, "--config", str(config), "-k", f"{UNDER_TEST} or {IN_SETUP}"
        )
        left = sum(app.resource_count().values())
    assert "Traceback" not in outcome.out + outcome.err
    for report in ("summary.json", "junit.xml", "allure-results"):
        assert (outcome.report_dir / report).exists(), report
    return outcome, left


@pytest.mark.parametrize(
    ("sabotage", "cause"),
    [
        pytest.param(html_500, "expected HTTP 201, got 500", id="html-500-page"),
        pytest.param(not_json, "the response body is not JSON", id="not-json"),
        pytest.param(truncated_json, "the server broke the HTTP exchange", id="truncated-json"),
        pytest.param(cut_mid_headers, "the server broke the HTTP exchange", id="closed-mid-response"),
        pytest.param(reset, "the connection broke: ", id="connection-reset"),
        pytest.param(never_answers, "no answer within 0.5 s (timeout)", id="never-answers"),
        pytest.param(redirect_loop, "expected HTTP 201, got 302", id="redirect-loop"),
        pytest.param(fifty_megabytes, f"larger than {MAX_BODY_BYTES // 1024} KiB", id="50-mb-body"),
        pytest.param(slow_down(503, "0", times=99), f"got 503 (slow down) after {MAX_RETRIES + 1} attempts", id="503"),
    ],
)
def test_a_broken_answer_fails_the_cases_that_meet_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sabotage: Sabotage, cause: str
) -> None:
    outcome, left = run_two_cases(capsys, tmp_path, sabotage)
    assert outcome.code == 1
    assert outcome.names("failed") == {UNDER_TEST}
    assert outcome.names("error") == {IN_SETUP}, "a broken setup step makes its case undecidable"
    for case in outcome.summary["cases"]:
        assert cause in case["message"] and "\n" not in case["message"], case
    assert left == 0, "a user the server created before breaking its answer was still found and deleted"
    assert outcome.summary["leftovers"] == []


def test_a_50_mb_body_is_cut_in_the_reports(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    outcome, _ = run_two_cases(capsys, tmp_path, fifty_megabytes)
    files = [p for p in outcome.report_dir.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 8 * MAX_BODY_BYTES
    assert any(f"body cut after {MAX_BODY_BYTES} bytes" in p.read_text(errors="replace") for p in files)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_429_is_retried_after_retry_after_and_each_attempt_is_recorded(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, workers: str
) -> None:
    server = HostileServer(slow_down(429, "1", times=1))
    with behind(server) as (url, app):
        outcome = run_cli(capsys, tmp_path, "--url", url, "-k", f"{UNDER_TEST} or {IN_SETUP}", "--workers", workers)
        left = sum(app.resource_count().values())
    assert outcome.code == 0, outcome.out
    assert outcome.names("passed") == {UNDER_TEST, IN_SETUP}
    assert server.sabotaged == ["POST /scim/v2/Users"] * 4, "each POST was answered 429 once, then retried once"
    assert left == 0
    recorded = [p.read_text() for p in (tmp_path / "allure-results").glob("*-result.json")]
    assert any("→ 429" in step for text in recorded for step in _step_names(json.loads(text))), "the 429 is reported"


def _step_names(node: dict[str, Any]) -> Iterator[str]:
    for step in node.get("steps", []):
        yield str(step.get("name", ""))
        yield from _step_names(step)


def test_a_target_that_breaks_every_answer_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with behind(HostileServer(cut_mid_headers, picks=everything)) as (url, _):
        err = target_error_run(capsys, tmp_path, url)
    assert_one_line_error(err, "unreachable: the server broke the HTTP exchange")


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no machine trusts, from the openssl command line."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_a_self_signed_certificate_is_named_and_can_be_trusted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with behind(HostileServer(html_500, picks=nothing), tls) as (url, _):
        err = target_error_run(capsys, tmp_path / "untrusted", url)
        assert_one_line_error(err, "certificate verification failed")
        assert "SSL_CERT_FILE" in err
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        trusted = run_cli(capsys, tmp_path / "trusted", "--url", url, "-k", "ENTRA-CONN-001")
    assert trusted.code == 0, trusted.out + trusted.err
