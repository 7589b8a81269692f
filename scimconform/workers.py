"""Keeping the worker processes of one run (`scimconform run --workers N`) out of each other's way.

Cases are independent (each creates its own identities), so most can run at once; a case marked `alone`
(the throughput case, the cycles at scale, paging through a whole collection) must see no other case's
traffic, or its verdict would change. The processes coordinate through files in the report directory, with
`flock`, which the kernel releases when a process dies: a killed worker never leaves the others waiting.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_PR_SET_PDEATHSIG = 1  # prctl(2)


@contextmanager
def flocked(fd: int) -> Iterator[None]:
    """`fd` locked exclusively against the other processes for the block."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def shared_folder(report_dir: Path, run_tag: str) -> Path:
    """Where one run's workers keep their locks and shared pace; removed when the run ends."""
    return report_dir / f".workers-{run_tag}"


class CaseLocks:
    """A readers-writer lock across processes: ordinary cases share the run, an `alone` case holds it by itself.

    Every case first passes a gate, held only while it takes the run lock; an alone case waiting for the others
    to finish holds the gate, so no new case starts meanwhile and it is not starved."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._gate = os.open(folder / "gate.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._run = os.open(folder / "cases.lock", os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def case(self, alone: bool) -> Iterator[None]:
        """Hold the run for one case: shared, or exclusive when it must run `alone`."""
        with flocked(self._gate):
            fcntl.flock(self._run, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(self._run, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._gate)
        os.close(self._run)


def die_with_parent() -> None:
    """A worker process is killed when the run's main process dies, even by SIGKILL, on Linux: an orphaned
    worker would go on creating users that nothing reports, while `scimconform cleanup` finds every ledger
    as the kill left it. Elsewhere a worker notices only when it next talks to the main process."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the main process died before the request took effect
        os.kill(os.getpid(), signal.SIGKILL)
