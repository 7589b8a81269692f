"""Helpers for tests that run the whole harness against a reference server over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scimconform.catalogue import load_catalogue
from scimconform.cli import main
from scimconform.dialects import DIALECTS
from scimconform.events import Event, StepStarted
from scimconform.reporting.results import case_name
from scimconform.server import ReferenceServer, serve_in_thread
from scimconform.workers import parent_of

TOKEN = "harness-test-token-7f3a9c"
# The 25 requests/s case takes seconds; tests that want it ask for it with --throughput-seconds.
QUICK = ("--throughput-seconds", "0")


class FailingReporter:
    """A report writer that fails on every event, with a secret in its message: the run must go on, and note
    the failure once, redacted."""

    def __init__(self, secret: str = TOKEN) -> None:
        self.secret = secret

    def handle(self, event: Event) -> None:
        raise RecursionError(f"maximum recursion depth exceeded near {self.secret}")


class Titles:
    """A reporter that keeps every step title."""

    def __init__(self) -> None:
        self.titles: list[str] = []

    def handle(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            self.titles.append(event.title)


@contextmanager
def reference_server(*faults: str) -> Iterator[str]:
    """A fresh reference server with these faults on; yields its Tenant URL."""
    with serve_in_thread(ReferenceServer(token=TOKEN, faults=faults)) as url:
        yield url


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    report_dir: Path

    @property
    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.report_dir / "summary.json").read_text())
        return data

    def names(self, *statuses: str) -> set[str]:
        """The verdicts with these statuses, each named as every report names it: ID or ID[dialect]."""
        return {case_name(case["id"], case["dialect"]) for case in self.summary["cases"] if case["status"] in statuses}


def expand(names: Iterable[str], dialects: Iterable[str] = tuple(DIALECTS)) -> set[str]:
    """Case names as data files write them: a bare ID of a case that runs per dialect means every dialect."""
    per_dialect = {case.id for case in load_catalogue() if case.uses_dialect}
    return {f"{n}[{d}]" for n in names if n in per_dialect for d in dialects} | {
        n for n in names if n not in per_dialect
    }


def run_against(report_dir: Path, faults: Sequence[str], *args: str) -> int:
    """`scimconform run …` against a fresh reference server with these faults on; for module fixtures."""
    with pytest.MonkeyPatch.context() as patch, reference_server(*faults) as url:
        patch.setenv("SCIM_TOKEN", TOKEN)
        return main(["run", "--url", url, "--report-dir", str(report_dir), "--seed", "11", *QUICK, *args])


def run_cli(capsys: pytest.CaptureFixture[str], report_dir: Path, *args: str) -> Outcome:
    """`scimconform run …` in this process, with the token in SCIM_TOKEN."""
    argv: Sequence[str] = ["run", "--report-dir", str(report_dir), "--seed", "11", *QUICK, *args]
    code = main(argv)
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err, report_dir)


def child_processes(pid: int) -> list[int]:
    """The processes `pid` started (Linux /proc), such as a run's pytest-xdist workers."""
    return [int(path.name) for path in Path("/proc").glob("[0-9]*") if parent_of(int(path.name)) == pid]
