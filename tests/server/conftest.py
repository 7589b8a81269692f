from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from scimconform.server import DEFAULT_TOKEN, ReferenceServer

BASE_URL = "http://testserver/scim/v2"


def client_for(server: ReferenceServer, token: str | None = DEFAULT_TOKEN) -> httpx.Client:
    """In-process: requests go straight into the WSGI callable, no socket."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(transport=httpx.WSGITransport(app=server), base_url=BASE_URL, headers=headers)


@pytest.fixture
def server() -> ReferenceServer:
    return ReferenceServer()


@pytest.fixture
def client(server: ReferenceServer) -> Iterator[httpx.Client]:
    with client_for(server) as c:
        yield c


@pytest.fixture
def faulty() -> Iterator[Callable[..., httpx.Client]]:
    """A client for a fresh server with the named faults."""
    clients: list[httpx.Client] = []

    def make(*faults: str) -> httpx.Client:
        clients.append(client_for(ReferenceServer(faults=faults)))
        return clients[-1]

    yield make
    for c in clients:
        c.close()
