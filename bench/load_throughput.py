"""Load driver throughput next to `wrk` on the same loopback endpoint (goal: driver >= 70 % of wrk).

Run: python -m bench.load_throughput [--seconds 5] [--concurrency 8]. Both send Entra's Test Connection
GET (`/Users?filter=userName eq "…"`) with the bearer token: the driver through its own runner, workers
and recording client (the probe phase of `scimconform load`, repeated), wrk with 2 threads and as many
connections as the driver has workers; next to them bare httpx clients on as many threads, the ceiling of a
driver built on httpx in one Python process. Measured on bench/fast_server.py (the practical limit of the
machine) and on the reference server (`scimconform serve`). Needs `wrk` (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from bench.servers import TOKEN, fast_server, reference_server
from scimconform.dialects import DIALECTS
from scimconform.identities import IdentityFactory, new_run_tag
from scimconform.load.runner import Runner
from scimconform.load.workload import Phase, Workload
from scimconform.profiles import load_profile
from scimconform.target import parse_tenant_url


class ProbesOnly(Workload):
    """The probe phase only, `count` times: no state on the target, nothing to clean."""

    count = 0

    def phases(self) -> Iterator[Phase]:
        yield Phase("probe", ([self._probe()] for _ in range(self.count)), self.count)


def driver_rate(url: str, seconds: float, concurrency: int) -> float:
    """Requests per second of the load runner; a first pass sizes the measured one to about `seconds`."""
    workload = ProbesOnly(
        profile=load_profile("alohi"), dialect=DIALECTS["default"], factory=IdentityFactory(1, new_run_tag()), users=1
    )
    target = parse_tenant_url(url, TOKEN)
    workload.count = 500
    for _ in range(2):
        started = time.perf_counter()
        result = Runner(target, workload, concurrency=concurrency, rate=None).run(io.StringIO())
        elapsed = time.perf_counter() - started
        assert not result.stats.errors, result.stats.errors
        workload.count = max(int(workload.count / elapsed * seconds), 100)
    return result.stats.requests / elapsed


def httpx_rate(url: str, seconds: float, concurrency: int) -> float:
    """Requests per second of bare httpx clients, one per thread, sending the same GET: the ceiling of
    any driver in this process that uses this HTTP client, whatever it does around each request."""
    target = f"{url}/Users?filter=userName+eq+%22e2a1f0c4-bench%22"
    deadline = time.perf_counter() + seconds
    counts = [0] * concurrency

    def send(index: int) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            while time.perf_counter() < deadline:
                client.get(target).raise_for_status()
                counts[index] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=send, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def wrk_rate(url: str, seconds: float, concurrency: int) -> float:
    query = "filter=userName+eq+%22e2a1f0c4-bench%22"
    command = ["wrk", "-t2", f"-c{concurrency}", f"-d{seconds:g}s", "-H", f"Authorization: Bearer {TOKEN}"]
    output = subprocess.run([*command, f"{url}/Users?{query}"], check=True, capture_output=True, text=True).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert found, output
    return float(found[1])


@dataclass
class Comparison:
    endpoint: str
    wrk: float
    httpx: float
    driver: float

    @property
    def share(self) -> float:
        return self.driver / self.wrk


def compare(seconds: float, concurrency: int) -> list[Comparison]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    rows = []
    for name, serve in (("fast canned server", fast_server), ("reference server", reference_server)):
        with serve() as url:
            rates = (rate(url, seconds, concurrency) for rate in (wrk_rate, httpx_rate, driver_rate))
            rows.append(Comparison(name, *rates))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    for row in compare(args.seconds, args.concurrency):
        print(
            f"{row.endpoint}: wrk {row.wrk:.0f} req/s, bare httpx {row.httpx:.0f} req/s, "
            f"driver {row.driver:.0f} req/s ({row.share:.0%} of wrk)"
        )


if __name__ == "__main__":
    main()
