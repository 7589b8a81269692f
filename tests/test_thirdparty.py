"""Real SCIM servers nobody on this team wrote: the harness's verdicts on each must be exactly the
findings recorded, with their reasons, in tests/thirdparty/<server>.findings.yaml — no more, no fewer —
and the run must leave nothing behind, counted through the server's own API.

Each server is installed from its registry at first use by its start script in tests/thirdparty/
(cached in $TARGETS_HOME). The tests skip only when that registry cannot be reached at all.
Deselect them with `-m "not thirdparty"`.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from scimconform.reporting.results import case_name
from tests.harness import expand, run_cli

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

    def findings(self) -> dict[str, dict[str, str]]:
        """Case name (ID or ID[dialect]) → the finding that explains it; a bare ID stands for every dialect."""
        data: dict[str, Any] = yaml.safe_load((HERE / f"{self.name}.findings.yaml").read_text())
        return {case: finding for finding in data["findings"] for case in expand(finding["cases"])}


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
    url = f"http://127.0.0.1:{port}{server.base_path}"
    with log.open("w") as output:
        serve = ["bash", str(server.script), "serve", str(port), token]
        process = subprocess.Popen(serve, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while count(url, token) is None:
            assert process.poll() is None, f"{server.name} exited at start:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"{server.name} did not answer within 30 s:\n{log.read_text()}"
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
    for name, finding in findings.items():
        assert set(finding) == {"rule", "cases", "status", "observed", "justification"}, name
        assert finding["status"] in ("failed", "warning", "error"), name
        assert any(source in finding["justification"] for source in ("RFC", "entra-wire", "Entra")), name


@pytest.mark.parametrize("server", SERVERS, ids=[s.name for s in SERVERS])
def test_verdicts_are_the_expected_findings_and_nothing_is_left(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: ThirdParty
) -> None:
    token = secrets.token_urlsafe(24)
    monkeypatch.setenv("SCIM_TOKEN", token)
    with running(server, token, tmp_path / f"{server.name}.log") as url:
        assert count(url, token) == {"Users": 0, "Groups": 0}, "every start is an empty store"
        outcome = run_cli(capsys, tmp_path / "reports", "--url", url)
        left = count(url, token)
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
        assert case["status"] == expected[name]["status"], f"{name}: {case['message']}"
        assert expected[name]["observed"] in case["message"], f"{name}: {case['message']}"
    assert left == {"Users": 0, "Groups": 0}
    assert outcome.summary["leftovers"] == []
    assert outcome.code == (1 if any(f["status"] in ("failed", "error") for f in expected.values()) else 0)
