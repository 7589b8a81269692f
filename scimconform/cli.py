"""The `scimconform` command: run the suites, build the HTML report, list the catalogue, serve.

Exit codes: 0 every blocking case passed, 1 conformance failures (or resources left behind),
2 bad usage, bad configuration or a target that cannot be judged. A user's mistake gets one line
naming the cause, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from scimconform import __version__
from scimconform.catalogue import load_catalogue
from scimconform.datafiles import data_dir
from scimconform.errors import ConfigError, HarnessError
from scimconform.identities import check_generators
from scimconform.plugin import Handoff
from scimconform.profile_import import profile_from_export, read_export
from scimconform.profiles import load_profile
from scimconform.reporting.catalogue import catalogue_markdown
from scimconform.reporting.html import build_html
from scimconform.settings import (
    DIALECT_NAMES,
    OAUTH_AUTH_METHODS,
    Settings,
    check_output_dir,
    check_output_file,
    load_settings,
    plugin_args,
)
from scimconform.target import configured_target

EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool whose reader went away


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
    parser = _Parser(prog="scimconform", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"scimconform {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="replay Entra's provisioning traffic against a SCIM endpoint")
    run.add_argument("--url", help="Tenant URL (default: start the embedded reference server)")
    run.add_argument("--token-env", help="environment variable holding the bearer token (default SCIM_TOKEN)")
    run.add_argument("--profile", help="attribute-mapping profile name or YAML file (default entra-default)")
    run.add_argument("--dialect", help=f"{', '.join(DIALECT_NAMES)} or all (default all)")
    run.add_argument("--seed", type=int, help="seed for test identities, printed in every report")
    run.add_argument("--users", type=int, help="users in the provisioning-cycle cases (default 12)")
    run.add_argument("--report-dir", type=Path, help="where reports go (default reports/)")
    run.add_argument("--config", type=Path, help="settings file (default ./scimconform.yaml when present)")
    run.add_argument("-k", dest="select", help="run only cases whose ID matches this pytest -k expression")
    run.add_argument("--html", action="store_true", help="also build the HTML report (needs Node.js and `npm ci`)")
    run.add_argument("--har", type=Path, metavar="FILE", help="write every HTTP exchange to FILE as HAR 1.2")
    connection = run.add_argument_group("authentication, transport and rate")
    for flag, kwargs in _RUN_CONNECTION_OPTIONS.items():
        connection.add_argument(flag, **kwargs)
    run.set_defaults(handler=_run, connection_options=_RUN_CONNECTION_OPTIONS)

    load = commands.add_parser(
        "load", help="replay Entra's initial and incremental cycles for many users; measure throughput and latency"
    )
    load.add_argument("--url", help="Tenant URL (default: start the embedded reference server)")
    load.add_argument("--token-env", help="environment variable holding the bearer token (default SCIM_TOKEN)")
    load.add_argument("--profile", help="attribute-mapping profile name or YAML file (default entra-default)")
    load.add_argument("--dialect", help=f"{', '.join(DIALECT_NAMES)} (default: the URL's flag, else default)")
    load.add_argument("--users", type=int, default=1000, help="users to provision (default 1000)")
    load.add_argument("--concurrency", type=int, default=8, help="requests in flight at once (default 8)")
    load.add_argument("--rate", type=float, help="target requests per second across all workers (default: no limit)")
    load.add_argument("--seed", type=int, help="seed for test identities, printed in every report")
    load.add_argument("--report-dir", type=Path, help="where reports go (default reports/)")
    load.add_argument("--config", type=Path, help="settings file (default ./scimconform.yaml when present)")
    connection = load.add_argument_group("authentication and transport")
    for flag, kwargs in _CONNECTION_OPTIONS.items():
        connection.add_argument(flag, **kwargs)
    load.set_defaults(handler=_load, connection_options=_CONNECTION_OPTIONS)

    cleanup = commands.add_parser(
        "cleanup", help="delete what a killed run left on the target, from the ledger in its report directory"
    )
    cleanup.add_argument("--report-dir", type=Path, default=Path("reports"), help="the run's report directory")
    cleanup.add_argument("--url", help="Tenant URL (default: the one the ledger names)")
    cleanup.add_argument("--token-env", help="environment variable holding the bearer token (default SCIM_TOKEN)")
    cleanup.add_argument("--config", type=Path, help="settings file (default ./scimconform.yaml when present)")
    connection = cleanup.add_argument_group("authentication and transport")
    for flag, kwargs in _CONNECTION_OPTIONS.items():
        connection.add_argument(flag, **kwargs)
    cleanup.set_defaults(
        handler=_cleanup, connection_options=_CONNECTION_OPTIONS, profile=None, dialect=None, seed=None, users=None
    )

    report = commands.add_parser("report", help="build the self-contained HTML report from a run's Allure results")
    report.add_argument("--report-dir", type=Path, default=Path("reports"), help="the run's report directory")
    report.set_defaults(handler=_report)

    listing = commands.add_parser("list", help="print the case catalogue")
    listing.add_argument("--faults", action="store_true", help="list the reference server's named faults instead")
    listing.add_argument(
        "--format", choices=["text", "markdown"], default="text", help="markdown renders docs/cases.md"
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
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--token", help="bearer token to require (default: the server's development token)")
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


# Authentication and transport options; each one's dest is the setting it sets.
_CONNECTION_OPTIONS: dict[str, dict[str, Any]] = {
    "--token-file": {"metavar": "FILE", "help": "file holding the bearer token (instead of --token-env)"},
    "--header": {
        "dest": "headers",
        "action": "append",
        "metavar": "'NAME: VALUE'",
        "help": "extra request header, repeatable; ${VAR} in the value is read from the environment",
    },
    "--oauth-token-url": {"metavar": "URL", "help": "OAuth 2.0 token endpoint: use client credentials"},
    "--oauth-client-id": {"metavar": "ID", "help": "OAuth client identifier"},
    "--oauth-secret-env": {
        "metavar": "NAME",
        "help": "variable holding the client secret (default SCIM_CLIENT_SECRET)",
    },
    "--oauth-scopes": {"metavar": "SCOPES", "help": "OAuth scopes, space-separated"},
    "--oauth-auth-method": {
        "choices": OAUTH_AUTH_METHODS,
        "help": "how credentials are sent: Basic header, form body, or both (default client_secret_basic)",
    },
    "--ca-bundle": {"metavar": "FILE", "help": "trust the CA certificates in FILE (PEM) for TLS"},
    "--insecure": {"action": "store_true", "default": None, "help": "do not verify TLS certificates (warns)"},
    "--proxy": {"metavar": "URL", "help": "HTTP(S) proxy (default: HTTPS_PROXY/HTTP_PROXY/NO_PROXY)"},
}
# The same, but only for `run`: `load` has its own --rate (a number, shared by all its workers).
_RUN_CONNECTION_OPTIONS: dict[str, dict[str, Any]] = {
    **_CONNECTION_OPTIONS,
    "--expired-token-env": {
        "metavar": "NAME",
        "help": "variable holding a token the target issued that has expired (default SCIM_EXPIRED_TOKEN)",
    },
    "--oauth-revocation-url": {
        "metavar": "URL",
        "help": "the target's RFC 7009 token revocation endpoint, for the revocation case (skipped without it)",
    },
    "--rate": {"metavar": "N/s", "help": "send at most N requests per second, e.g. 20/s"},
    "--throughput-seconds": {
        "type": float,
        "metavar": "S",
        "help": "how long the 25 requests/s case runs (default 10, 1 on the embedded server; 0 skips it)",
    },
    "--throughput-p95-ms": {"type": float, "metavar": "MS", "help": "p95 latency bound of that case (default 2000)"},
}


def _run(args: argparse.Namespace) -> int:
    connection = _connection(args)
    settings = _settings(args, **connection)
    _check_before_run(settings, args.har)
    report_dir = settings.report_dir
    summary = report_dir / "summary.json"
    if earlier := sorted((report_dir / "ledger").glob("*.jsonl")):
        print(
            f"scimconform: warning: {len(earlier)} earlier run(s) may have left resources on a target "
            f"({earlier[0]}…): run `scimconform cleanup --report-dir {report_dir}`",
            file=sys.stderr,
        )
    # Never --clean-alluredir: with pytest-xdist a restarted worker wipes every result
    # (docs/allure-notes.md, "Results directory").
    shutil.rmtree(report_dir / "allure-results", ignore_errors=True)
    shutil.rmtree(report_dir / "allure-report", ignore_errors=True)  # a page from an earlier run would mislead
    summary.unlink(missing_ok=True)
    pytest_args = [
        str(data_dir("suites")),
        "-q",
        "--tb=no",
        "-rN",
        # the CLI imported scimconform before pytest could load it as a plugin; nothing to rewrite there
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        f"--junitxml={report_dir / 'junit.xml'}",
        "-o",
        "junit_suite_name=scimconform",
        f"--alluredir={report_dir / 'allure-results'}",
        # The settings are handed over as built; the options repeat them for processes that cannot be
        # handed an object, and no settings file is read a second time.
        *plugin_args(settings),
        "--scim-no-config",
    ]
    if args.select:
        pytest_args += ["-k", args.select]
    if args.har:
        pytest_args.append(f"--scim-har={args.har}")
    handoff = Handoff(settings)
    status = pytest.main(pytest_args, plugins=[handoff])
    if status == pytest.ExitCode.INTERRUPTED:
        print(f"scimconform: interrupted; partial reports are in {report_dir}", file=sys.stderr)
        return 130
    record = handoff.record
    if record is None:
        print(f"scimconform: error: the run ended before any case ran (pytest exit {int(status)})", file=sys.stderr)
        return EXIT_USAGE
    if record.target_error:
        print(f"scimconform: error: {record.target_error}", file=sys.stderr)
    if args.html:
        try:
            print(f"scimconform: HTML report written to {build_html(report_dir)}")
        except HarnessError as exc:  # the verdict stands without the HTML page
            print(f"scimconform: no HTML report: {exc}", file=sys.stderr)
    return record.exit_code()


def _load(args: argparse.Namespace) -> int:
    from scimconform.load.command import run_load

    return run_load(_settings(args, **_connection(args)), args.concurrency, args.rate, sys.stdout, sys.stderr)


def _cleanup(args: argparse.Namespace) -> int:
    from scimconform.cleanup import run_cleanup

    return run_cleanup(_settings(args, **_connection(args)), sys.stdout)


def _connection(args: argparse.Namespace) -> dict[str, Any]:
    """The authentication and transport options as given (None where absent), by setting name."""
    options: dict[str, dict[str, Any]] = args.connection_options
    return {
        name: getattr(args, name)
        for name in (kwargs.get("dest") or flag[2:].replace("-", "_") for flag, kwargs in options.items())
    }


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    """The settings `run` and `load` share, from the config file and the command line; warns when TLS
    is not verified, on every run."""
    settings = load_settings(
        args.config,
        url=args.url,
        token_env=args.token_env,
        profile=args.profile,
        dialect=args.dialect,
        seed=args.seed,
        report_dir=args.report_dir,
        users=args.users,
        **extra,
    )
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


def _check_before_run(settings: Settings, har: Path | None) -> None:
    """Fail fast, with one line, on anything that would stop the run later; the output locations last,
    since checking them creates the report folder."""
    check_generators(load_profile(settings.profile))
    load_catalogue()
    configured_target(settings)
    check_output_dir(settings.report_dir, "--report-dir")
    if har is not None:
        check_output_file(har, "--har")


def _list(args: argparse.Namespace) -> int:
    if args.faults:
        from scimconform.server import FAULTS

        for name, rule in FAULTS.items():
            print(f"{name:<34} {rule}")
        return EXIT_OK
    if args.format == "markdown":
        print(catalogue_markdown(load_catalogue()), end="")
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
    from scimconform.server import DEFAULT_TOKEN, ListenError, ReferenceServer, UnknownFaultError, serve_forever

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
            token=args.token or DEFAULT_TOKEN,
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
            ready=lambda url: print(f"scimconform reference server on {url} (Ctrl-C stops)", flush=True),
        )
    except ListenError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
