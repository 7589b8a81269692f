"""Time the HTML report for 600 cases (goal: under 10 s on this machine).

Run: python bench/report_time.py [--cases 600] [--repeat 3]. One real `scimconform run` on the embedded
server gives the Allure results of every case with all its steps and attachments; its result files are
then copied under new ids until there are N cases, and `scimconform report` is timed on them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from scimconform.reporting.html import build_html


def grow(results: Path, cases: int) -> int:
    """Copy result files under fresh ids (and names) until `cases` results exist; return the count."""
    originals = sorted(results.glob("*-result.json"))
    made = len(originals)
    copy = 0
    while made < cases:
        copy += 1
        for original in originals:
            if made >= cases:
                break
            result = json.loads(original.read_text())
            result["uuid"] = str(uuid.uuid4())
            for key in ("historyId", "testCaseId", "fullName", "name"):
                if key in result:
                    result[key] = f"{result[key]} (copy {copy})"
            (results / f"{result['uuid']}-result.json").write_text(json.dumps(result))
            made += 1
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        reports = Path(scratch) / "reports"
        command = [sys.executable, "-m", "scimconform.cli", "run", "--seed", "1", "--report-dir", str(reports)]
        subprocess.run(command, check=True, capture_output=True)
        count = grow(reports / "allure-results", args.cases)
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            page = build_html(reports)
            timings.append(time.perf_counter() - started)
        size = page.stat().st_size / 2**20
    median = statistics.median(timings)
    verdict = "meets" if median < 10 else "MISSES"
    print(f"HTML report for {count} cases: median {median:.2f} s over {args.repeat} builds ({size:.1f} MiB page)")
    print(f"  min {min(timings):.2f} s, max {max(timings):.2f} s; goal < 10 s: {verdict}")


if __name__ == "__main__":
    main()
