"""Transport: TLS verified by default (a CA bundle, --insecure with its warning, TLS 1.2 with Entra's cipher
suites reported), a forwarding proxy and an HTTPS tunnelling (CONNECT) proxy from the flag or the environment,
the rate limit, and the 25 requests/second case passing on the reference server and failing on one that
throttles."""

import http.client
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import trustme

from scimconform.client import RecordingClient
from scimconform.server import ReferenceServer, TlsFiles, serve_in_thread
from scimconform.target import Target
from tests.harness import TOKEN, run_cli
from tests.test_cli import assert_one_line_error, serving


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@contextmanager
def https_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The reference server over TLS with a certificate from a CA made now; yields its URL and the CA file."""
    authority = trustme.CA()
    tmp_path.mkdir(exist_ok=True)
    ca_file, server_pem = tmp_path / "ca.pem", tmp_path / "server.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    with serve_in_thread(ReferenceServer(token=TOKEN), tls=TlsFiles(server_pem, server_pem)) as url:
        yield url, ca_file


def test_tls_12_with_entra_ciphers_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with https_server(tmp_path) as (url, ca_file):
        outcome = run_cli(capsys, tmp_path, "--url", url, "--ca-bundle", str(ca_file), "-k", "ENTRA-TLS or CONN-001")
    assert outcome.code == 0, outcome.out
    assert outcome.names("passed") == {"ENTRA-TLS-001", "ENTRA-CONN-001"}
    steps = "".join(p.read_text() for p in (tmp_path / "allure-results").glob("*-result.json"))
    assert "Negotiated TLSv1.2 ECDHE-" in steps


def test_an_untrusted_certificate_is_one_line_and_insecure_warns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with https_server(tmp_path) as (url, _), https_server(tmp_path / "other") as (_, wrong_ca):
        refused = run_cli(capsys, tmp_path / "a", "--url", url, "--ca-bundle", str(wrong_ca), "-k", "CONN-001")
        insecure = run_cli(capsys, tmp_path / "b", "--url", url, "--insecure", "-k", "CONN-001")
    assert refused.code == 2
    assert_one_line_error(refused.err, "certificate verification failed")
    assert "--ca-bundle" in refused.err
    assert insecure.code == 0
    assert "warning: TLS certificates are not verified (--insecure)" in insecure.err


def test_a_missing_ca_bundle_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    outcome = run_cli(capsys, tmp_path, "--url", "https://127.0.0.1:1/scim", "--ca-bundle", str(tmp_path / "no"))
    assert outcome.code == 2
    assert_one_line_error(outcome.err, "is not a file")


class _Proxy(BaseHTTPRequestHandler):
    """A forwarding HTTP proxy (absolute-form requests) that remembers what went through it."""

    seen: list[str]

    def _forward(self) -> None:
        target = urlsplit(self.path)
        self.seen.append(f"{self.command} {target.path}")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(target.netloc, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
        upstream.request(self.command, target.path + (f"?{target.query}" if target.query else ""), body, headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def do_CONNECT(self) -> None:
        """Open a TCP tunnel to `host:port` and copy bytes both ways until either side closes (RFC 9110 §9.3.6)."""
        self.seen.append(f"CONNECT {self.path}")
        host, _, port = self.path.rpartition(":")
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            upstream.settimeout(None)
            self.send_response(200, "Connection established")
            self.end_headers()
            back = threading.Thread(target=_pipe, args=(upstream, self.connection), daemon=True)
            back.start()
            _pipe(self.connection, upstream)
            back.join(timeout=10)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes from `source` to `sink` until `source` has no more, then tell `sink` so."""
    with suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@contextmanager
def forwarding_proxy() -> Iterator[tuple[str, list[str]]]:
    """A loopback proxy that forwards plain-HTTP requests and tunnels CONNECT; yields its URL and what it saw."""
    seen: list[str] = []
    handler = type("Proxy", (_Proxy,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_requests_go_through_the_proxy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    with forwarding_proxy() as (proxy, seen), serve_in_thread(ReferenceServer(token=TOKEN)) as url:
        extra = ["--proxy", proxy] if how == "flag" else []
        if how == "environment":
            monkeypatch.setenv("HTTP_PROXY", proxy)
        outcome = run_cli(capsys, tmp_path, "--url", url, "-k", "ENTRA-USER-002", *extra)
    assert outcome.code == 0, outcome.err
    assert "POST /scim/v2/Users" in seen


@pytest.mark.parametrize("how", ["flag", "environment", "no-proxy"])
def test_https_is_tunnelled_through_a_connect_proxy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    with forwarding_proxy() as (proxy, seen), https_server(tmp_path) as (url, ca_file):
        extra = ["--proxy", proxy] if how == "flag" else []
        if how != "flag":
            monkeypatch.setenv("HTTPS_PROXY", proxy)
        if how == "no-proxy":
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        outcome = run_cli(capsys, tmp_path, "--url", url, "--ca-bundle", str(ca_file), "-k", "ENTRA-USER-002", *extra)
    assert outcome.code == 0, outcome.err
    assert outcome.names("passed") == {"ENTRA-USER-002"}
    # Only tunnels, all to the target: TLS runs end to end, the proxy never sees a request line.
    assert set(seen) == (set() if how == "no-proxy" else {f"CONNECT 127.0.0.1:{urlsplit(url).port}"})


def test_the_rate_limit_spaces_requests() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    client = RecordingClient(Target(base_url="https://scim.example.com/v2", token="t"), transport=transport, rate=20)
    started = time.monotonic()
    for _ in range(5):
        client.send("GET", "/Users")
    assert time.monotonic() - started >= 4 / 20


def test_the_throughput_case_reports_rate_and_latency(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with serve_in_thread(ReferenceServer(token=TOKEN)) as url:
        outcome = run_cli(capsys, tmp_path, "--url", url, "-k", "ENTRA-RATE", "--throughput-seconds", "1")
    assert outcome.code == 0, outcome.out
    assert outcome.names("passed") == {"ENTRA-RATE-001"}
    steps = "".join(p.read_text() for p in (tmp_path / "allure-results").glob("*-result.json"))
    assert "25 requests in " in steps and "p95" in steps


def throttling(app: ReferenceServer) -> Any:
    """The reference server behind a limit of 10 PATCHes per second, answered with 429."""
    sent: list[float] = []

    def wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        now = time.monotonic()
        if environ["REQUEST_METHOD"] == "PATCH":
            sent.append(now)
            if len([t for t in sent if now - t < 1]) > 10:
                start_response("429 Too Many Requests", [("Retry-After", "1")])
                return [b""]
        return app(environ, start_response)

    return wsgi


@pytest.mark.parametrize(("server", "cause"), [("throttled", "HTTP 429 to"), ("slow", "p95 latency above")])
def test_the_throughput_case_fails_on_429_and_on_latency(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, server: str, cause: str
) -> None:
    app = ReferenceServer(token=TOKEN)
    bound = "2000" if server == "throttled" else "0.001"
    with serving(throttling(app) if server == "throttled" else app) as url:
        outcome = run_cli(
            capsys, tmp_path, "--url", url.removesuffix("/scim") + "/scim/v2", "-k", "ENTRA-RATE",
            "--throughput-seconds", "1.2", "--throughput-p95-ms", bound,
        )  # fmt: skip
    assert outcome.code == 1
    (case,) = outcome.summary["cases"]
    assert case["status"] == "failed" and cause in case["message"] and "kept up with at" in case["message"]
