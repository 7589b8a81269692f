"""Time Entra's initial provisioning cycle (ENTRA-CYCLE-001) for N users on the embedded server.

Run: python bench/initial_cycle.py [--users 100 1000 5000] [--repeat 3]. Each measurement is a fresh
`scimconform run` process in the aadOptscim062020 dialect; wall time and the child's peak RSS are
reported with the time per user, which stays flat when growth is linear. Goal: 1,000 users < 30 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(users: int, report_dir: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one run; the run must pass."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    command = [sys.executable, "-m", "scimconform.cli", "run", "-k", "ENTRA-CYCLE-001", "--dialect", "aadOptscim062020"]
    command += ["--users", str(users), "--seed", "1", "--report-dir", str(report_dir)]
    subprocess.run(command, check=True, capture_output=True)
    elapsed = time.perf_counter() - started
    summary = json.loads((report_dir / "summary.json").read_text())
    assert summary["totals"]["passed"] == 1, summary["totals"]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| users | median wall (s) | ms per user | peak RSS (MiB) |")
    print("|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as scratch:
        for users in args.users:
            runs = [one_run(users, Path(scratch) / f"{users}-{i}") for i in range(args.repeat)]
            wall = statistics.median(r[0] for r in runs)
            print(f"| {users} | {wall:.2f} | {wall / users * 1000:.1f} | {max(r[1] for r in runs):.0f} |", flush=True)


if __name__ == "__main__":
    main()
