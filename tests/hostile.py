"""Hostile targets: a loopback HTTP server that forwards to a reference server, except that requests a
`Sabotage` picks get a broken answer instead — a hang, a cut connection, a lie about the body, 50 MB.

Forwarding keeps the rest of the run real: the preflight passes, the ledger's cleanup reaches the
reference server, and a test can count what the run left there. It speaks just enough HTTP/1.1 for
the harness's client, over raw sockets so that it can also break the protocol.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import socket
import socketserver
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus
from urllib.parse import parse_qsl, quote_plus, unquote_plus, urlencode

import httpx

from scimconform.server import REVOCATION_PATH, TOKEN_PATH

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


def leaky_oauth(aliases: dict[str, str], disguise: Callable[[str], str], refuse_creates: bool = False) -> Sabotage:
    """An OAuth-protected server that hands every credential it sees back to the client, as careless servers
    do; use it with `picks=everything`.

    The token endpoint hands out each token disguised (`disguise` gives it characters that need escaping),
    repeats it in another field and a header, and echoes the request's headers and form body, raw and
    decoded. Every other answer echoes the request's Authorization and X-Api-Key headers in its own headers;
    with `refuse_creates`, POST /Users is refused with them in the error's detail. Bodies rotate through
    four JSON encoders: ASCII escapes, UTF-8 as is, `/` as `\\/`, and .NET's (`system_text_json`).

    `aliases` maps what the client sends to what the upstream knows, in bearer tokens, Basic credentials and
    form fields: each disguised token to the upstream's, and whatever the test adds (a client secret the
    upstream could not take, say)."""
    encoders: Iterator[Callable[[object], str]] = itertools.cycle(
        [
            json.dumps,
            partial(json.dumps, ensure_ascii=False),
            lambda body: json.dumps(body).replace("/", "\\/"),
            lambda body: _NET_TOKENS.sub(_net_escape, json.dumps(body)),
        ]
    )

    def sabotage(connection: Connection) -> None:
        request = connection.request
        sent, key = request.headers.get("authorization", ""), request.headers.get("x-api-key", "")
        form, received = request.body.decode(), dict(request.headers)
        if sent.startswith("Bearer "):
            request.headers["authorization"] = "Bearer " + aliases.get(sent[7:], sent[7:])
        if sent.startswith("Basic "):  # RFC 6749 §2.3.1: base64 of the form-encoded id and secret
            client, _, secret = base64.b64decode(sent[6:]).decode().partition(":")
            pair = f"{client}:{quote_plus(aliases.get(unquote_plus(secret), unquote_plus(secret)))}"
            request.headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        if request.path in (TOKEN_PATH, REVOCATION_PATH):
            request.body = urlencode([(k, aliases.get(v, v)) for k, v in parse_qsl(form)]).encode()
        echo = [("X-Echo-Authorization", sent), ("X-Echo-Api-Key", key)]
        if refuse_creates and creates_users(request):
            detail = f"refused: Authorization {sent}, X-Api-Key {key}"
            error = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", "detail": detail}
            connection.send(400, [("Content-Type", "application/scim+json"), *echo], next(encoders)(error).encode())
            return
        answer = connection.forward()
        if request.path != TOKEN_PATH:
            connection.send(answer.status, [*answer.headers, *echo], answer.body)
            return
        body = json.loads(answer.body)
        if "access_token" in body:
            token = disguise(body["access_token"])
            aliases[token] = body["access_token"]
            body |= {"access_token": token, "note": f"your token is {token}"}
            echo.append(("X-Issued-Token", token))
        body["echo"] = {"headers": received, "form": form, "fields": dict(parse_qsl(form))}
        connection.send(answer.status, [*answer.headers, *echo, ("X-Echo-Form", form)], next(encoders)(body).encode())

    return sabotage


# In json.dumps's ASCII output: an escaped backslash (kept), a \u escape, an escaped quote, or a character
# System.Text.Json escapes and Python's json does not. None of them occurs outside strings.
_NET_TOKENS = re.compile(r'\\\\|\\u([0-9a-f]{4})|\\"|[&\'+<>`]')


def _net_escape(match: re.Match[str]) -> str:
    if match[0] == "\\\\":
        return match[0]
    code = int(match[1], 16) if match[1] else ord(match[0][-1])
    return f"\\u{code:04X}"


def system_text_json(text: str) -> str:
    """`text` as a JSON string's contents the way .NET's System.Text.Json writes it by default
    (JavaScriptEncoder.Default): a quote, `&'+<>` and backtick, and all non-ASCII as upper-case `\\uXXXX`."""
    return _NET_TOKENS.sub(_net_escape, json.dumps(text)[1:-1])


# -- foreign data: fronts that aim the run at resources it did not create (test_foreign_data.py) --------

FRONT_MARK = "x-hostile-front"
"""A header the front adds to each request it forwards, so the upstream can tell what came round it."""
Rule = tuple[Picks, Sabotage]


def forward(connection: Connection) -> None:
    """Pass the request on and the answer back, unchanged."""
    answer = connection.forward()
    connection.send(answer.status, answer.headers, answer.body)


@dataclass
class Front:
    """A sabotage for `picks=everything`: records every request as it arrived, marks it as forwarded by the
    front, and hands it to the first rule that picks it; the rest are forwarded. `rules` may change mid-test."""

    rules: list[Rule] = field(default_factory=list)
    seen: list[Request] = field(default_factory=list)

    def __call__(self, connection: Connection) -> None:
        request = connection.request
        self.seen.append(Request(request.method, request.target, dict(request.headers), request.body))
        request.headers[FRONT_MARK] = "1"
        for picks, sabotage in list(self.rules):
            if picks(request):
                sabotage(connection)
                return
        forward(connection)


def collection(request: Request) -> str | None:
    """`Users` or `Groups` when the request names that collection itself (not one resource in it)."""
    name = request.path.rstrip("/").rsplit("/", 1)[-1]
    return name if name in ("Users", "Groups") else None


def filtered_lists(request: Request) -> bool:
    """GET /Users or /Groups with a filter: Entra's match queries, and a ledger's lookups."""
    query = request.target.partition("?")[2]
    return request.method == "GET" and collection(request) is not None and "filter" in dict(parse_qsl(query))


def creates(request: Request) -> bool:
    """POST /Users or /Groups."""
    return request.method == "POST" and collection(request) is not None


def deletes(request: Request) -> bool:
    return request.method == "DELETE"


def repeated(picks: Picks) -> Picks:
    """`picks`, but only from the second time the same request comes: the first match query before a create
    is answered truthfully, the same query asked again (a lookup, a verification) meets the sabotage."""
    seen: set[str] = set()
    lock = threading.Lock()

    def pick(request: Request) -> bool:
        if not picks(request):
            return False
        key = f"{request.method} {request.target}"
        with lock:
            again = key in seen
            seen.add(key)
        return again

    return pick


def every(n: int, picks: Picks) -> Picks:
    """Every n-th request that `picks` picks, starting with the first."""
    counter = itertools.count()
    lock = threading.Lock()

    def pick(request: Request) -> bool:
        if not picks(request):
            return False
        with lock:
            return next(counter) % n == 0

    return pick


def filter_ignored(connection: Connection) -> None:
    """A list answer that ignores the filter: the whole collection, whatever was asked."""
    request = connection.request
    path, _, query = request.target.partition("?")
    kept = [(name, value) for name, value in parse_qsl(query, keep_blank_values=True) if name != "filter"]
    request.target = path + (f"?{urlencode(kept)}" if kept else "")
    forward(connection)


def listing_also(extra: Callable[[str], list[dict[str, object]]]) -> Sabotage:
    """List answers that also hold `extra(collection)` (other tenants' resources, say), counted in
    totalResults, whatever the filter asked for."""

    def sabotage(connection: Connection) -> None:
        answer = connection.forward()
        name = collection(connection.request)
        try:
            document = json.loads(answer.body)
        except ValueError:
            document = None
        if answer.status != 200 or name is None or not isinstance(document, dict):
            connection.send(answer.status, answer.headers, answer.body)
            return
        added = extra(name)
        document["Resources"] = [*(document.get("Resources") or []), *added]
        document["totalResults"] = int(document.get("totalResults") or 0) + len(added)
        document["itemsPerPage"] = len(document["Resources"])
        connection.send(answer.status, answer.headers, json.dumps(document).encode())

    return sabotage


def body_changed(change: Callable[[dict[str, object]], dict[str, object]]) -> Sabotage:
    """Forward the request with its JSON body changed by `change`, e.g. a userName someone else holds."""

    def sabotage(connection: Connection) -> None:
        request = connection.request
        request.body = json.dumps(change(json.loads(request.body))).encode()
        forward(connection)

    return sabotage


def forwarded_then_reset(connection: Connection) -> None:
    """The request is carried out; its answer is lost to a TCP reset."""
    connection.forward()
    reset(connection)


def deeply_nested(depth: int = 50_000) -> Sabotage:
    """Where the upstream answers 200, the answer is valid JSON nested `depth` arrays deep."""

    def sabotage(connection: Connection) -> None:
        answer = connection.forward()
        if answer.status != 200:
            connection.send(answer.status, answer.headers, answer.body)
            return
        connection.send(200, [("Content-Type", "application/scim+json")], b"[" * depth + b"]" * depth)

    return sabotage


def delete_fails(connection: Connection) -> None:
    """DELETE is refused with a 500, and the resource stays."""
    error = b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500","detail":"try again later"}'
    connection.send(500, [("Content-Type", "application/scim+json")], error)


def listing_twice(fakes: set[str]) -> Sabotage:
    """List answers that show every resource twice, the second time under an id that exists nowhere (its
    real id reversed, collected in `fakes`): two candidates for every lookup."""

    def sabotage(connection: Connection) -> None:
        answer = connection.forward()
        try:
            document = json.loads(answer.body)
        except ValueError:
            document = None
        if answer.status != 200 or not isinstance(document, dict):
            connection.send(answer.status, answer.headers, answer.body)
            return
        found = [r for r in document.get("Resources") or [] if isinstance(r, dict) and isinstance(r.get("id"), str)]
        doubles = [{**r, "id": r["id"][::-1]} for r in found]
        fakes.update(d["id"] for d in doubles)
        document["Resources"] = [*found, *doubles]
        document["totalResults"] = len(document["Resources"])
        document["itemsPerPage"] = len(document["Resources"])
        connection.send(answer.status, answer.headers, json.dumps(document).encode())

    return sabotage
