"""Run every benchmark and write bench/results.md: python -m bench [--repeat 3] [--quick].

Sections: full `scimconform run` on the embedded server in-process and over loopback, next to
scim2-tester on the same server, and pair by pair on scim2-server; a full run behind 0, 50 and 150 ms of
round-trip time, one worker next to the default; harness overhead per request against raw httpx; the initial cycle for
100, 1,000, 5,000 and 10,000 users (time and peak memory); load driver throughput next to wrk; and one
`scimconform load` run. Figures compared with each other are measured side by side in this one run.
`--quick` shrinks every size, to check the command itself; its figures are not the published ones.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from bench import (
    host,
    initial_cycle,
    latency,
    load_throughput,
    overhead,
    run_time,
    scim2_tester,
    server_share,
    side_by_side,
)
from bench.servers import TOKEN, reference_server

RESULTS = Path(__file__).parent / "results.md"


def machine() -> list[str]:
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("[")[0].strip()
    packages = ", ".join(
        f"{name} {version(name)}" for name in ("scimconform", "httpx", "werkzeug", "cheroot", "locust")
    )
    return [
        f"- machine: {host()}",
        f"- Python {platform.python_version()}; {packages}; {wrk}; scim2-tester {scim2_tester.version()}",
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
    ]


def run_times(repeat: int) -> list[str]:
    """Embedded in-process, the same server over loopback, and scim2-tester on it, interleaved."""
    embedded, loopback, tester = [], [], []
    with tempfile.TemporaryDirectory() as scratch, reference_server() as url:
        for index in range(repeat):
            wall, cases = run_time.one_run(Path(scratch) / f"e{index}")
            embedded.append(wall)
            loopback.append(run_time.one_run(Path(scratch) / f"l{index}", url, TOKEN, workers=1)[0])
            seconds, outcome = scim2_tester.one_run(url)
            tester.append(seconds)
    base = statistics.median(embedded)
    rows = [
        ("`scimconform run`, embedded server in-process", embedded, f"{cases} cases"),
        (
            "`scimconform run --url` over loopback (`scimconform serve`), 1 s throughput window",
            loopback,
            f"{cases} cases",
        ),
        ("scim2-tester `check_server()` over loopback, same server", tester, f"{outcome['checks']} checks"),
    ]
    lines = ["| what | checks | median wall (s) | min-max (s) | vs in-process |", "|---|---:|---:|---:|---:|"]
    for name, walls, checks in rows:
        median = statistics.median(walls)
        lines.append(f"| {name} | {checks} | {median:.2f} | {min(walls):.2f}-{max(walls):.2f} | {median / base:.2f}x |")
    lines.append(f"\nscim2-tester outcome on the reference server: {outcome['statuses']}.")
    return lines


def overhead_lines(users: int, repeat: int) -> list[str]:
    result = overhead.measure(users, repeat)
    verdict = "met" if result.ratio <= 1.3 else "MISSED"
    return [
        f"ENTRA-CYCLE-001 for {users} users plus cleanup, {result.requests} requests, median of {repeat} alternating "
        "passes against `scimconform serve`:",
        "",
        "| sender | ms per request |",
        "|---|---:|",
        f"| replay engine (CaseRun, recording client, checks, ledger) | {result.engine_ms:.2f} |",
        f"| raw httpx, the same requests | {result.raw_ms:.2f} |",
        "",
        f"Ratio **{result.ratio:.2f}x** (goal ≤ 1.3x: {verdict}).",
    ]


def initial_cycle_lines(sizes: list[int], repeat: int) -> list[str]:
    lines = ["| users | runs | median wall (s) | ms per user | peak RSS (MiB) |", "|---:|---:|---:|---:|---:|"]
    walls: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for users in sizes:
            runs = max(1, repeat if users <= 1000 else 1)
            measured = [initial_cycle.one_run(users, Path(scratch) / f"{users}-{i}") for i in range(runs)]
            wall = statistics.median(m[0] for m in measured)
            peak = max(m[1] for m in measured)
            lines.append(f"| {users} | {runs} | {wall:.2f} | {wall / users * 1000:.1f} | {peak:.0f} |")
            walls[users] = wall
    if 1000 in walls:
        verdict = "met" if walls[1000] < 30 else f"missed by {walls[1000] - 30:.1f} s"
        lines += ["", f"Goal: 1,000 users under 30 s: {verdict}."]
    return lines


def throughput_lines(seconds: float) -> list[str]:
    lines = [
        "| endpoint | wrk (req/s) | bare httpx (req/s) | load driver (req/s) | driver / wrk | driver / bare httpx |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rows = load_throughput.compare(seconds, concurrency=8)
    for row in rows:
        lines.append(
            f"| {row.endpoint} | {row.wrk:.0f} | {row.httpx:.0f} | {row.driver:.0f} | {row.share:.0%} | "
            f"{row.driver / row.httpx:.0%} |"
        )
    fast = rows[0]
    verdict = "met" if fast.share >= 0.7 else f"missed by {70 - fast.share * 100:.0f} points"
    return [
        *lines,
        "",
        f"Goal: driver ≥ 70 % of wrk on the fast server: {verdict}. Bare httpx on the same threads reaches "
        f"{fast.httpx / fast.wrk:.0%} of wrk there: that is the ceiling of any driver that sends with httpx from "
        "one Python process, whatever it does around each request. The driver's own cost is the last column.",
    ]


def load_run_lines(users: int) -> list[str]:
    """One `scimconform load` on the embedded server, as a user would start it."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "scimconform.cli", "load", "--users", str(users), "--seed", "1"]
        started = time.perf_counter()
        done = subprocess.run([*command, "--report-dir", scratch], capture_output=True, text=True)
        wall = time.perf_counter() - started
        summary = json.loads((Path(scratch) / "summary.json").read_text())
    load = summary["load"]
    lines = [
        f"`scimconform load --users {users}` (concurrency {load['concurrency']}, embedded server): exit "
        f"{done.returncode}, {load['requests']} requests in {load['seconds']:.0f} s ({load['throughput']:.0f} req/s), "
        f"cleanup {load['cleanup_seconds']:.0f} s, whole process {wall:.0f} s; end state "
        f"{'exact' if load['end_state']['ok'] else 'WRONG'}; errors {load['errors'] or 'none'}; "
        f"left behind: {len(summary['leftovers'])}.",
        "",
        "| operation | count | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for op, row in load["operations"].items():
        lines.append(f"| {op} | {row['count']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the command")
    args = parser.parse_args()
    quick = args.quick
    sizes = [20, 100] if quick else [100, 1000, 5000, 10000]
    sections = [
        ("Machine and versions", machine()),
        ("Full run: scimconform next to scim2-tester", run_times(args.repeat)),
        (
            "Latency: concurrent cases behind a delaying proxy",
            latency.lines([0, 50] if quick else [0, 50, 150], workers=4),
        ),
        ("Server-bound share", server_share.lines(1 if quick else args.repeat)),
        (
            "On scim2-server: scimconform next to scim2-tester, pair by pair",
            side_by_side.lines(1 if quick else args.repeat),
        ),
        ("Harness overhead per request", overhead_lines(20 if quick else 100, args.repeat)),
        ("Initial cycle (ENTRA-CYCLE-001, aadOptscim062020)", initial_cycle_lines(sizes, args.repeat)),
        ("Load driver next to wrk (concurrency 8)", throughput_lines(2 if quick else 5)),
        ("scimconform load", load_run_lines(200 if quick else 10000)),
    ]
    text = ["# Benchmark results", "", f"Written by `python -m bench{' --quick' if quick else ''}`.", ""]
    if quick:
        text += ["**Quick mode: every size shrunk to check the command; these are not the published figures.**", ""]
    for title, lines in sections:
        text += [f"## {title}", "", *lines, ""]
        print(f"{title}: done", flush=True)
    RESULTS.write_text("\n".join(text), encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
