"""The reference server judged by others: two independent SCIM test suites from PyPI run against
`scimconform serve`, and every result that is not a pass must be one recorded, with the reason the reference
server is right, in tests/peers/<suite>.findings.yaml — no more, no fewer — and the suite must leave nothing.

The reverse of tests/test_thirdparty.py: there the harness judges servers nobody on this team wrote; here
suites nobody on this team wrote judge the server every verdict is calibrated on. Each suite is installed from
PyPI at first use by tests/peers/peer.sh (cached in $TARGETS_HOME).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_thirdparty import REGISTRY_UNREACHABLE, count, free_port, serving

HERE = Path(__file__).parent / "peers"

pytestmark = pytest.mark.thirdparty

Result = tuple[str, str, str]
"""One check's (title, status, message), as the suite reports it."""

_SCIM2_TESTER_LINE = re.compile(r"(SUCCESS|COMPLIANT|ACCEPTABLE|DEVIATION|ERROR|CRITICAL|SKIPPED) (\S+)")


def scim2_tester(url: str, token: str) -> list[Result]:
    """`scim2 test` prints each result as `STATUS title`, then its reason and data indented."""
    out = peer("scim2-tester", "scim2", "--url", url, "--header", f"Authorization: Bearer {token}", "test")
    results: list[Result] = []
    for line in out.splitlines():
        if match := _SCIM2_TESTER_LINE.fullmatch(line):
            results.append((match[2], match[1], ""))
        elif results:
            title, status, message = results[-1]
            results[-1] = (title, status, f"{message}\n{line}".strip())
    return results


def scim_sanity(url: str, token: str) -> list[Result]:
    """`scim-sanity probe --json-output` lists each result with its name, status and message."""
    command = ["scim-sanity", "probe", url, "--token", token, "--i-accept-side-effects", "--json-output"]
    report = json.loads(peer("scim-sanity", *command))
    return [(r["name"], r["status"], r.get("message") or "") for r in report["results"]]


@dataclass(frozen=True)
class Peer:
    name: str
    run: Callable[[str, str], list[Result]]
    passing: frozenset[str]

    def expected(self) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load((HERE / f"{self.name}.findings.yaml").read_text())
        return data


PEERS = [
    Peer("scim2-tester", scim2_tester, frozenset({"SUCCESS", "COMPLIANT", "ACCEPTABLE"})),
    Peer("scim-sanity", scim_sanity, frozenset({"pass"})),
]


def peer(name: str, *command: str) -> str:
    """Run one of the suite's console scripts (installing it first); a non-zero exit only says checks failed."""
    script = HERE / "peer.sh"
    install = subprocess.run(["bash", script, "install", name], capture_output=True, text=True, timeout=600)
    if install.returncode == REGISTRY_UNREACHABLE:
        pytest.skip(install.stderr.strip())
    assert install.returncode == 0, f"peer.sh install {name} failed:\n{install.stderr}"
    done = subprocess.run(
        ["bash", HERE / "peer.sh", "run", name, *command], capture_output=True, text=True, timeout=300
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def reference_server(token: str, log: Path) -> AbstractContextManager[str]:
    """`scimconform serve` on a free loopback port, as a user starts it; its base URL once it answers."""
    port = free_port()
    serve = [sys.executable, "-m", "scimconform.cli", "serve", "--port", str(port), "--token", token]
    return serving("scimconform serve", serve, f"http://127.0.0.1:{port}/scim/v2", token, log)


@pytest.mark.parametrize("suite", PEERS, ids=[p.name for p in PEERS])
def test_every_finding_names_its_rule_and_why_the_server_is_right(suite: Peer) -> None:
    expected = suite.expected()
    assert set(expected) == {"peer", "passes", "findings"}
    for finding in expected["findings"]:
        assert set(finding) == {"rule", "checks", "status", "observed", "justification"}, finding["rule"]
        assert finding["status"] not in suite.passing, finding["rule"]
        assert "RFC" in finding["justification"], finding["rule"]


@pytest.mark.parametrize("suite", PEERS, ids=[p.name for p in PEERS])
def test_the_peer_finds_exactly_the_recorded_findings(suite: Peer, tmp_path: Path) -> None:
    token = secrets.token_urlsafe(24)
    with reference_server(token, tmp_path / "serve.log") as url:
        results = suite.run(url, token)
        left = count(url, token)
    expected = suite.expected()
    passed = [r for r in results if r[1] in suite.passing]
    others = [r for r in results if r[1] not in suite.passing]
    recorded = Counter((check, f["status"]) for f in expected["findings"] for check in f["checks"])
    observed = Counter((title, status) for title, status, _ in others)
    shown = "\n".join(f"{status} {title}: {message}" for title, status, message in others)
    assert observed == recorded, f"the peer's findings are not the recorded ones:\n{shown}"
    for finding in expected["findings"]:
        for title, status, message in others:
            if title in finding["checks"] and status == finding["status"]:
                assert finding["observed"] in message, f"{status} {title}: {message}"
    assert len(passed) == expected["passes"], f"{len(passed)} passes, not {expected['passes']}"
    assert left == {"Users": 0, "Groups": 0}
