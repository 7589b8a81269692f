"""`scimconform run` next to scim2-tester on the same third-party server, scim2-server (PyPI), pair by pair.

Run: python -m bench.side_by_side [--repeat 3]. scim2-server is started on loopback by
tests/thirdparty/scim2-server.sh (installed from PyPI at first use, as the third-party tests do); each pair runs
scimconform (throughput case off: scim2-tester has none) and then scim2-tester against one fresh server, both
timed from outside the whole process, with the requests each sent. The ratio is taken within each pair, so that
load on the machine weighs on both sides alike; the server-bound share is the scimconform run's HAR time over
its wall time.
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import print_lines, scim2_tester, server_share
from bench.servers import TOKEN

SERVE = Path(__file__).resolve().parent.parent / "tests" / "thirdparty" / "scim2-server.sh"


@contextmanager
def scim2_server() -> Iterator[str]:
    """A fresh scim2-server on a free loopback port; yields its base URL once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        ["bash", str(SERVE), "serve", str(port), TOKEN], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"scim2-server did not start (exit {process.poll()}): see {SERVE} install")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v2"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _listening(port: int) -> bool:
    with socket.socket() as client:
        return client.connect_ex(("127.0.0.1", port)) == 0


def judged_run(url: str, report_dir: Path) -> tuple[float, float, int, int]:
    """One whole `scimconform run` (throughput case off): wall and waiting seconds, cases judged and requests
    sent. A run that could not judge the target measured nothing comparable."""
    wall, waited, exchanges = server_share.one_run(url, report_dir, throughput_seconds=0)
    summary = json.loads((report_dir / "summary.json").read_text())
    if summary["verdict"]["exit_code"] not in (0, 1):
        raise RuntimeError(f"the run did not judge scim2-server: {summary['verdict']['readiness']}")
    return wall, waited, len(summary["cases"]), exchanges


def lines(repeat: int) -> list[str]:
    installed = subprocess.run(["bash", str(SERVE), "install"], check=False)
    if installed.returncode == 75:  # the package registry cannot be reached
        return ["Not measured: scim2-server could not be installed (the package registry is unreachable)."]
    installed.check_returncode()
    rows = [
        "| pair | scimconform (s) | cases | requests | ms/request | server-bound share "
        "| scim2-tester (s) | checks | requests | ms/request | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios, per_request = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for pair in range(1, repeat + 1):
            with scim2_server() as url:
                wall, waited, cases, sent = judged_run(url, Path(scratch) / str(pair))
            with scim2_server() as url:
                peer, outcome = scim2_tester.one_run(url)
            peer_sent = int(str(outcome["requests"]))
            ratios.append(wall / peer)
            per_request.append((wall / sent) / (peer / peer_sent))
            rows.append(
                f"| {pair} | {wall:.2f} | {cases} | {sent} | {wall / sent * 1000:.1f} | {waited / wall:.0%} "
                f"| {peer:.2f} | {outcome['checks']} | {peer_sent} | {peer / peer_sent * 1000:.1f} "
                f"| {wall / peer:.2f}x |"
            )
    rows += [
        "",
        f"Median ratio {statistics.median(ratios):.2f}x (goal: at most 1.00x); per request sent, "
        f"{statistics.median(per_request):.2f}x. scim2-tester {scim2_tester.version()}; each wall time is the "
        "whole process, start-up included.",
    ]
    return rows


if __name__ == "__main__":
    print_lines(__doc__, lines)
