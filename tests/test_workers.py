"""`scimconform run --workers N`: cases at once, the same verdicts, alone cases by themselves, one shared pace."""

from __future__ import annotations

import fcntl
import itertools
import json
import threading
import time
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.delay_proxy import delaying_proxy
from scimconform.catalogue import load_catalogue
from scimconform.cli import main
from scimconform.client import RecordingClient
from scimconform.server import ReferenceServer, serve_in_thread
from scimconform.settings import REMOTE_WORKERS, Settings, load_settings
from scimconform.target import Target
from scimconform.workers import CaseLocks, remove_abandoned, sized
from tests.harness import TOKEN, run_cli

TARGET = Target(base_url="https://scim.example.com/v2", token="t")


@pytest.mark.parametrize(("given", "cause"), [("0", "at least 1, not 0"), ("abc", "invalid value 'abc'")])
def test_bad_workers_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], given: str, cause: str) -> None:
    assert main(["run", "--workers", given]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--workers" in err and cause in err, err


def test_workers_are_sized_unless_given_and_a_settings_file_can_ask_for_more(tmp_path: Path) -> None:
    assert Settings(url="https://scim.example.com/v2").workers is Settings().workers is None
    (tmp_path / "s.yaml").write_text("workers: 3\n")
    assert load_settings(tmp_path / "s.yaml", url="https://scim.example.com/v2").workers == 3


@pytest.mark.parametrize(
    ("url", "workers"),
    [
        (None, 1),
        ("http://127.0.0.1:8080/scim/v2", 1),
        ("http://127.8.9.1/scim", 1),
        ("http://[::1]:8080/scim", 1),
        ("http://LocalHost.:8080/scim", 1),
        ("http://app.localhost/scim", 1),
        ("https://scim.example.com/v2", REMOTE_WORKERS),
        ("https://10.0.0.7/scim", REMOTE_WORKERS),
        ("https://[2001:db8::1]/scim", REMOTE_WORKERS),
        ("", 1),
        ("http://0.0.0.0:8080/scim", 1),
        ("http://[::ffff:127.0.0.1]/scim", 1),
        ("http://127.1/scim", 1),
        ("http://localhost.localdomain/scim", 1),
        ("https://127.0.0.1.nip.io/scim", REMOTE_WORKERS),
    ],
)
def test_a_target_on_this_machine_gets_one_worker_and_another_several(url: str | None, workers: int) -> None:
    """Sized from the Tenant URL alone, so a bad selection is still refused before anything reaches the target."""
    assert sized(Settings(url=url)) == workers


def test_alone_steps_wait_for_the_others_and_new_cases_wait_for_them(tmp_path: Path) -> None:
    """Three processes' locks (separate descriptors lock like separate processes): a case holds the run shared;
    an alone case's steps wait for it; a case arriving meanwhile waits behind them."""
    first, alone, late = (CaseLocks(tmp_path) for _ in range(3))
    order: list[str] = []

    def run(locks: CaseLocks, name: str, is_alone: bool) -> None:
        with locks.case(), locks.alone() if is_alone else nullcontext():
            order.append(f"{name} in")
            time.sleep(0.05)
            order.append(f"{name} out")

    with first.case():
        waiting = threading.Thread(target=run, args=(alone, "alone", True))
        waiting.start()
        time.sleep(0.1)
        arriving = threading.Thread(target=run, args=(late, "late", False))
        arriving.start()
        time.sleep(0.1)
        assert order == [], "neither may start while the first case holds the run"
    waiting.join()
    arriving.join()
    assert order == ["alone in", "alone out", "late in", "late out"]
    for locks in (first, alone, late):
        locks.close()


def test_alone_cases_share_their_setup_and_never_wait_for_each_other(tmp_path: Path) -> None:
    """Two alone cases in their setup at once, with a third case running: both setups and the third overlap,
    each one's steps run by themselves, and neither waits forever for the other's shared hold."""
    lockers = [CaseLocks(tmp_path) for _ in range(3)]
    inside: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    both_in_setup = threading.Barrier(3, timeout=5)

    def case(locks: CaseLocks, name: str, is_alone: bool) -> None:
        with locks.case():
            inside.append(f"{name} setup")
            both_in_setup.wait()  # all three hold the run at once
            inside.remove(f"{name} setup")
            if is_alone:
                with locks.alone():
                    overlaps.append((name, *inside))
                    time.sleep(0.05)

    threads = [
        threading.Thread(target=case, args=(locks, name, name != "plain"))
        for locks, name in zip(lockers, ("one", "two", "plain"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads), "an alone case waited for the other's shared hold"
    assert sorted(overlaps) == [("one",), ("two",)], overlaps
    for locks in lockers:
        locks.close()


def test_the_cycles_hold_the_run_by_themselves_only_at_scale() -> None:
    """At the default size a cycle reads only its own identities; with more users it is load of its own."""
    cases = load_catalogue()
    cycles = [case for case in cases if case.suite == "cycles"]
    assert cycles and all(not case.runs_alone(12) and case.runs_alone(13) for case in cycles)
    paging = next(case for case in cases if case.id == "ENTRA-USER-016")
    assert paging.runs_alone(1) and paging.runs_alone(13)


def test_a_retry_after_one_worker_meets_holds_back_every_worker(tmp_path: Path) -> None:
    answers = iter([429, 200])
    throttled = httpx.MockTransport(lambda r: httpx.Response(next(answers), headers={"Retry-After": "1"}, json={}))
    fine = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    pace = tmp_path / "pace"
    told = threading.Event()
    one = RecordingClient(TARGET, transport=throttled, pause=lambda seconds: told.set(), shared_pace=pace)
    other = RecordingClient(TARGET, transport=fine, shared_pace=pace)
    retrying = threading.Thread(target=one.send, args=("GET", "/Users"))
    retrying.start()
    told.wait(5)  # the first worker met the 429 and is waiting to retry
    started = time.monotonic()
    other.send("GET", "/Users")
    assert time.monotonic() - started >= 0.9, "the other worker waited out the Retry-After too"
    retrying.join()
    one.close()
    other.close()


def test_the_rate_caps_the_total_of_every_worker(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    clients = [RecordingClient(TARGET, transport=transport, rate=20, shared_pace=tmp_path / "pace") for _ in range(2)]
    started = time.monotonic()
    for _ in range(3):
        for client in clients:
            client.send("GET", "/Users")
    assert time.monotonic() - started >= 5 / 20, "six requests from two workers are spaced as one stream"
    for client in clients:
        client.close()


def test_behind_latency_four_workers_judge_like_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5 ms each way in front of one shared server: the same verdict per case, and the cases really spread."""
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)
    app = ReferenceServer(token=TOKEN)
    selection = ["-k", "ENTRA-USER or ENTRA-GROUP", "--users", "3", "--dialect", "aadOptscim062020"]
    outcomes = {}
    with serve_in_thread(app) as url, delaying_proxy(url, rtt_ms=10) as slow:
        for workers in ("1", "4"):
            har = tmp_path / f"{workers}.har"
            outcome = run_cli(
                capsys, tmp_path / workers, "--url", slow, "--workers", workers, "--har", str(har), *selection
            )
            outcomes[workers] = outcome
    assert app.resource_count() == {"User": 0, "Group": 0}
    serial, parallel = ({(c["id"], c["dialect"]): c["status"] for c in o.summary["cases"]} for o in outcomes.values())
    assert len(serial) > 20 and parallel == serial
    assert outcomes["4"].code == outcomes["1"].code == 0, outcomes["4"].out
    assert (outcomes["1"].summary["workers"], outcomes["4"].summary["workers"]) == (1, 4)
    log = json.loads((tmp_path / "4.har").read_text())["log"]
    bodies = log["entries"]
    # Each case is a page, and its exchanges (cleanup included) stand together although the cases ran at once.
    pages = [entry["pageref"] for entry in bodies if "pageref" in entry]
    runs = [page for n, page in enumerate(pages) if n == 0 or pages[n - 1] != page]
    assert len(runs) == len(set(runs)) == len(log["pages"]) == len(parallel), runs
    assert _overlapping_cases(bodies), "no two cases were in flight at once"
    # The cases that must run alone are reported last: the longest cases begin first, the alone ones last.
    alone = {case.id for case in load_catalogue() if case.runs_alone(3)}
    started = [page["id"].split("[")[0] in alone for page in log["pages"]]
    assert True in started and started[started.index(True) :].count(False) == 0, started
    # Every request is in the HAR: the preflight before any case, once.
    probes = [n for n, e in enumerate(bodies) if "scimconform-preflight" in e["request"]["url"]]
    assert probes == [0], probes
    assert not list((tmp_path / "4").glob(".workers-*")), "no lock folder: the cases ran in threads"


def _overlapping_cases(entries: list[dict[str, Any]]) -> bool:
    """Whether the exchanges of two different cases were in flight at the same moment."""
    spans = sorted(
        (datetime.fromisoformat(e["startedDateTime"]).timestamp(), e["time"] / 1000, e.get("pageref")) for e in entries
    )
    return any(
        later_start < start + took and page != later_page
        for (start, took, page), (later_start, _, later_page) in itertools.pairwise(spans)
    )


def test_only_a_lock_folder_no_worker_holds_is_removed(tmp_path: Path) -> None:
    """A killed run leaves `.workers-<tag>`; a live run's, a folder scimconform did not make, and whatever a
    link points at stay."""
    live, dead, foreign, elsewhere = (tmp_path / name for name in (".workers-live", ".workers-dead", ".workers-x", "x"))
    CaseLocks(dead).close()  # its worker ended without removing it, as a killed one does
    locks = CaseLocks(live)
    foreign.mkdir()
    elsewhere.mkdir()
    (elsewhere / "alive.lock").touch()
    (tmp_path / ".workers-link").symlink_to(elsewhere)
    remove_abandoned(tmp_path)
    assert live.is_dir() and foreign.is_dir() and (elsewhere / "alive.lock").exists()
    assert not dead.exists() and not list(tmp_path.glob(".*removed"))
    locks.close()
    remove_abandoned(tmp_path)
    assert not live.exists()


def test_a_worker_starting_while_its_folder_is_removed_makes_a_fresh_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between a worker's open of alive.lock and its lock, a cleanup can rename the folder away: the worker must
    not lock a file no other worker will find."""
    folder = tmp_path / ".workers-run"
    CaseLocks(folder).close()
    real_flock = fcntl.flock

    def removed_first(fd: int, operation: int) -> None:
        monkeypatch.setattr(fcntl, "flock", real_flock)
        remove_abandoned(tmp_path)  # the cleanup wins the race, once
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", removed_first)
    locks = CaseLocks(folder)
    remove_abandoned(tmp_path)
    assert (folder / "alive.lock").exists(), "the worker holds the lock of the folder it works in"
    locks.close()
