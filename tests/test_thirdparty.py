"""Real SCIM servers nobody on this team wrote: the harness's verdicts on each must be exactly the
findings recorded, with their reasons, in tests/thirdparty/<server>.findings.yaml — no more, no fewer —
and the run must leave nothing behind, counted through the server's own API.

Each server is installed from its registry at first use by its start script in tests/thirdparty/
(cached in $TARGETS_HOME). The tests skip only when that registry cannot be reached at all.
Deselect them with `-m "not thirdparty"`.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from scimconform.reporting.repro import script_name
from scimconform.reporting.results import case_name
from tests.harness import QUICK, Outcome, expand
from tests.test_repro import run_script

HERE = Path(__file__).parent / "thirdparty"
REGISTRY_UNREACHABLE = 75  # the start scripts' exit code for "the registry cannot be reached at all"

pytestmark = pytest.mark.thirdparty


@dataclass(frozen=True)
class ThirdParty:
    name: str
    base_path: str

    @property
    def script(self) -> Path:
        return HERE / f"{self.name}.sh"

    def findings(self) -> dict[str, list[dict[str, str]]]:
        """Case name (ID or ID[dialect]) → the findings that explain it, one per root cause (a cycle may meet
        several); a bare ID stands for every dialect."""
        data: dict[str, Any] = yaml.safe_load((HERE / f"{self.name}.findings.yaml").read_text())
        explained: dict[str, list[dict[str, str]]] = {}
        for finding in data["findings"]:
            for case in expand(finding["cases"]):
                explained.setdefault(case, []).append(finding)
        return explained


SERVERS = [ThirdParty("scim2-server", "/v2"), ThirdParty("scimmy", "/scim/v2")]


def install(server: ThirdParty) -> None:
    done = subprocess.run(["bash", server.script, "install"], capture_output=True, text=True, timeout=600)
    if done.returncode == REGISTRY_UNREACHABLE:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, f"{server.script} install failed:\n{done.stderr}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def running(server: ThirdParty, token: str, log: Path) -> Iterator[str]:
    """Start the server on a free loopback port; yield its base URL once it answers; stop it after."""
    install(server)
    port = free_port()
    serve = ["bash", str(server.script), "serve", str(port), token]
    with serving(server.name, serve, f"http://127.0.0.1:{port}{server.base_path}", token, log) as url:
        yield url


@contextmanager
def serving(name: str, command: list[str], url: str, token: str, log: Path) -> Iterator[str]:
    """Run `command`, a SCIM server, its output to `log`; yield `url` once it answers; stop the server after."""
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while count(url, token) is None:
            assert process.poll() is None, f"{name} exited at start:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"{name} did not answer within 30 s:\n{log.read_text()}"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def count(url: str, token: str) -> dict[str, int] | None:
    """How many users and groups the server holds, by its own listing; None while it does not answer."""
    totals = {}
    for endpoint in ("Users", "Groups"):
        try:
            answer = httpx.get(f"{url}/{endpoint}", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        except httpx.TransportError:
            return None
        totals[endpoint] = answer.json()["totalResults"]
    return totals


@pytest.mark.parametrize("server", SERVERS, ids=[s.name for s in SERVERS])
def test_every_finding_names_its_rule_and_its_source(server: ThirdParty) -> None:
    findings = server.findings()
    assert findings
    for name, explained in findings.items():
        for finding in explained:
            assert set(finding) == {"rule", "cases", "status", "observed", "cause", "justification"}, name
            assert finding["status"] in ("failed", "warning", "error"), name
            assert any(source in finding["justification"] for source in ("RFC", "entra-wire", "Entra")), name


@dataclass(frozen=True)
class Run:
    """One harness run against a started server, which keeps running for the tests that read the run."""

    url: str
    token: str
    outcome: Outcome
    left: dict[str, int] | None  # what the server held right after the run


@pytest.fixture(scope="module", params=SERVERS, ids=[s.name for s in SERVERS])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """`scimconform run` against the server, once per module and server (in a process of its own, so the
    fixture can outlive a test's output capture)."""
    server: ThirdParty = request.param
    token = secrets.token_urlsafe(24)
    folder = tmp_path_factory.mktemp(server.name)
    with running(server, token, folder / f"{server.name}.log") as url:
        assert count(url, token) == {"Users": 0, "Groups": 0}, "every start is an empty store"
        command = [
            sys.executable,
            "-m",
            "scimconform.cli",
            "run",
            "--url",
            url,
            "--report-dir",
            str(folder / "reports"),
        ]
        done = subprocess.run(
            [*command, "--seed", "11", *QUICK],
            capture_output=True,
            text=True,
            env={**os.environ, "SCIM_TOKEN": token},
            timeout=600,
        )
        yield Run(url, token, Outcome(done.returncode, done.stdout, done.stderr, folder / "reports"), count(url, token))


def test_verdicts_are_the_expected_findings_and_nothing_is_left(run: Run, request: pytest.FixtureRequest) -> None:
    server: ThirdParty = request.node.callspec.params["run"]
    outcome = run.outcome
    assert "Traceback" not in outcome.out + outcome.err
    expected = server.findings()
    observed = {
        name: case
        for case in outcome.summary["cases"]
        if case["status"] in ("failed", "warning", "error")
        for name in [case_name(case["id"], case["dialect"])]
    }
    unexpected = [f"{name} {observed[name]['status']}: {observed[name]['message']}" for name in sorted(observed)]
    unexpected = [line for line in unexpected if line.split(" ", 1)[0] not in expected]
    missing = sorted(set(expected) - set(observed))
    assert not unexpected and not missing, "new verdicts:\n" + "\n".join(unexpected) + f"\nverdicts gone: {missing}"
    for name, case in observed.items():
        assert {finding["status"] for finding in expected[name]} == {case["status"]}, f"{name}: {case['message']}"
        assert any(f["observed"] in case["message"] for f in expected[name]), f"{name}: {case['message']}"
        causes = [failure["cause"] for failure in case["failures"]] or [case["message"]]
        for finding in expected[name]:  # every root cause the findings give this verdict is among its failures
            assert any(finding["cause"] in cause for cause in causes), f"{name}: {finding['cause']} not in {causes}"
    # An undecided case is listed only where no plainer form could make what it needs.
    undecided = {name for name, case in observed.items() if case["status"] == "error"}
    assert all("no plainer form" in f["justification"] for name in undecided for f in expected[name]), undecided
    assert run.left == {"Users": 0, "Groups": 0}
    assert outcome.summary["leftovers"] == []
    blocking = any(f["status"] in ("failed", "error") for explained in expected.values() for f in explained)
    assert outcome.code == (1 if blocking else 0)


def test_every_reproducer_reproduces_on_the_same_server(run: Run) -> None:
    """Each failed or warned case's script, run after the run, still shows its failure and leaves nothing."""
    scripts = sorted((run.outcome.report_dir / "repro").glob("*.sh"))
    assert {path.name for path in scripts} == {
        script_name(case_name(case["id"], case["dialect"]))
        for case in run.outcome.summary["cases"]
        if case["status"] in ("failed", "warning")
    }
    for script in scripts:
        done = run_script(script, run.url, run.token)
        assert done.returncode == 1 and done.stdout.splitlines()[-1].startswith("REPRODUCED"), done.stdout + done.stderr
    assert count(run.url, run.token) == {"Users": 0, "Groups": 0}
