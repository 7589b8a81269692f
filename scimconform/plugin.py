"""The pytest plugin: options, the case parametrization, fixtures, and result collection.

It stays inert in any session that collects no scimconform suite. One session fixture owns the
target, the recording client, the ledger and the identity factory; `scim_case` hands each test one
case in one dialect and cleans up after it, whatever happened. At the end of the session it sweeps
anything left, writes `summary.json` and prints the verdict.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import ExitStack, nullcontext
from dataclasses import asdict, dataclass, fields
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pytest

from scimconform import interrupts
from scimconform.catalogue import SEQUENCE_SUITE, Case, catalogue_with
from scimconform.client import RecordingClient
from scimconform.documents import trust_validated, validated_digests
from scimconform.engine.ahead import CasesAhead, Planned, RanAhead, release
from scimconform.engine.case_run import CaseRun
from scimconform.engine.context import RunContext
from scimconform.engine.outcomes import ConformanceFailure
from scimconform.errors import CaseSkipped, HarnessError, NotApplicable, PreconditionFailed, TargetError
from scimconform.events import (
    CaseEnded,
    CaseFinished,
    CaseStarted,
    Event,
    EventStream,
    ExchangeRecorded,
    RunFinished,
    RunStarted,
)
from scimconform.identities import RUN_TAG_ENV, IdentityFactory
from scimconform.interrupts import interrupts_as_keyboard_interrupt
from scimconform.ledger import Journal, Ledger
from scimconform.profiles import Profile
from scimconform.reporting import allure as allure_report
from scimconform.reporting import registry
from scimconform.reporting.har import HarRecorder
from scimconform.reporting.junit import mark_warning, name_testcase
from scimconform.reporting.progress import Display
from scimconform.reporting.results import CaseResult, RunRecord, case_name
from scimconform.reporting.summary import SummaryWriter
from scimconform.run_plan import Preflight, plan_run, preflight
from scimconform.settings import REPEATED, Settings, load_settings, plugin_option
from scimconform.target import Target, embedded_target
from scimconform.workers import MAIN_PID_ENV, CaseLocks, die_with_parent, shared_folder, stop_kills_workers

STATE = pytest.StashKey["PluginState"]()
NOT_APPLICABLE = pytest.StashKey[bool]()  # on an item: its case was skipped as not applicable to the profile
SIGNALS = pytest.StashKey[ExitStack]()
# What a case's report shows as its message alone, without a traceback: the harness's own typed failures.
REPORTED_BY_MESSAGE = (ConformanceFailure, PreconditionFailed, HarnessError)
VALIDATED_INPUT = "scimconform_validated"  # pytest-xdist workerinput key: digests of documents found valid
_WORKER_KEY = "scimconform-leftovers"


@dataclass(frozen=True)
class CaseParam:
    """One parametrized test: a case and the dialect it replays (None for dialect-free cases)."""

    case: Case
    dialect: str | None

    @property
    def id(self) -> str:
        return case_name(self.case.id, self.dialect)

    def __repr__(self) -> str:
        """Allure shows (and hashes into its history id) a parameter's repr: keep it short and stable."""
        return self.id


class PluginState:
    """Per-session state, built lazily the first time a scimconform suite is collected."""

    def __init__(self, config: pytest.Config) -> None:
        handoff = _handoff(config)
        self.settings: Settings = handoff.settings if handoff is not None else settings_from_options(config)
        # One tag per run: xdist workers inherit the controller's, every other session makes its own.
        inherited = os.environ.get(RUN_TAG_ENV) if hasattr(config, "workerinput") else None
        plan = plan_run(self.settings, run_tag=inherited)
        os.environ[RUN_TAG_ENV] = plan.run_tag
        self.profile: Profile = plan.profile
        self.seed, self.run_tag, self.target_template = plan.seed, plan.run_tag, plan.target
        self.catalogue = catalogue_with(self.settings.sequences)
        self.record = plan.record(self.dialects)
        self.record.blocking_plan = [p.id for p in self.params() if p.case.severity == "blocking"]
        # The reporters of this process, each also a pytest plugin (for the hooks some need); a failing one is
        # listed in the record, hence in summary.json.
        reporters = registry.reporters(_report_request(config, self.settings.report_dir, self.run_tag))
        for reporter in reporters:
            config.pluginmanager.register(reporter)
        self.events = EventStream(reporters, errors=self.record.report_errors)
        self.selection_error: str | None = None  # `-k` selected nothing: the run never starts, nothing is reported
        self.preflight: Preflight | None = None  # a configured target, judged before the first case
        self.selected: dict[str, CaseParam] = {}  # node id -> the case and dialect, of every case selected
        self.crashed: dict[str, CaseResult] = {}  # a case whose worker died, until it runs again on another
        # pytest-xdist workers (`pytest -n N`) share the target: one pace, and the run held around each case.
        worker = hasattr(config, "workerinput")
        if worker:
            die_with_parent()
        self.shared = shared_folder(self.settings.report_dir, self.run_tag) if worker else None
        self.case_locks = CaseLocks(self.shared) if self.shared is not None else None

    @property
    def dialects(self) -> tuple[str, ...]:
        """The URL's flag picks the dialect, as in Entra, unless one was asked for explicitly."""
        url_dialect = self.target_template.url_dialect if self.target_template else None
        if url_dialect and self.settings.dialect == "all":
            return (url_dialect,)
        return self.settings.dialects

    def params(self, suite: str | None = None) -> list[CaseParam]:
        """The cases of one suite (every suite: None), each in every dialect it runs in."""
        params = []
        for case in self.catalogue:
            if suite is None or case.suite == suite:
                dialects: tuple[str | None, ...] = self.dialects if case.uses_dialect else (None,)
                params += [CaseParam(case, d) for d in dialects]
        return params


class Handoff:
    """What `scimconform run` hands the plugin in its own process — the settings it built once, and the
    console that shows the run in place of pytest's output — and gets back: the run's record."""

    def __init__(self, settings: Settings, display: Display | None = None) -> None:
        self.settings = settings
        self.display = display
        self.record: RunRecord | None = None
        # why the run never started, for the CLI to print: a usage error found inside the session (`-k`), or a
        # target that cannot be judged (its preflight's block)
        self.error: str | None = None
        self.uncollected: list[str] = []  # suite modules that could not be loaded: a broken install, not a stop

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.uncollected.append(report.nodeid or str(report.fspath))


def _handoff(config: pytest.Config) -> Handoff | None:
    """The hand-off `scimconform run` registered, when this session is one (plugins come unnamed)."""
    return next((p for p in config.pluginmanager.get_plugins() if isinstance(p, Handoff)), None)


def settings_from_options(config: pytest.Config) -> Settings:
    """The settings the `--scim-*` options give, over the settings file (`--scim-config`, or
    scimconform.yaml unless `--scim-no-config`); an error names the option as the user typed it."""
    config_file = config.getoption("scim_config")
    given = {setting.name: config.getoption(_dest(setting.name)) for setting in fields(Settings)}
    return load_settings(
        Path(config_file) if config_file else None,
        default_file=not config.getoption("scim_no_config"),
        flag=plugin_option,
        **given,
    )


def _report_request(config: pytest.Config, report_dir: Path, run_tag: str) -> registry.ReportRequest:
    """What pytest's options ask this process to report (allure-pytest's and pytest's own, and the reports'
    options the registry declares)."""
    allure_dir, junit = config.getoption("allure_report_dir", None), config.getoption("xmlpath", None)
    options = registry.report_options()
    return registry.ReportRequest(
        command="run",
        report_dir=report_dir,
        run_tag=run_tag,
        allure_dir=Path(allure_dir) if allure_dir else None,
        junit=Path(junit) if junit else None,
        files={o.name: Path(value) for o in options if (value := config.getoption(o.dest, None))},
        controller=not hasattr(config, "workerinput"),
        display=handoff.display if (handoff := _handoff(config)) is not None else None,
    )


def _dest(name: str) -> str:
    return f"scim_{name}"


def _state(config: pytest.Config) -> PluginState:
    if STATE not in config.stash:
        try:
            config.stash[STATE] = PluginState(config)
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
        # From here to the end of the session, SIGTERM and SIGHUP stop the run as Ctrl-C does: through
        # collection, the preflight, the cases, cleanup and the reports.
        config.stash[SIGNALS] = ExitStack()
        config.stash[SIGNALS].enter_context(interrupts_as_keyboard_interrupt())
    return config.stash[STATE]


def pytest_unconfigure(config: pytest.Config) -> None:
    if SIGNALS in config.stash:
        config.stash[SIGNALS].close()
    if STATE in config.stash and (locks := config.stash[STATE].case_locks) is not None:
        locks.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scimconform", "SCIM conformance against Microsoft Entra ID's provisioning traffic")
    # One option per setting, named and explained by the Settings dataclass itself.
    default = Settings()
    for setting in fields(Settings):
        shown = getattr(default, setting.name)
        suffix = f" (default {shown})" if shown not in (None, "", {}) else ""
        group.addoption(
            plugin_option(setting.name),
            dest=_dest(setting.name),
            action="append" if setting.name in REPEATED else "store",
            help=setting.metadata["help"] + suffix,
        )
    group.addoption("--scim-config", help="settings file (default: scimconform.yaml if present)")
    group.addoption("--scim-no-config", action="store_true", help="read no settings file, not even scimconform.yaml")
    for option in registry.report_options():
        group.addoption(option.plugin_option, dest=option.dest, metavar="FILE", help=option.help)
    parser.addini("scim_suites", type="bool", default=False, help="this directory holds scimconform suites")


_OPTIONS = ("scim_config", *(_dest(setting.name) for setting in fields(Settings)))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scim_suite(name): run the YAML cases of fixtures/sequences/<name>/")
    if not config.pluginmanager.hasplugin("xdist"):  # each case carries the mark; known under --strict-markers
        config.addinivalue_line("markers", "xdist_group(name): pytest-xdist's --dist loadgroup runs a group together")
    config.pluginmanager.register(ResultCollector(config), "scimconform-results")
    if not hasattr(config, "workerinput"):  # before pytest-xdist starts any worker: `die_with_parent` reads it
        os.environ[MAIN_PID_ENV] = str(os.getpid())
    else:
        trust_validated(config.workerinput.get(VALIDATED_INPUT, ()))
    # Settle the settings now when this is a conformance run, so a bad option is one usage error
    # before collection, not a collection error per module.
    if config.getini("scim_suites") or any(config.getoption(name) is not None for name in _OPTIONS):
        _state(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist starts a worker: hand it what this process already validated, so it reads the same case
    files without validating them again."""
    node.workerinput[VALIDATED_INPUT] = validated_digests()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The suite of given case files (`suites/test_sequence.py`) is collected only when a run was given some:
    empty, it would show as a skipped test."""
    if collection_path.name != f"test_{SEQUENCE_SUITE}.py" or STATE not in config.stash:
        return None
    return not config.stash[STATE].settings.sequences


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scim_case" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("scim_suite")
    if marker is None:
        raise pytest.UsageError(f"{metafunc.definition.nodeid} uses scim_case without a scim_suite marker")
    params = _state(metafunc.config).params(marker.args[0])
    # Under `--dist loadgroup` a case's dialect runs go to one worker, one after another, as in a serial run; under
    # pytest 9.2 xdist cannot group them (pytest-xdist#1386), and each dialect run, whole, goes to any worker.
    grouped = [pytest.param(p, marks=pytest.mark.xdist_group(p.case.id), id=p.id) for p in params]
    metafunc.parametrize("scim_case", grouped, indirect=True)


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Generator[None, None, None]:
    """Around pytest's own `-k`, which takes a case name as every report prints it (`ENTRA-USER-010[default]`,
    or the bare id for every dialect): an expression it cannot parse, or one that selects no case, is one
    usage error naming the nearest ids, raised before anything is sent to the target."""
    expression = str(config.getoption("keyword") or "").strip()
    state = config.stash.get(STATE, None)
    if state is None:
        return (yield)
    if not expression or hasattr(config, "workerinput"):
        yield
        _alone_last(config, items)
        return None
    try:
        yield
    except pytest.UsageError as exc:
        if "'-k'" not in str(exc):
            raise
        reason = str(exc).rpartition(f"{expression}: ")[2]
        problem = f"-k {expression!r} is not a valid selection ({reason}): join case ids with or"
    else:
        if items:
            _alone_last(config, items)
            return None
        problem = f"-k {expression!r} selects no case"
    state.selection_error = f"{problem}; nearest: {', '.join(_nearest(expression, state.params()))}"
    handoff = _handoff(config)
    if handoff is not None:
        handoff.error = state.selection_error
    # pytest prints each argument of a UsageError; `scimconform run` prints the problem itself, as its one line.
    raise pytest.UsageError(*([] if handoff else [state.selection_error]))


def _alone_last(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With cases at once, the cases that must run alone go last: each waits for every other case in flight to
    finish and holds the others back while it runs, so spread among them they would stall the run, once per alone
    case. The longest cases (lists of users) come just before them: they begin first (`engine.ahead`), and the
    others are reported while they run. pytest-xdist's workers sort alike (xdist requires one order); a serial
    run keeps the suites' order."""
    settings = _state(config).settings
    if hasattr(config, "workerinput") or (settings.workers or 1) > 1:
        users = settings.users

        def order(item: pytest.Item) -> tuple[bool, bool]:
            param = _param(item)
            return (param.case.runs_alone(users), param.case.member_lists) if param else (False, False)

        items.sort(key=order)


def _nearest(expression: str, params: list[CaseParam]) -> list[str]:
    """The case names closest to the words of a `-k` expression, each word's best first: bare ids, or
    ID[dialect] for a word with a bracket."""
    bare = sorted({p.case.id for p in params})
    named = sorted({p.id for p in params} - set(bare))
    per_word = []
    for word in re.findall(r"[^\s()]+", expression):
        if word.lower() not in ("and", "or", "not"):
            by_case = {name.lower(): name for name in (named if "[" in word else bare)}
            per_word.append([by_case[n] for n in difflib.get_close_matches(word.lower(), by_case, n=3)])
    nearest = dict.fromkeys(name for rank in zip_longest(*per_word) for name in rank if name)
    return list(nearest)[:3] or bare[:3]


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    """Judge a configured target once, before its first case and after `-k` chose the cases (so a bad `-k` sends
    nothing). One that cannot be judged is a usage error: no case runs, summary.json says why, and the
    preflight's block is printed once, by `scimconform run` or by pytest. pytest-xdist's controller collects
    nothing itself: it collects here, so that `-k` and the preflight stop a run with workers before any case
    as they stop a serial one; each worker then judges the target in its session again (the embedded server
    is judged there too, once it is started)."""
    config = session.config
    state = config.stash.get(STATE, None)
    if state is None or hasattr(config, "workerinput") or config.option.collectonly:
        return None
    controller = config.pluginmanager.hasplugin("dsession")
    if controller:
        session.perform_collect()
    if state.target_template is None or not session.items:
        return None
    state.preflight = preflight(_client(state, state.target_template))
    problem = state.preflight.problem
    if problem is not None or controller:  # the workers have clients of their own
        state.preflight.client.close()
    if problem is None:
        if controller:  # the workers' sessions report their own preflight's exchanges, not these
            _to_har(state, [ExchangeRecorded(e) for e in state.preflight.exchanges], state.preflight.client.redact)
        return None
    state.record.target_error = str(problem)
    handoff = _handoff(config)
    if handoff is not None:
        handoff.error = problem.block()
    raise pytest.UsageError(*([] if handoff else [problem.block()]))


def _client(state: PluginState, target: Target) -> RecordingClient:
    pace = state.shared / "pace" if state.shared is not None else None
    return RecordingClient(target, timeout=state.settings.timeout, rate=state.settings.rate, shared_pace=pace)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """In a pytest-xdist worker, a case shares the run with the other workers' cases from its setup to its
    cleanup; the steps of an `alone` case hold it by themselves (`RunContext.alone`)."""
    state = item.config.stash.get(STATE, None)
    if state is None or state.case_locks is None or _param(item) is None:
        return (yield)
    with state.case_locks.case():
        return (yield)


def _param(item: pytest.Item) -> CaseParam | None:
    """The case and dialect a test replays, if it is a scimconform case."""
    param = getattr(getattr(item, "callspec", None), "params", {}).get("scim_case")
    return param if isinstance(param, CaseParam) else None


@dataclass(kw_only=True)
class Session:
    """What every case shares: the run context (client, ledger, identity factory, …), whether the target
    can be judged at all, and the event stream."""

    context: RunContext
    target_error: str | None
    events: EventStream
    ahead: CasesAhead | None = None  # cases run ahead of pytest, several at once (`--workers N`, one process)


@pytest.fixture(scope="session")
def scim_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    state = _state(request.config)
    with ExitStack() as stack:
        judged = state.preflight  # None: the embedded server or an xdist worker, judged below
        target = state.target_template or stack.enter_context(embedded_target(state.settings))
        client = judged.client if judged else _client(state, target)
        stack.callback(client.close)
        events = state.events
        events.redact = client.redact
        events.emit(RunStarted(base_url=target.base_url))
        for exchange in judged.exchanges if judged else ():  # sent before the reports were listening
            events.exchange(exchange)
        client.listeners.append(events.exchange)
        journal = None if target.embedded else _journal(state, target)
        ledger = Ledger(run_tag=state.run_tag, journal=journal, stop=client.halt)
        at_once, alone_at_once = _members_at_once(request.config, state.settings.workers or 1)
        context = RunContext(
            client=client,
            profile=state.profile,
            factory=IdentityFactory(state.seed, state.run_tag),
            ledger=ledger,
            events=events,
            users=state.settings.users,
            dialect=state.dialects[0],
            settings=state.settings,
            alone=state.case_locks.alone if state.case_locks is not None else nullcontext,
            at_once=at_once,
            alone_at_once=alone_at_once,
        )
        problem = None if judged else preflight(client).problem  # a judged target had none, or no case runs
        session = Session(context=context, target_error=str(problem) if problem else None, events=events)
        state.record.target_error = session.target_error
        try:
            session.ahead = _cases_ahead(request, state, context)
            if session.ahead is not None:
                context.alone = session.ahead.quiet.alone
                session.ahead.begin()
            yield session
        finally:
            try:
                _finish_ahead(state, session.ahead, client)
            finally:
                _sweep(state, ledger, client)


def _finish_ahead(state: PluginState, ahead: CasesAhead | None, client: RecordingClient) -> None:
    """No case may still be sending when the final sweep begins: stop them and wait (`CasesAhead.close`); a stop
    that breaks the wait off leaves the sweep only listing what is left."""
    if ahead is None:
        return
    try:
        state.record.leftovers += ahead.close()
    except BaseException:
        ahead.context.ledger.stop.set()
        raise
    _to_har(state, ahead.unreported(), client.redact)


def _sweep(state: PluginState, ledger: Ledger, client: RecordingClient) -> None:
    """The final sweep; then what any cleanup listed and no report has yet (a case's, after a second stop)."""
    try:
        state.record.leftovers += ledger.clean(client)
    finally:
        known = set(state.record.leftovers)
        state.record.leftovers += [line for line in ledger.leftovers if line not in known]
        ledger.close()
        if ledger.journal is not None and ledger.journal.path.exists():
            state.record.journals.append(str(ledger.journal.path))


def _members_at_once(config: pytest.Config, workers: int) -> tuple[int, int]:
    """How many members of a list a case runs at once, in its steps and in the steps of a case that runs alone.
    In one process `workers` cases run at once, each up to `workers` of its members; the longest case of a run,
    a cycle, is mostly its users' requests (bench/results.md, "Latency"). A pytest-xdist worker is one of
    `workers` processes, one case at a time: there an alone case takes the share of all of them, N²."""
    if hasattr(config, "workerinput"):
        return workers, workers**2
    return workers, workers


def _cases_ahead(request: pytest.FixtureRequest, state: PluginState, context: RunContext) -> CasesAhead | None:
    """With more than one worker in one process (no pytest-xdist), the cases selected, begun ahead of pytest."""
    width = state.settings.workers or 1
    if width <= 1 or hasattr(request.config, "workerinput") or state.record.target_error:
        return None
    items = request.session.items
    planned = [Planned(item.nodeid, p.case, p.dialect) for item in items if (p := _param(item)) is not None]
    return CasesAhead(context, planned, width)


def _to_har(state: PluginState, events: Sequence[Event], redact: Callable[[str], str]) -> None:
    """Exchanges no case reports (Allure has no test for them), to the HAR, which holds every one the run sent."""
    har = [r for r in state.events.reporters if isinstance(r, HarRecorder)]
    stream = EventStream([*har], redact, errors=state.record.report_errors)
    for event in events:
        stream.emit(event)
    for reporter in har:  # what follows (the final sweep) is on no case's page
        reporter.end_page()


def _journal(state: PluginState, target: Target) -> Journal:
    """This process's ledger file; xdist workers each write their own."""
    process = os.environ.get("PYTEST_XDIST_WORKER", "main")
    header = {"run_tag": state.run_tag, "target": target.base_url, "command": "run"}
    return Journal(state.settings.report_dir / "ledger" / f"{state.run_tag}-{process}.jsonl", header)


@pytest.fixture
def scim_case(request: pytest.FixtureRequest, scim_session: Session) -> Iterator[CaseRun | RanAhead]:
    param: CaseParam = request.param
    state = _state(request.config)
    if scim_session.target_error:
        raise TargetError(scim_session.target_error)
    ahead = scim_session.ahead.take(request.node.nodeid) if scim_session.ahead is not None else None
    if ahead is not None:  # it ran beside the cases before it: now reported, as if it ran now
        state.record.leftovers += ahead.take_leftovers()
        try:
            release(scim_session.events, ahead.started)
            yield ahead
        finally:
            _release_ended(request.session, scim_session, ahead)
        if ahead.cleanup_error is not None:
            raise ahead.cleanup_error
        return
    # Run here, in pytest's thread; beside cases running ahead (a case pytest runs again) it shares the run.
    with scim_session.ahead.quiet.case() if scim_session.ahead is not None else nullcontext():
        yield from _run_here(request, scim_session, state, param)


def _release_ended(session: pytest.Session, scim_session: Session, ahead: RanAhead) -> None:
    """The case's end and cleanup, reported. A further stop while pytest tears the case down as an interrupted
    session ends must not break off the session's own teardown, which stops the cases still running and sweeps:
    it stops the report instead, and what is still held goes to the HAR (`CasesAhead.unreported`)."""
    try:
        release(scim_session.events, ahead.ended)
    except KeyboardInterrupt:
        ledger = scim_session.context.ledger
        ledger.interrupted = True
        if session.exitstatus != pytest.ExitCode.INTERRUPTED:  # the first stop: pytest stops the run
            raise
        ledger.stop.set()


def _run_here(
    request: pytest.FixtureRequest, scim_session: Session, state: PluginState, param: CaseParam
) -> Iterator[CaseRun]:
    run = CaseRun(param.case, param.dialect, scim_session.context)
    scim_session.events.emit(CaseStarted(case_id=param.case.id, dialect=param.dialect, title=param.case.title))
    try:
        yield run
    finally:
        failed = tuple(failure.exchange for failure in run.findings.failures)
        scim_session.events.emit(CaseEnded(case_id=param.case.id, dialect=param.dialect, failed=failed))
        state.record.leftovers += run.cleanup()
    ledger = scim_session.context.ledger
    # A stop during cleanup let it finish (or, a second one, cut it short): now the run stops, unless pytest is
    # already ending an interrupted session, whose own teardown must go on.
    if ledger.interrupted and request.session.exitstatus != pytest.ExitCode.INTERRUPTED:
        raise KeyboardInterrupt


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    if _param(item) is None:  # not a case: another suite's test, left alone
        return (yield)
    try:
        return (yield)
    except CaseSkipped as skip:
        item.stash[NOT_APPLICABLE] = isinstance(skip, NotApplicable)
        pytest.skip(str(skip))
    except REPORTED_BY_MESSAGE as failure:
        # Its report is its message (`pytest_runtest_makereport`): pytest would format the engine's frames, source
        # and all, only for the text to be replaced, some 30 ms a failure; and this frame's own, parsing this whole
        # module once more for each failure, unless it is hidden.
        __tracebackhide__ = True
        raise failure.with_traceback(None) from failure.__cause__  # the same exception, its cause kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    param = _param(item)
    if param is None:
        return report
    error = call.excinfo.value if call.excinfo else None
    if report.when == "setup":  # allure-pytest has named the test by now; the case's labels go on top
        allure_report.describe_case(param.case, param.dialect, _state(item.config).profile.name)
    warning = isinstance(error, ConformanceFailure) and error.severity != "blocking"
    if isinstance(error, ConformanceFailure):
        allure_report.explain_failure(param.case, [f.rule.fix for f in error.failures], warning)
    if isinstance(error, REPORTED_BY_MESSAGE):
        report.longrepr = str(error)
    status = _status(report, error)
    if warning:  # only a blocking rule fails a run: in pytest, JUnit and Allure a warning passes, marked as such
        report.sections.append(("scimconform warning", str(error)))
        report.outcome = "passed"
    if status is not None:
        message = _one_line(error)
        if report.skipped and isinstance(report.longrepr, tuple):
            message = str(report.longrepr[2]).removeprefix("Skipped: ")
        case = param.case
        run = getattr(item, "funcargs", {}).get("scim_case")
        result = CaseResult(
            id=case.id,
            title=case.title,
            dialect=param.dialect,
            status=status,
            severity=error.severity if isinstance(error, ConformanceFailure) else case.severity,
            source=case.source,
            message=message,
            duration=run.seconds if isinstance(run, RanAhead) else report.duration,
            fix=error.fix if isinstance(error, ConformanceFailure) else case.fix,
            feature=case.feature,
            gallery_test=case.gallery_test,
            failures=[f.summary() for f in error.failures] if isinstance(error, ConformanceFailure) else [],
            fallbacks=list(run.findings.fallbacks) if isinstance(run, CaseRun | RanAhead) else [],
            not_applicable=item.stash.get(NOT_APPLICABLE, False),
        )
        report.user_properties.append(("scim_result", asdict(result)))
    return report


def _result(report: pytest.TestReport) -> CaseResult | None:
    """The case result a report carries (the phase that decided the case), if any."""
    for name, value in report.user_properties:
        if name == "scim_result" and isinstance(value, dict):
            return CaseResult(**value)
    return None


def _crashed(state: PluginState, report: pytest.TestReport) -> CaseResult | None:
    """The verdict of a case whose worker process died under it: pytest-xdist reports it failed, in a phase
    named "???", with no result of ours. Whatever the case saw is lost, so it is an error, which no run
    passes, unless xdist runs the case again on a new worker (`ResultCollector`); the dead worker's creates
    are in its ledger, reported as possibly left (`_stranded_ledgers`)."""
    phase: str = report.when  # typed as pytest's three phases; xdist's crash report has a fourth
    if phase != "???" or not report.failed:
        return None
    # Under --dist loadgroup xdist may add "@<group>" to a node id.
    param = state.selected.get(report.nodeid) or state.selected.get(report.nodeid.rsplit("@", 1)[0])
    if param is None:
        return None
    case = param.case
    return CaseResult(
        id=case.id,
        title=case.title,
        dialect=param.dialect,
        status="error",
        severity=case.severity,
        source=case.source,
        message=f"{report.longrepr}: the case has no verdict; what it created is listed as possibly left",
        duration=report.duration,
        fix=case.fix,
        feature=case.feature,
        gallery_test=case.gallery_test,
    )


def _one_line(error: BaseException | None) -> str:
    """What a reader of the summary needs first: the request and what went wrong with it."""
    if error is None or isinstance(error, pytest.skip.Exception):
        return ""
    if isinstance(error, ConformanceFailure):
        label = error.exchange.label
        more = len(error.failures) - 1
        also = f" (and {more} more failed step{'s' * (more != 1)})" if more else ""
        if error.observed in label:  # a transport failure already names itself in the label
            return label + also
        return error.exchange.redact(f"{label}: {error.observed}{also}")
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _status(report: pytest.TestReport, error: BaseException | None) -> str | None:
    """The case's status from this phase's report, or None when this phase decides nothing."""
    if report.when == "call":
        if report.passed:
            return "passed"
        if report.skipped:
            return "skipped"
        if isinstance(error, ConformanceFailure):
            return "failed" if error.severity == "blocking" else "warning"
        return "error"
    if report.when == "setup" and not report.passed:
        return "skipped" if report.skipped else "error"
    return None


class ResultCollector:
    """Gathers case results from reports (also those xdist workers send) and ends the run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def _state(self) -> PluginState | None:
        return self.config.stash.get(STATE, None)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self._state()
        if state is not None and (crash := _crashed(state, report)) is not None:
            # A verdict only if the case has none and does not run again (sessionfinish): a worker that died in
            # the case's cleanup had reported it already.
            if not any(result.name == crash.name for result in state.record.results):
                state.crashed[crash.name] = crash
            return
        result = _result(report)
        if result is not None and state is not None:
            state.crashed.pop(result.name, None)
            # xdist runs a case again when its worker died after reporting it: the later verdict stands.
            state.record.results = [known for known in state.record.results if known.name != result.name]
            state.record.results.append(result)
            name_testcase(self.config, report, result.display_name)
            if result.status == "warning":
                mark_warning(self.config, report, dict(report.sections).get("scimconform warning", result.message))
            if not hasattr(self.config, "workerinput"):
                state.events.emit(CaseFinished(result=result))

    def pytest_report_teststatus(
        self, report: pytest.TestReport | pytest.CollectReport
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        """A warning is counted as what it is, in pytest's progress and its last line ("1 warned")."""
        if not isinstance(report, pytest.TestReport):  # a module that could not be collected
            return None
        result = _result(report)
        if result is not None and result.status == "warning":
            return "warned", "W", ("WARNED", {"yellow": True})
        return None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """The cases selected (after -k), each a verdict the run owes; other tests in the session are not cases.
        pytest-xdist's controller collects too (`pytest_runtestloop`), so it knows them as a serial run does."""
        state = self._state()
        if state is not None:
            state.selected = {item.nodeid: param for item in session.items if (param := _param(item)) is not None}
            state.record.selected = [param.id for param in state.selected.values()]

    @pytest.hookimpl(optionalhook=True)  # pytest-xdist: what a worker's cleanup left is the run's to report
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        state = self._state()
        sent = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
        if state is not None and sent:
            state.record.leftovers += sent["leftovers"]
            state.record.journals += sent["journals"]
            state.record.report_errors += sent["report_errors"]

    @pytest.hookimpl(trylast=True)  # after the runner's teardown, so the final sweep's leftovers are in
    def pytest_sessionfinish(self, exitstatus: int) -> None:
        state = self._state()
        if state is None:
            return
        if not hasattr(self.config, "workerinput"):  # the workers are gone: their locks and pace go too
            shutil.rmtree(shared_folder(state.settings.report_dir, state.run_tag), ignore_errors=True)
        if state.selection_error:
            return
        record = state.record
        if state.preflight is not None and state.preflight.problem is not None:
            # The run never started: summary.json says why, and no console verdict repeats the preflight's block.
            for reporter in state.events.reporters:
                if isinstance(reporter, SummaryWriter):
                    reporter.handle(RunFinished(record=record))
            return
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[_WORKER_KEY] = {
                "leftovers": record.leftovers,
                "journals": record.journals,
                "report_errors": record.report_errors,
            }
        else:
            record.interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
            for crash in state.crashed.values():  # never ran again: xdist's restart limit, or the run stopped
                record.results.append(crash)
                state.events.emit(CaseFinished(result=crash))
            _stranded_ledgers(record, state.settings.report_dir, state.run_tag)
            state.events.emit(RunFinished(record=record))  # summary.json, the console verdict, the files
            if (handoff := _handoff(self.config)) is not None:
                handoff.record = state.record


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, None, None]:
    """The end of the session in two parts. First what is left of the teardown of an interrupted session (the
    cases' cleanup, the final sweep), where a further stop still cuts a hung request short. Then the reports
    (junit.xml, summary.json, the HAR, the verdict, an xdist worker's hand-over), which no stop breaks off:
    pytest would skip every hook still to run. pytest-xdist's controller waits here for its workers to stop."""
    state = session.config.stash.get(STATE, None)
    if state is None:
        return (yield)
    error = _tear_down(session)
    with interrupts.deferred():
        if session.exitstatus != pytest.ExitCode.INTERRUPTED or not session.config.pluginmanager.hasplugin("dsession"):
            yield
        else:
            with stop_kills_workers(shared_folder(state.settings.report_dir, state.run_tag)):
                yield
    if error is not None:  # a fixture's teardown failed: reported as pytest reports it, after the reports
        raise error


def _tear_down(session: pytest.Session) -> Exception | None:
    """The runner's own teardown (its pytest_sessionfinish then finds nothing left), taken here; the error a
    teardown raised, if any. A stop that lands where nothing guards it (between the final sweep and the
    journal's close, say) breaks it off: it is resumed once, with the next fixture; a ledger no sweep reported is
    listed (`_stranded_ledgers`)."""
    for _ in range(2):
        try:
            session._setupstate.teardown_exact(None)
            return None
        except KeyboardInterrupt:
            session.exitstatus = pytest.ExitCode.INTERRUPTED
        except Exception as error:
            return error
    return None


def _stranded_ledgers(record: RunRecord, report_dir: Path, run_tag: str) -> None:
    """A ledger no sweep reported (a worker stopped while its cleanup ran, or crashed; a run whose end a further
    stop broke off) is on disk with creates not settled: each is reported as possibly left, and the file kept
    for `scimconform cleanup`."""
    known = {Path(journal).resolve() for journal in record.journals}
    for path in sorted((report_dir / "ledger").glob(f"{run_tag}-*.jsonl")):
        if path.resolve() in known:
            continue
        try:
            _, unsettled = Journal.read(path)
        except OSError:
            continue
        if unsettled:
            record.journals.append(str(path))
            record.leftovers += [
                f"possibly left: {entry.resource_type} {entry.label} (its cleanup stopped before it reported)"
                for entry in unsettled
            ]
