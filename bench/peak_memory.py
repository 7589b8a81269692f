"""Peak memory of a full `scimconform run` whose target answers one request with a 50 MB body (goal: < 200 MB).

Run from the repository root: python -m bench.peak_memory. The target is the reference server behind
the hostile front of tests/hostile.py, which pads every /ServiceProviderConfig answer to 50 MB. Each
run is a fresh process, as a user would start it; its peak resident set is read from the kernel when it
exits. A run without the padding is measured too, for comparison. Exits 1 when the goal is missed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from scimconform.server import ReferenceServer, serve_in_thread
from tests.hostile import HostileServer, Request, fifty_megabytes, hostile_server, nothing

GOAL_MB = 200
TOKEN = "bench-peak-memory-token-5d1e"


def asks_for_configuration(request: Request) -> bool:
    return request.path.endswith("/ServiceProviderConfig")


def peak_mb(url: str, report_dir: Path) -> float:
    """Peak resident set, in MB, of one whole run against `url`."""
    command = [sys.executable, "-m", "scimconform.cli", "run", "--url", url, "--report-dir", str(report_dir)]
    environment = {**os.environ, "SCIM_TOKEN": TOKEN}
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"the run ended with exit {process.returncode}; see {report_dir}")
    return usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with tempfile.TemporaryDirectory() as scratch, serve_in_thread(ReferenceServer(token=TOKEN)) as upstream:
        with hostile_server(upstream, HostileServer(fifty_megabytes, picks=nothing)) as url:
            plain = peak_mb(url, Path(scratch) / "plain")
        with hostile_server(upstream, HostileServer(fifty_megabytes, picks=asks_for_configuration)) as url:
            padded = peak_mb(url, Path(scratch) / "padded")
    verdict = "meets" if padded < GOAL_MB else "MISSES"
    print(f"scimconform run, full catalogue, peak memory: {plain:.0f} MB; with a 50 MB body: {padded:.0f} MB")
    print(f"  goal < {GOAL_MB} MB: {verdict}")
    if padded >= GOAL_MB:
        sys.exit(1)


if __name__ == "__main__":
    main()
