"""Sustained load at the gallery's bar: "Support at least 25 requests per second per tenant".

The bar is quoted from Microsoft Learn, "User provisioning requirements for Microsoft Entra App
Gallery", § "SCIM API requirements".

Requests are scheduled at fixed slots (request i at i/rate seconds) and sent from a thread pool, so a
slow answer does not delay the next request: the target sees the offered rate, as from Entra's many
workers. The verdict: no errors, no 429 (the target was never asked for more than the bar), and a p95
latency within the bound. Exchanges here reach no listener: hundreds of them would drown the report, so
the case reports the rate and the latency percentiles instead.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from scimconform.exchange import Exchange

GALLERY_RATE = 25.0
# Requests in flight at most: at 25/s this absorbs answers of up to about 2.5 s without slowing the rate.
MAX_IN_FLIGHT = 64
# Below this share of the offered rate the target was too slow to sustain it.
SUSTAINED_SHARE = 0.9


@dataclass(frozen=True)
class Measured:
    """What a sustained run saw: every exchange and how late its answer came after its slot (seconds), in slot
    order, the rate offered and the wall-clock time it took."""

    exchanges: list[Exchange]
    lateness: list[float]
    offered: float
    seconds: float

    @property
    def rate(self) -> float:
        """The rate the target kept up with. A target that keeps up answers every request equally late after
        its slot, however far away it is; one that falls behind answers each later than the one before, and
        the growth is the time it needed beyond the offered schedule. Dividing the answers by the wall time
        instead blamed the network's delay on the target (a 1 s window 150 ms away: 25 answers in 1.15 s).
        The growth compares the medians of the first and the last tenth (three answers at least), so one slow
        answer does not decide it; a stall the target made up for shows in the latency bound instead."""
        count = len(self.lateness)
        if count < 2:
            return min(count / self.seconds, self.offered) if self.seconds else 0.0
        tenth = max(count // 10, 3)
        growth = statistics.median(self.lateness[-tenth:]) - statistics.median(self.lateness[:tenth])
        return (count - 1) / ((count - 1) / self.offered + max(growth, 0.0))

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in ms."""
        latencies = sorted(e.elapsed_ms for e in self.exchanges)
        return latencies[max(math.ceil(p / 100 * len(latencies)) - 1, 0)] if latencies else 0.0

    def summary(self) -> str:
        return (
            f"{len(self.exchanges)} requests in {self.seconds:.1f} s, kept up with at {self.rate:.1f}/s; latency "
            f"p50 {self.percentile(50):.0f} ms, p95 {self.percentile(95):.0f} ms, p99 {self.percentile(99):.0f} ms"
        )


def sustain(send: Callable[[int], Exchange], rate: float, seconds: float) -> Measured:
    """Call `send(i)` once per slot (rate * seconds slots), request i at i/rate seconds after the start."""
    total = max(round(rate * seconds), 1)
    start = time.monotonic()

    def slot(index: int) -> tuple[Exchange, float]:
        due = start + index / rate
        if (delay := due - time.monotonic()) > 0:
            time.sleep(delay)
        return send(index), time.monotonic() - due

    with ThreadPoolExecutor(max_workers=min(total, MAX_IN_FLIGHT), thread_name_prefix="scimconform-load") as pool:
        slots = [pool.submit(slot, index) for index in range(total)]
        try:
            done = [each.result() for each in slots]
        except BaseException:  # a failed send (a stop): the slots not begun are not sent
            pool.shutdown(cancel_futures=True)
            raise
    seconds = max(time.monotonic() - start, total / rate)
    return Measured([exchange for exchange, _ in done], [late for _, late in done], rate, seconds)


def shortfall(measured: Measured, rate: float, p95_bound_ms: float) -> tuple[Exchange, str, bool] | None:
    """What broke the bar, with the exchange that shows it and whether that is an error answer (a refused or
    failed request, other than 429) rather than capacity (429, latency, rate); None when the target met it."""
    failed = [e for e in measured.exchanges if e.status is None or e.status >= 400]
    errors = [e for e in failed if e.status != 429]
    throttled = [e for e in failed if e.status == 429]
    total = len(measured.exchanges)
    if errors:
        first = errors[0]
        answer = f"HTTP {first.status}" if first.status is not None else first.transport_error
        problem = f"{len(errors)} of {total} requests failed, the first ({first.method}) with {answer}"
        return first, f"{problem}; {measured.summary()}", True
    if throttled:
        problem = f"HTTP 429 to {len(throttled)} of {total} requests at no more than {rate:g} requests/s"
        return throttled[0], f"{problem}; {measured.summary()}", False
    if measured.percentile(95) > p95_bound_ms:
        slowest = max(measured.exchanges, key=lambda e: e.elapsed_ms)
        return slowest, f"p95 latency above the bound of {p95_bound_ms:g} ms; {measured.summary()}", False
    if measured.rate < rate * SUSTAINED_SHARE:
        return measured.exchanges[-1], f"too slow to sustain {rate:g} requests/s; {measured.summary()}", False
    return None
