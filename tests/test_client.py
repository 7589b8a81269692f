"""The recording client: Entra's headers and query encoding, redaction, reproducers, transport errors."""

import json

import httpx

from scimconform.client import RecordingClient
from scimconform.target import Target

SECRET = "s3cr3t-token-value"


def recording(handler: httpx.MockTransport) -> RecordingClient:
    return RecordingClient(Target("https://scim.example.com/v2", token=SECRET), transport=handler)


def test_requests_carry_entra_headers_and_query_encoding() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"echo": SECRET})

    client = recording(httpx.MockTransport(handler))
    exchange = client.send("GET", "/Users", {"filter": 'userName eq "ann@example.com"'})
    assert str(seen[0].url) == "https://scim.example.com/v2/Users?filter=userName+eq+%22ann%40example.com%22"
    assert seen[0].headers["authorization"] == f"Bearer {SECRET}"
    client.send("PATCH", "/Users/1", body={"Operations": []})
    assert seen[1].headers["content-type"] == "application/scim+json"
    assert SECRET not in json.dumps(exchange.request_headers) + exchange.response_body + exchange.curl()
    assert '"Authorization: Bearer $SCIM_TOKEN"' in exchange.curl()


def test_transport_failures_are_recorded_not_raised() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    exchange = recording(httpx.MockTransport(handler)).send("GET", "/Users")
    assert exchange.status is None
    assert exchange.transport_error == "cannot connect: Connection refused"
    assert exchange.label == "GET /v2/Users → cannot connect: Connection refused"


def test_request_without_credentials_drops_the_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401)

    recording(httpx.MockTransport(handler)).send("GET", "/Users", without_credentials=True)
    assert "authorization" not in seen[0].headers
