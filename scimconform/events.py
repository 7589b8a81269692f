"""The run as one stream of events, and the one protocol every report writer implements.

The engine says what happens — a case starts, a step starts and ends (with the error that ended it), a
moment worth noting, an exchange recorded — and knows no reporter. `EventStream` hands every event to
every reporter in `scimconform.reporting.registry.REPORTERS`; a reporter that raises is noted once and never stops
the run or its cleanup. A new report format is one module with a `Reporter` and one registry line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

from scimconform.exchange import Exchange
from scimconform.reporting.results import CaseResult, RunRecord


@dataclass(frozen=True)
class RunStarted:
    """The target is known: `base_url` is its Tenant URL (or the embedded server's)."""

    base_url: str


@dataclass(frozen=True)
class RunFinished:
    """Every case ran and cleanup is done; `record` is the whole verdict. In a pytest-xdist run only the
    controller sees it, after the workers have handed over what they recorded."""

    record: RunRecord


@dataclass(frozen=True)
class CaseStarted:
    case_id: str
    dialect: str | None
    title: str = ""


@dataclass(frozen=True)
class CaseEnded:
    """A case's own requests are all sent; what follows in this process until the next `CaseStarted` is its
    cleanup. Emitted in the process that ran the case, before that cleanup. `failed` holds the exchanges of the
    steps its verdict names: a refusal another case judges, or one a plainer form got past, is not among them."""

    case_id: str
    dialect: str | None
    failed: tuple[Exchange, ...] = ()


@dataclass(frozen=True)
class CaseFinished:
    """A case's verdict; in a pytest-xdist run, emitted by the controller as each worker's result arrives."""

    result: CaseResult


@dataclass(frozen=True)
class StepStarted:
    """`seconds`: how long a timed step (the throughput case) lasts, so a display can count it down."""

    title: str
    seconds: float | None = None


@dataclass(frozen=True)
class StepFinished:
    """A step ended. `error` is what ended it badly — a `checks.CheckFailure` when one of its checks failed
    (the case goes on with the steps that do not depend on it) — and `exchange` the answer it was judged on."""

    title: str
    error: BaseException | None
    exchange: Exchange | None = None


@dataclass(frozen=True)
class Note:
    """A moment inside a step worth showing on its own: the TLS negotiated, throughput measured, a repeat."""

    text: str


@dataclass(frozen=True)
class ExchangeRecorded:
    exchange: Exchange


Event = (
    RunStarted
    | CaseStarted
    | StepStarted
    | StepFinished
    | Note
    | ExchangeRecorded
    | CaseEnded
    | CaseFinished
    | RunFinished
)


class Reporter(Protocol):
    """Anything that turns events into a report."""

    def handle(self, event: Event) -> None: ...


class EventStream:
    """Hands each event to each reporter, in order; the first failure of each reporter is kept in `errors`."""

    def __init__(
        self, reporters: list[Reporter], redact: Callable[[str], str] = str, errors: list[str] | None = None
    ) -> None:
        """`errors` may be the run record's own list, so failures land in summary.json as they happen."""
        self.reporters = reporters
        self.errors: list[str] = [] if errors is None else errors
        self.redact = redact  # set once the client, which knows the secrets, exists
        self._failed: set[int] = set()
        self._held = threading.local()

    def emit(self, event: Event) -> None:
        held: list[Event] | None = getattr(self._held, "events", None)
        if held is not None:
            held.append(event)
            return
        for reporter in self.reporters:
            try:
                reporter.handle(event)
            except Exception as exc:  # a report writer must not cost the run its verdict or its cleanup
                if id(reporter) not in self._failed:
                    self._failed.add(id(reporter))
                    name = type(reporter).__name__
                    self.errors.append(self.redact(f"{name} failed on {type(event).__name__}: {exc!r}"))

    @contextmanager
    def holding(self, events: list[Event]) -> Iterator[None]:
        """What this thread emits in the block goes into `events` instead, to be `release`d in order later:
        members of a list that run at once (`engine.members`) are reported one after another."""
        outer, self._held.events = getattr(self._held, "events", None), events
        try:
            yield
        finally:
            self._held.events = outer

    def release(self, events: list[Event]) -> None:
        for event in events:
            self.emit(event)

    @contextmanager
    def per_thread(self) -> Iterator[Callable[[], AbstractContextManager[None]]]:
        """A `holding` for each thread of the block that enters one; what each held is released when the block
        ends, thread after thread, in the order they began."""
        held: list[list[Event]] = []

        @contextmanager
        def holding() -> Iterator[None]:
            events: list[Event] = []
            held.append(events)
            with self.holding(events):
                yield

        try:
            yield holding
        finally:
            for events in held:
                self.release(events)

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """A step around the block; the error that leaves the block, if any, ends the step."""
        self.emit(StepStarted(title))
        try:
            yield
        except BaseException as error:
            self.emit(StepFinished(title, error))
            raise
        self.emit(StepFinished(title, None))

    def note(self, text: str) -> None:
        self.emit(Note(text))

    def exchange(self, exchange: Exchange) -> None:
        """The recording client's listener: every exchange becomes an event."""
        self.emit(ExchangeRecorded(exchange))
