"""A target that cannot be judged is one short block and exit 2, before any case; a faulty SCIM server is judged;
`scimconform serve` says the token a run needs."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from scimconform.client import RecordingClient
from scimconform.run_plan import preflight
from scimconform.server import ReferenceServer
from scimconform.target import Target
from tests.harness import TOKEN, Outcome, run_cli
from tests.test_cli import closed_port, html_page, serving

MAX_LINES = 8
DISCOVERY_PATHS = ("/scim/v2/ServiceProviderConfig", "/scim/v2/Schemas")


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)


class Witness:
    """A WSGI app in front of another that keeps every request line and can answer some paths itself."""

    def __init__(self, app: Any, answers: dict[str, tuple[str, str, bytes]] | None = None) -> None:
        self.app = app
        self.answers = answers or {}  # path -> (status line, content type, body)
        self.seen: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        self.seen.append(f"{environ['REQUEST_METHOD']} {path}")
        if path in self.answers:
            status, kind, body = self.answers[path]
            start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body)))])
            return [body]
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


def json_answer(status: str, body: object) -> Any:
    """A WSGI app answering every request with this JSON."""
    data = json.dumps(body).encode()

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    return app


@contextmanager
def witnessed(app: Any, answers: dict[str, tuple[str, str, bytes]] | None = None) -> Iterator[tuple[str, Witness]]:
    """`app` on a loopback port behind a Witness; yields the Tenant URL (…/scim/v2) and the witness."""
    witness = Witness(app, answers)
    with serving(witness) as url:
        yield f"{url}/v2", witness


def assert_not_judged(outcome: Outcome, *causes: str) -> None:
    """Exit 2, one block of at most MAX_LINES naming each cause, no case run, and the summary says why."""
    text = outcome.out + outcome.err
    assert outcome.code == 2, text
    assert len(text.splitlines()) <= MAX_LINES, text
    assert "Traceback" not in text and "ERROR  ENTRA" not in text
    assert text.startswith("scimconform: error: ") and all(cause in text for cause in causes), text
    for part in ("sent:", "got:", "cause:", "fix:"):
        assert f"  {part}" in text, text
    assert outcome.summary["target_error"] and outcome.summary["cases"] == []


def test_a_wrong_token_is_one_block_and_nothing_but_the_probe_is_sent(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCIM_TOKEN", "not-the-right-one")
    with witnessed(ReferenceServer(token=TOKEN)) as (url, witness):
        outcome = run_cli(capsys, tmp_path, "--url", url)
    assert_not_judged(outcome, "refused the bearer token (HTTP 401)", "--token-env")
    assert witness.seen == ["GET /scim/v2/Users"], "the probe alone: a refused token is final"
    assert "not-the-right-one" not in outcome.out + outcome.err


def test_load_shows_the_same_block_for_a_wrong_token(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`scimconform load` judges the target the same way before its workload, and says it the same way."""
    from scimconform.cli import main

    monkeypatch.setenv("SCIM_TOKEN", "not-the-right-one")
    with witnessed(ReferenceServer(token=TOKEN)) as (url, witness):
        code = main(["load", "--url", url, "--report-dir", str(tmp_path), "--users", "2"])
    captured = capsys.readouterr()
    outcome = Outcome(code, captured.out, captured.err, tmp_path)
    assert code == 2 and witness.seen == ["GET /scim/v2/Users"], captured.err
    block = captured.err[captured.err.index("scimconform: error: ") :]
    for part in ("refused the bearer token (HTTP 401)", "  sent:", "  got:", "  cause:", "  fix:"):
        assert part in block, block
    assert "not-the-right-one" not in outcome.out + outcome.err


def test_a_closed_port_is_one_block(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    outcome = run_cli(capsys, tmp_path, "--url", f"http://127.0.0.1:{closed_port()}/scim/v2")
    assert_not_judged(outcome, "unreachable: cannot connect", "the server is not running, or the port is wrong")


def test_a_host_that_never_answers_costs_one_timeout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        started = time.monotonic()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/scim/v2"
        outcome = run_cli(capsys, tmp_path, "--url", url, "--timeout", "0.5")
    assert_not_judged(outcome, "no answer within 0.5 s (timeout)", "raise --timeout")
    assert time.monotonic() - started < 10, "no discovery request after a silent probe"


def test_a_web_page_is_one_block(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with witnessed(html_page) as (url, witness):
        outcome = run_cli(capsys, tmp_path, "--url", url)
    assert_not_judged(outcome, "does not look like a SCIM endpoint", "text/html", "Welcome to our marketing site")
    assert {line.split()[0] for line in witness.seen} == {"GET"}, witness.seen


@pytest.mark.parametrize(
    "app",
    [json_answer("404 Not Found", {"error": "not found"}), json_answer("200 OK", {"status": "ok", "version": 3})],
    ids=["json-404", "json-not-a-list-response"],
)
def test_json_that_is_not_scim_is_a_wrong_tenant_url(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, app: Any
) -> None:
    with witnessed(app) as (url, witness):
        outcome = run_cli(capsys, tmp_path, "--url", url)
    assert_not_judged(outcome, "with JSON that is not SCIM", "check the Tenant URL")
    assert {line.split()[0] for line in witness.seen} == {"GET"}, "only the probe and discovery requests"
    assert len(witness.seen) == 4, witness.seen


def test_a_wrong_base_path_on_a_scim_server_is_a_wrong_tenant_url(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The reference server answers an unknown path with a SCIM Error, as many do: no evidence of the base path."""
    with witnessed(ReferenceServer(token=TOKEN)) as (url, witness):
        outcome = run_cli(capsys, tmp_path, "--url", url.removesuffix("/v2"))
    assert_not_judged(outcome, "with a SCIM Error, and no SCIM answer at this base path", "check the Tenant URL")
    assert {line.split()[0] for line in witness.seen} == {"GET"}, witness.seen


NOT_FOUND = ("404 Not Found", "application/json", b'{"error": "not found"}')


@pytest.mark.parametrize(
    ("faults", "missing", "code"),
    [
        ((), DISCOVERY_PATHS, 0),  # no discovery endpoints, a working probe: judged
        (("filter-zero-match-404",), (), 1),  # the probe's 404 is a SCIM Error; /ServiceProviderConfig answers
        (("filter-zero-match-404",), DISCOVERY_PATHS, 1),  # neither: the unfiltered /Users list answers
    ],
    ids=["no-discovery", "zero-match-404", "zero-match-404-no-discovery"],
)
def test_a_faulty_scim_server_is_still_judged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, faults: tuple[str, ...], missing: tuple[str, ...], code: int
) -> None:
    app = ReferenceServer(token=TOKEN, faults=faults)
    with witnessed(app, dict.fromkeys(missing, NOT_FOUND)) as (url, _):
        outcome = run_cli(capsys, tmp_path, "--url", url, "--dialect", "default", "-k", "ENTRA-CONN-001")
    assert outcome.code == code, outcome.out + outcome.err
    assert outcome.summary["target_error"] is None
    assert outcome.names("failed" if code else "passed") == {"ENTRA-CONN-001"}


def test_a_name_that_does_not_resolve_is_named_as_such() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    target = Target(base_url="https://scim.example.invalid/scim/v2", token=TOKEN)
    client = RecordingClient(target, transport=httpx.MockTransport(refuse))
    problem = preflight(client).problem
    client.close()
    assert problem is not None
    assert "the host name scim.example.invalid does not resolve" in problem.block()


def test_serve_prints_the_token_and_a_run_command_that_works(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "scimconform.cli", "serve", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as server:
        try:
            assert server.stdout is not None
            banner = [server.stdout.readline() for _ in range(3)]
            assert "bearer token: scimconform-dev-token (the development default" in banner[1], banner
            pasted = shlex.split(banner[2].split("run against it:", 1)[1])
            assert pasted[0].startswith("SCIM_TOKEN=") and pasted[1:4] == ["scimconform", "run", "--url"], pasted
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("SCIM_TOKEN", pasted[0].removeprefix("SCIM_TOKEN="))
                outcome = run_cli(capsys, tmp_path, *pasted[3:], "--dialect", "default", "-k", "ENTRA-CONN-001")
        finally:
            server.terminate()
    assert outcome.code == 0, outcome.out + outcome.err
    assert outcome.names("passed") == {"ENTRA-CONN-001"}


def test_serve_help_names_the_default_token() -> None:
    wide = {**os.environ, "COLUMNS": "200"}  # argparse would break the token at its hyphens
    command = [sys.executable, "-m", "scimconform.cli", "serve", "--help"]
    flat = " ".join(subprocess.run(command, capture_output=True, text=True, check=True, env=wide).stdout.split())
    assert "default scimconform-dev-token" in flat and "any free port" in flat and "address to listen on" in flat
