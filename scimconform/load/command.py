"""`scimconform load`: settle the target, run the workload, report like a conformance run.

The run's record goes through the same event stream and reporters as `scimconform run`'s
(scimconform.reporting.registry, those whose commands include `load`): the figures go into `summary.json`
(its `load` section), into Allure as one test result with the figures attached, next to whatever a
conformance run put in the same report directory, and onto the console.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from typing import TextIO

from scimconform import idp
from scimconform.client import RecordingClient
from scimconform.errors import ConfigError
from scimconform.events import EventStream, RunFinished, RunStarted
from scimconform.identities import IdentityFactory
from scimconform.interrupts import interrupts_as_keyboard_interrupt
from scimconform.ledger import Journal
from scimconform.load.runner import Runner
from scimconform.load.workload import Workload
from scimconform.reporting.registry import ReportRequest, reporters
from scimconform.run_plan import plan_run, preflight
from scimconform.settings import Settings, check_output_dir
from scimconform.target import embedded_target

MAX_CONCURRENCY = 1000


def run_load(settings: Settings, concurrency: int, rate: float | None, out: TextIO, err: TextIO) -> int:
    """The whole command; returns its exit code (0 ok, 1 errors, a wrong end state or leftovers, 2 no target)."""
    if not 1 <= concurrency <= MAX_CONCURRENCY:  # each worker is a thread with its own connection
        raise ConfigError(
            f"concurrency must be at least 1 and at most {MAX_CONCURRENCY}, not {concurrency} (--concurrency)"
        )
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise ConfigError(f"rate must be a positive number of requests per second, not {rate:g} (--rate)")
    plan = plan_run(settings)
    profile, template, seed, run_tag = plan.profile, plan.target, plan.seed, plan.run_tag
    check_output_dir(settings.report_dir, "--report-dir")
    provider = idp.provider()
    dialect = settings.dialect
    if dialect == "all":  # one dialect per load run: the URL's flag, as the provider reads it, or its default
        dialect = (template.url_dialect if template else None) or provider.default_dialect
    record = plan.record((dialect,))
    report_dir = settings.report_dir
    request = ReportRequest(
        command="load", report_dir=report_dir, run_tag=run_tag, allure_dir=report_dir / "allure-results", out=out
    )
    request.summary.unlink(missing_ok=True)
    events = EventStream(reporters(request), errors=record.report_errors)
    with ExitStack() as stack:
        target = template or stack.enter_context(embedded_target())
        probe = RecordingClient(target, timeout=settings.timeout)
        events.redact = probe.redact
        events.emit(RunStarted(base_url=target.base_url))
        problem = preflight(probe).problem
        record.target_error = str(problem) if problem else None
        probe.close()
        if record.target_error is None:
            workload = Workload(
                profile=profile,
                dialect=provider.dialects[dialect],
                factory=IdentityFactory(seed, run_tag),
                users=settings.users,
                provider=provider,
            )
            if not target.embedded:
                header = {"run_tag": run_tag, "target": target.base_url, "command": "load"}
                workload.ledger.journal = Journal(report_dir / "ledger" / f"{run_tag}-load.jsonl", header)
            with interrupts_as_keyboard_interrupt():
                result = Runner(target, workload, concurrency=concurrency, rate=rate, timeout=settings.timeout).run(err)
            workload.ledger.close()
            if workload.ledger.journal is not None and workload.ledger.journal.path.exists():
                record.journals.append(str(workload.ledger.journal.path))
            record.load, record.leftovers = result.to_json(), result.leftovers
            record.interrupted = result.interrupted
    events.emit(RunFinished(record=record))  # summary.json, the Allure files, the console verdict
    if problem is not None:  # as `run` shows it: what was sent, what came back, the cause and the fix
        print(f"scimconform: error: {problem.block()}", file=err)
    return record.exit_code()
