"""`scimconform record`: the proxy forwards unchanged, the recording is redacted (no canary in any file, in any
encoding), recorded.yaml is a case `run --sequence` replays, and unseen.md lists what no bundled case sends."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from scimconform.catalogue import load_case
from scimconform.cli import main
from scimconform.client import Redactor
from scimconform.server import ReferenceServer, serve_in_thread
from scimconform.traffic.proxy import Listener, RecordingProxy, proxy_in_thread
from tests.harness import QUICK
from tests.test_secret_canary import ENCODINGS
from tests.traffic import CLIENT_ID, CLIENT_SECRET, COOKIE, GIVEN_NAME, TOKEN, record_cycle, upstream

FILES = ("traffic.har", "recorded.yaml", "unseen.md")


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("recording")
    return out, record_cycle(out)


def test_the_recording_writes_a_har_a_case_and_what_is_unseen(recording: tuple[Path, list[str]]) -> None:
    out, _ = recording
    har = json.loads((out / "traffic.har").read_text(encoding="utf-8"))
    assert har["log"]["version"] == "1.2" and len(har["log"]["entries"]) == 10
    case = load_case(out / "recorded.yaml")
    assert (case.id, case.severity, case.evidence) == ("ENTRA-REC-001", "warning", "recorded")
    assert case.identities == {"user1": "User", "group1": "Group"}
    text = (out / "recorded.yaml").read_text(encoding="utf-8")
    assert 'filter: userName eq "{user1.userName}"' in text and "path: /Users/{user1.id}" in text
    assert "- value: '{user1.id}'" in text and "left out: #1 POST" in text  # the token request is no SCIM step
    unseen = (out / "unseen.md").read_text(encoding="utf-8")
    assert "`filter name.givenName eq`" in unseen and "`content-type: application/json`" in unseen
    assert "`Replace active (string)`" not in unseen  # the default dialect sends it: seen


def test_each_secret_is_one_placeholder_everywhere(recording: tuple[Path, list[str]]) -> None:
    entries = json.loads((recording[0] / "traffic.har").read_text(encoding="utf-8"))["log"]["entries"]
    bearer = {h["value"] for e in entries[1:] for h in e["request"]["headers"] if h["name"] == "authorization"}
    assert len(bearer) == 1 and re.fullmatch(r"Bearer REDACTED-\d+", bearer.pop())
    token_form = entries[0]["request"]["postData"]["text"]
    assert re.search(r"client_secret=REDACTED-\d+", token_form)
    given = re.findall(r"REDACTED-\d+", entries[3]["request"]["url"])  # the givenName filter
    created = entries[2]["request"]["postData"]["text"]
    assert given and re.search(f'"givenName": ?"{given[0]}"', created)


def forms(secret: str) -> dict[str, str]:
    return {
        **{name: encode(secret) for name, encode in ENCODINGS.items()},
        "base64": base64.b64encode(secret.encode()).decode(),
    }


def test_no_canary_in_any_file_in_any_encoding(recording: tuple[Path, list[str]]) -> None:
    out, issued = recording
    canaries = [TOKEN, CLIENT_SECRET, COOKIE, GIVEN_NAME, *issued]
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    found = [
        f"{name} holds {canary!r} as {form}"
        for name in FILES
        for canary in canaries
        for form, text in [*forms(canary).items(), ("basic", basic)]
        if text in (out / name).read_text(encoding="utf-8")
    ]
    assert found == []


def test_the_redactor_numbers_secrets_consistently_across_encodings() -> None:
    redact = Redactor([], numbered=True)
    redact.add("first/secret", "second ü")
    assert redact("first/secret first%2Fsecret second \\u00fc") == "REDACTED-1 REDACTED-1 REDACTED-2"
    assert redact.headers({"Authorization": "Bearer third-token"}) == {"authorization": "Bearer REDACTED-3"}
    assert redact.headers({"Cookie": "a=1"}) == {"cookie": "***"}  # too short to learn: it would break text
    assert redact('{"access_token": "third-token", "refresh_token": "unknown"}') == (
        '{"access_token": "REDACTED-3", "refresh_token": "***"}'
    )


class Echo:
    """An upstream that answers with what it received, gzip-encoded, with headers a proxy must keep or drop."""

    base_path = "/scim/v2"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return echo(environ, start_response)


def echo(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    received = {k: v for k, v in environ.items() if k.startswith(("HTTP_", "CONTENT_"))}
    received["body"] = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
    body = gzip.compress(json.dumps(received).encode())
    start_response(
        "418 I'm a teapot",
        [
            ("Content-Encoding", "gzip"),
            ("Content-Length", str(len(body))),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("Location", "https://elsewhere.example/x"),
            ("Connection", "X-Hop"),
            ("X-Hop", "per-connection"),
        ],
    )
    return [body]


@pytest.fixture
def through_proxy() -> Iterator[tuple[str, RecordingProxy]]:
    with serve_in_thread(Echo()) as url:  # type: ignore[arg-type]
        proxy = RecordingProxy(url)
        with proxy_in_thread(proxy, Listener("127.0.0.1", 0)) as proxied:
            yield proxied, proxy
        proxy.close()


def test_the_proxy_forwards_requests_and_answers_unchanged(through_proxy: tuple[str, RecordingProxy]) -> None:
    proxied, proxy = through_proxy
    headers = {
        "X-Custom": "kept",
        "Connection": "X-Drop",
        "X-Drop": "per-connection",
        "Content-Type": "application/scim+json",
    }
    with httpx.Client(trust_env=False) as http:
        answer = http.post(f"{proxied}/Users?x=%22y%22", content=b'{"a": 1}', headers=headers)
    assert (answer.status_code, answer.reason_phrase) == (418, "I'm a teapot")
    received = answer.json()  # decompressed by httpx: the gzip body came through intact
    assert received["HTTP_X_CUSTOM"] == "kept" and received["body"] == '{"a": 1}'
    assert received["HTTP_HOST"] == proxy.origin.split("://")[1]  # the upstream's Host (RFC 9110 §7.2)
    assert "HTTP_X_DROP" not in received and "HTTP_USER_AGENT" in received  # httpx sent one; nothing was added
    assert answer.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert answer.headers["location"] == "https://elsewhere.example/x" and "x-hop" not in answer.headers
    assert proxy.exchanges[0].url.endswith("/scim/v2/Users?x=%22y%22")


def test_a_request_outside_the_upstream_path_is_not_forwarded(through_proxy: tuple[str, RecordingProxy]) -> None:
    proxied, proxy = through_proxy
    assert httpx.get(proxied.removesuffix("/scim/v2") + "/admin", trust_env=False).status_code == 404
    assert proxy.exchanges == []


def raw_request(url: str, target: str, headers: list[tuple[str, str]]) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    connection.putrequest("GET", target, skip_accept_encoding=True)
    for name, value in headers:
        connection.putheader(name, value)
    connection.endheaders()
    try:
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize("segment", ["..", "%2e%2e", "%2E%2e", "%252e%252e", ".", "..%2f..%2f"])
def test_the_proxy_forwards_nothing_outside_the_upstream_path(
    through_proxy: tuple[str, RecordingProxy], segment: str
) -> None:
    """P1 #4."""
    url, proxy = through_proxy
    status, _ = raw_request(url, f"/scim/v2/{segment}/admin", [])
    assert status == 404 and proxy.exchanges == []


def test_the_proxy_keeps_repeated_request_headers(through_proxy: tuple[str, RecordingProxy]) -> None:
    """cheroot keeps the last of a repeated header; the proxy joins them (P3 #13)."""
    url, proxy = through_proxy
    headers = [("Cookie", "a=1"), ("Cookie", "b=2"), ("X-Rep", "1"), ("X-Rep", "2"), ("Accept", "x/y")]
    status, _ = raw_request(url, "/scim/v2/Users", [*headers, ("Accept", "z/w")])
    passed = dict(proxy.exchanges[0].request_headers)  # as recorded, and as forwarded
    assert status == 418 and passed["Cookie"] == "a=1; b=2" and passed["X-Rep"] == "1, 2"
    assert passed["Accept"] == "x/y, z/w"


def test_record_runs_until_ctrl_c_and_then_writes_the_recording(tmp_path: Path) -> None:
    with serve_in_thread(ReferenceServer(token=TOKEN)) as url:
        command = [sys.executable, "-m", "scimconform.cli", "record", "--listen", "127.0.0.1:0", "--upstream", url]
        command += ["--out", str(tmp_path), "--personal", "name.givenName"]
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
            try:
                assert process.stdout is not None
                banner = re.search(r"Tenant URL at (http://127\.0\.0\.1:\d+/scim/v2);", process.stdout.readline())
                assert banner is not None
                answer = httpx.get(f"{banner[1]}/Users", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
                assert answer.status_code == 200
                process.send_signal(signal.SIGINT)
                out, err = process.communicate(timeout=60)
            finally:
                process.kill()
    assert process.returncode == 0 and "Traceback" not in err, err
    assert "1 exchanges, secrets redacted" in out and all((tmp_path / name).is_file() for name in FILES)
    assert TOKEN not in (tmp_path / "traffic.har").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upstream", "ftp://x"], "--upstream is not a usable URL"),
        (["--upstream", "https://u:p@x/scim"], "user:password@"),
        (["--upstream", "http://127.0.0.1:9/scim", "--listen", "nohost"], "--listen nohost: give HOST:PORT"),
        (["--upstream", "http://127.0.0.1:9/scim", "--certificate", "c.pem"], "--certificate and --private-key"),
    ],
)
def test_record_usage_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    assert main(["record", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def run_sequence(
    capsys: pytest.CaptureFixture[str], report_dir: Path, sequence: Path, *faults: str
) -> tuple[int, dict[str, Any]]:
    """`run --sequence FILE -k ENTRA-REC` against a fresh reference server with these faults."""
    with pytest.MonkeyPatch.context() as patch, serve_in_thread(upstream(*faults)) as url:
        patch.setenv("SCIM_TOKEN", TOKEN)
        code = main(
            [
                "run",
                "--url",
                url,
                "--report-dir",
                str(report_dir),
                "--sequence",
                str(sequence),
                "-k",
                "ENTRA-REC",
                *QUICK,
            ]
        )
    capsys.readouterr()
    results = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))["cases"]
    return code, {case["id"]: case for case in results}


def test_run_sequence_replays_the_recording_and_passes_on_a_clean_server(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, recording: tuple[Path, list[str]]
) -> None:
    code, cases = run_sequence(capsys, tmp_path, recording[0] / "recorded.yaml")
    assert code == 0 and cases["ENTRA-REC-001"]["status"] == "passed"


def test_run_sequence_shows_a_fault_as_a_failure_of_the_recorded_case(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, recording: tuple[Path, list[str]]
) -> None:
    code, cases = run_sequence(capsys, tmp_path, recording[0] / "recorded.yaml", "pascalcase-op-rejected")
    recorded = cases["ENTRA-REC-001"]
    assert recorded["status"] == "warning"  # a recorded case is a warning: reported, the exit code stays 0
    assert code == 0 and re.search(r"PATCH /scim/v2/Users/\S+ → 400", recorded["message"])


def test_run_sequence_reports_a_metadata_mistake_with_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, recording: tuple[Path, list[str]]
) -> None:
    broken = tmp_path / "broken.yaml"
    text = (recording[0] / "recorded.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("severity: warning", "severity: sometimes"), encoding="utf-8")
    assert main(["run", "--sequence", str(broken), "--report-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert re.search(rf"{re.escape(str(broken))} line \d+: field severity", err) and len(err.strip().splitlines()) == 1
