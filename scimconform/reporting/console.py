"""The console verdict: per feature what passed and what failed (with why and how to fix it), then
one line that says whether the endpoint is ready for the Entra gallery; for `scimconform load`, the
figures and whether the load passed."""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from pathlib import Path
from typing import Any, TextIO

from scimconform.dialects import DIALECTS
from scimconform.events import Event, RunFinished
from scimconform.reporting.results import NOT_SELECTED, CaseResult, RunRecord

MARKS = {"failed": "FAIL", "warning": "WARN", "error": "ERROR", "skipped": "SKIP", "passed": "PASS"}
NAMED = 3  # blocking failures named on the verdict line before "…"
CAUSES_SHOWN = 5  # root causes listed at the top of the verdict
_UNSELECTED_SHOWN = 3  # blocking cases a selection left out, named one per line before they make one line


class ConsoleVerdict:
    """Reporter: prints the verdict of the record the run finished with — to `out` as the run ends, or, with
    no `out`, as a pytest plugin in the last section of pytest's terminal output, after pytest's own."""

    def __init__(self, reports: list[str], *, out: TextIO | None = None, load: bool = False) -> None:
        """`reports`: where the run's reports went; `load`: the record is a load run's."""
        self.reports = reports
        self.out = out
        self.load = load
        self.record: RunRecord | None = None

    def handle(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            self.record = event.record
            if (out := self.out) is not None:
                self.render(lambda line: print(line, file=out))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.record is not None and self.out is None:
            terminalreporter.section("scimconform verdict")
            self.render(
                terminalreporter.write_line,
                lambda line: terminalreporter.write_line(line, bold=True, **{readiness_colour(line): True}),
            )

    def render(self, write: Callable[[str], None], verdict: Callable[[str], None] | None = None) -> None:
        if self.record is None:
            return
        if self.load:
            render_load(self.record, write)
        else:
            render_verdict(self.record, write, self.reports, verdict=verdict)


def render_verdict(
    record: RunRecord,
    write: Callable[[str], None],
    reports: list[str] | None = None,
    *,
    verdict: Callable[[str], None] | None = None,
) -> None:
    """The verdict block, every line through `write` but the last, the readiness line, which goes to `verdict`
    when given, to be coloured."""
    where = "embedded reference server" if record.embedded else record.public_target
    write(
        f"scimconform: target {where}; profile {record.profile}; dialects {', '.join(record.dialects)}; "
        f"seed {record.seed}; run tag {record.run_tag}"
    )
    if record.target_error:
        write(f"ERROR  {record.target_error}")
    _causes(record, write)
    ordered = sorted(record.results, key=lambda r: (r.feature, r.id, r.dialect or ""))
    for feature, results in groupby(ordered, key=lambda r: r.feature or "Other"):
        _feature(feature, list(results), write)
    _fallbacks(record, write)
    _not_run(record.not_run() if record.judged else [], write)
    _left_over(record, write)
    if reports:
        write(f"reports: {', '.join(reports)}")
    (verdict or write)(readiness(record))


def _not_run(missing: list[dict[str, str]], write: Callable[[str], None]) -> None:
    """Each blocking case that did not run, with why; the many a `-k` left out make one line, not a page."""
    unselected = [m["case"] for m in missing if m["reason"] == NOT_SELECTED]
    grouped = len(unselected) > _UNSELECTED_SHOWN
    for entry in missing:
        if not (grouped and entry["reason"] == NOT_SELECTED):
            write(f"NOT RUN {entry['case']}: {entry['reason']}")
    if grouped:
        shown = ", ".join(unselected[:_UNSELECTED_SHOWN])
        write(f"NOT RUN {len(unselected)} blocking cases: {NOT_SELECTED}: {shown}, … (summary.json lists them all)")


def _feature(feature: str, results: list[CaseResult], write: Callable[[str], None]) -> None:
    counts = ", ".join(f"{n} {s}" for s in MARKS if (n := sum(r.status == s for r in results)))
    write(f"{feature}: {counts}")
    for result in results:
        if result.status in ("failed", "warning", "error"):
            write(f"  {MARKS[result.status]:<5}  {result.name}  {result.title}")
            write(f"         {result.message.splitlines()[0] if result.message else ''}")
            if result.fix and result.status != "error":
                write(f"         fix: {result.fix}")

            if note := _dialect_note(result, results):
                write(f"         note: {note}")


def _dialect_note(result: CaseResult, results: list[CaseResult]) -> str | None:
    """When a case passes in another dialect, the failing dialect's wire shape is the likely cause."""
    if result.dialect is None or result.status not in ("failed", "warning"):
        return None
    passing = [r.dialect for r in results if r.id == result.id and r.status == "passed" and r.dialect]
    if not passing:
        return None
    return f"passes in {', '.join(passing)}; the {result.dialect} dialect sends {DIALECTS[result.dialect].traits}"


def readiness(record: RunRecord) -> str:
    """`Entra gallery readiness: NOT READY — 3 blocking failures (ENTRA-USER-010[default], …)`."""
    if record.interrupted:
        planned = f" of {len(record.selected)}" if record.selected is not None else ""
        return f"Entra gallery readiness: NOT JUDGED — interrupted after {len(record.results)}{planned} cases"
    if record.target_error:
        return f"Entra gallery readiness: NOT JUDGED — {record.target_error}"
    if not record.results:
        return "Entra gallery readiness: NOT JUDGED — no case ran"
    blocking = [r.name for r in record.blocking_failures()]
    warnings = sum(r.status == "warning" for r in record.results)
    notes = f"; {warnings} warning{'s' * (warnings != 1)}" if warnings else ""
    if record.gallery_ready:
        return f"Entra gallery readiness: READY — every blocking case ran and passed{notes}"
    named = ", ".join(blocking[:NAMED]) + (", …" if len(blocking) > NAMED else "")
    problems = [f"{len(blocking)} blocking failure{'s' * (len(blocking) != 1)} ({named})"] if blocking else []
    if record.leftovers:
        problems.append(f"{len(record.leftovers)} resources left on the target")
    if unjudged := record.unjudged_refusals():
        problems.append(f"{len(unjudged)} refused request{'s' * (len(unjudged) != 1)} no case judged (REFUSED above)")
    if unreported := record.unreported():  # cases that never ran hide nothing that did: NOT READY stays
        problems.append(f"{_named(unreported)} reached no verdict")
        if len(problems) == 1:
            return f"Entra gallery readiness: NOT JUDGED — {problems[0]}{notes}"
    if problems:
        return f"Entra gallery readiness: NOT READY — {'; '.join(problems)}{notes}"
    missing = len(record.not_run())
    return (
        f"Entra gallery readiness: NOT JUDGED for the gallery — {missing} blocking case{'s' * (missing != 1)} "
        f"did not run (see NOT RUN above); every case that ran passed{notes}"
    )


def readiness_colour(line: str) -> str:
    """A readiness line's colour: green READY, red NOT READY, yellow NOT JUDGED (it is not a pass)."""
    state = line.removeprefix("Entra gallery readiness: ")
    return "red" if state.startswith("NOT READY") else "yellow" if state.startswith("NOT JUDGED") else "green"


def _fallbacks(record: RunRecord, write: Callable[[str], None]) -> None:
    """Requests the target refused and took in a plainer form, once per cause, with the cases that needed it;
    then the refusals no case judged, which fail the run."""
    needed: dict[tuple[str, str | None], list[str]] = {}
    for result in record.results:
        for fallback in result.fallbacks:
            cases = needed.setdefault((fallback["cause"], fallback["judged_by"]), [])
            if result.name not in cases:
                cases.append(result.name)
    for (cause, owner), cases in needed.items():
        judged = f"; judged by {owner}" if owner else ""
        write(f"PLAINER {cause} — sent in a plainer form{judged}, for {_named(cases)}")
    for refusal in record.unjudged_refusals():
        write(
            f"REFUSED {refusal['cause']} — in {_named(refusal['cases'])}, but {refusal['judged_by']} did not fail "
            "for it (it passed, or did not run): the target refuses Entra's request for some values only"
        )


def _named(cases: list[str]) -> str:
    return (
        f"{len(cases)} case{'s' * (len(cases) != 1)} ({', '.join(cases[:NAMED])}{', …' if len(cases) > NAMED else ''})"
    )


def _causes(record: RunRecord, write: Callable[[str], None]) -> None:
    """The failures grouped by cause, the one that explains most verdicts first: where to start fixing."""
    causes = record.causes()
    if not causes:
        return
    first = causes[0]["explains"]
    write(
        f"{len(causes)} root cause{'s' * (len(causes) != 1)}; fix 1 first — it explains "
        f"{first} verdict{'s' * (first != 1)}"
    )
    for number, cause in enumerate(causes[:CAUSES_SHOWN], 1):
        cases = ", ".join(cause["cases"][:NAMED]) + (", …" if len(cause["cases"]) > NAMED else "")
        judged = f" (judged by {cause['judged_by']})" if cause["judged_by"] else ""
        write(f"  {number}. {cause['cause']}{judged}")
        write(f"     explains {cause['explains']}: {cases}")
        write(f"     fix: {cause['fix']}")
    if len(causes) > CAUSES_SHOWN:
        write(f"  … {len(causes) - CAUSES_SHOWN} more in summary.json (causes)")


def render_load(record: RunRecord, write: Callable[[str], None]) -> None:
    """Throughput, latency per operation, errors by status, the end state, what was left behind."""
    where = "embedded reference server" if record.embedded else record.public_target
    write(
        f"scimconform load: target {where}; profile {record.profile}; dialect {record.dialects[0]}; "
        f"seed {record.seed}; run tag {record.run_tag}"
    )
    if record.load is None:
        return
    load = record.load
    write(
        f"{load['users']} users, {load['groups']} groups: {load['requests']} requests in {load['seconds']:.1f} s, "
        f"{load['throughput']:.0f} req/s (concurrency {load['concurrency']}"
        + (f", rate {load['rate']:g}/s)" if load["rate"] else ")")
    )
    write(f"{'operation':<16} {'count':>7} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for op, row in load["operations"].items():
        write(
            f"{op:<16} {row['count']:>7} {row['errors']:>6} {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} "
            f"{row['p99_ms']:>8.1f}"
        )
    errors = ", ".join(f"{status}: {count}" for status, count in load["errors"].items())
    write(f"errors by status: {errors or 'none'}")
    state = load["end_state"]
    write("end state: exact" if state["ok"] else f"end state: {state['problem_count']} problem(s)")
    for problem in state["problems"]:
        write(f"  {problem}")
    _left_over(record, write)
    write(f"cleanup: {load['cleanup_seconds']:.1f} s, {len(record.leftovers)} left behind")
    write("load: PASSED" if record.exit_code() == 0 else "load: FAILED")


def _left_over(record: RunRecord, write: Callable[[str], None]) -> None:
    """What the run could not finish: resources left on the target, reports that failed, ledgers to retry."""
    for leftover in record.leftovers:
        write(f"LEFT   {leftover}")
    for problem in record.report_errors:
        write(f"REPORT {problem} (the verdict stands; that report may be incomplete)")
    for journal in record.journals:
        write(f"LEDGER {journal}: run `scimconform cleanup --report-dir {Path(journal).parent.parent}` to try again")
