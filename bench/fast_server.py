"""A minimal HTTP/1.1 keep-alive server on a free loopback port answering every request with one canned
SCIM ListResponse: the endpoint on which `wrk` and the load driver are compared (bench/load_throughput.py).

Run: python -m bench.fast_server; prints its base URL, then serves until killed.
"""

from __future__ import annotations

import asyncio

BODY = b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/scim+json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


class CannedAnswers(asyncio.Protocol):
    """Answers each complete request head (bodies are read by Content-Length and ignored)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            length = 0
            if (at := head.find(b"content-length:")) >= 0:
                length = int(head[at + 15 :].split(b"\r\n", 1)[0])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(RESPONSE)


async def main() -> None:
    server = await asyncio.get_running_loop().create_server(CannedAnswers, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}/scim/v2", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
