"""Never harm the target: an interrupted run still deletes what it created and writes its reports."""

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

from scimconform import cleanup, interrupts
from scimconform.client import RecordingClient
from scimconform.datafiles import data_dir
from scimconform.server import ReferenceServer, serve_in_thread
from scimconform.settings import Settings
from scimconform.target import Target
from tests.harness import TOKEN, child_processes


class Slow:
    """Slows every request so that an interrupt lands in the middle of the run."""

    def __init__(self, app: ReferenceServer, delay: float) -> None:
        self.app = app
        self.delay = delay
        self.base_path = app.base_path

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        time.sleep(self.delay)
        return self.app(environ, start_response)


def run_in_background(report_dir: Path, url: str, *args: str) -> subprocess.Popen[str]:
    """`scimconform run --url url` in a process of its own, as a CI step starts it."""
    command = [sys.executable, "-m", "scimconform.cli", "run", "--url", url, "--report-dir", str(report_dir), *args]
    env = {**os.environ, "SCIM_TOKEN": TOKEN}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def holds(server: ReferenceServer, at_least: int, within: float) -> bool:
    """Whether the server holds `at_least` resources within `within` seconds: the run is under way."""
    deadline = time.monotonic() + within
    while sum(server.resource_count().values()) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    return sum(server.resource_count().values()) >= at_least


@pytest.mark.parametrize(
    ("stop", "workers"),
    [(signal.SIGINT, "1"), (signal.SIGTERM, "1"), (signal.SIGHUP, "1"), (signal.SIGTERM, "2")],
    # Ctrl-C in a terminal reaches every process of the group; `kill` (a CI runner's cancel) the main one only.
    ids=["ctrl-c", "sigterm", "sighup", "sigterm-2-workers"],
)
def test_a_stopped_run_cleans_up_and_writes_partial_reports_that_judge_nothing(
    tmp_path: Path, stop: signal.Signals, workers: str
) -> None:
    """With workers the signal reaches the controller only, as `kill` sends it: the workers still clean up."""
    server = ReferenceServer(token=TOKEN)
    with serve_in_thread(Slow(server, 0.03)) as url:  # type: ignore[arg-type]
        process = run_in_background(tmp_path, url, "--workers", workers)
        assert holds(server, 1, within=30), "the run never created anything"
        process.send_signal(stop)
        out, err = process.communicate(timeout=60)
        assert server.resource_count() == {"User": 0, "Group": 0}
    assert process.returncode == 130, out + err
    assert "Traceback" not in out + err
    assert "interrupted" in err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["leftovers"] == []
    assert 0 < len(summary["cases"]) < 50
    assert summary["interrupted"] is True
    assert summary["verdict"]["gallery_ready"] is False and summary["verdict"]["exit_code"] == 130
    assert f"NOT JUDGED — interrupted after {len(summary['cases'])} of " in out
    assert "READY —" not in out
    assert not (tmp_path / "ledger").exists() or not list((tmp_path / "ledger").iterdir()), "nothing left to clean"


@pytest.mark.parametrize("signals", [1, 2], ids=["one-stop", "a-second-stop-during-cleanup"])
def test_with_workers_what_a_cut_off_cleanup_left_is_reported(tmp_path: Path, signals: int) -> None:
    """A stop with several cases in flight: each stops at its next request and cleans up after itself, on a slow
    target too; a second stop while they do cuts their cleanup off, and what they left must still be in
    summary.json, each one, with its ledger for `cleanup`."""
    server = ReferenceServer(token=TOKEN)
    with serve_in_thread(Slow(server, 0.5)) as url:  # type: ignore[arg-type]
        process = run_in_background(tmp_path, url, "--workers", "4")
        holds(server, 3, within=60)
        process.send_signal(signal.SIGTERM)
        if signals == 2:
            time.sleep(0.3)  # the requests in flight take 0.5 s: their cases' cleanup has not ended
            process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=90)
        left = sum(server.resource_count().values())
    assert process.returncode == 130, out + err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["leftovers"]) >= left, (left, summary["leftovers"])
    assert all(name.endswith(".jsonl") for name in summary["ledgers"]) and (left == 0 or summary["ledgers"])
    if signals == 1:
        assert left == 0 and summary["leftovers"] == []


def test_a_worker_killed_mid_case_leaves_no_case_without_one_verdict_and_what_it_created_is_reported(
    tmp_path: Path,
) -> None:
    """Under pytest with pytest-xdist, the kernel's OOM killer or a runner's kill can take one worker. xdist runs
    the case it was running again on a new worker: every case still has exactly one verdict, and what the dead
    worker created, which nothing deleted, is listed as possibly left from its ledger and fails the run."""
    server = ReferenceServer(token=TOKEN)
    with serve_in_thread(Slow(server, 0.02)) as url:  # type: ignore[arg-type]
        command = [sys.executable, "-m", "pytest", str(data_dir("suites")), "-p", "no:cacheprovider", "-q"]
        command += ["--scim-url", url, "--scim-report-dir", str(tmp_path), "-n", "2", "--dist", "loadgroup"]
        env = {**os.environ, "SCIM_TOKEN": TOKEN}
        process = subprocess.Popen(
            [*command, "-k", "ENTRA-GROUP-00"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert holds(server, 1, within=30), "no worker created anything"
        workers = child_processes(process.pid)
        assert workers
        os.kill(workers[0], signal.SIGKILL)
        out, err = process.communicate(timeout=120)
        left = sum(server.resource_count().values())
    summary = json.loads((tmp_path / "summary.json").read_text())
    names = [(case["id"], case["dialect"]) for case in summary["cases"]]
    assert len(names) == len(set(names)) > 10 and summary["verdict"]["unreported"] == []
    assert len(summary["leftovers"]) >= left, (left, summary["leftovers"])
    # pytest counts the crash report of the killed worker's case as a failure, though xdist runs it again.
    assert process.returncode == 1 or (process.returncode == 0 and not summary["leftovers"]), out + err


class SlowDeletes:
    """Answers DELETEs half a second late, and says when the first arrives: a stop can land in a cleanup."""

    def __init__(self, app: ReferenceServer) -> None:
        self.app, self.base_path = app, app.base_path
        self.deleting = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "DELETE":
            self.deleting.set()
            time.sleep(0.5)
        return self.app(environ, start_response)


def test_two_stops_during_a_serial_case_s_cleanup_stop_the_run(tmp_path: Path) -> None:
    """Both stops land in a case's cleanup, which absorbs them: the run must still stop there, judge nothing
    more, and list what the cut-off cleanup left."""
    server = ReferenceServer(token=TOKEN)
    slow = SlowDeletes(server)
    with serve_in_thread(slow) as url:  # type: ignore[arg-type]
        process = run_in_background(tmp_path, url, "--workers", "1")
        assert slow.deleting.wait(60), "no case reached its cleanup"
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=90)
        left = sum(server.resource_count().values())
    assert process.returncode == 130, out + err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert len(summary["cases"]) < 30, "the run went on after the stops"
    assert len(summary["leftovers"]) >= left, (left, summary["leftovers"])


def test_after_a_second_stop_scimconform_cleanup_sends_nothing_for_the_ledgers_left(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two stops in the first ledger's sweep: the second ledger is only listed, with no request of its own."""
    base = "https://scim.example.com/v2"
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE" and interrupts.received() < 2:  # the signal handler, twice, mid-DELETE
            monkeypatch.setattr(interrupts, "_received", interrupts.received() + 1)
            raise KeyboardInterrupt
        sent.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json={"id": request.url.path.rsplit("/", 1)[-1], "userName": "RUN-x"})

    monkeypatch.setattr(interrupts, "_received", 0)
    monkeypatch.setattr(
        cleanup,
        "RecordingClient",
        lambda target, timeout: RecordingClient(target, timeout=timeout, transport=httpx.MockTransport(handler)),
    )
    monkeypatch.setattr(cleanup, "preflight", lambda client: type("Judged", (), {"problem": None})())
    monkeypatch.setattr(cleanup, "configured_target", lambda settings: Target(base_url=base, token=TOKEN))
    (tmp_path / "ledger").mkdir()
    for number, resource_id in ((1, "a"), (2, "b")):
        lines = [
            {"format": "scimconform-ledger/1", "run_tag": "RUN", "target": base, "command": "run"},
            {
                "intend": {
                    "key": 1,
                    "resource_type": "User",
                    "label": f"user {resource_id}",
                    "scope": "s",
                    "match": 'userName eq "x"',
                    "sent": {},
                    "before": [],
                }
            },
            {"key": 1, "outcome": "owned", "status": 201, "id": resource_id},
        ]
        (tmp_path / "ledger" / f"RUN-{number}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = io.StringIO()
    assert cleanup.run_cleanup(Settings(url=base, report_dir=tmp_path), out) == cleanup.EXIT_LEFT
    assert not any(line.endswith("/Users/b") for line in sent), sent
    assert "LEFT   User user b: not cleaned up, interrupted" in out.getvalue()
    assert (tmp_path / "ledger" / "RUN-2.jsonl").exists(), "kept for the next `scimconform cleanup`"


STOPPED_TWICE = """
import os, signal, sys
from scimconform.cli import main
from scimconform.events import CaseEnded, ExchangeRecorded
from scimconform.reporting import registry
from scimconform.reporting.registry import ReportFormat

class Stopper:
    '''A stop mid-case (its fourth exchange); a second one as that case's end is reported, before its cleanup:
    outside every block that guards against a stop.'''
    exchanges = stops = 0
    def handle(self, event):
        if isinstance(event, ExchangeRecorded):
            Stopper.exchanges += 1
            if Stopper.exchanges == 4:
                Stopper.stops = 1
                os.kill(os.getpid(), signal.SIGINT)
        elif isinstance(event, CaseEnded) and Stopper.stops == 1:
            Stopper.stops = 2
            os.kill(os.getpid(), signal.SIGINT)

registry.REPORTERS = (*registry.REPORTERS, ReportFormat(build=lambda request: Stopper()))
sys.exit(main(sys.argv[1:]))
"""


def test_a_second_stop_where_nothing_guards_the_end_of_the_run_loses_no_report_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    """pytest skips every hook still to run once a stop breaks off its end: the rest of the teardown (the
    final sweep) and the reports are finished all the same."""
    server = ReferenceServer(token=TOKEN)
    with serve_in_thread(server) as url:
        command = [sys.executable, "-c", STOPPED_TWICE, "run", "--url", url, "--report-dir", str(tmp_path), "-q"]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=120, env={**os.environ, "SCIM_TOKEN": TOKEN}
        )
        assert server.resource_count() == {"User": 0, "Group": 0}
    assert done.returncode == 130 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["leftovers"] == []
    assert (tmp_path / "junit.xml").is_file() and "NOT JUDGED — interrupted" in done.stdout
