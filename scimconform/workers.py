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
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

from scimconform.interrupts import STOP_SIGNALS

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


def remove_abandoned(report_dir: Path) -> None:
    """Remove the shared folders of runs that no worker lives in any more: a run killed outright (kill -9, a
    CI job's time limit) never removed its own. Each worker holds `alive.lock` shared for its whole life."""
    for folder in report_dir.glob(".workers-*"):
        try:
            alive = os.open(folder / "alive.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            continue
        try:
            fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a worker of that run still lives
        finally:
            os.close(alive)
        shutil.rmtree(folder, ignore_errors=True)


class CaseLocks:
    """A readers-writer lock across processes: ordinary cases share the run, an `alone` case holds it by itself.

    Every case first passes a gate, held only while it takes the run lock; an alone case waiting for the others
    to finish holds the gate, so no new case starts meanwhile and it is not starved."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._alive = os.open(folder / "alive.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._alive, fcntl.LOCK_SH)  # released by the kernel when this worker dies
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
        os.close(self._alive)


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


@contextmanager
def stop_kills_workers() -> Iterator[None]:
    """While the main process waits for its workers to stop (pytest-xdist gives them seconds to finish), a
    further stop signal kills them at once, as a second interrupt stops a serial run's cleanup: the wait ends
    and the reports are written, each stopped worker's ledger telling what it left. Linux only (/proc)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def kill_workers(signum: int, frame: FrameType | None) -> None:
        for pid in child_processes(os.getpid()):
            with suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    previous = {number: signal.signal(number, kill_workers) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def child_processes(pid: int) -> list[int]:
    """The processes `pid` started, from /proc (empty where there is none)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found
