"""Drives a workload with C worker threads, or at a target request rate, and cleans up after it.

Each worker owns a recording client (one keep-alive connection) and its own stats; the chains of a
phase are handed out one at a time, so a slow chain never holds up the others. Whatever happens —
errors, Ctrl-C — everything the run wrote down in its ledger is deleted again, by the same workers,
groups before users.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, TextIO

from scimconform.client import Pacer, RecordingClient, tls_context
from scimconform.exchange import Exchange
from scimconform.ledger import Ledger
from scimconform.load.stats import Stats
from scimconform.load.workload import Call, Chain, Phase, Workload, run_chain
from scimconform.target import Target

PROGRESS_WIDTH = 30
PLAIN_PROGRESS_EVERY = 5.0  # seconds between progress lines when stderr is not a terminal
MAX_PROBLEMS_SHOWN = 50


class Progress:
    """A bar redrawn in place on a terminal; a plain line every few seconds anywhere else (CI logs)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = max(total, 1)
        self.phase = ""
        self.done = 0
        self._ticks = itertools.count(1)
        self._stream = stream
        self._tty = stream.isatty()
        self._started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._draw_until_stopped, name="scimconform-load-progress", daemon=True)

    def tick(self) -> None:
        self.done = next(self._ticks)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._draw(final=True)

    def _draw_until_stopped(self) -> None:
        while not self._stop.wait(0.2 if self._tty else PLAIN_PROGRESS_EVERY):
            self._draw(final=False)

    def _draw(self, final: bool) -> None:
        elapsed = time.perf_counter() - self._started
        rate = self.done / elapsed if elapsed else 0.0
        share = min(self.done / self.total, 1.0)
        text = f"{self.done}/{self.total} requests, phase {self.phase or '-'}, {rate:.0f} req/s"
        if self._tty:
            filled = round(share * PROGRESS_WIDTH)
            bar = "#" * filled + "-" * (PROGRESS_WIDTH - filled)
            self._stream.write(f"\rload [{bar}] {share:4.0%} {text}\033[K" + ("\n" if final else ""))
        elif not final:
            self._stream.write(f"load: {share:.0%} {text}\n")
        self._stream.flush()


@dataclass(kw_only=True)
class LoadResult:
    """What a load run measured and found."""

    workload: Workload
    concurrency: int
    rate: float | None
    stats: Stats = field(default_factory=Stats)
    seconds: float = 0.0
    phase_seconds: dict[str, float] = field(default_factory=dict)
    cleanup_seconds: float = 0.0
    leftovers: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not (self.stats.errors or self.workload.problems or self.leftovers or self.interrupted)

    def to_json(self) -> dict[str, Any]:
        """The `load` section of summary.json (schemas/summary.json, $defs/load)."""
        problems = self.workload.problems
        return {
            "ok": self.ok,
            "users": self.workload.users,
            "groups": len(self.workload.teams),
            "dialect": self.workload.dialect.name,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "requests": self.stats.requests,
            "seconds": round(self.seconds, 3),
            "throughput": round(self.stats.requests / self.seconds, 1) if self.seconds else 0.0,
            "phases": {name: round(seconds, 3) for name, seconds in self.phase_seconds.items()},
            "operations": self.stats.operations(),
            "errors": dict(sorted(self.stats.errors.items())),
            "end_state": {
                "ok": not problems,
                "problems": problems[:MAX_PROBLEMS_SHOWN],
                "problem_count": len(problems),
            },
            "cleanup_seconds": round(self.cleanup_seconds, 3),
            "interrupted": self.interrupted,
        }


class Runner:
    def __init__(
        self, target: Target, workload: Workload, *, concurrency: int, rate: float | None, timeout: float = 30.0
    ) -> None:
        self.workload = workload
        self.result = LoadResult(workload=workload, concurrency=concurrency, rate=rate)
        tls = tls_context(target)
        self._clients = [RecordingClient(target, timeout=timeout, tls=tls) for _ in range(concurrency)]
        for client in self._clients:  # a second stop halts the cleanup's retries too
            client.halt = workload.ledger.stop
        self._stats = [Stats() for _ in range(concurrency)]
        self._pace = Pacer(rate)
        self._stop = threading.Event()

    def run(self, progress_stream: TextIO) -> LoadResult:
        """All phases, then cleanup (also after Ctrl-C); the result holds stats, problems and leftovers."""
        phases = list(self.workload.phases())
        with ExitStack() as stack:
            for client in self._clients:
                stack.callback(client.close)
            started = time.perf_counter()
            try:
                with Progress(sum(p.requests for p in phases), progress_stream) as progress:
                    for phase in phases:
                        progress.phase = phase.name
                        begun = time.perf_counter()
                        self._run_phase(phase, progress)
                        self.result.phase_seconds[phase.name] = time.perf_counter() - begun
            except KeyboardInterrupt:
                self._stop.set()
                self.result.interrupted = True
            finally:
                self.result.seconds = time.perf_counter() - started
                for stats in self._stats:
                    self.result.stats.merge(stats)
                begun = time.perf_counter()
                self.result.leftovers = self._clean()
                self.result.cleanup_seconds = time.perf_counter() - begun
        return self.result

    def _run_phase(self, phase: Phase, progress: Progress) -> None:
        lock = threading.Lock()

        def next_chain() -> Chain | None:
            with lock:  # chains are built lazily, from the workload's state after the last phase
                return next(phase.chains, None)

        def work(index: int) -> None:
            stats = self._stats[index]

            def record(call: Call, exchange: Exchange, expected: bool) -> None:
                stats.record(call.op, exchange, expected)
                progress.tick()

            while not self._stop.is_set() and (chain := next_chain()) is not None:
                run_chain(self._clients[index], chain, record, self._pace)

        self._in_workers(work, self._stop)

    def _clean(self) -> list[str]:
        """Delete what the ledger holds, spread over the workers: groups first, then users. An interrupt
        during cleanup lets it finish; the next one stops every worker after its current resource, and the
        rest is reported as left."""
        ledger = self.workload.ledger
        workers = len(self._clients)
        patience = 1 if self.result.interrupted else 2
        for kind in ("Group", "User"):
            mine = [e for e in ledger.entries if e.resource_type == kind]
            parts = [ledger.part(mine[i::workers]) for i in range(workers)]

            def clean(index: int, parts: list[Ledger] = parts) -> None:
                ledger.leftovers.extend(parts[index].clean(self._clients[index]))

            try:
                self._in_workers(clean, ledger.stop, patience)
            except KeyboardInterrupt:
                self.result.interrupted, patience = True, 1
            ledger.entries = [e for e in ledger.entries if e.resource_type != kind]
        return ledger.leftovers

    def _in_workers(self, work: Callable[[int], None], stop: threading.Event, patience: int = 1) -> None:
        """Run `work(i)` in one thread per worker and wait. The `patience`-th interrupt sets `stop` (workers
        check it between requests); the wait goes on until every worker is done, then the interrupt is
        raised here, as is an error in a worker."""
        errors: list[BaseException] = []
        done = [threading.Event() for _ in self._clients]

        def guarded(index: int) -> None:
            try:
                work(index)
            except BaseException as exc:  # surfaced in the calling thread below
                stop.set()
                errors.append(exc)
            finally:
                done[index].set()

        for index in range(len(self._clients)):
            threading.Thread(target=guarded, args=(index,), daemon=True).start()
        # Waiting on events, not Thread.join: an interrupted join can report a thread finished that is not.
        interrupts = 0
        for finished in done:
            while not finished.is_set():
                try:
                    finished.wait(0.2)
                except KeyboardInterrupt:
                    interrupts += 1
                    if interrupts >= patience:
                        stop.set()
                    if interrupts >= 2:  # a second stop while the phases wind down: cleanup is cut short too
                        self.workload.ledger.stop.set()
        if interrupts:
            raise KeyboardInterrupt
        if errors:
            raise errors[0]
