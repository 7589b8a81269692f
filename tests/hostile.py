"""Hostile targets: a loopback HTTP server that forwards to a reference server, except that requests a
`Sabotage` picks get a broken answer instead — a hang, a cut connection, a lie about the body, 50 MB.

Forwarding keeps the rest of the run real: the preflight passes, the ledger's cleanup reaches the
reference server, and a test can count what the run left there. It speaks just enough HTTP/1.1 for
the harness's client, over raw sockets so that it can also break the protocol.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus

import httpx

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"})


@dataclass
class Request:
    """What the client sent."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass
class Answer:
    """What the upstream server said, for sabotages that distort a real answer."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Connection:
    """One client connection: the request, the upstream, and ways to answer (or not)."""

    def __init__(
        self, sock: socket.socket, request: Request, upstream: httpx.Client, stopping: threading.Event
    ) -> None:
        self.sock = sock
        self.request = request
        self._upstream = upstream
        self._stopping = stopping

    def forward(self) -> Answer:
        request = self.request
        headers = {k: v for k, v in request.headers.items() if k not in HOP_BY_HOP and k != "host"}
        response = self._upstream.request(request.method, request.target, headers=headers, content=request.body)
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in HOP_BY_HOP]
        return Answer(response.status_code, kept, response.content)

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes, length: int | None = None) -> None:
        """Write a whole answer; `length` lets the Content-Length header lie about the body."""
        self.send_head(status, [*headers, ("Content-Length", str(len(body) if length is None else length))])
        self.sock.sendall(body)

    def send_head(self, status: int, headers: list[tuple[str, str]]) -> None:
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", *(f"{k}: {v}" for k, v in headers)]
        self.sock.sendall(("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode("latin-1"))

    def hang(self) -> None:
        """Answer nothing until the client gives up (closes) or the server stops."""
        self.sock.settimeout(0.2)
        while not self._stopping.is_set():
            try:
                if not self.sock.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return


Sabotage = Callable[[Connection], None]
Picks = Callable[[Request], bool]


def creates_users(request: Request) -> bool:
    """The default pick: Entra's POST /Users, so that both a case under test and a setup step meet it."""
    return request.method == "POST" and request.path.endswith("/Users")


def everything(request: Request) -> bool:
    return True


def nothing(request: Request) -> bool:
    """An honest front: everything is forwarded."""
    return False


@dataclass
class HostileServer:
    """Counts what it sabotaged, per request line, so tests can see retries."""

    sabotage: Sabotage
    picks: Picks = creates_users
    sabotaged: list[str] = field(default_factory=list)


def _read_request(stream: socketserver.StreamRequestHandler) -> Request | None:
    line = stream.rfile.readline(65537).decode("latin-1").strip()
    if not line:
        return None
    method, target, _ = line.split(" ", 2)
    headers: dict[str, str] = {}
    while (header := stream.rfile.readline(65537).decode("latin-1").strip()) != "":
        name, _, value = header.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.rfile.read(int(headers.get("content-length", "0")))
    return Request(method, target, headers, body)


@contextmanager
def hostile_server(upstream_url: str, server: HostileServer, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve `server` on a free loopback port in front of `upstream_url` (over TLS when given a context);
    yield the matching base URL."""
    origin, _, base_path = upstream_url.partition("://")[2].partition("/")
    stopping = threading.Event()
    upstream = httpx.Client(base_url=f"http://{origin}", timeout=10)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            request = _read_request(self)
            if request is None:
                return
            connection = Connection(self.connection, request, upstream, stopping)
            try:
                if server.picks(request):
                    server.sabotaged.append(f"{request.method} {request.path}")
                    server.sabotage(connection)
                else:
                    answer = connection.forward()
                    connection.send(answer.status, answer.headers, answer.body)
            except OSError:
                pass  # the client hung up first, as clients of a hostile server do

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

        def get_request(self) -> tuple[socket.socket, object]:
            # A client that rejects the certificate fails the handshake here: an OSError, which
            # socketserver drops without a word, as it should.
            sock, address = super().get_request()
            return (tls.wrap_socket(sock, server_side=True) if tls else sock), address

    with Server(("127.0.0.1", 0), Handler) as tcp:
        thread = threading.Thread(target=tcp.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        try:
            yield f"{'https' if tls else 'http'}://127.0.0.1:{tcp.server_address[1]}/{base_path}"
        finally:
            stopping.set()
            tcp.shutdown()
            thread.join()
            upstream.close()


# -- sabotages: each is one way a real server has been seen to misbehave ------------------------------


def html_500(connection: Connection) -> None:
    """A proxy or framework error page instead of a SCIM answer."""
    page = b"<html><body><h1>500 Internal Server Error</h1><p>Something went wrong.</p></body></html>"
    connection.send(500, [("Content-Type", "text/html")], page)


def not_json(connection: Connection) -> None:
    """The user is created, but the answer says so in prose."""
    connection.forward()
    connection.send(201, [("Content-Type", "application/scim+json")], b"User created successfully")


def truncated_json(connection: Connection) -> None:
    """The user is created; the answer promises its whole body, sends half, and hangs up."""
    answer = connection.forward()
    connection.send(answer.status, answer.headers, answer.body[: len(answer.body) // 2], length=len(answer.body))


def cut_mid_headers(connection: Connection) -> None:
    """The user is created; the connection closes in the middle of the status line's headers."""
    connection.forward()
    connection.sock.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/scim+js")


def reset(connection: Connection) -> None:
    """The connection is torn down with a TCP reset before any answer, as a crashing server's would be."""
    connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.sock.close()


def never_answers(connection: Connection) -> None:
    """The user is created; the answer never comes (the client's timeout must end the wait)."""
    connection.forward()
    connection.hang()


def redirect_loop(connection: Connection) -> None:
    """A redirect to the very same URL: a client that follows redirects would never stop."""
    connection.send(302, [("Location", connection.request.target)], b"")


FIFTY_MB = 50 * 1024 * 1024


def fifty_megabytes(connection: Connection) -> None:
    """The user is created; the answer is a 50 MB JSON document, written in 1 MB chunks."""
    answer = connection.forward()
    chunk = b" " * (1024 * 1024)
    head = answer.body.rstrip()[:-1] + b', "padding": "'
    tail = b'"}'
    connection.send_head(answer.status, [*answer.headers, ("Content-Length", str(len(head) + FIFTY_MB + len(tail)))])
    connection.sock.sendall(head)
    for _ in range(FIFTY_MB // len(chunk)):
        connection.sock.sendall(chunk)
    connection.sock.sendall(tail)


def slow_down(status: int, retry_after: str, times: int) -> Sabotage:
    """Answer `status` with Retry-After to the first `times` attempts of each request, then forward."""
    attempts: dict[str, int] = {}

    def sabotage(connection: Connection) -> None:
        key = connection.request.body.decode(errors="replace")
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] > times:
            answer = connection.forward()
            connection.send(answer.status, answer.headers, answer.body)
            return
        error = b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"%d","detail":"slow down"}'
        connection.send(
            status, [("Content-Type", "application/scim+json"), ("Retry-After", retry_after)], error % status
        )

    return sabotage
