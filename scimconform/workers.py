"""Keeping the worker processes of one run under pytest-xdist (`pytest -n N`) out of each other's way; and how many
cases `scimconform run` runs at once (`sized`), in threads of its one process (`engine/ahead.py`).

Cases are independent (each creates its own identities), so most can run at once; the steps of a case marked
`alone` (the throughput case, the cycles at scale, paging through a whole collection) must see no other case's
traffic, or its verdict would change. The processes coordinate through files in the report directory, with
`flock`, which the kernel releases when a process dies: a killed worker never leaves the others waiting.
"""

from __future__ import annotations

import ctypes
import fcntl
import ipaddress
import os
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from scimconform.errors import HarnessError
from scimconform.interrupts import STOP_SIGNALS
from scimconform.settings import REMOTE_WORKERS, Settings

_PR_SET_PDEATHSIG = 1  # prctl(2)
MAIN_PID_ENV = "SCIMCONFORM_MAIN_PID"  # set by the main process before it starts workers
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
GRACE_SECONDS = 2.0  # between the SIGTERM and the SIGKILL of `stop_kills_workers`


@contextmanager
def flocked(fd: int) -> Iterator[None]:
    """`fd` locked exclusively against the other processes for the block."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def sized(settings: Settings) -> int:
    """Cases at once for a run that did not say how many: `REMOTE_WORKERS` for a target on another machine, whose
    round trips they overlap, and 1 for one on this machine or the embedded server, where they gain little: the
    harness and the server share its cores (bench/results.md). Decided from the Tenant URL's host alone, with
    no lookup and no connection (a proxy does not count): a bad selection must still be refused before anything
    reaches the target."""
    if not settings.url:  # as `target.configured_target`: no URL is the embedded server
        return 1
    return 1 if on_this_machine(urlsplit(settings.url).hostname or "") else REMOTE_WORKERS


def on_this_machine(host: str) -> bool:
    """A loopback or unspecified address, in any form the system accepts (`127.1`, `::ffff:127.0.0.1`), or a
    name for this machine; other names count as elsewhere, unresolved."""
    host = host.rstrip(".").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def shared_folder(report_dir: Path, run_tag: str) -> Path:
    """Where one run's workers keep their locks and shared pace; removed when the run ends."""
    return report_dir / f".workers-{run_tag}"


def remove_abandoned(report_dir: Path) -> None:
    """Remove the shared folders of runs that no worker lives in any more: a run killed outright (kill -9, a
    CI job's time limit) never removed its own. Each worker holds `alive.lock` shared for its whole life; a
    folder is renamed away while its lock is held, so a worker starting meanwhile makes a fresh one
    (`_hold_alive`). A folder without the lock, or that cannot be locked here, is left as it is."""
    for folder in report_dir.glob(".workers-*"):
        if folder.is_symlink() or not folder.is_dir():
            continue
        try:
            alive = os.open(folder / "alive.lock", os.O_RDWR | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)
            folder.rename(folder.with_name(f".{folder.name}.removed-{os.getpid()}-{time.monotonic_ns()}"))
        except OSError:  # a worker of that run still lives (or this file system has no locks)
            continue
        finally:
            os.close(alive)
    for removed in report_dir.glob("..workers-*.removed-*"):  # renamed here or by a removal cut short
        shutil.rmtree(removed, ignore_errors=True)


def _hold_alive(folder: Path) -> int:
    """Open `alive.lock` and hold it shared, checking that it is still the folder's own once held: a cleanup
    may rename the folder away at any moment before the lock is taken."""
    for _ in range(100):
        with suppress(FileNotFoundError):
            folder.mkdir(parents=True, exist_ok=True)
            alive = os.open(folder / "alive.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(alive, fcntl.LOCK_SH)  # released by the kernel when this worker dies
            held, named = os.fstat(alive), None
            with suppress(FileNotFoundError):
                named = os.stat(folder / "alive.lock")
            if named is not None and (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino):
                return alive
            os.close(alive)
    raise HarnessError(f"cannot hold the workers' lock in {folder}: its file system keeps changing it")


class CaseLocks:
    """A readers-writer lock across processes: every case shares the run from its setup to its cleanup, and the
    steps of an `alone` case hold it by themselves (their setup and cleanup need no quiet target).

    Taking the run lock goes through a gate; an alone case waiting for the others to finish holds the gate, so no
    new case starts meanwhile and it is not starved."""

    def __init__(self, folder: Path) -> None:
        self._alive = _hold_alive(folder)
        (folder / f"worker-{os.getpid()}").touch()  # for `stop_kills_workers`
        self._gate = os.open(folder / "gate.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._run = os.open(folder / "cases.lock", os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def case(self) -> Iterator[None]:
        """Hold the run for one case, shared with the other workers' cases."""
        self._take(fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(self._run, fcntl.LOCK_UN)

    @contextmanager
    def alone(self) -> Iterator[None]:
        """Inside `case`: hold the run by itself, then share it again. The shared hold is let go before the gate
        is asked for, so two cases wanting to be alone at once never wait for each other."""
        try:
            fcntl.flock(self._run, fcntl.LOCK_UN)
            self._take(fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(self._run, fcntl.LOCK_UN)
            self._share_again()

    def _share_again(self) -> None:
        """Hold the run shared again, even through interrupts (raised once it is held): the case's cleanup must
        not run while another worker's alone steps do."""
        interrupted = False
        while True:
            try:
                self._take(fcntl.LOCK_SH)
                break
            except KeyboardInterrupt:
                interrupted = True
        if interrupted:
            raise KeyboardInterrupt

    def _take(self, kind: int) -> None:
        with flocked(self._gate):
            fcntl.flock(self._run, kind)

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
    main = int(os.environ.get(MAIN_PID_ENV) or os.getppid())
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != main:  # the main process died before the request took effect
        os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def stop_kills_workers(folder: Path) -> Iterator[None]:
    """While the main process waits for its workers to stop (pytest-xdist gives them seconds to finish), a
    further stop signal stops them at once, as a second interrupt stops a serial run's cleanup: each worker is
    sent SIGTERM, which stops its cleanup and lets it report, and SIGKILL `GRACE_SECONDS` later if it still
    lives; what it left is in its ledger. The signal after that stops the main process as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop_workers(signum: int, frame: FrameType | None) -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)
        workers = [int(path.name.removeprefix("worker-")) for path in folder.glob("worker-[0-9]*")]
        _signal_children(workers, signal.SIGTERM)
        timer = threading.Timer(GRACE_SECONDS, _signal_children, (workers, signal.SIGKILL))
        timer.daemon = True  # the main process may end first: its workers die with it (`die_with_parent`)
        timer.start()

    previous = {number: signal.signal(number, stop_workers) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        if signal.getsignal(STOP_SIGNALS[0]) == stop_workers:
            for number, handler in previous.items():
                signal.signal(number, handler)


def _signal_children(pids: list[int], number: signal.Signals) -> None:
    """Signal those of `pids` that are still this process's children (a pid is reused once its process ends)."""
    for pid in pids:
        if _is_child(pid):
            with suppress(OSError):  # gone meanwhile
                os.kill(pid, number)


def _is_child(pid: int) -> bool:
    """Whether `pid` is still a process this one started (a listed worker's pid may have been reused); taken
    on trust where there is no /proc."""
    if not Path("/proc/self").exists():
        return True
    return parent_of(pid) == os.getpid()


def parent_of(pid: int) -> int | None:
    """The parent of process `pid`, from /proc (Linux); None when it is gone or there is no /proc."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None
