"""The recording reverse proxy: Entra's Tenant URL points here, every request goes on to the real endpoint
unchanged and every answer comes back unchanged, and each exchange is kept (in memory only, with its
secrets) until the recording is written, redacted.

It is served by cheroot, the WSGI server the reference server runs on (`scimconform.server.serving`).
Hop-by-hop headers (RFC 9110 §7.6.1: Connection and the headers it names, Keep-Alive, Proxy-Connection, TE,
Trailer, Transfer-Encoding, Upgrade, Proxy-Authenticate, Proxy-Authorization) belong to one connection and
are not forwarded; `Host` names the upstream, as a request to it must (RFC 9110 §7.2); everything else,
`Location` included, passes as it came. Bodies pass byte for byte, still compressed when they came so.
Nothing leaves the upstream's path: a request whose path has a segment that decodes (once or more) to `.` or
`..` is refused, and so is one whose URL, as built for the upstream, is outside its path.
"""

from __future__ import annotations

import gzip
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from scimconform.client import describe_transport_error
from scimconform.errors import ConfigError
from scimconform.target import Target, climbs

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }
)
_REQUEST_ONLY = frozenset({"host", "content-length"})  # the client sets them for the upstream request
_THREADS = 8  # Entra sends one request at a time per job; a few spare for probes

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(kw_only=True)
class RawExchange:
    """One exchange as it passed, secrets and all: never written anywhere as it is."""

    started: datetime
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""
    elapsed_ms: float = 0.0
    error: str | None = None

    def response_text(self) -> str:
        """The answer's body as text, decompressed when it came gzip- or deflate-encoded (RFC 9110 §8.4.1)."""
        coding = next((v.strip().lower() for k, v in self.response_headers if k.lower() == "content-encoding"), "")
        try:
            if coding in ("gzip", "x-gzip"):
                return gzip.decompress(self.response_body).decode("utf-8", errors="replace")
            if coding == "deflate":
                return zlib.decompress(self.response_body).decode("utf-8", errors="replace")
        except (OSError, zlib.error, EOFError):
            return f"[{len(self.response_body)} bytes, {coding}-encoded, not decodable]"
        if coding and coding != "identity":
            return f"[{len(self.response_body)} bytes, {coding}-encoded, not decoded]"
        return self.response_body.decode("utf-8", errors="replace")


def _forwardable(headers: Iterable[tuple[str, str]], *, request: bool) -> list[tuple[str, str]]:
    """The end-to-end headers: hop-by-hop ones, and those `Connection` names, stay behind."""
    pairs = list(headers)
    named = {token.strip().lower() for k, v in pairs if k.lower() == "connection" for token in v.split(",")}
    dropped = _HOP_BY_HOP | named | (_REQUEST_ONLY if request else frozenset())
    return [(k, v) for k, v in pairs if k.lower() not in dropped]


class RecordingProxy:
    """The WSGI application: forwards to `upstream` (a Tenant URL) what arrives under its path."""

    def __init__(self, upstream: str, *, verify: ssl.SSLContext | bool = True, timeout: float = 60.0) -> None:
        parts = urlsplit(upstream)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.base_path = parts.path.rstrip("/")
        self._upstream = Target(base_url=upstream.rstrip("/"))
        self.exchanges: list[RawExchange] = []
        self._lock = threading.Lock()
        self._http = httpx.Client(verify=verify, timeout=timeout, follow_redirects=False, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        uri = str(environ.get("REQUEST_URI") or environ.get("PATH_INFO") or "/")
        path = uri.split("?", 1)[0]
        outside = path != self.base_path and not path.startswith(self.base_path + "/")
        if outside or climbs(path):
            return _refused(start_response, f"forwards only what is under {self.base_path or '/'}, no dot segments")
        exchange = RawExchange(
            started=datetime.now(UTC),
            method=str(environ["REQUEST_METHOD"]),
            url=self.origin + uri,
            request_headers=list(_request_headers(environ)),
            request_body=_request_body(environ),
        )
        headers = _forwardable(exchange.request_headers, request=True)
        sized = any(k.lower() == "content-length" for k, _ in exchange.request_headers)
        content = exchange.request_body if exchange.request_body or sized else None
        request = self._http.build_request(exchange.method, exchange.url, headers=headers, content=content)
        if self._upstream.escape(request.url) is not None:  # the path as httpx resolved it, as it would go
            return _refused(start_response, f"forwards only what is under {self.base_path or '/'}")
        sent = {k.lower() for k, _ in headers} | _REQUEST_ONLY
        for added in [name for name in request.headers if name.lower() not in sent]:
            del request.headers[added]  # httpx's defaults (User-Agent, Accept…): what Entra did not send stays unsent
        with self._lock:
            self.exchanges.append(exchange)
        return self._forward(exchange, request, start_response)

    def _forward(self, exchange: RawExchange, request: httpx.Request, start_response: StartResponse) -> list[bytes]:
        began = time.perf_counter()
        try:
            response = self._http.send(request, stream=True)
            try:
                body = b"".join(response.iter_raw())
            finally:
                response.close()
        except httpx.HTTPError as exc:
            exchange.error = describe_transport_error(exc, self._http.timeout.read)
            exchange.elapsed_ms = (time.perf_counter() - began) * 1000
            text = f"scimconform record: the upstream did not answer: {exchange.error}\n".encode()
            start_response("502 Bad Gateway", [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
            return [text]
        exchange.elapsed_ms = (time.perf_counter() - began) * 1000
        exchange.status, exchange.response_body = response.status_code, body
        exchange.response_headers = [(k, v) for k, v in response.headers.multi_items()]
        start_response(
            f"{response.status_code} {response.reason_phrase}".strip(),
            _forwardable(exchange.response_headers, request=False),
        )
        return [body]


def _refused(start_response: StartResponse, why: str) -> list[bytes]:
    text = f"scimconform record {why}\n".encode()
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
    return [text]


class _Repeated(dict[bytes, bytes]):
    """Request headers as cheroot reads them, but a repeated one joined rather than replaced: cheroot joins
    only those of its own list and keeps the last of any other (a second Cookie, say), and a WSGI environ
    holds one value per name. Joined with ", " (RFC 9110 §5.3), Cookie with "; " (RFC 6265 §5.4)."""

    def __setitem__(self, key: bytes, value: bytes) -> None:
        joined_already = cheroot_server.comma_separated_headers  # type: ignore[attr-defined]  # not in the stubs
        if key in self and key not in joined_already:
            value = self[key] + (b"; " if key.lower() == b"cookie" else b", ") + value
        super().__setitem__(key, value)


class _HeaderReader(cheroot_server.HeaderReader):
    def __call__(self, rfile: Any, hdict: dict[bytes, bytes] | None = None) -> dict[bytes, bytes]:
        read: dict[bytes, bytes] = super().__call__(rfile, _Repeated())
        if hdict is None:
            return read
        hdict.update(read)
        return hdict


class _Request(cheroot_server.HTTPRequest):
    header_reader = _HeaderReader()


class _Connection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _Request


def _request_headers(environ: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """The request's headers from the WSGI environ (PEP 3333 keeps them as HTTP_*, and the two CONTENT_ ones)."""
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            yield key[5:].replace("_", "-").title(), str(value)
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            yield key.replace("_", "-").title(), str(value)


def _request_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        return bytes(stream.read(int(length)))
    return bytes(stream.read()) if environ.get("wsgi.input_terminated") else b""


@dataclass(frozen=True)
class Listener:
    """Where the proxy listens; with a certificate and its key, over TLS."""

    host: str
    port: int
    certificate: Path | None = None
    private_key: Path | None = None


def _server(proxy: RecordingProxy, listener: Listener) -> wsgi.Server:
    server = wsgi.Server((listener.host, listener.port), proxy, numthreads=_THREADS, server_name="scimconform-record")
    server.ConnectionClass = _Connection
    if listener.certificate is not None and listener.private_key is not None:
        try:
            server.ssl_adapter = BuiltinSSLAdapter(str(listener.certificate), str(listener.private_key))
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConfigError(
                f"--certificate {listener.certificate} with --private-key {listener.private_key}: cannot load them "
                f"({getattr(exc, 'strerror', None) or exc}): give a PEM certificate chain and its PEM private key"
            ) from None
    try:
        server.prepare()
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ConfigError(
            f"--listen {listener.host}:{listener.port}: cannot listen there ({exc}): choose a free port, "
            "or check --certificate and --private-key"
        ) from None
    return server


def tenant_url(proxy: RecordingProxy, server: wsgi.Server, listener: Listener) -> str:
    """The URL Entra's Tenant URL should point at: this proxy, with the upstream's path."""
    address = server.bind_addr
    port = address[1] if isinstance(address, tuple) else listener.port
    host = f"[{listener.host}]" if ":" in listener.host else listener.host
    scheme = "https" if listener.certificate is not None else "http"
    return f"{scheme}://{host}:{port}{proxy.base_path}"


@contextmanager
def proxy_in_thread(proxy: RecordingProxy, listener: Listener) -> Iterator[str]:
    """Serve the proxy in a thread; yield its Tenant URL; stop it on exit."""
    server = _server(proxy, listener)
    thread = threading.Thread(target=server.serve, name="scimconform-record", daemon=True)
    thread.start()
    try:
        yield tenant_url(proxy, server, listener)
    finally:
        server.stop()
        thread.join()


def serve_until_interrupted(proxy: RecordingProxy, listener: Listener, ready: Callable[[str], object]) -> None:
    """Serve until Ctrl-C (or SIGTERM, as the caller arranges); `ready` hears the Tenant URL once listening."""
    server = _server(proxy, listener)
    try:
        ready(tenant_url(proxy, server, listener))
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
