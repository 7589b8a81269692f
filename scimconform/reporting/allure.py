"""Allure results: labels, description and one step per HTTP exchange for each case; the run's files.

`AllureSteps` and `AllureRunFiles` are reporters of the run's event stream (scimconform.events): the engine
knows neither. allure-pytest writes no run-level files, so `write_run_files` writes `environment.properties`,
`executor.json` and `categories.json` at the end of the run (docs/allure-notes.md, "Run-level files").
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import allure
from allure_commons._allure import StepContext
from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import Attachment, Label, Status, StatusDetails, TestResult

from scimconform import __version__, idp
from scimconform.catalogue import Case
from scimconform.checks import CAPACITY, SCHEMA, SERVER_ERROR, TRANSPORT, WRONG_STATUS, WRONG_VALUE
from scimconform.events import (
    CaseStarted,
    Event,
    ExchangeRecorded,
    Note,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from scimconform.exchange import Exchange
from scimconform.reporting.results import RunRecord, display_name, write_json

SEVERITY = {"blocking": allure.severity_level.BLOCKER, "warning": allure.severity_level.NORMAL}
RFC_SECTION = re.compile(r"RFC (?P<rfc>\d{4}) §(?P<section>\d+(?:\.\d+)*)")
# /Users/<id>, /Groups/<id>: the id changes every run, the step name should not.
_RESOURCE_ID = re.compile(r"^(/(?:Users|Groups))/[^/?]+")
_ANY = r"[\s\S]*"  # both generators' regex dialects agree on this (docs/allure-notes.md, "Category regexes")


def _category(name: str, also: str = "") -> dict[str, Any]:
    """A category matched by the `category: <name>` line every failure message carries (see
    scimconform.checks): rewording a message cannot move a failure to another group."""
    token = re.escape(f"category: {name}") + (f"|{also}" if also else "")
    return {"name": name, "matchedStatuses": ["failed", "broken"], "messageRegex": f"{_ANY}({token}){_ANY}"}


# Checked in order; Allure 3 files a result under the first that matches. Shared by
# categories.json (Allure 2 readers) and allurerc.json (Allure 3 reads categories only from there).
# A target that cannot be reached at all fails every case with the preflight's "unreachable" line.
CATEGORIES: list[dict[str, Any]] = [
    _category(SCHEMA),
    _category(TRANSPORT, also=r"target \S+ unreachable:"),
    _category(SERVER_ERROR),
    _category(WRONG_STATUS),
    _category(CAPACITY),
    _category(WRONG_VALUE),
    {"name": "Not supported by target or profile", "matchedStatuses": ["skipped"]},
    {"name": "Harness errors", "matchedStatuses": ["broken"]},
]


def describe_case(case: Case, dialect: str | None, profile: str) -> None:
    """Label the running test with the case's metadata; called once its setup has run."""
    allure.dynamic.title(display_name(case.id, dialect, case.title))
    allure.dynamic.epic(case.epic)
    allure.dynamic.feature(case.feature)
    allure.dynamic.story(case.story)
    allure.dynamic.severity(SEVERITY[case.severity])
    allure.dynamic.tag(f"profile:{profile}")
    allure.dynamic.tag(f"evidence:{case.evidence}")
    if dialect:
        allure.dynamic.tag(f"dialect:{dialect}")
    for name, url in source_links(case):
        allure.dynamic.link(url, name=name)
    allure.dynamic.description(description(case))


def explain_failure(case: Case, fixes: list[str], warning: bool) -> None:
    """A case that broke a rule also says what to fix. A warning passes in Allure, as in JUnit and pytest (only
    a blocking rule fails a run), so its tag and description carry it: visible, never red."""
    text = description(case, fixes)
    if warning:
        allure.dynamic.tag("warning")
        text = f"**Warning (not blocking): a SHOULD-level rule is broken.**\n\n{text}"
    allure.dynamic.description(text)


def description(case: Case, fixes: list[str] | None = None) -> str:
    text = f"**Requirement.** {case.requirement}\n\n**Source.** {case.source}"
    return text + "".join(f"\n\n**Fix.** {fix}" for fix in dict.fromkeys(fixes or []))


def source_links(case: Case) -> list[tuple[str, str]]:
    """(name, URL) of the case's documentation page and of every RFC section its source cites."""
    links = [(case.link.rstrip("/").rsplit("/", 1)[-1].split("#")[0], case.link)] if case.link else []
    for match in RFC_SECTION.finditer(case.source):
        url = f"https://www.rfc-editor.org/rfc/rfc{match['rfc']}#section-{match['section']}"
        if url not in (u for _, u in links):
            links.append((match[0], url))
    return links


ATTACHED_EXCHANGES_PER_CASE = 300
TRANSCRIPT = "request and response"


def transcript(exchange: Exchange) -> str:
    """The exchange as a reader wants it: the curl line that replays it, then the request body and the answer,
    each indented when it is JSON. The curl line keeps the body byte for byte; the indented copy is for reading."""
    parts = [exchange.curl()]
    if exchange.request_body is not None:
        parts.append("Request body:\n" + _pretty(exchange.request_body, exchange.redact)[0])
    answer = f"HTTP {exchange.status}" if exchange.status is not None else f"no answer ({exchange.transport_error})"
    if exchange.response_body:
        answer += "\n" + _pretty(exchange.response_body, exchange.redact)[0]
    return "\n\n".join([*parts, f"Response: {answer}"])


class AllureSteps:
    """The Allure reporter: each case step is an Allure step, each exchange a step inside it."""

    def __init__(self) -> None:
        self.base_path = ""  # the Tenant URL's path, from RunStarted
        self.attach_limit = ATTACHED_EXCHANGES_PER_CASE
        self._attached = 0
        self._open: list[AbstractContextManager[object]] = []

    def handle(self, event: Event) -> None:
        match event:
            case RunStarted(base_url=base_url):
                self.base_path = urlsplit(base_url).path.rstrip("/")
            case CaseStarted():
                self._attached = 0
            case StepStarted(title=title):
                step: AbstractContextManager[object] = allure.step(title)
                step.__enter__()
                self._open.append(step)
            case StepFinished(error=error) if self._open:
                self._open.pop().__exit__(type(error) if error else None, error, error.__traceback__ if error else None)
            case Note(text=text):
                with allure.step(text):
                    pass
            case ExchangeRecorded(exchange=exchange):
                self.exchange(exchange)

    def exchange(self, exchange: Exchange) -> None:
        """Record the exchange as a step: the response headers as its parameters, the exchange as one attachment.

        Creating files is most of what reporting an exchange costs (bench/results.md, "Server-bound share"), so
        an exchange writes one: its `transcript`. A provisioning cycle for thousands of users would still write
        thousands; past `attach_limit` exchanges in one case the steps stay but carry no attachment (the HAR
        keeps all).
        """
        self._attached += 1
        with StepContext(self.title(exchange), dict(exchange.response_headers)):
            if self._attached > self.attach_limit:
                if self._attached == self.attach_limit + 1:
                    note = f"Exchanges after the first {self.attach_limit} of this case are not attached; use --har."
                    allure.attach(note, "attachments stop here", allure.attachment_type.TEXT)
                return
            allure.attach(transcript(exchange), TRANSCRIPT, allure.attachment_type.TEXT)

    def title(self, exchange: Exchange) -> str:
        """`PATCH /Users/{id} → 204`: the path below the Tenant URL, the query decoded."""
        parts = urlsplit(exchange.url)
        path = _RESOURCE_ID.sub(r"\1/{id}", parts.path.removeprefix(self.base_path) or "/")
        query = f"?{exchange.redact(unquote_plus(parts.query))}" if parts.query else ""  # decoded: redacted again
        outcome = str(exchange.status) if exchange.status is not None else exchange.transport_error
        return f"{exchange.method} {path}{query} → {outcome}"


class AllureRunFiles:
    """Reporter: what no test framework writes into the Allure results folder, when the run finishes — the
    run-level files and, for `scimconform load` (which runs outside pytest), the load's one test result."""

    def __init__(self, results_dir: Path) -> None:
        self.results_dir = results_dir

    def handle(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            if event.record.load is not None:
                write_load_result(self.results_dir, event.record)
            write_run_files(self.results_dir, event.record, os.environ)


def write_load_result(results_dir: Path, record: RunRecord) -> None:
    """One Allure test result for a load run, its figures (`record.load`) as a JSON attachment."""
    load = record.load
    assert load is not None, "only a load run's record has figures"
    results_dir.mkdir(parents=True, exist_ok=True)
    logger = AllureFileLogger(str(results_dir))
    attachment = f"{uuid.uuid4()}-attachment.json"
    logger.report_attached_data(json.dumps(load, indent=2).encode(), attachment)
    message = None if load["ok"] else "; ".join(_load_failures(load, record.leftovers))
    logger.report_result(
        TestResult(
            uuid=str(uuid.uuid4()),
            historyId=f"scimconform-load-{record.profile}-{record.dialects[0]}",
            name=f"Load: {idp.provider().name} initial and incremental cycles for {load['users']} users",
            fullName="scimconform.load",
            status=Status.PASSED if load["ok"] else Status.FAILED,
            statusDetails=StatusDetails(message=message) if message else None,
            start=int(record.started.timestamp() * 1000),
            stop=int(time.time() * 1000),
            labels=[
                Label(name="epic", value="scimconform"),
                Label(name="feature", value="Load"),
                Label(name="tag", value=f"dialect:{record.dialects[0]}"),
                Label(name="tag", value=f"profile:{record.profile}"),
            ],
            attachments=[Attachment(name="load figures", source=attachment, type="application/json")],
        )
    )


def _load_failures(load: dict[str, Any], leftovers: list[str]) -> list[str]:
    """Why a load run failed, in the words of its console verdict; nothing else wrong: it was interrupted."""
    reasons = [f"errors by status {load['errors']}"] if load["errors"] else []
    if not load["end_state"]["ok"]:
        reasons.append(f"end state: {load['end_state']['problem_count']} problem(s)")
    if leftovers:
        reasons.append(f"{len(leftovers)} resource(s) left behind")
    return reasons or ["interrupted"]


def write_run_files(results_dir: Path, record: RunRecord, environ: Mapping[str, str]) -> None:
    """environment.properties, categories.json and, on a known CI service, executor.json."""
    results_dir.mkdir(parents=True, exist_ok=True)
    environment = {
        "target": "embedded reference server" if record.embedded else record.public_target,
        "profile": record.profile,
        "dialects": ", ".join(record.dialects),
        "seed": str(record.seed),
        "workers": str(record.workers),
        "run_tag": record.run_tag,
        "harness_version": __version__,
    }
    lines = (f"{key}={_properties_escape(value)}\n" for key, value in environment.items())
    (results_dir / "environment.properties").write_text("".join(lines), encoding="utf-8")
    write_json(results_dir / "categories.json", CATEGORIES)
    executor = ci_executor(environ)
    if executor is not None:
        write_json(results_dir / "executor.json", executor)


def ci_executor(environ: Mapping[str, str]) -> dict[str, Any] | None:
    """Allure's executor record for GitHub Actions, GitLab CI or Azure Pipelines; None elsewhere."""
    env = environ.get
    if env("GITHUB_ACTIONS") == "true":
        server, repo, run = (
            env("GITHUB_SERVER_URL", "https://github.com"),
            env("GITHUB_REPOSITORY"),
            env("GITHUB_RUN_ID"),
        )
        return _executor(
            "GitHub Actions",
            "github",
            env("GITHUB_WORKFLOW"),
            env("GITHUB_RUN_NUMBER"),
            f"{server}/{repo}/actions/runs/{run}" if repo and run else None,
        )
    if env("GITLAB_CI") == "true":
        return _executor(
            "GitLab CI",
            "gitlab",
            env("CI_JOB_NAME"),
            env("CI_PIPELINE_IID"),
            env("CI_JOB_URL") or env("CI_PIPELINE_URL"),
        )
    if (env("TF_BUILD") or "").lower() == "true":
        collection, project, build = env("SYSTEM_COLLECTIONURI"), env("SYSTEM_TEAMPROJECT"), env("BUILD_BUILDID")
        return _executor(
            "Azure Pipelines",
            "azure",
            env("BUILD_DEFINITIONNAME"),
            build,
            f"{collection}{project}/_build/results?buildId={build}" if collection and project and build else None,
        )
    return None


def _executor(name: str, kind: str, job: str | None, number: str | None, url: str | None) -> dict[str, Any]:
    executor: dict[str, Any] = {"name": name, "type": kind, "reportName": "scimconform: SCIM conformance"}
    if job or number:
        executor["buildName"] = " #".join(filter(None, (job, number)))
    if number and number.isdigit():
        executor["buildOrder"] = int(number)
    if url:
        executor["buildUrl"] = url
    return executor


def _properties_escape(value: str) -> str:
    """Java .properties escaping for one value (the format Allure reads)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def _pretty(text: str, redact: Callable[[str], str]) -> tuple[str, bool]:
    """`text` indented when it is JSON, and whether it is. Decoding turns escapes back into characters, so
    the result is redacted again; a document nested too deeply to indent stays as it came."""
    try:
        return redact(json.dumps(json.loads(text), indent=2, ensure_ascii=False)), True
    except (ValueError, RecursionError):
        return text, False
