"""The 25 requests/s case's measure: a target that keeps up passes however far away it is; one that cannot
keep up fails, whatever its latency."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import pytest

from scimconform.exchange import Exchange
from scimconform.throughput import GALLERY_RATE, shortfall, sustain

NO_LATENCY_BOUND = 60_000.0  # the rate alone is judged here


def answered_after(seconds: float, *, one_at_a_time: bool = False) -> Callable[[int], Exchange]:
    """A stand-in target: each answer takes `seconds`; `one_at_a_time` serves one request after the other."""
    lock = threading.Lock()

    def send(index: int) -> Exchange:
        if one_at_a_time:
            with lock:
                time.sleep(seconds)
        else:
            time.sleep(seconds)
        return Exchange(
            method="GET",
            url="https://scim.example.com/v2/Users",
            request_headers={},
            request_body=None,
            status=200,
            elapsed_ms=seconds * 1000,
        )

    return send


@pytest.mark.parametrize("rtt", [0.0, 0.15, 0.4], ids=["loopback", "150-ms-away", "400-ms-away"])
def test_a_target_that_keeps_up_passes_however_far_away(rtt: float) -> None:
    measured = sustain(answered_after(rtt), GALLERY_RATE, 1)
    assert shortfall(measured, GALLERY_RATE, NO_LATENCY_BOUND) is None, measured.summary()
    assert measured.rate >= 0.9 * GALLERY_RATE


def test_a_target_that_serves_one_request_at_a_time_too_slowly_fails() -> None:
    measured = sustain(answered_after(0.06, one_at_a_time=True), GALLERY_RATE, 1)  # about 16 answers a second
    problem = shortfall(measured, GALLERY_RATE, NO_LATENCY_BOUND)
    assert problem is not None and "too slow to sustain 25 requests/s" in problem[1], measured.summary()


def test_a_target_that_serves_15_a_second_and_answers_in_batches_fails() -> None:
    """Held answers hide a backlog from their spacing: each second the target releases what it has done."""
    lock, served = threading.Lock(), [0]
    started = time.monotonic()

    def send(index: int) -> Exchange:
        with lock:
            served[0] += 1
            done = served[0] / 15  # seconds after the start, one request after the other
        released = started + math.ceil(done)
        time.sleep(max(released - time.monotonic(), 0))
        return Exchange(
            method="GET", url="https://scim.example.com/v2/Users", request_headers={}, request_body=None, status=200
        )

    measured = sustain(send, GALLERY_RATE, 1)
    problem = shortfall(measured, GALLERY_RATE, NO_LATENCY_BOUND)
    assert problem is not None and "too slow to sustain" in problem[1], measured.summary()
