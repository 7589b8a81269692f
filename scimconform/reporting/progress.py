"""`scimconform run` on its console: what the run is doing while it runs, then the verdict.

`scimconform run` switches pytest's own terminal output off (`-p no:terminal`), so this is all its stdout
carries. On a terminal a live region, drawn by rich, shows case i/N, the case and step in hand, the counts
so far and the time; a timed step counts down, and an answer the target keeps waiting shows how long it has
been outstanding. Cases that fail, warn or err stay printed above it. Anywhere else (a pipe, CI), under
pytest-xdist (whose workers keep the steps to themselves) and with `-q` or `-v`, the run is plain lines: one
per case as it ends (`-v` adds each step, `-q` leaves them out), no cursor movement and no colour unless a
terminal or FORCE_COLOR asks for it. The verdict block is `console.render_verdict`'s, its last line green,
red or yellow; rich honours NO_COLOR.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, TextIO

import pytest
from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from scimconform import events
from scimconform.errors import CaseSkipped
from scimconform.reporting.console import MARKS, readiness_colour, render_verdict
from scimconform.reporting.results import STATUSES, CaseResult, RunRecord, case_name

Level = Literal["quiet", "normal", "verbose"]
STYLES = {"passed": "green", "failed": "red", "warning": "yellow", "error": "red", "skipped": "dim"}
WAIT_SHOWN = 1.0  # seconds without an answer before the live region says the target is keeping one waiting
REFRESHES = 4  # live region redraws per second: enough for a countdown, little for a slow terminal


@dataclass(frozen=True)
class Display:
    """What `scimconform run` asks of its console: where it writes, and how much (`-q`, `-v`)."""

    out: TextIO
    level: Level = "normal"


@contextmanager
def own_stdout(stream: TextIO) -> Iterator[TextIO]:
    """A copy of `stream` that pytest's output capture cannot reach: while a case runs, capture points file
    descriptor 1 at a temporary file, and the live region redraws from a thread meanwhile. A stream without a
    descriptor (a test's capsys) is used as it is."""
    try:
        stream.flush()
        descriptor = os.dup(stream.fileno())
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        yield stream
        return
    with open(descriptor, "w", encoding=stream.encoding, errors="replace", closefd=True) as copy:
        yield copy


@dataclass
class Board:
    """What the live region shows. Events update it; rich's refresh thread draws it several times a second, so
    the clock, a countdown and a long wait move while the run is blocked on the target."""

    total: int | None = None
    done: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))  # keys fixed: read by a thread
    activity: str = "collecting the cases"
    case: str | None = None
    step: str | None = None
    step_ends: float | None = None  # when a timed step's schedule ends (time.monotonic)
    quiet_since: float = field(default_factory=time.monotonic)  # the last sign of life: a step began, an answer
    started: float = field(default_factory=time.monotonic)
    spinner: Spinner = field(default_factory=lambda: Spinner("dots", style="cyan"))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        now = time.monotonic()
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True, overflow="ellipsis")
        if self.case is None:
            grid.add_row(self.spinner, Text(self.activity).append(self._waited(now), style="yellow"))
        else:
            number = (
                f"case {self.done + 1}" if self.total is None else f"case {min(self.done + 1, self.total)}/{self.total}"
            )
            grid.add_row(self.spinner, Text.assemble((number, "bold"), "  ", self.case))
            grid.add_row("", self._step(now))
        grid.add_row("", self._tally(now))
        yield grid

    def _step(self, now: float) -> Text:
        """The step in hand, with its countdown, or how long the target has kept its answer."""
        line = Text(self.step or "between steps", style="dim" if self.step is None else "")
        if self.step_ends is not None:
            left = math.ceil(self.step_ends - now)
            return line.append(f"  {left} s left" if left > 0 else "  waiting for the last answers", style="cyan")
        return line.append(self._waited(now) if self.step is not None else "", style="yellow")

    def _waited(self, now: float) -> str:
        """How long since the last sign of life, once that is long enough to be a request still in flight."""
        waited = now - self.quiet_since
        return f"  waiting for the target's answer: {waited:.0f} s" if waited >= WAIT_SHOWN else ""

    def _tally(self, now: float) -> Text:
        line = Text()
        for status, count in self.counts.items():
            if count:
                line.append(f"{count} {status}", style=STYLES[status]).append("  ")
        return line.append(_clock(now - self.started), style="dim")


class RunConsole:
    """Reporter, and pytest plugin for the hooks it needs (the number of cases, collection errors, xdist): the
    console of `scimconform run`, live on a terminal, in lines elsewhere, the verdict at the end."""

    def __init__(self, display: Display, reports: list[str]) -> None:
        """`reports`: where the run's reports went, for the verdict block."""
        self.level = display.level
        self.reports = reports
        self.console = Console(file=display.out, soft_wrap=True, highlight=False, markup=False, emoji=False)
        self.board = Board()
        self.live: Live | None = None

    # -- pytest hooks ----------------------------------------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Live only on a real terminal, at the normal level, and when this process runs the cases itself."""
        interactive = self.console.is_interactive and _isatty(self.console.file)
        if self.level == "normal" and interactive and session.config.getoption("dist", "no") == "no":
            self.live = Live(
                self.board,
                console=self.console,
                refresh_per_second=REFRESHES,
                transient=True,
                redirect_stdout=False,  # pytest swaps sys.stdout while a case runs
                redirect_stderr=False,
            )
            self.live.start()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """What follows collection is the target's preflight (or the embedded server starting)."""
        self.board.total = len(session.items)
        self.board.activity, self.board.quiet_since = "checking the target", time.monotonic()

    @pytest.hookimpl(optionalhook=True)  # pytest-xdist: the controller collects nothing itself
    def pytest_xdist_node_collection_finished(self, node: object, ids: list[str]) -> None:
        self.board.total = len(ids)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """With pytest's terminal output off, a module that cannot be collected would otherwise go unsaid."""
        if report.failed:
            self._print(Text(f"ERROR  collecting {report.nodeid or 'the suites'}:\n{report.longreprtext}", "red"))

    def pytest_unconfigure(self) -> None:
        self._stop()

    # -- events ----------------------------------------------------------------------------------------------
    def handle(self, event: events.Event) -> None:
        board, now = self.board, time.monotonic()
        match event:
            case events.CaseStarted(case_id=case_id, dialect=dialect, title=title):
                board.case, board.step, board.quiet_since = f"{case_name(case_id, dialect)}  {title}", None, now
                if self.level == "verbose":
                    self._print(Text(board.case, "bold"))
                if self.live is not None:
                    self.live.refresh()  # every case shows, however short
            case events.StepStarted(title=title, seconds=seconds):
                board.step, board.quiet_since = title, now
                board.step_ends = now + seconds if seconds else None
            case events.ExchangeRecorded():
                board.quiet_since = now
            case events.StepFinished():
                board.step, board.step_ends, board.quiet_since = None, None, now
                if self.level == "verbose":
                    self._print(_step_line(event))
            case events.Note(text=text) if self.level == "verbose":
                self._print(Text(f"      note    {text}", "dim"))
            case events.CaseEnded():
                board.step, board.quiet_since = "cleaning up what the case created", now
            case events.CaseFinished(result=result):
                board.done += 1
                board.counts[result.status] += 1
                shown = self.level != "quiet" and (self.live is None or result.status in ("failed", "warning", "error"))
                if shown:
                    self._print(_case_line(result))
            case events.RunFinished(record=record):
                self._stop()
                self._verdict(record, time.monotonic() - board.started)

    def _verdict(self, record: RunRecord, seconds: float) -> None:
        """The counts of the run, then the verdict block, its last line coloured."""
        if self.level != "quiet" and record.results:
            counts = ", ".join(f"{n} {status}" for status, n in record.totals().items() if n)
            cases = len(record.results)
            self._print(Text(f"{cases} case{'s' * (cases != 1)} in {seconds:.1f} s: {counts}"))
        render_verdict(
            record,
            lambda line: self._print(Text(line)),
            self.reports,
            verdict=lambda line: self._print(Text(line, style=f"bold {readiness_colour(line)}")),
        )

    def _print(self, text: Text) -> None:
        """One line, above the live region while there is one; never wrapped, so a log keeps a line per case."""
        self.console.print(text)

    def _stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _case_line(result: CaseResult) -> Text:
    """`PASS  ENTRA-USER-010[default]  Disable a user  0.4s`, and why when it did not pass."""
    line = Text.assemble((f"{MARKS[result.status]:<5}", STYLES[result.status]), f" {result.name}  {result.title}")
    line.append(f"  {result.duration:.1f}s")
    if result.status != "passed" and result.message:
        line.append(f"  — {result.message.splitlines()[0]}")
    return line


def _step_line(event: events.StepFinished) -> Text:
    """`-v`: each step as it ends, with the request it was judged on."""
    error, exchange = event.error, event.exchange
    mark, style = (
        ("ok", "green") if error is None else ("skip", "dim") if isinstance(error, CaseSkipped) else ("failed", "red")
    )
    line = Text.assemble("      ", (f"{mark:<7}", style), f" {event.title}")
    if exchange is not None:
        line.append(f"  ({exchange.label})", style="dim")
    if error is not None and str(error):
        said = str(error).splitlines()[0]
        line.append(f": {exchange.redact(said) if exchange is not None else said}")
    return line


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def _isatty(stream: object) -> bool:
    """A terminal in fact, not one FORCE_COLOR or TTY_COMPATIBLE claims: cursor movement would litter a log."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # closed
        return False
