"""Bad input gets one clear line and exit 2, reports are still written, and secrets never leak."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server

from scimconform.cli import main
from tests.harness import TOKEN, reference_server, run_cli


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)


def assert_one_line_error(err: str, cause: str) -> None:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("scimconform: error:")]
    assert len(lines) == 1 and cause in lines[0], err


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["--url", "scim.example.com/v2"], "malformed target URL"),
        (["--url", "https://scim.example.com/v2?debug"], "unknown query flag"),
        (["--profile", "no-such-profile"], "unknown profile 'no-such-profile'"),
        (["--dialect", "klingon"], "unknown dialect 'klingon'"),
        (["--profile", "missing.yaml"], "cannot read missing.yaml"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], cause: str
) -> None:
    outcome = run_cli(capsys, tmp_path, *args)
    assert outcome.code == 2
    assert_one_line_error(outcome.err, cause)


def test_missing_token_variable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCIM_TOKEN")
    outcome = run_cli(capsys, tmp_path, "--url", "https://scim.example.com/v2")
    assert outcome.code == 2
    assert_one_line_error(outcome.err, "environment variable SCIM_TOKEN is not set")


def test_broken_config_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "scimconform.yaml"
    config.write_text("url: [unclosed\n")
    outcome = run_cli(capsys, tmp_path / "reports", "--config", str(config))
    assert outcome.code == 2
    assert_one_line_error(outcome.err, "invalid YAML")


@contextmanager
def serving(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/scim"
    finally:
        server.shutdown()
        server.server_close()


def html_page(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/html")])
    return [b"<html><body>Welcome to our marketing site</body></html>"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def target_error_run(capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str, *extra: str) -> str:
    outcome = run_cli(capsys, tmp_path, "--url", url, *extra)
    assert outcome.code == 2
    assert outcome.summary["target_error"]
    assert (tmp_path / "junit.xml").is_file()
    assert outcome.summary["cases"] == [], "a target that cannot be judged runs no case (tests/test_preflight.py)"
    return outcome.err


def test_unreachable_host(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    err = target_error_run(capsys, tmp_path, f"http://127.0.0.1:{closed_port()}/scim")
    assert_one_line_error(err, "unreachable: cannot connect")


def test_a_port_that_never_answers_times_out(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "scimconform.yaml"
    config.write_text("timeout: 0.5\n")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/scim"
        err = target_error_run(capsys, tmp_path, url, "--config", str(config))
    assert_one_line_error(err, "no answer within 0.5 s (timeout)")


def test_wrong_token(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHER_TOKEN", "not-the-right-one")
    with reference_server() as url:
        err = target_error_run(capsys, tmp_path, url, "--token-env", "OTHER_TOKEN")
    assert_one_line_error(err, "the target refused the bearer token (HTTP 401)")


def test_a_web_page_instead_of_a_scim_endpoint(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with serving(html_page) as url:
        err = target_error_run(capsys, tmp_path, url)
    assert_one_line_error(err, "does not look like a SCIM endpoint")


def test_the_token_appears_in_no_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with reference_server("json-content-type") as url:
        outcome = run_cli(capsys, tmp_path, "--url", url, "-k", "ENTRA-USER-00 or ENTRA-CONN")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith("-attachment.txt") for p in files), "curl reproducers were attached"
    for path in files:
        assert TOKEN not in path.read_text(errors="replace"), path
    assert TOKEN not in outcome.out + outcome.err


def test_list_prints_the_catalogue_and_the_faults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "ENTRA-USER-010   blocking Disable a user with active=false; it stays visible" in listing
    assert main(["list", "--faults"]) == 0
    assert "pascalcase-op-rejected" in capsys.readouterr().out


def test_serve_runs_the_reference_server_with_faults_until_ctrl_c() -> None:
    # Port 0: a port picked here could be taken by a parallel test before the server binds it.
    command = [sys.executable, "-m", "scimconform.cli", "serve", "--port", "0", "--token", "t0k"]
    with subprocess.Popen(
        [*command, "--fault", "auth-not-checked"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            banner = re.search(r"on (http://127\.0\.0\.1:\d+/scim/v2) ", process.stdout.readline())
            assert banner is not None
            answer = httpx.get(f"{banner[1]}/Users", timeout=30)  # a loaded CI machine can be slow to serve
            assert answer.status_code == 200  # the fault lets a request without a token through
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=60)
        finally:
            process.kill()
    assert process.returncode == 0 and "Traceback" not in err, f"exit {process.returncode}: {err}"


def into_a_closed_pipe(*args: str) -> tuple[int, str]:
    """Run the CLI with stdout a pipe nobody reads any more; its exit code and stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        command = [sys.executable, "-m", "scimconform.cli", *args]
        done = subprocess.run(command, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=30)
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


@pytest.mark.parametrize("args", [("list",), ("serve", "--port", "0")], ids=["list", "serve"])
def test_a_closed_pipe_stops_quietly(args: tuple[str, ...]) -> None:
    """`scimconform list | head`, `scimconform serve | true`: exit as Unix tools do, no traceback, no hang."""
    code, err = into_a_closed_pipe(*args)
    assert (code, err) == (141, "")


def test_serve_on_a_taken_port_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert_one_line_error(capsys.readouterr().err, f"cannot listen on 127.0.0.1:{port}: Address already in use")


def test_serve_rejects_an_unknown_fault(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--fault", "made-up"]) == 2
    assert_one_line_error(capsys.readouterr().err, "made-up")


def test_a_suite_that_cannot_be_loaded_is_an_error_not_an_interrupt(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest ends a session whose module fails to import as "interrupted"; the run must not say it was
    stopped (exit 130) when its install is broken."""
    import scimconform.cli as cli
    from scimconform.datafiles import data_dir

    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "pytest.ini").write_text((data_dir("suites") / "pytest.ini").read_text())
    (suites / "test_broken.py").write_text("import no_such_module_here\n")
    monkeypatch.setattr(cli, "data_dir", lambda room: suites if room == "suites" else data_dir(room))
    code = main(["run", "--report-dir", str(tmp_path / "reports")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "cannot load the suite test_broken.py" in err and "interrupted" not in err


FOREIGN_PLUGIN = """
from pathlib import Path

def pytest_configure(config):
    Path(__file__).with_name("loaded").touch()

def pytest_addoption(parser):
    parser.addoption("--foreign-timeout")

def pytest_collection_modifyitems(items):
    items.reverse()  # as pytest-randomly would: the order Entra sends in is lost
"""


@pytest.mark.parametrize(
    ("workers", "environment"),
    [
        ("1", {}),
        # Either variable alone would load the plugin; the option is one only the foreign plugin knows.
        ("2", {"PYTEST_PLUGINS": "foreign_plugin", "PYTEST_ADDOPTS": "-p foreign --foreign-timeout=5"}),
    ],
    ids=["serial", "workers-and-pytest-environment"],
)
def test_a_run_loads_no_pytest_plugin_installed_beside_scimconform(
    tmp_path: Path, workers: str, environment: dict[str, str]
) -> None:
    """A plugin that reorders or repeats tests would change what is sent: `scimconform run`, and the workers it
    starts, load only the plugins it names, and take no pytest options or plugins from the environment (a CI
    job's are for its own test suites). The same plugin is loaded by pytest itself, so it was findable."""
    site = tmp_path / "site"
    (site / "foreign-1.0.dist-info").mkdir(parents=True)
    (site / "foreign-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: foreign\nVersion: 1.0\n")
    (site / "foreign-1.0.dist-info" / "entry_points.txt").write_text("[pytest11]\nforeign = foreign_plugin\n")
    (site / "foreign_plugin.py").write_text(FOREIGN_PLUGIN)
    env = {**os.environ, "PYTHONPATH": str(site), "SCIM_TOKEN": TOKEN}
    env.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run([sys.executable, "-m", "pytest", "--collect-only", str(empty)], env=env, capture_output=True)
    assert (site / "loaded").exists(), "the foreign plugin is installed"
    (site / "loaded").unlink()

    run = [sys.executable, "-m", "scimconform.cli", "run", "--report-dir", str(tmp_path / "reports"), "-q"]
    args = [*run, "--workers", workers, "-k", "ENTRA-USER-001"]
    done = subprocess.run(args, env={**env, **environment}, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (site / "loaded").exists()


def test_each_run_in_one_process_has_its_own_tag_even_inside_a_pytest_xdist_worker(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CI job that calls `scimconform.cli.main` from its own xdist worker: the run is no worker of that session,
    takes no earlier run's tag (so no earlier run's values), and leaves the job's environment as it found it."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")
    monkeypatch.delenv("SCIMCONFORM_RUN_TAG", raising=False)  # left by an earlier session in this process
    with reference_server() as url:
        first = run_cli(capsys, tmp_path / "first", "--url", url, "-k", "ENTRA-USER-001", "--har", str(tmp_path / "h"))
        second = run_cli(capsys, tmp_path / "second", "--url", url, "-k", "ENTRA-USER-001")
    assert first.code == second.code == 0, first.out + second.out
    assert first.summary["run_tag"] != second.summary["run_tag"]
    assert f"{first.summary['run_tag']}-u1" in (tmp_path / "h").read_text()  # labels name no worker (-gw7-u1)
    assert os.environ["PYTEST_XDIST_WORKER"] == "gw7" and "SCIMCONFORM_RUN_TAG" not in os.environ
