"""Cases run ahead: several cases of one process at once, in threads, reported as if one ran after another.

A remote target is mostly waited for (bench/results.md: at 50 ms a run is round trips, one after another), so
`scimconform run --workers N` keeps up to N cases in flight in threads of one process. Every case's identities
are made before the first is begun, in the order pytest will reach them, so one seed gives the same identities
whenever each case happens to begin. Each case's events are held in three parts (its start, its steps, its end
and cleanup) and released when pytest reaches it, in its setup, call and teardown: every report reads as if
the cases had run one after another.

The steps of a case marked `alone` run with no other case sending (`Quiet`), as with worker processes.

A stop (Ctrl-C, SIGTERM) reaches only pytest's thread. `close` then stops every case still running at its next
request, lets each clean up after itself, and waits for every thread, so that the run's final sweep never runs
beside a case that may still create something. A second stop cuts the cases' cleanup short, as in a serial run,
and waits `GRACE_SECONDS` at most for requests still in flight: the sweep then only lists what is left, and the
threads end with the process. A case sends nothing once the run stops (`CaseRun._request`); a create already
on its way was written into the journal before it was sent, for `scimconform cleanup`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, field

from scimconform import interrupts
from scimconform.catalogue import Case
from scimconform.engine.case_run import CaseRun
from scimconform.engine.context import RunContext
from scimconform.engine.findings import Findings
from scimconform.events import CaseEnded, CaseStarted, Event, EventStream, ExchangeRecorded

GRACE_SECONDS = 2.0  # after a second stop, for requests in flight to end before the final sweep lists what is left


@dataclass(frozen=True)
class Planned:
    """One case in one dialect, under the key pytest reaches it by (its node id)."""

    key: str
    case: Case
    dialect: str | None


@dataclass(eq=False)
class RanAhead:
    """A case begun ahead of pytest: the events of its start, steps and end (with its cleanup), held until pytest
    reaches it, and how it ended."""

    planned: Planned
    case_run: CaseRun
    started: list[Event] = field(default_factory=list)
    steps: list[Event] = field(default_factory=list)
    ended: list[Event] = field(default_factory=list)
    error: BaseException | None = None
    cleanup_error: BaseException | None = None  # raised in the case's teardown; the final sweep takes what is left
    leftovers: list[str] = field(default_factory=list)  # what its cleanup could not delete, until handed over
    seconds: float = 0.0  # how long its steps took, for its report (pytest only times the wait)
    future: Future[None] | None = None

    @property
    def findings(self) -> Findings:
        return self.case_run.findings

    def run(self) -> None:
        """What pytest's call of the case sees: its steps reported, then its verdict raised, as if it ran now."""
        release(self.case_run.context.events, self.steps)
        if self.error is not None:
            raise self.error

    def take_leftovers(self) -> list[str]:
        """What its cleanup left, handed over once."""
        left, self.leftovers = self.leftovers, []
        return left


def release(events: EventStream, held: list[Event]) -> None:
    """Emit the held events, each taken off the list first: a stop in the middle leaves only the rest held."""
    while held:
        events.emit(held.pop(0))


class CasesAhead:
    """Begins the planned cases ahead of pytest: up to `width` running at once, and up to `LOOKAHEAD` times as
    many finished and waiting for pytest (`take`), so that one long case does not hold the others back.

    The longest cases (those with lists of identities) begin first, so that the rest run beside them, and the
    `alone` cases last: begun early, their steps would wait for every case then running and hold back any
    other from beginning."""

    LOOKAHEAD = 8

    def __init__(self, context: RunContext, planned: Sequence[Planned], width: int) -> None:
        self.context = context
        self.width = width
        self.quiet = Quiet()  # `alone` steps against the other cases' (`RunContext.alone`)
        self._cases = {p.key: self._prepared(p) for p in planned}
        users = context.users
        self._queue = deque(sorted(planned, key=lambda p: (p.case.runs_alone(users), not p.case.member_lists)))
        self._queued = set(self._cases)
        self._taken: set[str] = set()
        self._waiting = 0  # begun and not yet taken by pytest
        self._running = 0
        self._lock = threading.Lock()

    def take(self, key: str) -> RanAhead | None:
        """The case `key`, once it has run; None when it is not planned or was taken already (pytest runs it again:
        it runs in pytest's thread then, as in a serial run, sharing the run with the cases in flight)."""
        with self._lock:
            ahead = self._cases.get(key)
            if ahead is None or key in self._taken:
                return None
            if key in self._queued:  # pytest reached it before its turn to begin: it begins now
                self._queue.remove(ahead.planned)
                self._begin(ahead)
            self._taken.add(key)
        if ahead.future is not None:
            wait([ahead.future])  # an interrupt here stops the run: `close` stops the rest, this one too
        with self._lock:
            self._waiting -= 1
            self._fill()
        return ahead

    def begin(self) -> None:
        """Begin the first cases (before pytest takes any)."""
        with self._lock:
            self._fill()

    def close(self) -> list[str]:
        """Stop every case still running at its next request and wait for each to clean up after itself; returns
        what they left that no report has listed. The events no report released are in `unreported`."""
        self.context.stopping.set()
        with self._lock:
            self._queue.clear()
        stops, deadline = 0, None
        if interrupts.received() >= 2:  # stopped twice already: cleanup stops, requests in flight get a grace
            self.context.ledger.stop.set()
            deadline = time.monotonic() + GRACE_SECONDS
        while True:
            try:
                _, running = wait(self._futures(), timeout=None if deadline is None else deadline - time.monotonic())
                if not running or deadline is not None:
                    break
            except KeyboardInterrupt:
                stops += 1
                self.context.ledger.interrupted = True
                if max(interrupts.received(), stops) >= 2:  # cleanup stops; requests in flight get a grace
                    self.context.ledger.stop.set()
                    if deadline is not None:  # a third: no more waiting
                        break
                    deadline = time.monotonic() + GRACE_SECONDS
        return [left for ahead in self._cases.values() for left in ahead.take_leftovers()]

    def unreported(self) -> list[Event]:
        """For the HAR, which holds every exchange the run sent: each case's exchanges no report released, after
        its start (so that the HAR gives it a page of its own)."""
        events: list[Event] = []
        for ahead in self._cases.values():
            held = [e for e in (*ahead.started, *ahead.steps, *ahead.ended) if isinstance(e, ExchangeRecorded)]
            if held:
                case = ahead.planned.case
                events += [CaseStarted(case_id=case.id, dialect=ahead.planned.dialect, title=case.title), *held]
        return events

    def _futures(self) -> list[Future[None]]:
        with self._lock:
            return [a.future for a in self._cases.values() if a.future is not None]

    def _fill(self) -> None:
        """Begin the next cases while fewer than `width` run and fewer than `LOOKAHEAD` times that wait for
        pytest; nothing once the run stops."""
        while (
            self._queue
            and self._running < self.width
            and self._waiting < self.width * self.LOOKAHEAD
            and not self.context.stopping.is_set()
        ):
            self._begin(self._cases[self._queue.popleft().key])

    def _prepared(self, planned: Planned) -> RanAhead:
        """The case with its identities made, or the skip (or profile problem) its call will raise."""
        case, dialect = planned.case, planned.dialect
        ahead = RanAhead(planned, CaseRun(case, dialect, self.context))
        ahead.started.append(CaseStarted(case_id=case.id, dialect=dialect, title=case.title))
        try:
            ahead.case_run.prepare()
        except Exception as error:  # a skip, or a profile that cannot fill the case: raised in pytest's call
            ahead.error = error
            ahead.ended.append(CaseEnded(case_id=case.id, dialect=dialect))
        return ahead

    def _begin(self, ahead: RanAhead) -> None:
        """Under the lock: start the case's thread (a daemon: after a second stop the process ends without it)."""
        self._queued.discard(ahead.planned.key)
        self._waiting += 1
        if ahead.error is not None:  # nothing to send
            return
        self._running += 1
        ahead.future = Future()
        name = f"scimconform-case-{ahead.planned.key}"
        try:
            threading.Thread(target=self._run, args=(ahead, ahead.future), name=name, daemon=True).start()
        except RuntimeError as error:  # no thread could start: the case ends here, with the error
            self._running -= 1
            ahead.error = error
            ahead.future.set_result(None)

    def _run(self, ahead: RanAhead, done: Future[None]) -> None:
        events, case_run = self.context.events, ahead.case_run
        try:
            with self.quiet.case():
                began = time.monotonic()
                with events.holding(ahead.steps):
                    try:
                        case_run.replay()
                    except BaseException as error:  # handed to pytest's thread, which raises it in the case's call
                        ahead.error = error
                ahead.seconds = time.monotonic() - began
                with events.holding(ahead.ended):
                    failed = tuple(failure.exchange for failure in case_run.findings.failures)
                    events.emit(CaseEnded(case_id=ahead.planned.case.id, dialect=ahead.planned.dialect, failed=failed))
                    try:
                        ahead.leftovers = case_run.cleanup()
                    except BaseException as error:  # a harness fault: the case's teardown raises it
                        ahead.cleanup_error = error
        finally:
            try:
                with self._lock:  # its place goes to the next planned case
                    self._running -= 1
                    self._fill()
            finally:
                done.set_result(None)


class Quiet:
    """A readers-writer lock between the threads of `CasesAhead`, as `workers.CaseLocks` is between processes:
    every case holds it shared from its steps to its cleanup, and the steps of an `alone` case hold it by
    themselves. An alone case waiting for the others holds the gate, so no case begins meanwhile."""

    def __init__(self) -> None:
        self._gate = threading.Lock()
        self._changed = threading.Condition()
        self._sharing = 0
        self._alone = False

    @contextmanager
    def case(self) -> Iterator[None]:
        with self._gate, self._changed:
            self._changed.wait_for(lambda: not self._alone)
            self._sharing += 1
        try:
            yield
        finally:
            with self._changed:
                self._sharing -= 1
                self._changed.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        """Inside `case`: hold it by itself, then share it again. The shared hold is let go before the gate is
        asked for, so two cases wanting to be alone never wait for each other."""
        with self._changed:
            self._sharing -= 1
            self._changed.notify_all()
        took = False
        try:
            with self._gate, self._changed:
                self._changed.wait_for(lambda: not self._sharing and not self._alone)
                self._alone = took = True
        except BaseException:  # a stop while waiting: the case shares the run again, as `case` expects
            with self._changed:
                self._alone = self._alone and not took
                self._sharing += 1
                self._changed.notify_all()
            raise
        try:
            yield
        finally:
            with self._changed:
                self._alone = False
                self._sharing += 1
                self._changed.notify_all()
