"""Time a full `scimconform run` against the embedded reference server (goal: under 10 s wall).

Run: python bench/run_time.py [--repeat N]. Each run is a fresh process, as a user would start it;
the median and the spread are printed, with the number of cases the run judged.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(report_dir: Path, url: str | None = None, token: str = "", workers: int = 1) -> tuple[float, int]:
    """Wall seconds and cases judged of one run: on the embedded server, or on `url` over loopback with the
    embedded server's 1 s throughput window (a real target gets 10 s), so that with `workers=1` the two differ
    only in transport."""
    command = [sys.executable, "-m", "scimconform.cli", "run", "--seed", "1", "--report-dir", str(report_dir)]
    command += ["--workers", str(workers)]
    started = time.perf_counter()
    subprocess.run(
        command + (["--url", url, "--throughput-seconds", "1"] if url else []),
        check=True,
        capture_output=True,
        env={**os.environ, "SCIM_TOKEN": token},
    )
    elapsed = time.perf_counter() - started
    summary = json.loads((report_dir / "summary.json").read_text())
    return elapsed, sum(summary["totals"].values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    timings = []
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(args.repeat):
            elapsed, cases = one_run(Path(scratch) / str(index))
            timings.append(elapsed)
    median = statistics.median(timings)
    verdict = "meets" if median < 10 else "MISSES"
    print(f"scimconform run, embedded server, {cases} cases: median {median:.2f} s over {args.repeat} runs")
    print(f"  min {min(timings):.2f} s, max {max(timings):.2f} s; goal < 10 s: {verdict}")


if __name__ == "__main__":
    main()
