"""A delaying TCP proxy on loopback, to stand in for a target across the internet.

Every chunk read on one side is written to the other `rtt / 2` seconds later, in both directions, while
the next chunks are already on their way: latency without a bandwidth limit, as on a long link. Only
127.0.0.1 is ever proxied. Used by bench/latency.py and by the test that compares `--workers` verdicts.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit


@contextmanager
def delaying_proxy(url: str, rtt_ms: float) -> Iterator[str]:
    """A proxy in front of the loopback `url` adding `rtt_ms` of round-trip time; yields `url` through it."""
    parts = urlsplit(url)
    if parts.hostname != "127.0.0.1" or parts.port is None:
        raise ValueError(f"only a 127.0.0.1 URL with a port is proxied, not {url}")
    listener = socket.create_server(("127.0.0.1", 0))
    links: list[_Link] = []
    upstream = (parts.hostname, parts.port)
    accepting = threading.Thread(target=_accept, args=(listener, upstream, rtt_ms / 2000, links), daemon=True)
    accepting.start()
    try:
        yield parts._replace(netloc=f"127.0.0.1:{listener.getsockname()[1]}").geturl()
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        accepting.join()
        for link in links:
            link.close()


def _accept(listener: socket.socket, upstream: tuple[str, int], delay: float, links: list[_Link]) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:  # the listener was closed: the proxy is done
            return
        links.append(_Link(client, socket.create_connection(upstream), delay))


class _Link:
    """One proxied connection: a delayed pipe each way; both sockets close once both directions ended."""

    def __init__(self, client: socket.socket, server: socket.socket, delay: float) -> None:
        self._sockets = (client, server)
        for sock in self._sockets:  # no Nagle: a small chunk waiting for a delayed ACK would add 40 ms
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._ended = 0
        self._lock = threading.Lock()
        for source, sink in ((client, server), (server, client)):
            chunks: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
            threading.Thread(target=self._read, args=(source, chunks, delay), daemon=True).start()
            threading.Thread(target=self._write, args=(sink, chunks), daemon=True).start()

    @staticmethod
    def _read(source: socket.socket, chunks: queue.SimpleQueue[tuple[float, bytes]], delay: float) -> None:
        data = b"-"
        while data:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            chunks.put((time.monotonic() + delay, data))  # b"": the end, delayed like the data before it

    def _write(self, sink: socket.socket, chunks: queue.SimpleQueue[tuple[float, bytes]]) -> None:
        while True:
            due, data = chunks.get()
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                if data:
                    sink.sendall(data)
                    continue
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            break
        with self._lock:
            self._ended += 1
            if self._ended == 2:
                self.close()

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()
