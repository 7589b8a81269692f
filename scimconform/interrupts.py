"""Stop signals: SIGINT (Ctrl-C), SIGTERM (what a CI runner sends on cancel) and SIGHUP (a closed terminal)
all stop a run the same way, so the cases stop, cleanup runs and the reports are written.

The first interrupt stops the cases and lets cleanup finish; a second one stops cleanup at once (see
`scimconform.ledger`). `received()` counts them, so cleanup can tell the two apart.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_received = 0
_deferring = 0  # `deferred` blocks the main thread is in


def received() -> int:
    """How many stop signals this process has taken."""
    return _received


def _stop(signum: int, frame: FrameType | None) -> None:
    global _received
    _received += 1
    if not _deferring:
        raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """Within the block, a stop is counted but raises nothing: what must not be left half done once begun (the
    run's reports) is finished. Only for work that cannot hang on the target: no stop can cut it short."""
    global _deferring
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1


@contextmanager
def interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """Within the block, every stop signal raises KeyboardInterrupt; only the main thread can take signals."""
    global _received
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(STOP_SIGNALS[0]) is not _stop:  # the outermost block: a run counts its own stops
        _received = 0
    previous = {number: signal.signal(number, _stop) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
