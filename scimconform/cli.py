"""The `scimconform` command: run the suites, build the HTML report, list the catalogue, serve.

Exit codes: 0 every blocking case passed, 1 conformance failures (or resources left behind),
2 bad usage, bad configuration or a target that cannot be judged, 130 interrupted (`--help` lists them).
A user's mistake gets one line naming the cause, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from scimconform import __version__
from scimconform.catalogue import catalogue_with, load_catalogue
from scimconform.datafiles import data_dir
from scimconform.errors import ConfigError, HarnessError
from scimconform.identities import RUN_TAG_ENV, check_generators
from scimconform.plugin import Handoff
from scimconform.profile_import import profile_from_export, read_export
from scimconform.profiles import load_profile
from scimconform.reporting.catalogue import catalogue_json, catalogue_markdown
from scimconform.reporting.html import build_html
from scimconform.reporting.progress import Display, own_stdout
from scimconform.reporting.registry import ReportOption, report_options
from scimconform.reporting.results import EXIT_INTERRUPTED
from scimconform.reporting.rfc_coverage import load_requirements, rfc_coverage_markdown
from scimconform.server import DEFAULT_TOKEN
from scimconform.settings import (
    DIALECT_NAMES,
    OAUTH_AUTH_METHODS,
    Settings,
    check_output_dir,
    check_output_file,
    cli_flag,
    load_settings,
    plugin_args,
    settings_file,
)
from scimconform.target import configured_target
from scimconform.workers import remove_abandoned, sized

EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool whose reader went away
# What --help says the exit codes mean; the truth is RunRecord.exit_code and main() below.
_EXIT_CODES = """exit codes:
  0    every blocking case that ran passed (warnings alone keep 0) and nothing was left behind
  1    a blocking case failed or could not be decided, or something the run created is left on the target
  2    bad input (an option, the settings file, a -k that selects nothing) or a target that cannot be
       judged (unreachable, token refused, not a SCIM endpoint)
  130  interrupted (Ctrl-C, SIGTERM, SIGHUP), after cleanup
  141  the reader of the output went away (scimconform list | head)"""
_MAIN_EPILOG = f"""examples:
  scimconform run                        against the embedded reference server: what a run looks like
  export SCIM_TOKEN='…'                  the Secret Token you give Entra; never as an option
  scimconform run --url https://api.example.com/scim/v2 --profile alohi --html
  scimconform run --help                 every option of a run
  scimconform list                       every case: id, severity, title, source
  scimconform serve --port 8080          the reference server, to point a run at

{_EXIT_CODES}"""
_RUN_EPILOG = f"""examples:
  scimconform run --url https://api.example.com/scim/v2 --profile alohi    (token in $SCIM_TOKEN)
  scimconform run -k ENTRA-USER-010                    one case, in every dialect
  scimconform run -k 'ENTRA-USER-010[default] or ENTRA-CONN-001'
  scimconform run --format json > summary.json         the summary on stdout, the console on stderr

{_EXIT_CODES}"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except HarnessError as exc:
        print(f"scimconform: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("scimconform: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`scimconform list | head`): stop quietly, as Unix tools do on SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, like every other error; subcommands inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"scimconform: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="scimconform",
        description=__doc__.splitlines()[0],
        epilog=_MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"scimconform {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run",
        help="replay Entra's provisioning traffic against a SCIM endpoint",
        epilog=_RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _setting_flags(
        run,
        ("url", "token_env", "profile", "dialect", "seed", "users", "report_dir", "timeout", "workers", "sequences"),
    )
    run.add_argument("--config", type=Path, help="settings file (default ./scimconform.yaml when present)")
    run.add_argument(
        "-k",
        dest="select",
        metavar="EXPR",
        help="run only these cases, named as every report names them: ENTRA-USER-010 (every dialect), "
        "'ENTRA-USER-010[default]' (one), joined with or/and/not as in pytest -k",
    )
    run.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="json: print the summary (reports/summary.json, schemas/summary.json) on stdout, the rest on stderr",
    )
    run.add_argument("--html", action="store_true", help="also build the HTML report (needs Node.js and `npm ci`)")
    levels = run.add_mutually_exclusive_group()
    levels.add_argument(
        "-q",
        "--quiet",
        dest="level",
        action="store_const",
        const="quiet",
        default="normal",
        help="print only the verdict (with each failure); no progress",
    )
    levels.add_argument(
        "-v",
        "--verbose",
        dest="level",
        action="store_const",
        const="verbose",
        default="normal",
        help="one line per case and per step, never a live display",
    )
    for option in report_options():  # each report a run may be asked for, as the registry declares it
        run.add_argument(option.cli_flag, dest=option.dest, type=Path, metavar="FILE", help=option.help)
    _setting_flags(run.add_argument_group("authentication, transport and rate"), _RUN_CONNECTION)
    run.set_defaults(handler=_run_command)

    load = commands.add_parser(
        "load", help="replay Entra's initial and incremental cycles for many users; measure throughput and latency"
    )
    _setting_flags(load, ("url", "token_env", "profile", "dialect", "seed", "report_dir", "timeout"))
    load.add_argument("--users", type=int, default=1000, metavar="N", help="users to provision (default 1000)")
    load.add_argument("--concurrency", type=int, default=8, metavar="N", help="requests in flight at once (default 8)")
    load.add_argument(
        "--rate",
        dest="load_rate",
        type=float,
        metavar="N",
        help="target requests per second across all workers (default: no limit)",
    )
    load.add_argument("--config", type=Path, help="settings file (default ./scimconform.yaml when present)")
    _setting_flags(load.add_argument_group("authentication and transport"), _CONNECTION)
    load.set_defaults(handler=_load)

    cleanup = commands.add_parser(
        "cleanup", help="delete what a killed run left on the target, from the ledger in its report directory"
    )
    _target_flags(
        cleanup,
        ("url", "token_env", "report_dir", "timeout"),
        _CONNECTION,
        url="the Tenant URL the run used (required when a ledger is left; the token goes there and nowhere else)",
    )
    cleanup.set_defaults(handler=_cleanup)

    record = commands.add_parser(
        "record",
        help="proxy Entra's traffic to your endpoint for one provisioning cycle; write it redacted, as a case, "
        "and what the bundled cases never send",
    )
    record.add_argument(
        "--listen",
        default="127.0.0.1:8080",
        metavar="HOST:PORT",
        help="where the proxy listens; point Entra's Tenant URL here (default 127.0.0.1:8080; port 0: any free one)",
    )
    record.add_argument("--upstream", required=True, metavar="URL", help="the real endpoint's Tenant URL")
    record.add_argument(
        "--out",
        type=Path,
        default=Path("recording"),
        metavar="DIR",
        help="where traffic.har, recorded.yaml and unseen.md go (default recording/)",
    )
    record.add_argument(
        "--personal",
        action="append",
        default=[],
        metavar="PATH",
        help="an attribute path whose values are personal and are redacted like secrets, e.g. name.givenName "
        "(repeatable)",
    )
    record.add_argument("--certificate", type=Path, metavar="FILE", help="PEM certificate chain: listen over TLS")
    record.add_argument("--private-key", type=Path, metavar="FILE", help="the certificate's PEM private key")
    record.add_argument("--ca-bundle", type=Path, metavar="FILE", help="trust this CA (PEM) for the upstream's TLS")
    record.add_argument(
        "--profile",
        default="entra-default",
        metavar="NAME|FILE",
        help="the app's attribute mapping, for the identities of recorded.yaml (default entra-default)",
    )
    record.add_argument(
        "--case-id",
        metavar="ID",
        help="the id of recorded.yaml's case, e.g. ENTRA-REC-002 (default: the next one the bundled cases and "
        "--out's case files do not use)",
    )
    record.set_defaults(handler=_record)

    replay = commands.add_parser(
        "replay",
        help="replay a recording's requests against another endpoint; report each answer that differs "
        "(exit 1) from the recorded one",
    )
    replay.add_argument(
        "--har", type=Path, required=True, metavar="FILE", help="the recording: traffic.har, or a run's --har"
    )
    replay_url = "the Tenant URL to replay against (required; nothing is sent anywhere else)"
    _target_flags(replay, ("url", "token_env", "timeout"), (*_CONNECTION, "rate"), url=replay_url)
    replay.set_defaults(handler=_replay)

    report = commands.add_parser("report", help="build the self-contained HTML report from a run's Allure results")
    report.add_argument("--report-dir", type=Path, default=Path("reports"), help="the run's report directory")
    report.set_defaults(handler=_report)

    listing = commands.add_parser("list", help="print the case catalogue")
    listing.add_argument("--faults", action="store_true", help="list the reference server's named faults instead")
    listing.add_argument(
        "--format",
        choices=["text", "json", "markdown", "rfc-coverage"],
        default="text",
        help="json: every case with its metadata, for scripts; markdown renders docs/cases.md, rfc-coverage "
        "docs/rfc-coverage.md",
    )
    listing.set_defaults(handler=_list)

    profile = commands.add_parser("profile", help="work with attribute-mapping profiles")
    profile_commands = profile.add_subparsers(dest="profile_command", required=True)
    importing = profile_commands.add_parser(
        "import", help="turn a mapping exported from Entra (Graph synchronizationSchema JSON) into a profile"
    )
    importing.add_argument("export", type=Path, help="the exported synchronizationSchema JSON")
    importing.add_argument("-o", "--output", type=Path, help="profile file to write (default: print it)")
    importing.set_defaults(handler=_import_profile)

    serve = commands.add_parser("serve", help="run the reference SCIM server on loopback")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8080, help="TCP port to listen on; 0: any free port (8080)")
    serve.add_argument(
        "--token",
        default=DEFAULT_TOKEN,
        help=f"bearer token to require (default {DEFAULT_TOKEN}, a development token: the banner prints it)",
    )
    serve.add_argument("--fault", action="append", default=[], help="switch a named fault on (repeatable)")
    serve.add_argument(
        "--oauth-client-id",
        metavar="ID",
        help="also issue OAuth tokens to this client at /oauth2/token and revoke them at /oauth2/revoke",
    )
    serve.add_argument(
        "--oauth-secret-env", metavar="NAME", default="SCIM_CLIENT_SECRET", help="variable holding that client's secret"
    )
    serve.add_argument("--token-lifetime", type=int, default=3600, metavar="S", help="issued tokens' lifetime (3600)")
    serve.set_defaults(handler=_serve)
    return parser


# The settings each command takes as flags; every flag is `--<setting>` with dashes (`headers`: `--header`),
# explained by the help text the Settings field carries, so the file key, the flag and the plugin's
# `--scim-<setting>` option are one name.
_CONNECTION = (
    "token_file",
    "headers",
    "oauth_token_url",
    "oauth_client_id",
    "oauth_secret_env",
    "oauth_scopes",
    "oauth_auth_method",
    "ca_bundle",
    "insecure",
    "proxy",
)
_RUN_CONNECTION = (
    *_CONNECTION,
    "expired_token_env",
    "oauth_revocation_url",
    "rate",
    "throughput_seconds",
    "throughput_p95_ms",
)
_SETTINGS = {setting.name: setting for setting in fields(Settings)}


def _metavar(name: str) -> str:
    """What a flag's value is, for --help: `--token-env NAME`, `--ca-bundle FILE`, `--rate N/s`."""
    for ending, shown in (("_env", "NAME"), ("url", "URL"), ("proxy", "URL"), ("_ms", "MS"), ("seconds", "S")):
        if name.endswith(ending):
            return shown
    shown_as = {"token_file": "FILE", "ca_bundle": "FILE", "report_dir": "DIR", "timeout": "S", "rate": "N/s"}
    return shown_as.get(name, "N" if name in ("seed", "users", "workers") else name.rsplit("_", 1)[-1].upper())


def _setting_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, names: Sequence[str], **helps: str
) -> None:
    """One flag per setting; values stay text here and are read (and refused, in one line) by load_settings.
    `helps` replaces a setting's help where the command gives it another meaning."""
    default = Settings()
    for name in names:
        setting = _SETTINGS[name]
        shown = getattr(default, name)
        suffix = f" (default {shown})" if shown not in (None, "", {}, False) else ""
        kwargs: dict[str, Any] = {"dest": name, "help": helps.get(name) or setting.metadata["help"] + suffix}
        if name == "headers":
            kwargs |= {"action": "append", "metavar": "'NAME: VALUE'"}
        elif name == "sequences":
            kwargs |= {"action": "append", "metavar": "FILE"}
        elif isinstance(shown, bool):
            kwargs |= {"action": "store_true", "default": None}
        elif name == "oauth_auth_method":
            kwargs["choices"] = OAUTH_AUTH_METHODS
        else:
            kwargs["metavar"] = _metavar(name)
        parser.add_argument(cli_flag(name), **kwargs)


def _target_flags(
    parser: argparse.ArgumentParser, names: Sequence[str], connection: Sequence[str], **helps: str
) -> None:
    """The flags of a command that talks to a target: its settings, --config, and how it connects."""
    _setting_flags(parser, names, **helps)
    parser.add_argument("--config", type=Path, help="settings file (default ./scimconform.yaml when present)")
    _setting_flags(parser.add_argument_group("authentication and transport"), connection)


def _run_command(args: argparse.Namespace) -> int:
    """`run`; with --format json, stdout carries the summary alone (so `| jq` reads a document) and what is
    written for people goes to stderr."""
    settings = _settings(args)
    if args.format == "text":
        return _run(args, settings)
    summary = settings.report_dir / "summary.json"
    with contextlib.redirect_stdout(sys.stderr):
        code = _run(args, settings)
    if summary.is_file():  # removed before the run: this one wrote it
        print(summary.read_text(encoding="utf-8"), end="")
    return code


def _run(args: argparse.Namespace, settings: Settings) -> int:
    reports = {option: path for option in report_options() if (path := getattr(args, option.dest)) is not None}
    _check_before_run(settings, reports)
    if settings.workers is None:  # summary.json says how many (`workers`); printing it would add a line
        settings = replace(settings, workers=sized(settings))  # to a refused -k's one-line answer
    report_dir = settings.report_dir
    summary = report_dir / "summary.json"
    if earlier := sorted((report_dir / "ledger").glob("*.jsonl")):
        print(
            f"scimconform: warning: {len(earlier)} earlier run(s) may have left resources on a target "
            f"({earlier[0]}…): run `scimconform cleanup --report-dir {report_dir}`",
            file=sys.stderr,
        )
    # The run empties its results folder itself, as pytest-xdist users must (docs/allure-notes.md, "Results
    # directory"): allure-pytest's --clean-alluredir is never used.
    shutil.rmtree(report_dir / "allure-results", ignore_errors=True)
    shutil.rmtree(report_dir / "allure-report", ignore_errors=True)  # a page from an earlier run would mislead
    summary.unlink(missing_ok=True)
    remove_abandoned(report_dir)
    pytest_args = [
        str(data_dir("suites")),
        # Only the plugins a run needs (`_named_plugins_only`): one installed beside scimconform, such as
        # pytest-randomly or pytest-rerunfailures, would reorder or repeat what is sent to the target.
        *("-p", "scimconform", "-p", "allure_pytest"),
        # the run's console (reporting/progress.py) replaces pytest's: no dots, no summary of its own
        "-p",
        "no:terminal",
        # the suites judge through the engine, not `assert`: no module to rewrite at start-up
        "--assert=plain",
        # pytest's watch for unraisable exceptions ends every session with five full garbage collections (about
        # half a second after a full run); the suites run no code of the user's that it could blame
        "-p",
        "no:unraisableexception",
        f"--junitxml={report_dir / 'junit.xml'}",
        "-o",
        "junit_suite_name=scimconform",
        f"--alluredir={report_dir / 'allure-results'}",
        # The settings are handed over as built (`Handoff`); the options repeat them, as `pytest --scim-*` would
        # give them, and no settings file is read a second time.
        *plugin_args(settings),
        "--scim-no-config",
    ]
    if args.select:
        pytest_args += ["-k", args.select]
    pytest_args += [f"{option.plugin_option}={path}" for option, path in reports.items()]
    with own_stdout(sys.stdout) as out:
        handoff = Handoff(settings, Display(out, args.level))
        with _named_plugins_only():
            status = pytest.main(pytest_args, plugins=[handoff])
    if handoff.uncollected:  # pytest ends such a session as "interrupted": it was not
        where = ", ".join(handoff.uncollected)
        print(
            f"scimconform: error: cannot load the suite {where} (the error is above): reinstall scimconform",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if status == pytest.ExitCode.INTERRUPTED:
        print(f"scimconform: interrupted; partial reports are in {report_dir}", file=sys.stderr)
        return 130
    record = handoff.record
    if record is None:
        cause = handoff.error or f"the run ended before any case ran (pytest exit {int(status)})"
        print(f"scimconform: error: {cause}", file=sys.stderr)
        return EXIT_USAGE
    if record.target_error:
        print(f"scimconform: error: {record.target_error}", file=sys.stderr)
    if args.html:
        try:
            print(f"scimconform: HTML report written to {build_html(report_dir)}")
        except HarnessError as exc:  # the verdict stands without the HTML page
            print(f"scimconform: no HTML report: {exc}", file=sys.stderr)
    return record.exit_code()


@contextlib.contextmanager
def _named_plugins_only() -> Iterator[None]:
    """pytest loads no plugin that is not named with -p, and takes no options from the environment: those are for
    the user's own test suites, whose plugins the run does not load."""
    earlier = {name: os.environ.get(name) for name in PYTEST_ENVIRONMENT}
    try:
        _set_environment(PYTEST_ENVIRONMENT)
        yield
    finally:
        _set_environment(earlier)


# What a run sets in pytest's environment (None: unset): no plugin autoload, no extra options, no extra plugins;
# and it is no pytest-xdist worker of an outer session, nor holds an earlier run's tag (each run makes its own).
PYTEST_ENVIRONMENT = {
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    "PYTEST_ADDOPTS": None,
    "PYTEST_PLUGINS": None,
    "PYTEST_XDIST_WORKER": None,
    RUN_TAG_ENV: None,
}


def _set_environment(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _load(args: argparse.Namespace) -> int:
    from scimconform.load.command import run_load

    return run_load(_settings(args), args.concurrency, args.load_rate, sys.stdout, sys.stderr)


def _record(args: argparse.Namespace) -> int:
    from scimconform.traffic.proxy import Listener
    from scimconform.traffic.record import RecordOptions, run_record

    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"--listen {args.listen}: give HOST:PORT, e.g. 127.0.0.1:8443 (port 0: any free port)")
    listener = Listener(host.strip("[]"), int(port), args.certificate, args.private_key)
    options = RecordOptions(
        listener=listener,
        upstream=args.upstream,
        out=args.out,
        personal=tuple(args.personal),
        profile=args.profile,
        ca_bundle=args.ca_bundle,
        case_id=args.case_id,
    )
    run_record(options, sys.stdout)
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    from scimconform.client import RecordingClient
    from scimconform.traffic.recording import read_har
    from scimconform.traffic.replay import Replay

    settings = _settings(args)
    recorded = read_har(args.har, "--har")
    target = configured_target(settings)
    if target is None:
        raise ConfigError("replay needs --url: the Tenant URL of the endpoint to replay the recording against")
    client = RecordingClient(target, timeout=settings.timeout, rate=settings.rate)
    try:
        return Replay(client).run(recorded, sys.stdout).exit_code
    finally:
        client.close()


def _cleanup(args: argparse.Namespace) -> int:
    from scimconform.cleanup import run_cleanup

    return run_cleanup(_settings(args), sys.stdout)


def _settings(args: argparse.Namespace) -> Settings:
    """The command's settings, from the config file and its flags (each flag's dest is its setting); says when
    ./scimconform.yaml is applied, which nothing on the command line shows, and warns when TLS is not verified."""
    given = {name: getattr(args, name) for name in _SETTINGS if hasattr(args, name)}
    settings = load_settings(args.config, **given)
    if args.config is None and (found := settings_file(None)) is not None:
        print(f"scimconform: settings from ./{found}", file=sys.stderr)
    if settings.insecure:
        print(
            "scimconform: warning: TLS certificates are not verified (--insecure): anyone on the path can read "
            "the token; Entra always verifies",
            file=sys.stderr,
        )
    return settings


def _report(args: argparse.Namespace) -> int:
    print(f"scimconform: HTML report written to {build_html(args.report_dir)}")
    return EXIT_OK


def _check_before_run(settings: Settings, reports: dict[ReportOption, Path]) -> None:
    """Fail fast, with one line, on anything that would stop the run later; the output locations last,
    since checking them creates the report folder."""
    check_generators(load_profile(settings.profile))
    catalogue_with(settings.sequences)
    configured_target(settings)
    check_output_dir(settings.report_dir, "--report-dir")
    for option, path in reports.items():
        check_output_file(path, option.cli_flag)


def _list(args: argparse.Namespace) -> int:
    if args.faults:
        from scimconform.server import FAULTS

        for name, rule in FAULTS.items():
            print(f"{name:<34} {rule}")
        return EXIT_OK
    if args.format == "json":
        print(json.dumps(catalogue_json(load_catalogue(), DIALECT_NAMES), indent=2, ensure_ascii=False))
        return EXIT_OK
    if args.format == "markdown":
        print(catalogue_markdown(load_catalogue()), end="")
        return EXIT_OK
    if args.format == "rfc-coverage":
        print(rfc_coverage_markdown(load_requirements(), load_catalogue()), end="")
        return EXIT_OK
    for case in load_catalogue():
        print(f"{case.id:<16} {case.severity:<8} {case.title}")
        print(f"{'':<25} source: {case.source}")
    return EXIT_OK


def _import_profile(args: argparse.Namespace) -> int:
    if args.output is not None:
        if args.output.suffix.lower() not in (".yaml", ".yml"):  # load_profile reads other names differently
            raise ConfigError(f"-o {args.output}: a profile file's name ends in .yaml, e.g. -o my-app.yaml")
        check_output_file(args.output, "-o")
    name = (args.output or args.export).stem
    text = yaml.safe_dump(profile_from_export(read_export(args.export), name), sort_keys=False, allow_unicode=True)
    if args.output is None:
        print(text, end="")
        return EXIT_OK
    args.output.write_text(
        f"# Imported from {args.export.name} by scimconform profile import.\n{text}", encoding="utf-8"
    )
    load_profile(str(args.output))  # what was written must load
    print(f"scimconform: wrote profile {args.output}")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from scimconform.server import ListenError, ReferenceServer, UnknownFaultError, serve_forever

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a TCP port: give 1 to 65535, or 0 for any free port")
    if args.token_lifetime < 1:
        raise ConfigError(f"--token-lifetime {args.token_lifetime}: give the tokens' lifetime in seconds, at least 1")
    clients = {}
    if args.oauth_client_id:
        secret = os.environ.get(args.oauth_secret_env)
        if not secret:
            raise ConfigError(f"environment variable {args.oauth_secret_env} is not set: export the client secret")
        clients[args.oauth_client_id] = secret
    try:
        app = ReferenceServer(
            token=args.token,
            faults=args.fault,
            oauth_clients=clients,
            token_lifetime=args.token_lifetime,
        )
    except UnknownFaultError as exc:
        raise ConfigError(str(exc)) from None
    try:
        serve_forever(
            app,
            args.host,
            args.port,
            ready=lambda url: print(_serve_banner(url, args.token), flush=True),
        )
    except ListenError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return EXIT_OK


def _serve_banner(url: str, token: str) -> str:
    """What a newcomer needs to point a run at the server: the token it requires and a command to paste."""
    which = "the development default" if token == DEFAULT_TOKEN else "given with --token"
    return (
        f"scimconform reference server on {url} (Ctrl-C stops)\n"
        f"  bearer token: {token} ({which}; --token T requires another)\n"
        f"  run against it: SCIM_TOKEN={shlex.quote(token)} scimconform run --url {url}"
    )


def entry() -> NoReturn:
    """The `scimconform` command: `main`, then the process ends. After a second stop, a request a hanging target
    never answers may still hold one of the run's threads (a case's cleanup): the reports and the ledger are
    written by then, and the process ends without waiting for it, as a serial run ends on a second Ctrl-C."""
    code = main()
    if code == EXIT_INTERRUPTED and any(t.name.startswith("scimconform-") for t in threading.enumerate()):
        with contextlib.suppress(OSError, ValueError):  # a reader gone (`| head`) must not stop the exit
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
