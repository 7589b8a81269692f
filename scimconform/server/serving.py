"""Serving a ReferenceServer over loopback with cheroot, a production WSGI server.

werkzeug's development server sends `Connection: close` on every response and starts a thread per
connection, so each request paid a TCP connect; cheroot keeps connections alive on a fixed thread pool,
which is how real SCIM endpoints behave and what a 1,000-user cycle needs.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from .app import ReferenceServer

_THREADS = 16
"""Enough workers for the load driver's default concurrency and Locust's workers at once."""


class ListenError(OSError):
    """The server cannot bind or listen on its address."""


@dataclass(frozen=True)
class TlsFiles:
    """A PEM certificate chain and its private key (one file may hold both)."""

    certificate: Path
    private_key: Path


class _Server(wsgi.Server):
    @staticmethod
    def bind_socket(socket_: socket.socket, bind_addr: tuple[str, int]) -> socket.socket:
        """cheroot's, except that a socket that cannot bind is closed, not left for the garbage collector."""
        try:
            bound: socket.socket = wsgi.Server.bind_socket(socket_, bind_addr)  # type: ignore[no-untyped-call]
        except OSError:
            socket_.close()
            raise
        return bound


def _server(app: ReferenceServer, host: str, port: int, tls: TlsFiles | None) -> wsgi.Server:
    server = _Server((host, port), app, numthreads=_THREADS, server_name="scimconform")
    if tls is not None:
        server.ssl_adapter = BuiltinSSLAdapter(str(tls.certificate), str(tls.private_key))
    try:
        server.prepare()
    except OSError as exc:  # cheroot folds the socket's error into a long message; give back its cause
        cause = re.search(r"\[Errno (-?\d+)\] ([^)]+)", str(exc))
        raise (ListenError(int(cause[1]), cause[2]) if cause else ListenError(str(exc))) from None
    return server


def _url(host: str, port: int, base_path: str, tls: TlsFiles | None = None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}{base_path}"


def _bound_port(server: wsgi.Server) -> int:
    address = server.bind_addr
    assert isinstance(address, tuple), "a TCP server is bound to (host, port)"
    return int(address[1])


@contextmanager
def serve_in_thread(
    app: ReferenceServer, host: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None
) -> Iterator[str]:
    """Start the server on a free loopback port (over TLS with `tls`); yield the base URL, e.g.
    http://127.0.0.1:54321/scim/v2; stop it on exit."""
    server = _server(app, host, port, tls)
    thread = threading.Thread(target=server.serve, name="scimconform-reference-server", daemon=True)
    thread.start()
    try:
        yield _url(host, _bound_port(server), app.base_path, tls)
    finally:
        server.stop()
        thread.join()


def serve_forever(app: ReferenceServer, host: str, port: int, ready: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted; `ready` hears the base URL once the port is bound."""
    server = _server(app, host, port, None)
    try:  # from here on cheroot's worker threads run: whatever happens, stop them
        if ready is not None:
            ready(_url(host, _bound_port(server), app.base_path))
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
