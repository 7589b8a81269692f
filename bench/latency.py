"""A full `scimconform run` behind a delaying proxy: `--workers 1` next to `--workers N`, verdicts compared.

Run: python -m bench.latency [--rtt 0 50 150] [--workers 4]. The reference server runs in its own process (`scimconform
serve`) behind bench/delay_proxy.py; each run is a fresh process, with the 1 s throughput window of
bench/run_time.py. The verdict of every case must be the same in both runs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench import host
from bench.delay_proxy import delaying_proxy
from bench.run_time import one_run
from bench.servers import TOKEN, reference_server


def verdicts(report_dir: Path) -> dict[tuple[str, str | None], str]:
    summary = json.loads((report_dir / "summary.json").read_text())
    return {(case["id"], case["dialect"]): case["status"] for case in summary["cases"]}


def lines(rtts: list[float], workers: int) -> list[str]:
    """One row per round-trip time: wall seconds with one worker and with `workers`, and whether every case's
    verdict matched."""
    rows = [
        f"Full default run (`--url`, 1 s throughput window) behind bench/delay_proxy.py; machine: {host()}.",
        "",
        f"| RTT (ms) | `--workers 1` (s) | `--workers {workers}` (s) | speed-up | same verdict per case |",
        "|---:|---:|---:|---:|---|",
    ]
    with tempfile.TemporaryDirectory() as scratch, reference_server() as url:
        for rtt in rtts:
            with delaying_proxy(url, rtt) as slow:
                serial, cases = one_run(Path(scratch) / f"{rtt}-1", slow, TOKEN, workers=1)
                parallel, _ = one_run(Path(scratch) / f"{rtt}-n", slow, TOKEN, workers=workers)
            same = verdicts(Path(scratch) / f"{rtt}-1") == verdicts(Path(scratch) / f"{rtt}-n")
            rows.append(
                f"| {rtt:g} | {serial:.1f} | {parallel:.1f} | {serial / parallel:.2f}x | "
                f"{'yes' if same else 'NO'} ({cases} cases) |"
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt", type=float, nargs="+", default=[0, 50, 150], metavar="MS")
    parser.add_argument("--workers", type=int, default=4, metavar="N")
    args = parser.parse_args()
    print("\n".join(lines(args.rtt, args.workers)))


if __name__ == "__main__":
    main()
