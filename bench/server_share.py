"""How much of a `scimconform run`'s wall time is spent waiting on the target (the server-bound share).

Run: python -m bench.server_share [--repeat 3]. A full run against `scimconform serve` on loopback (its own
process), with the 1 s throughput window of bench/run_time.py and a HAR: the share is the sum of the HAR's
per-exchange times (request sent to answer read) over the run's wall time, start-up and reports included.
The rest is the harness's own cost: interpreter and pytest start-up, collection, checks, reports, cleanup.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import print_lines
from bench.servers import TOKEN, reference_server


def one_run(url: str, report_dir: Path, *, throughput_seconds: float = 1) -> tuple[float, float, int]:
    """Wall seconds, seconds waiting on the target, and exchanges, of one whole `scimconform run` process."""
    har = report_dir / "run.har"
    command = [sys.executable, "-m", "scimconform.cli", "run", "--seed", "1", "--report-dir", str(report_dir)]
    command += ["--url", url, "--throughput-seconds", str(throughput_seconds), "--har", str(har)]
    started = time.perf_counter()
    subprocess.run(command, check=False, capture_output=True, env={**os.environ, "SCIM_TOKEN": TOKEN})
    wall = time.perf_counter() - started
    entries = json.loads(har.read_text())["log"]["entries"]
    return wall, sum(entry["time"] for entry in entries) / 1000, len(entries)


def lines(repeat: int) -> list[str]:
    """The median run's wall time, time waiting on the target and share, over `repeat` runs."""
    with tempfile.TemporaryDirectory() as scratch, reference_server() as url:
        runs = [one_run(url, Path(scratch) / str(n)) for n in range(repeat)]
    wall, waited, exchanges = sorted(runs)[len(runs) // 2]
    spread = f"{min(r[0] for r in runs):.2f}-{max(r[0] for r in runs):.2f}"
    return [
        "| exchanges | median wall (s) | min-max (s) | waiting on the target (s) | server-bound share |",
        "|---:|---:|---:|---:|---:|",
        f"| {exchanges} | {wall:.2f} | {spread} | {waited:.2f} | {waited / wall:.0%} |",
        "",
        f"Goal: at least 60 % of the wall time waiting on the target; median share over {repeat} runs "
        f"{statistics.median(r[1] / r[0] for r in runs):.0%}.",
    ]


if __name__ == "__main__":
    print_lines(__doc__, lines)
