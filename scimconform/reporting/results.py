"""Case results as reports carry them, the run's verdict, and `summary.json`.

Results travel on pytest reports as user properties, so they survive pytest-xdist: whichever
process writes the summary sees every worker's results.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scimconform import __version__

STATUSES = ("passed", "failed", "warning", "skipped", "error")
# Bump the number, and `schemas/summary.json` with it, whenever a field changes meaning or goes away.
SUMMARY_FORMAT = "scimconform-summary/3"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C
SUMMARY_SCHEMA = "https://scimconform.example/schemas/summary.json"


NOT_SELECTED = "not selected (-k, or only some suites were run)"
NO_VERDICT = "selected, but it reached no verdict (the run ended before it, or its worker process was lost)"


@dataclass(frozen=True, kw_only=True)
class CaseResult:
    """One case in one dialect, as reports show it."""

    id: str
    title: str
    dialect: str | None
    status: str
    severity: str
    source: str
    message: str
    duration: float
    fix: str = ""
    feature: str = ""
    gallery_test: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)  # each failed step (schemas/summary.json)
    fallbacks: list[dict[str, Any]] = field(default_factory=list)  # refused, then taken in a plainer form
    not_applicable: bool = False  # skipped because the profile maps nothing the case is about

    @property
    def name(self) -> str:
        return case_name(self.id, self.dialect)

    @property
    def display_name(self) -> str:
        return display_name(self.id, self.dialect, self.title)


def case_name(case_id: str, dialect: str | None) -> str:
    """`ENTRA-USER-010[default]`: how every report names a case in one dialect."""
    return case_id + (f"[{dialect}]" if dialect else "")


def display_name(case_id: str, dialect: str | None, title: str) -> str:
    """`ENTRA-USER-010[default] Disable a user…`: the name a reader of a report sees first."""
    return f"{case_name(case_id, dialect)} {title}"


@dataclass(kw_only=True)
class RunRecord:
    """Everything the run learned, for the summary and the console verdict."""

    target: str
    embedded: bool
    profile: str
    dialects: tuple[str, ...]
    seed: int
    run_tag: str
    workers: int = 1  # cases at once, and users of a case at once (`--workers`)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    results: list[CaseResult] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    target_error: str | None = None
    interrupted: bool = False  # stopped by Ctrl-C, SIGTERM or SIGHUP: whatever ran, nothing is judged
    selected: list[str] | None = None  # the cases the run owes a verdict: ID[dialect], after -k
    journals: list[str] = field(default_factory=list)  # ledger files kept for `scimconform cleanup`
    report_errors: list[str] = field(default_factory=list)  # a report writer that failed (the run went on)
    # Set by `scimconform load`: the `load` section (schemas/summary.json, $defs/load).
    load: dict[str, Any] | None = None
    # Every blocking case (ID[dialect]) a complete run judges: the gallery verdict needs each to run and pass.
    blocking_plan: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        return {s: sum(1 for r in self.results if r.status == s) for s in STATUSES}

    def causes(self) -> list[dict[str, Any]]:
        """Failed steps across cases and dialects grouped by cause (the request's shape and the answer), the
        cause that explains the most verdicts first: fixing it may turn all of them green."""
        grouped: dict[str, dict[str, Any]] = {}
        for result in self.results:
            for failure in result.failures:
                cause = grouped.setdefault(
                    failure["cause"],
                    {"cause": failure["cause"], "fix": failure["fix"], "judged_by": failure["judged_by"], "cases": []},
                )
                if result.name not in cause["cases"]:
                    cause["cases"].append(result.name)
        ranked = sorted(grouped.values(), key=lambda c: (-len(c["cases"]), c["cause"]))
        return [cause | {"explains": len(cause["cases"])} for cause in ranked]

    def blocking_failures(self) -> list[CaseResult]:
        return [r for r in self.results if r.status in ("failed", "error")]

    def not_run(self) -> list[dict[str, str]]:
        """Blocking cases this run did not judge, each with why: left out of the selection, or skipped for an
        option it was not given (a static token, plain http, …). A case that does not apply to the profile is
        not missing: Entra would never send it."""
        results = {r.name: r for r in self.results}
        missing = []
        for name in self.blocking_plan:
            result = results.get(name)
            if result is None:
                missing.append({"case": name, "reason": NO_VERDICT if name in (self.selected or ()) else NOT_SELECTED})
            elif result.status == "skipped" and not result.not_applicable:
                missing.append({"case": name, "reason": result.message})
        return missing

    def unjudged_refusals(self) -> list[dict[str, Any]]:
        """Refusals a case fell back from because another case judges them, which that case did not fail for (it
        passed, or did not run): the target refuses the provider's request only for some values, or the owner
        was left out of the run. Each is a problem of the run, as a leftover is."""
        failed_causes: dict[str, set[str]] = {}
        for result in self.results:
            failed_causes.setdefault(result.id, set()).update(f["cause"] for f in result.failures)
        unjudged: dict[tuple[str, str], dict[str, Any]] = {}
        for result in self.results:
            for fallback in result.fallbacks:
                owner, cause = fallback["judged_by"], fallback["cause"]
                if owner is not None and cause not in failed_causes.get(owner, set()):
                    entry = unjudged.setdefault((owner, cause), {"cause": cause, "judged_by": owner, "cases": []})
                    if result.name not in entry["cases"]:
                        entry["cases"].append(result.name)
        return list(unjudged.values())

    @property
    def gallery_ready(self) -> bool:
        """Every blocking case ran and passed, nothing was left on the target, and every refusal is judged."""
        return (
            self.judged
            and not self.blocking_failures()
            and not self.leftovers
            and not self.not_run()
            and not self.unjudged_refusals()
        )

    @property
    def judged(self) -> bool:
        return not self.interrupted and self.target_error is None and bool(self.results) and not self.unreported()

    def unreported(self) -> list[str]:
        """Selected cases without a verdict, though the run was not stopped: pytest-xdist gave up on a worker
        that kept dying, or a serial session ended early (pytest -x). What did run cannot make it READY."""
        if self.interrupted:
            return []  # a stopped run judges nothing anyway; `not_run` says which cases it never reached
        judged = {result.name for result in self.results}
        return [name for name in self.selected or () if name not in judged]

    def exit_code(self) -> int:
        """0 no blocking failure and nothing left, 1 blocking failures, leftovers or selected cases without a
        verdict, 2 the target could not be judged, 130 interrupted. A run that left blocking cases out (a static
        token skips the OAuth cases) can exit 0 for CI: its verdict line still says the gallery readiness was not
        judged.

        A load run judges no case: its verdict is the load's (no errors, exact end state, nothing left).
        """
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.target_error is not None:
            return 2
        if self.load is not None and not self.results:
            return 0 if self.load["ok"] and not self.leftovers else 1
        problems = self.blocking_failures() or self.leftovers or self.unjudged_refusals()
        return 0 if self.judged and not problems else 1

    @property
    def public_target(self) -> str:
        """The target URL as reports may show it: without user name or password."""
        return public_url(self.target)

    def to_json(self) -> dict[str, Any]:
        """The document `schemas/summary.json` describes."""
        load = {} if self.load is None else {"load": self.load}
        return {
            "$schema": SUMMARY_SCHEMA,
            "format": SUMMARY_FORMAT,
            "harness_version": __version__,
            "target": {"url": self.public_target, "embedded": self.embedded},
            "profile": self.profile,
            "dialects": list(self.dialects),
            "seed": self.seed,
            "workers": self.workers,
            "run_tag": self.run_tag,
            "started": self.started.isoformat(),
            "finished": datetime.now(UTC).isoformat(),
            "totals": self.totals(),
            "cases": [asdict(r) for r in self.results],
            "causes": self.causes(),
            "leftovers": self.leftovers,
            "ledgers": self.journals,
            "target_error": self.target_error,
            "interrupted": self.interrupted,
            "report_errors": self.report_errors,
            "verdict": {
                "gallery_ready": self.gallery_ready,
                "blocking_failures": [r.name for r in self.blocking_failures()],
                "not_run": self.not_run(),
                "unjudged_refusals": self.unjudged_refusals(),
                "unreported": self.unreported(),
                "exit_code": self.exit_code(),
            },
        } | load


def write_json(path: Path, document: Any, *, indent: int | None = 2) -> None:
    """Every JSON file the reporters write: UTF-8, newline-terminated, indented unless `indent` is None. Indenting
    takes json's pure-Python encoder, about ten times slower: a HAR of megabytes is written without it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8")


def public_url(url: str) -> str:
    """`url` without the credentials some people put in it (`https://user:secret@host/…`)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
