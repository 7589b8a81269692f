"""Bad input gets a clear answer (issue #11): exactly one line on stderr naming the option or file, exit 2,
no traceback, and not one connection to the target.

Every case runs the CLI in this process with `--url` pointing at a loopback server that records each
connection it accepts, so "refused before anything was sent" is observed, not assumed.
"""

from __future__ import annotations

import os
import random
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
import yaml

from scimconform import documents
from scimconform.cli import main
from scimconform.datafiles import data_dir
from scimconform.errors import ConfigError
from scimconform.settings import check_output_dir, check_output_file
from tests.harness import TOKEN

SECRET = "s3cret-5f0e1d"  # put into values that must never be shown
EXPORT = data_dir("fixtures") / "imports" / "graph-synchronization-schema.json"


class _RecordingServer(ThreadingHTTPServer):
    """Answers 503 to everything and remembers every connection, whether or not a request followed."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Answer)
        self.connections: list[Any] = []

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections.append(client_address)
        return True


class _Answer(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a request here is reported by the assertion, not on stderr."""


@dataclass
class Recorder:
    url: str
    origin: str
    server: _RecordingServer

    @property
    def connections(self) -> list[Any]:
        return self.server.connections


@pytest.fixture
def target() -> Iterator[Recorder]:
    server = _RecordingServer()
    thread = Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_port}"
    try:
        yield Recorder(f"{origin}/scim", origin, server)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A token, a client secret, no proxy from the environment, and a working directory of our own."""
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("SCIM_CLIENT_SECRET", SECRET)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def refused(capsys: pytest.CaptureFixture[str], target: Recorder | None, argv: list[str], *causes: str) -> str:
    """Run the CLI; assert exit 2, one line on stderr holding every cause, nothing sent, nothing secret shown."""
    code = main(argv)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, captured.err
    assert "Traceback" not in captured.err
    assert len(lines) == 1 and lines[0].startswith("scimconform: error: "), captured.err
    assert all(cause in lines[0] for cause in causes), (causes, lines[0])
    assert SECRET not in captured.out + captured.err
    assert captured.out == ""  # the run never started
    if target is not None:
        assert target.connections == [], "a request reached the target"
    return lines[0]


def run(target: Recorder, *extra: str) -> list[str]:
    return ["run", "--url", target.url, "--report-dir", "reports", *extra]


def alias_bomb(last: str) -> str:
    """'Billion laughs': under 1 KB of YAML that a plain safe_load turns into 9**9 strings once walked."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    return "\n".join([*lines, last]) + "\n"


# --- 1. YAML aliases ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "file", "last"),
    [
        ("--config", "settings.yaml", "url: *i"),
        (None, "scimconform.yaml", "url: *i"),  # the settings file read without --config
        ("--profile", "bomb.yaml", "name: *i"),
    ],
)
def test_a_yaml_alias_bomb_is_refused_at_once(
    capsys: pytest.CaptureFixture[str], target: Recorder, option: str | None, file: str, last: str
) -> None:
    text = alias_bomb(last)
    assert len(text.encode()) < 1024
    Path(file).write_text(text, encoding="utf-8")
    tracemalloc.start()
    started = time.perf_counter()
    try:
        refused(capsys, target, run(target, *([option, file] if option else [])), file, "alias *a is not allowed")
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 5, f"{elapsed:.2f} s"  # a sanity bound only: it takes milliseconds
    assert peak < 50 * 1024 * 1024, f"{peak / 2**20:.0f} MB"


def test_deep_nesting_is_refused_not_a_recursion_error(capsys: pytest.CaptureFixture[str], target: Recorder) -> None:
    Path("deep.yaml").write_text("url: " + "[" * 400 + "]" * 400 + "\n", encoding="utf-8")
    refused(capsys, target, run(target, "--config", "deep.yaml"), "deep.yaml line 1", "nested deeper than")


@pytest.mark.parametrize("loader", [documents._PythonLoader, documents._Loader], ids=["python", "libyaml"])
def test_either_yaml_parser_is_guarded(monkeypatch: pytest.MonkeyPatch, loader: Any) -> None:
    """libyaml parses where PyYAML has it, Python's parser where it does not: the guard holds for both."""
    monkeypatch.setattr(documents, "_Loader", loader)
    with pytest.raises(ConfigError, match=r"f\.yaml line 2: invalid YAML: alias \*a is not allowed"):
        documents.parse_yaml(alias_bomb("x: *i"), "f.yaml")
    with pytest.raises(ConfigError, match=r"f\.yaml line 1: invalid YAML: nested deeper than 64 levels"):
        documents.parse_yaml("[" * 400 + "]" * 400, "f.yaml")
    assert documents.parse_yaml("a: [1, {b: 'x'}]", "f.yaml")[0] == {"a": [1, {"b": "x"}]}


def test_shipped_yaml_uses_no_aliases() -> None:
    """The loader refuses aliases everywhere, so the project's own files must not need them."""
    paths = [path for folder in ("fixtures", "suites", "schemas") for path in data_dir(folder).rglob("*.y*ml")]
    assert len(paths) > 50
    for path in paths:
        events = yaml.parse(path.read_text(encoding="utf-8"))
        assert not any(isinstance(event, yaml.AliasEvent) for event in events), path


# --- 2. binary files ------------------------------------------------------------------------------


def binary(name: str) -> str:
    """A PNG-like file: the PNG signature (not UTF-8 from its first byte), then random bytes."""
    noise = random.Random(11).randbytes(2048)
    Path(name).write_bytes(b"\x89PNG\r\n\x1a\n" + noise)
    return name


@pytest.mark.parametrize(
    ("option", "name", "cause"),
    [
        ("--config", "logo.png", "config file logo.png is not a text file"),
        ("--profile", "logo.png", "logo.png is not a text file"),
        ("--profile", "export.json", "export.json is not a text file"),  # a profile exported from Entra
        ("--token-file", "logo.png", "token file logo.png is not a text file"),
        ("--ca-bundle", "logo.png", "CA bundle logo.png (--ca-bundle) holds no usable PEM certificate"),
    ],
)
def test_a_binary_file_is_named(
    capsys: pytest.CaptureFixture[str], target: Recorder, option: str, name: str, cause: str
) -> None:
    refused(capsys, target, run(target, option, binary(name)), cause)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_an_endless_file_is_not_read_to_its_end(capsys: pytest.CaptureFixture[str], target: Recorder) -> None:
    refused(capsys, target, run(target, "--config", "/dev/zero"), "config file /dev/zero is larger than")


def test_profile_import_of_a_binary_file_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    refused(capsys, None, ["profile", "import", binary("export.json")], "export.json is not a text file")


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (f"{SECRET}\nsecond line\n", "token file token.txt holds a control or non-ASCII character"),
        (f"{SECRET}\x00\n", "token file token.txt holds a control or non-ASCII character"),
        ("t" * 70_000, "token file token.txt is larger than 64 KB"),
    ],
)
def test_a_token_file_must_hold_one_token(
    capsys: pytest.CaptureFixture[str], target: Recorder, content: str, cause: str
) -> None:
    Path("token.txt").write_text(content, encoding="utf-8")
    refused(capsys, target, run(target, "--token-file", "token.txt"), cause)


def test_a_token_variable_with_a_line_break_is_named(
    capsys: pytest.CaptureFixture[str], target: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCIM_TOKEN", f"{SECRET}\r\nX-Injected: 1")
    refused(capsys, target, run(target), "environment variable SCIM_TOKEN holds a control")


# --- 3. output locations --------------------------------------------------------------------------


@pytest.fixture
def a_file() -> str:
    Path("plain-file").write_text("not a folder\n", encoding="utf-8")
    return "plain-file"


@pytest.mark.parametrize(
    ("option", "where", "cause"),
    [
        ("--report-dir", "{file}", "is a file"),
        ("--report-dir", "/", "is the root folder"),
        ("--report-dir", "{file}/reports", "cannot write there"),
        ("--report-dir", "/proc/scimconform-reports", "cannot write there"),
        ("--har", ".", "is a folder"),
        ("--har", "{file}/run.har", "cannot write there"),
        ("--har", "/proc/scimconform/run.har", "cannot write there"),
    ],
)
def test_an_unusable_output_location_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], target: Recorder, a_file: str, option: str, where: str, cause: str
) -> None:
    path = where.format(file=a_file)
    refused(capsys, target, run(target, option, path), f"{option} {path}", cause)


@pytest.mark.parametrize("where", ["{file}", "{file}/reports", "/proc/scimconform-reports"])
def test_load_refuses_an_unusable_report_folder(
    capsys: pytest.CaptureFixture[str], target: Recorder, a_file: str, where: str
) -> None:
    path = where.format(file=a_file)
    argv = ["load", "--url", target.url, "--users", "1", "--report-dir", path]
    refused(capsys, target, argv, f"--report-dir {path}")


@pytest.mark.parametrize(
    ("where", "cause"),
    [
        ("folder.yaml", "-o folder.yaml is a folder"),
        ("{file}/profile.yaml", "-o {file}/profile.yaml: cannot write there"),
        ("/proc/scimconform/profile.yaml", "cannot write there"),
        ("profile", "a profile file's name ends in .yaml"),  # load_profile would read it as a shipped name
    ],
)
def test_profile_import_refuses_an_unusable_output(
    capsys: pytest.CaptureFixture[str], a_file: str, where: str, cause: str
) -> None:
    Path("folder.yaml").mkdir()
    path = where.format(file=a_file)
    refused(capsys, None, ["profile", "import", str(EXPORT), "-o", path], cause.format(file=a_file))
    assert not Path("profile").exists()


def test_checking_an_output_location_leaves_nothing_behind(tmp_path: Path) -> None:
    check_output_dir(tmp_path / "new" / "reports", "--report-dir")
    assert list((tmp_path / "new" / "reports").iterdir()) == []  # created, and the probe removed
    check_output_file(tmp_path / "run.har", "--har")
    assert not (tmp_path / "run.har").exists()
    (tmp_path / "kept.har").write_text("earlier run", encoding="utf-8")
    check_output_file(tmp_path / "kept.har", "--har")
    assert (tmp_path / "kept.har").read_text(encoding="utf-8") == "earlier run"


# --- 4. serve's numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["--port", "99999"], "--port 99999 is not a TCP port"),
        (["--port", "-1"], "--port -1 is not a TCP port"),
        (["--token-lifetime", "-5"], "--token-lifetime -5"),
        (["--token-lifetime", "0"], "--token-lifetime 0"),
    ],
)
def test_serve_refuses_numbers_out_of_range(capsys: pytest.CaptureFixture[str], args: list[str], cause: str) -> None:
    refused(capsys, None, ["serve", *args], cause)


def test_a_value_argparse_cannot_parse_is_one_line_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["serve", "--port", "eighty"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    assert err.splitlines() == [
        "scimconform: error: argument --port: invalid int value: 'eighty' (see scimconform serve --help)"
    ]


# --- 5. numbers: finite and in range --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["--rate", "nan"], "--rate"),
        (["--rate", "inf/s"], "--rate"),
        (["--rate", "1" + "0" * 400], "requests per second, not inf (--rate on the command line)"),
        (["--throughput-seconds", "inf"], "not inf (--throughput-seconds on the command line)"),
        (["--throughput-seconds", "nan"], "not nan (--throughput-seconds on the command line)"),
        (["--throughput-seconds", "-1"], "(--throughput-seconds on the command line)"),
        (["--throughput-p95-ms", "nan"], "not nan (--throughput-p95-ms on the command line)"),
        (["--throughput-p95-ms=-inf"], "(--throughput-p95-ms on the command line)"),
        (["--seed", "-1"], "(--seed on the command line)"),
        (["--seed", str(2**53)], "(--seed on the command line)"),
        (["--users", "0"], "(--users on the command line)"),
    ],
)
def test_run_refuses_numbers_that_are_not_finite_or_out_of_range(
    capsys: pytest.CaptureFixture[str], target: Recorder, args: list[str], cause: str
) -> None:
    refused(capsys, target, run(target, *args), cause)


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("timeout: .nan", "timeout must be a positive number of seconds, not nan"),
        ("timeout: .inf", "timeout must be a positive number of seconds, not inf"),
        ("rate: .inf", "requests per second, not inf (rate in settings.yaml line 1)"),
        ("throughput_seconds: .nan", "throughput_seconds must be 0"),
        ("throughput_p95_ms: -.inf", "throughput_p95_ms must be a positive number"),
        ("seed: 1.0e+400", "settings.yaml line 1: setting 'seed' has an invalid value inf"),
        ("seed: 2.5", "settings.yaml line 1: setting 'seed' has an invalid value 2.5"),
        ("users: .inf", "settings.yaml line 1: setting 'users' has an invalid value"),
        ("users: true", "settings.yaml line 1: setting 'users' has an invalid value True"),
        ("timeout: 1" + "0" * 400, "settings.yaml line 1: setting 'timeout' has an invalid value"),
        ("users: 0", "users must be at least 1, not 0 (users in settings.yaml line 1)"),
    ],
)
def test_a_settings_file_number_must_be_finite_and_in_range(
    capsys: pytest.CaptureFixture[str], target: Recorder, text: str, cause: str
) -> None:
    Path("settings.yaml").write_text(text + "\n", encoding="utf-8")
    refused(capsys, target, run(target, "--config", "settings.yaml"), cause)


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["--rate", "nan"], "not nan (--rate)"),
        (["--rate", "inf"], "not inf (--rate)"),
        (["--concurrency", "0"], "(--concurrency)"),
        (["--concurrency", "100000"], "(--concurrency)"),
        (["--users", "-5"], "(--users on the command line)"),
        (["--seed", "-3"], "(--seed on the command line)"),
    ],
)
def test_load_refuses_numbers_that_are_not_finite_or_out_of_range(
    capsys: pytest.CaptureFixture[str], target: Recorder, args: list[str], cause: str
) -> None:
    refused(capsys, target, ["load", "--url", target.url, "--report-dir", "reports", *args], cause)


# --- 6. proxy and CA bundle -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxy", "cause"),
    [
        ("127.0.0.1:3128", "it does not start with http:// or https://"),
        ("not a url", "whitespace"),
        ("ftp://127.0.0.1:21", "the scheme is 'ftp'"),
        ("socks5://127.0.0.1:1080", "the scheme is 'socks5'"),
        ("http://", "it does not start with http:// or https://"),
        ("http://:3128", "it names no host"),
        ("http://127.0.0.1:99999", "invalid port"),
        ("http://127.0.0.1:port", "invalid port"),
        ("http://[::1", "its host is malformed"),
        (f"http://user:{SECRET}@127.0.0.1:0", "invalid port"),  # proxy credentials are fine, never shown
    ],
)
def test_a_malformed_proxy_is_refused(
    capsys: pytest.CaptureFixture[str], target: Recorder, proxy: str, cause: str
) -> None:
    refused(capsys, target, run(target, "--proxy", proxy), "(--proxy on the command line)", cause)


def test_a_malformed_proxy_in_the_settings_file_is_refused(
    capsys: pytest.CaptureFixture[str], target: Recorder
) -> None:
    Path("settings.yaml").write_text("proxy: gopher://127.0.0.1:70\n", encoding="utf-8")
    refused(capsys, target, run(target, "--config", "settings.yaml"), "(proxy in settings.yaml line 1)", "is 'gopher'")


@pytest.mark.parametrize(
    ("name", "content", "cause"),
    [
        ("certs", None, "is not a file"),
        ("empty.pem", "", "holds no usable PEM certificate"),
        ("notes.pem", "-----BEGIN NOTHING-----\nnot a certificate\n", "holds no usable PEM certificate"),
    ],
)
def test_an_unusable_ca_bundle_is_refused(
    capsys: pytest.CaptureFixture[str], target: Recorder, name: str, content: str | None, cause: str
) -> None:
    if content is None:
        Path(name).mkdir()
    else:
        Path(name).write_text(content, encoding="utf-8")
    refused(capsys, target, run(target, "--ca-bundle", name), f"CA bundle {name} (--ca-bundle)", cause)


@pytest.mark.skipif(not os.path.isfile("/proc/self/mem"), reason="needs Linux's /proc/self/mem")
def test_an_unreadable_ca_bundle_is_refused(capsys: pytest.CaptureFixture[str], target: Recorder) -> None:
    # Tests run as root, so file permissions cannot make a file unreadable; reading /proc/self/mem from
    # its start fails with EIO for everyone.
    refused(capsys, target, run(target, "--ca-bundle", "/proc/self/mem"), "cannot read CA bundle /proc/self/mem")


# --- 7. credentials in URLs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://scim:{secret}@{host}/scim", "http://:{secret}@{host}/scim", "scim:{secret}@{host}/scim"]
)
def test_credentials_in_the_tenant_url_are_refused(
    capsys: pytest.CaptureFixture[str], target: Recorder, url: str
) -> None:
    given = url.format(secret=SECRET, host=target.origin.removeprefix("http://"))
    argv = ["run", "--url", given, "--report-dir", "reports"]
    refused(capsys, target, argv, "(--url) holds credentials", "--token-env", "--token-file", "--oauth-token-url")


def test_credentials_in_the_settings_file_url_are_refused(capsys: pytest.CaptureFixture[str], target: Recorder) -> None:
    Path("settings.yaml").write_text(f"url: https://scim:{SECRET}@127.0.0.1:1/scim\n", encoding="utf-8")
    refused(capsys, target, ["run", "--config", "settings.yaml"], "(--url) holds credentials")


@pytest.mark.parametrize("option", ["--oauth-token-url", "--oauth-revocation-url"])
def test_credentials_in_an_oauth_endpoint_are_refused(
    capsys: pytest.CaptureFixture[str], target: Recorder, option: str
) -> None:
    endpoints = {
        "--oauth-token-url": f"{target.origin}/oauth2/token",
        "--oauth-revocation-url": f"{target.origin}/oauth2/revoke",
    }
    endpoints[option] = endpoints[option].replace("http://", f"http://client:{SECRET}@")
    oauth = [arg for flag, url in endpoints.items() for arg in (flag, url)]
    argv = run(target, "--oauth-client-id", "client", *oauth)
    refused(capsys, target, argv, f"({option}) holds credentials", "--oauth-client-id", "--oauth-secret-env")


# --- 8. headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "cause"),
    [
        (f"X-Api-Key: {SECRET}\r\nX-Injected: 1", "header X-Api-Key: its value holds CR, LF"),
        (f"X-Api-Key: a\n{SECRET}", "header X-Api-Key: its value holds CR, LF"),
        (f"X-Api-Key: {SECRET}\x00", "header X-Api-Key: its value holds"),
        (f"X-Api-Key: {SECRET}\x7f", "header X-Api-Key: its value holds"),
        (f"X-Api-Key: caf\u00e9-{SECRET}", "header X-Api-Key: its value holds"),
        ("X Api Key: value", "header name 'X Api Key' is not an HTTP token"),
        ("X-Api-K\u00e9y: value", "is not an HTTP token"),
        ("X-\x01Key: value", "header name 'X-\\x01Key' is not an HTTP token"),
        (": value", "header name '' is not an HTTP token"),
        (f"Bearer {SECRET}", "a --header is not of the form 'Name: value'"),
    ],
)
def test_a_bad_header_is_named_and_its_value_never_shown(
    capsys: pytest.CaptureFixture[str], target: Recorder, header: str, cause: str
) -> None:
    refused(capsys, target, run(target, "--header", header), cause)


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ('headers:\n  "X Api Key": value\n', "header name 'X Api Key' is not an HTTP token"),
        (f'headers:\n  X-Api-Key: "{SECRET}\\r\\nX-Injected: 1"\n', "header X-Api-Key: its value holds CR, LF"),
        (f"headers: 'X-Api-Key: {SECRET}'\n", "settings.yaml line 1: setting 'headers' has an invalid value: expected"),
    ],
)
def test_a_bad_header_in_the_settings_file_is_named(
    capsys: pytest.CaptureFixture[str], target: Recorder, text: str, cause: str
) -> None:
    Path("settings.yaml").write_text(text, encoding="utf-8")
    refused(capsys, target, run(target, "--config", "settings.yaml"), cause)


@pytest.mark.parametrize("embedded", [False, True], ids=["url", "embedded"])
def test_a_line_break_from_the_environment_is_caught_after_expansion(
    capsys: pytest.CaptureFixture[str], target: Recorder, monkeypatch: pytest.MonkeyPatch, embedded: bool
) -> None:
    monkeypatch.setenv("TENANT_KEY", f"{SECRET}\r\nX-Injected: 1")
    argv = run(target, "--header", "X-Api-Key: ${TENANT_KEY}")
    if embedded:  # no --url: the embedded server would get the header too, so it is checked just the same
        argv = ["run", "--report-dir", "reports", "--header", "X-Api-Key: ${TENANT_KEY}"]
    refused(capsys, target, argv, "header X-Api-Key: its value holds CR, LF")
    assert not Path("reports", "summary.json").exists()
