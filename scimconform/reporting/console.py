"""The console verdict: what failed, why, how to fix it, and whether the endpoint is gallery-ready."""

from __future__ import annotations

from collections.abc import Callable

from scimconform.reporting.results import RunRecord

MARKS = {"failed": "FAIL", "warning": "WARN", "error": "ERROR", "skipped": "SKIP", "passed": "PASS"}


def render_verdict(record: RunRecord, write: Callable[[str], None]) -> None:
    where = "embedded reference server" if record.embedded else record.target
    write(
        f"scimconform: target {where}; profile {record.profile}; dialects {', '.join(record.dialects)}; "
        f"seed {record.seed}; run tag {record.run_tag}"
    )
    if record.target_error:
        write(f"ERROR  {record.target_error}")
    for result in record.results:
        if result.status in ("failed", "warning", "error"):
            write(f"{MARKS[result.status]:<5}  {result.name}  {result.title}")
            write(f"       {result.message.splitlines()[0] if result.message else ''}")
            if result.fix and result.status != "error":
                write(f"       fix: {result.fix}")
    for leftover in record.leftovers:
        write(f"LEFT   {leftover} could not be deleted from the target")
    totals = record.totals()
    counts = ", ".join(f"{n} {s}" for s, n in totals.items() if n)
    verdict = "ready for the Entra gallery" if record.gallery_ready else "NOT ready for the Entra gallery"
    write(f"scimconform: {counts or 'no cases ran'} — {verdict}")
