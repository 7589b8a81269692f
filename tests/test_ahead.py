"""`scimconform run --workers N`: cases run at once in threads of one process (`engine/ahead.py`) — the same
verdicts, failures and reports as one after another, `alone` steps by themselves, and a stop that leaves
nothing running, nothing behind and nothing unrecorded."""

from __future__ import annotations

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

import pytest

from scimconform.client import Pacer
from scimconform.engine.ahead import GRACE_SECONDS, Quiet
from scimconform.events import CaseStarted
from scimconform.reporting.har import HarRecorder
from scimconform.server import ReferenceServer, serve_in_thread
from tests.harness import TOKEN, run_cli


def test_alone_steps_wait_for_every_case_and_hold_back_new_ones() -> None:
    quiet = Quiet()
    seen: list[str] = []
    running, alone_waits = threading.Event(), threading.Event()

    def case(name: str, hold: float) -> None:
        with quiet.case():
            seen.append(f"{name} starts")
            running.set()
            time.sleep(hold)
            seen.append(f"{name} ends")

    def alone_case() -> None:
        with quiet.case():
            running.wait()
            alone_waits.set()
            with quiet.alone():
                seen.append("alone starts")
                time.sleep(0.2)
                seen.append("alone ends")

    first = threading.Thread(target=case, args=("first", 0.3))
    first.start()
    alone = threading.Thread(target=alone_case)
    alone.start()
    alone_waits.wait()
    time.sleep(0.05)  # the alone case now holds the gate, waiting for the first case
    later = threading.Thread(target=case, args=("later", 0))
    later.start()
    for thread in (first, alone, later):
        thread.join(5)
    assert seen == ["first starts", "first ends", "alone starts", "alone ends", "later starts", "later ends"]


def test_two_alone_cases_never_wait_for_each_other() -> None:
    quiet, order = Quiet(), []
    both_in = threading.Barrier(2)

    def alone_case(name: str) -> None:
        with quiet.case():
            both_in.wait()
            with quiet.alone():
                order.append(name)
                time.sleep(0.05)
                order.append(name)

    threads = [threading.Thread(target=alone_case, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for thread in threads), "two alone cases deadlocked"
    assert order in (["a", "a", "b", "b"], ["b", "b", "a", "a"]), order


def _judged(summary: dict[str, Any]) -> dict[tuple[str, str | None], tuple[str, list[tuple[str, str]]]]:
    """Each case's status and the rules its failures name, with the step that failed."""
    return {
        (case["id"], case["dialect"]): (case["status"], [(f["step"], f["rule"]) for f in case["failures"]])
        for case in summary["cases"]
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "dialect"),
    [("member-remove-list-removes-all", "default"), ("pathless-dotted-keys-ignored", "aadOptscim062020")],
)
def test_a_broken_server_is_judged_alike_with_cases_at_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str, dialect: str
) -> None:
    """Which cases fail, on which step and rule, does not depend on whether they ran at once."""
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)
    judged = {}
    for workers in ("1", "6"):
        server = ReferenceServer(token=TOKEN, faults=[fault])
        with serve_in_thread(server) as url:
            args = ["--url", url, "--users", "3", "--dialect", dialect, "--workers", workers]
            outcome = run_cli(capsys, tmp_path / workers, *args)
        assert server.resource_count() == {"User": 0, "Group": 0}
        assert outcome.summary["workers"] == int(workers) and outcome.summary["leftovers"] == []
        judged[workers] = _judged(outcome.summary)
    assert any(status == "failed" for status, _ in judged["1"].values()), "the fault went unnoticed"
    assert judged["6"] == judged["1"]


class Counting:
    """Counts (and slows) every request the server is sent."""

    def __init__(self, app: ReferenceServer, delay: float) -> None:
        self.app, self.delay, self.base_path = app, delay, app.base_path
        self.requests = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._lock:
            self.requests += 1
        time.sleep(self.delay)
        return self.app(environ, start_response)


@pytest.mark.parametrize("stops", [1, 2], ids=["one-stop", "a-second-stop-during-cleanup"])
def test_a_stop_with_cases_ahead_stops_them_all_and_the_har_holds_every_request(tmp_path: Path, stops: int) -> None:
    """Ctrl-C while cases pytest has not reported yet are running: each stops at its next request and cleans up
    after itself before the run's final sweep; what they sent is in the HAR though no report shows their case."""
    server = ReferenceServer(token=TOKEN)
    counting = Counting(server, 0.05)
    har = tmp_path / "run.har"
    with serve_in_thread(counting) as url:  # type: ignore[arg-type]
        command = [sys.executable, "-m", "scimconform.cli", "run", "--url", url, "--report-dir", str(tmp_path)]
        command += ["--workers", "8", "--har", str(har)]
        env = {**os.environ, "SCIM_TOKEN": TOKEN}
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while sum(server.resource_count().values()) < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        for _ in range(stops):
            process.send_signal(signal.SIGINT)
            time.sleep(0.3)
        out, err = process.communicate(timeout=90)
        left = sum(server.resource_count().values())
        sent = counting.requests
    assert process.returncode == 130, out + err
    assert "Traceback" not in out + err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert len(summary["leftovers"]) >= left, (left, summary["leftovers"])
    if stops == 1:
        assert left == 0 and summary["leftovers"] == []
    entries = json.loads(har.read_text())["log"]["entries"]
    assert len(entries) == sent, "every request the target was sent is in the HAR"


class HangingDeletes:
    """Answers every request but a DELETE, which it holds for a minute: a cleanup that does not end by itself."""

    def __init__(self, app: ReferenceServer) -> None:
        self.app, self.base_path = app, app.base_path
        self.deletes, self.released = threading.Event(), threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "DELETE":
            self.deletes.set()
            self.released.wait(60)
        return self.app(environ, start_response)


def test_a_second_stop_ends_the_run_though_requests_hang(tmp_path: Path) -> None:
    """A second stop cuts cleanup short: requests in flight get `GRACE_SECONDS`, then the run lists what is left
    and ends, as a serial run ends on its second Ctrl-C, however long the target takes to answer."""
    server = ReferenceServer(token=TOKEN)
    hanging = HangingDeletes(server)
    with serve_in_thread(hanging) as url:  # type: ignore[arg-type]
        command = [sys.executable, "-m", "scimconform.cli", "run", "--url", url, "--report-dir", str(tmp_path)]
        env = {**os.environ, "SCIM_TOKEN": TOKEN}
        process = subprocess.Popen(
            [*command, "--workers", "4"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert hanging.deletes.wait(60), "no case reached its cleanup"
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        stopped = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        took = time.monotonic() - stopped
        hanging.released.set()
    assert took < GRACE_SECONDS + 10, took
    assert process.returncode == 130, out + err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["leftovers"] and summary["ledgers"], "what stayed is listed, with its ledger for cleanup"


def test_a_retry_after_holds_back_every_thread_of_the_run() -> None:
    """One case meets a 429 with Retry-After: the other cases running at once wait too (`Pacer.hold`)."""
    pacer = Pacer(rate=None)
    pacer.hold(0.3)
    waited: list[float] = []

    def another_case() -> None:
        started = time.monotonic()
        pacer()
        waited.append(time.monotonic() - started)

    thread = threading.Thread(target=another_case)
    thread.start()
    thread.join(5)
    assert waited and waited[0] >= 0.25, waited
    started = time.monotonic()
    pacer()
    assert time.monotonic() - started < 0.05, "once the hold is over, nothing waits"


def test_a_case_the_har_has_a_page_for_gets_no_second_one(tmp_path: Path) -> None:
    """After a stop, a case's held rest goes to the HAR after a start of its own: on the page it has already."""
    har = HarRecorder(tmp_path / "run.har")
    for _ in range(2):
        har.handle(CaseStarted(case_id="ENTRA-USER-001", dialect=None, title="t"))
    assert [page["id"] for page in har.pages] == ["ENTRA-USER-001"]
