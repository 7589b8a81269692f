"""Harness overhead per request: the replay engine against raw httpx sending the same requests (goal <= 1.3x).

Run: python -m bench.overhead [--users 100] [--repeat 5]. The engine replays ENTRA-CYCLE-001 (match,
create, manager, group, members, verification, cleanup) against `scimconform serve` in its own process;
every request it sent is recorded, then raw httpx sends the same requests, in the same order, to the same
server (ids the server assigns are mapped to the new ones). Passes alternate; medians are compared.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from dataclasses import dataclass

import httpx

from bench.servers import TOKEN, reference_server
from scimconform.catalogue import load_catalogue
from scimconform.client import RecordingClient
from scimconform.engine.case_run import CaseRun
from scimconform.engine.context import RunContext
from scimconform.exchange import Exchange
from scimconform.identities import IdentityFactory, new_run_tag
from scimconform.ledger import Ledger
from scimconform.profiles import load_profile
from scimconform.target import parse_tenant_url

SERVER_ID = re.compile(r"[0-9a-f]{32}")  # the reference server's ids: uuid4().hex


def engine_pass(url: str, users: int) -> tuple[float, list[Exchange]]:
    """Seconds for the engine's replay of the initial cycle, and every exchange it made."""
    client = RecordingClient(parse_tenant_url(url, TOKEN))
    sent: list[Exchange] = []
    client.listeners.append(sent.append)
    run_tag = new_run_tag()
    context = RunContext(
        client=client,
        profile=load_profile("entra-default"),
        factory=IdentityFactory(1, run_tag),
        ledger=Ledger(run_tag=run_tag),
        users=users,
    )
    case = next(c for c in load_catalogue() if c.id == "ENTRA-CYCLE-001")
    run = CaseRun(case, "aadOptscim062020", context)
    started = time.perf_counter()
    run.run()
    assert not run.cleanup()
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed, sent


def raw_pass(exchanges: list[Exchange]) -> float:
    """Seconds for plain httpx to send the same requests; POSTs map the recorded ids to the new ones."""
    ids: dict[str, str] = {}

    def mapped(text: str) -> str:
        return SERVER_ID.sub(lambda m: ids.get(m[0], m[0]), text)

    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/scim+json"}) as http:
        started = time.perf_counter()
        for exchange in exchanges:
            body = exchange.request_body
            headers = {"Content-Type": "application/scim+json"} if body is not None else None
            content = mapped(body) if body is not None else None
            response = http.request(exchange.method, mapped(exchange.url), content=content, headers=headers)
            if exchange.method == "POST" and response.status_code == 201:
                ids[exchange.json()["id"]] = response.json()["id"]
        return time.perf_counter() - started


@dataclass
class Overhead:
    requests: int
    engine_ms: float
    raw_ms: float

    @property
    def ratio(self) -> float:
        return self.engine_ms / self.raw_ms


def measure(users: int, repeat: int) -> Overhead:
    engine, raw = [], []
    with reference_server() as url:
        raw_pass(engine_pass(url, users)[1])  # warm-up: imports, connection set-up, the server's first requests
        for _ in range(repeat):
            seconds, exchanges = engine_pass(url, users)
            engine.append(seconds / len(exchanges))
            raw.append(raw_pass(exchanges) / len(exchanges))
    return Overhead(len(exchanges), statistics.median(engine) * 1000, statistics.median(raw) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    result = measure(args.users, args.repeat)
    verdict = "meets" if result.ratio <= 1.3 else "MISSES"
    print(
        f"{result.requests} requests: engine {result.engine_ms:.2f} ms, raw httpx {result.raw_ms:.2f} ms per request, "
        f"{result.ratio:.2f}x; goal <= 1.3x: {verdict}"
    )


if __name__ == "__main__":
    main()
