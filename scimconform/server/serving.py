"""Serving a ReferenceServer over loopback with werkzeug's threaded development server."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from werkzeug.serving import WSGIRequestHandler, make_server

from .app import ReferenceServer


class _QuietHandler(WSGIRequestHandler):
    """An embedded server must not write a line per request into the test output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _url(host: str, port: int, base_path: str, tls: ssl.SSLContext | None = None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}{base_path}"


@contextmanager
def serve_in_thread(
    app: ReferenceServer, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
) -> Iterator[str]:
    """Start werkzeug's threaded server on a free loopback port (over TLS with a context); yield the base
    URL, e.g. http://127.0.0.1:54321/scim/v2; shut down on exit."""
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler, ssl_context=tls)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="scimconform-reference-server", daemon=True
    )
    thread.start()
    try:
        yield _url(host, server.server_port, app.base_path, tls)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def serve_forever(app: ReferenceServer, host: str, port: int, ready: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted; `ready` hears the base URL once the port is bound.

    werkzeug's serve_forever turns Ctrl-C into a clean shutdown.
    """
    server = make_server(host, port, app, threaded=True)
    if ready is not None:
        ready(_url(host, server.server_port, app.base_path))
    server.serve_forever()
