"""`scimconform load`: settle the target, run the workload, report like a conformance run.

The figures go into `summary.json` (its `load` section) and into Allure as one test result with the
figures attached, next to whatever a conformance run put in the same report directory.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import Attachment, Label, Status, StatusDetails, TestResult

from scimconform import idp
from scimconform.client import RecordingClient
from scimconform.errors import ConfigError
from scimconform.identities import IdentityFactory
from scimconform.interrupts import interrupts_as_keyboard_interrupt
from scimconform.ledger import Journal
from scimconform.load.runner import LoadResult, Runner
from scimconform.load.workload import Workload
from scimconform.reporting.allure import write_run_files
from scimconform.reporting.results import RunRecord
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
    (report_dir / "summary.json").unlink(missing_ok=True)
    with ExitStack() as stack:
        target = template or stack.enter_context(embedded_target())
        probe = RecordingClient(target, timeout=settings.timeout)
        record.target_error = preflight(probe)
        probe.close()
        result = None
        if record.target_error is None:
            started = time.time()
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
            write_allure(report_dir / "allure-results", record, result, started, provider)
    record.write(report_dir / "summary.json")
    render(record, result, lambda line: print(line, file=out))
    if record.target_error is not None:
        print(f"scimconform: error: {record.target_error}", file=err)
    return record.exit_code()


def render(record: RunRecord, result: LoadResult | None, write: Callable[[str], None]) -> None:
    """Throughput, latency per operation, errors by status, the end state, what was left behind."""
    where = "embedded reference server" if record.embedded else record.public_target
    write(
        f"scimconform load: target {where}; profile {record.profile}; dialect {record.dialects[0]}; "
        f"seed {record.seed}; run tag {record.run_tag}"
    )
    if result is None or record.load is None:
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
    for leftover in record.leftovers:
        write(f"LEFT   {leftover}")
    for journal in record.journals:
        write(f"LEDGER {journal}: run `scimconform cleanup --report-dir {Path(journal).parent.parent}` to try again")
    write(f"cleanup: {load['cleanup_seconds']:.1f} s, {len(record.leftovers)} left behind")
    write("load: PASSED" if record.exit_code() == 0 else "load: FAILED")


def write_allure(
    results_dir: Path, record: RunRecord, result: LoadResult, started: float, provider: idp.Provider
) -> None:
    """One Allure test result for the load run, its figures as a JSON attachment."""
    results_dir.mkdir(parents=True, exist_ok=True)
    logger = AllureFileLogger(str(results_dir))
    attachment = f"{uuid.uuid4()}-attachment.json"
    logger.report_attached_data(json.dumps(record.load, indent=2).encode(), attachment)
    load = record.load or {}
    message = None if result.ok else "; ".join(_failures(load, record.leftovers))
    test = TestResult(
        uuid=str(uuid.uuid4()),
        historyId=f"scimconform-load-{record.profile}-{record.dialects[0]}",
        name=f"Load: {provider.name} initial and incremental cycles for {load['users']} users",
        fullName="scimconform.load",
        status=Status.PASSED if result.ok else Status.FAILED,
        statusDetails=StatusDetails(message=message) if message else None,
        start=int(started * 1000),
        stop=int(time.time() * 1000),
        labels=[
            Label(name="epic", value="scimconform"),
            Label(name="feature", value="Load"),
            Label(name="tag", value=f"dialect:{record.dialects[0]}"),
            Label(name="tag", value=f"profile:{record.profile}"),
        ],
        attachments=[Attachment(name="load figures", source=attachment, type="application/json")],
    )
    logger.report_result(test)
    write_run_files(results_dir, record, os.environ)


def _failures(load: dict[str, object], leftovers: list[str]) -> list[str]:
    errors = load.get("errors") or {}
    state = load.get("end_state") or {}
    reasons = [f"errors by status {errors}"] if errors else []
    if isinstance(state, dict) and not state.get("ok"):
        reasons.append(f"end state: {state.get('problem_count')} problem(s)")
    if leftovers:
        reasons.append(f"{len(leftovers)} resource(s) left behind")
    return reasons or ["interrupted"]
