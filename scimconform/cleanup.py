"""`scimconform cleanup`: finish the cleanup of runs that could not finish it themselves.

A run killed outright (kill -9, power loss, a CI job's time limit) leaves its ledger under
`<report dir>/ledger/`. This command reads each one and removes what the run created there, by the same
ownership rule as the run itself (see `scimconform.ledger`): nothing it cannot prove is deleted, and
whatever stays is listed. A ledger whose every resource is settled is removed.

The Tenant URL comes from the user (`--url` or the settings file), never from a ledger: a ledger file is
only data, and one planted in a report folder must not make the token travel to the host it names. A
ledger written for another URL is skipped and said so.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TextIO

import httpx

from scimconform.client import RecordingClient
from scimconform.errors import ConfigError
from scimconform.interrupts import interrupts_as_keyboard_interrupt
from scimconform.ledger import Journal, Ledger
from scimconform.run_plan import preflight
from scimconform.settings import Settings
from scimconform.target import configured_target
from scimconform.workers import remove_abandoned

EXIT_OK, EXIT_LEFT, EXIT_USAGE = 0, 1, 2


def run_cleanup(settings: Settings, out: TextIO) -> int:
    """Work through every ledger in the report directory; 0 when nothing is left, 1 otherwise."""
    report_dir = settings.report_dir
    if not report_dir.is_dir():
        raise ConfigError(f"report directory {report_dir} does not exist: give the --report-dir of the run")
    journals = sorted((report_dir / "ledger").glob("*.jsonl"))
    if journals and not settings.url:
        raise ConfigError(
            "give the Tenant URL the run used (--url, or url: in the settings file): the token goes there"
        )
    remove_abandoned(report_dir)
    if not journals:
        print(f"scimconform cleanup: nothing to clean up: no ledger in {report_dir / 'ledger'}", file=out)
        return EXIT_OK
    left = 0
    stop = threading.Event()  # a second stop, in any ledger's sweep: the ledgers after it only list what they hold
    with interrupts_as_keyboard_interrupt():
        for path in journals:
            left += _clean_journal(path, settings, out, stop)
    print(f"scimconform cleanup: {left} resource(s) left" if left else "scimconform cleanup: nothing left", file=out)
    return EXIT_LEFT if left else EXIT_OK


def _same_endpoint(recorded: str, given: str) -> bool:
    """The same scheme, host (any case), port (default or written out) and path."""
    a, b = httpx.URL(recorded), httpx.URL(given)
    return (a.scheme, a.host.lower(), a.port, a.path.rstrip("/")) == (
        b.scheme,
        b.host.lower(),
        b.port,
        b.path.rstrip("/"),
    )


def _clean_journal(path: Path, settings: Settings, out: TextIO, stop: threading.Event) -> int:
    """Clean up after one ledger; returns how many resources stayed. Once `stop` is set, nothing is sent."""
    try:
        header, entries = Journal.read(path)
    except FileNotFoundError:  # listed a moment ago: a run still going settled it and removed it
        return 0
    except (OSError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not a scimconform ledger ({type(exc).__name__}): leave it or remove it") from None
    recorded = header.get("target")
    if not isinstance(recorded, str) or not isinstance(header.get("run_tag"), str):
        raise ConfigError(f"{path} names no target or run tag: it is not a scimconform ledger")
    target = configured_target(settings)
    assert target is not None, "run_cleanup requires a URL"
    if not _same_endpoint(recorded, target.base_url):
        print(f"scimconform cleanup: {path}: skipped, it was written for another Tenant URL", file=out)
        return len(entries)
    client = RecordingClient(target, timeout=settings.timeout)
    client.halt = stop
    try:
        if not stop.is_set() and (problem := preflight(client).problem) is not None:
            raise ConfigError(f"{path}: {problem}")
        journal = Journal(path, header)
        ledger = Ledger(run_tag=header["run_tag"], journal=journal, entries=list(entries), stop=stop)
        stayed = ledger.clean(client)
        ledger.close()
    finally:
        client.close()
    print(f"scimconform cleanup: {path}: {len(entries) - len(stayed)} settled, {len(stayed)} left", file=out)
    for line in stayed:
        print(f"LEFT   {line}", file=out)
    return len(stayed)
