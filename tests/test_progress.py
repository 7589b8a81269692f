"""What `scimconform run` shows while it runs: a live display on a terminal (checked on a pseudo-terminal), plain
lines anywhere else and with -q or -v, no colour with NO_COLOR, and never pytest's own dots."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from scimconform.server import ReferenceServer, serve_in_thread
from tests.harness import QUICK, TOKEN, run_cli

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SGR = re.compile(r"\x1b\[([0-9;]*)m")
CASE_LINE = re.compile(r"(PASS |FAIL |WARN |SKIP |ERROR) ENTRA-[A-Z]+-\d{3}(\[[A-Za-z0-9]+\])?  \S.*  \d+\.\ds( — .+)?")
VERDICT = "Entra gallery readiness: "
SMALL = ("--dialect", "default", *QUICK, "-k", "ENTRA-CONN")  # four quick cases on the embedded server


def on_a_terminal(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`scimconform run …` with a pseudo-terminal on stdout, as a user's shell would start it; what the
    terminal received, escape sequences and all."""
    controller, terminal = os.openpty()
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k not in ("NO_COLOR", "FORCE_COLOR")
    }
    command = [sys.executable, "-m", "scimconform.cli", "run", "--report-dir", str(tmp_path / "reports"), *args]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.DEVNULL,
        env={**clean, "TERM": "xterm", "COLUMNS": "160", "SCIM_TOKEN": TOKEN, **(env or {})},
        cwd=tmp_path,
    )
    os.close(terminal)
    received = bytearray()
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal's other end closed: the run is over
            break
        if not chunk:
            break
        received += chunk
    os.close(controller)
    return process.wait(timeout=60), received.decode()


def plain(text: str) -> str:
    return CSI.sub("", text)


def colours(text: str) -> set[int]:
    """The SGR colour parameters in `text` (foreground and background, 8, 16, 256 and true colour)."""
    found = set()
    for params in SGR.findall(text):
        for value in (int(p) for p in params.split(";") if p):
            if 30 <= value <= 49 or 90 <= value <= 107:
                found.add(value)
    return found


def test_a_terminal_shows_the_case_in_hand_and_a_coloured_verdict(tmp_path: Path) -> None:
    code, shown = on_a_terminal(tmp_path, *SMALL)
    assert code == 0, shown
    text = plain(shown)
    assert re.search(r"case 1/4 +ENTRA-CONN-001  Test Connection probe", text), text
    assert "case 4/4" in text
    assert "\x1b[1A" in shown, "the live region redraws in place"
    last = text.strip().splitlines()[-1]
    assert last.startswith(VERDICT + "NOT JUDGED"), last
    assert re.search(r"\x1b\[[0-9;]*33m" + re.escape(VERDICT + "NOT JUDGED"), shown), "the verdict is yellow"
    assert "PASS " not in text, "on a terminal only what did not pass stays above the live region"
    assert not re.search(r"^[.sFEW]+$", text, re.MULTILINE), "no pytest progress dots"


def test_a_timed_step_counts_down(tmp_path: Path) -> None:
    code, shown = on_a_terminal(tmp_path, "--throughput-seconds", "2", "-k", "ENTRA-RATE-001")
    text = plain(shown)
    assert code == 0, text
    assert "Sustain 25 requests/s for 2 s" in text
    assert "2 s left" in text and "1 s left" in text, text


class SlowToCreate(ReferenceServer):
    """Keeps the first create's answer waiting, as a host that answers slowly does."""

    def __init__(self, delay: float) -> None:
        super().__init__(token=TOKEN)
        self.delay = delay
        self.first = threading.Event()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "POST" and not self.first.is_set():
            self.first.set()
            time.sleep(self.delay)
        return super().__call__(environ, start_response)


def test_a_slow_answer_shows_as_a_request_in_flight(tmp_path: Path) -> None:
    with serve_in_thread(SlowToCreate(delay=2.5)) as url:
        # the live display is a serial run's: with workers it falls back to case lines
        code, shown = on_a_terminal(tmp_path, "--url", url, *QUICK, "-k", "ENTRA-USER-002")
    text = plain(shown)
    assert code == 0, text
    assert re.search(r"case 1/1 +ENTRA-USER-002", text)
    assert re.search(r"waiting for the target's answer: [12] s", text), text


def test_no_color_on_a_terminal_means_no_colour_codes(tmp_path: Path) -> None:
    code, shown = on_a_terminal(tmp_path, *SMALL, env={"NO_COLOR": "1"})
    assert code == 0, shown
    assert "case 1/4" in plain(shown)
    assert colours(shown) == set(), shown  # without NO_COLOR the verdict is yellow (the first test)


def test_verbose_on_a_terminal_is_lines_too(tmp_path: Path) -> None:
    code, shown = on_a_terminal(tmp_path, *SMALL, "-v")
    assert code == 0, shown
    assert "\x1b[1A" not in shown and "\x1b[2K" not in shown, "no cursor movement"
    assert re.search(r"^PASS  ENTRA-CONN-001  ", plain(shown), re.MULTILINE)


def test_through_a_pipe_the_run_is_a_line_per_case(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTEST_") and k not in ("FORCE_COLOR", "TTY_COMPATIBLE")
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scimconform.cli",
            "run",
            "--report-dir",
            "reports",
            *SMALL,
            "-k",
            "ENTRA-CONN or ENTRA-USER-002",
        ],
        env={**env, "TERM": "xterm"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\x1b[" not in done.stdout
    lines = done.stdout.splitlines()
    totals = next(i for i, line in enumerate(lines) if re.fullmatch(r"\d+ cases? in [\d.]+ s: .*", line))
    assert totals == 5 and all(CASE_LINE.fullmatch(line) for line in lines[:totals]), lines[: totals + 1]
    assert lines[totals].startswith("5 cases in ") and lines[totals].endswith(": 5 passed")
    assert lines[totals + 1].startswith("scimconform: target embedded reference server")
    assert lines[-1].startswith(VERDICT + "NOT JUDGED")


def test_quiet_prints_the_verdict_block_alone(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    outcome = run_cli(capsys, tmp_path, *SMALL, "-q")
    assert outcome.code == 0, outcome.out + outcome.err
    lines = outcome.out.splitlines()
    assert lines[0].startswith("scimconform: target embedded reference server"), lines[0]
    assert lines[1] == "Connection: 4 passed"
    assert lines[-1].startswith(VERDICT)
    assert not any(CASE_LINE.fullmatch(line) for line in lines)


def test_verbose_adds_each_step(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as usage:
        run_cli(capsys, tmp_path, *SMALL, "-q", "-v")
    assert usage.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    outcome = run_cli(capsys, tmp_path, *SMALL, "-v")
    assert outcome.code == 0, outcome.out + outcome.err
    lines = outcome.out.splitlines()
    start = lines.index("ENTRA-CONN-003  A request without a bearer token is refused with 401")
    assert re.fullmatch(r" {6}ok {6}\S.*\(GET /\S+ → 401\)", lines[start + 1]), lines[start : start + 3]
    assert CASE_LINE.fullmatch(next(line for line in lines[start + 1 :] if not line.startswith(" "))), lines[start:]
