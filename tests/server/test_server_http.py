"""Transport-level behaviour: auth, content types, error bodies, routing, serving over loopback."""

from __future__ import annotations

import json

import httpx
import pytest

from scimconform.server import (
    DEFAULT_TOKEN,
    FAULTS,
    ReferenceServer,
    UnknownFaultError,
    serve_in_thread,
)

from .conftest import client_for
from .entra import ERROR, LIST_RESPONSE, create_user, query, user_body


def test_missing_token_is_401_with_scim_error_and_challenge(server: ReferenceServer) -> None:
    with client_for(server, token=None) as anonymous:
        response = anonymous.get("/Users")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["Content-Type"] == "application/scim+json"
    assert response.json() == {"schemas": [ERROR], "status": "401", "detail": "a valid bearer token is required"}


@pytest.mark.parametrize("header", ["Bearer wrong-token", f"Basic {DEFAULT_TOKEN}", DEFAULT_TOKEN])
def test_wrong_credentials_are_401_on_every_route(client: httpx.Client, header: str) -> None:
    for path in ("/Users", "/Groups/x", "/Schemas", "/ServiceProviderConfig", "/ResourceTypes", "/nowhere"):
        assert client.get(path, headers={"Authorization": header}).status_code == 401


def test_bearer_scheme_is_case_insensitive(client: httpx.Client) -> None:
    assert client.get("/Users", headers={"Authorization": f"bearer {DEFAULT_TOKEN}"}).status_code == 200


def test_custom_token_and_disabled_auth() -> None:
    with client_for(ReferenceServer(token="s3cret"), token="s3cret") as c:
        assert c.get("/Users").status_code == 200
    with client_for(ReferenceServer(token=None), token=None) as c:
        assert c.get("/Users").status_code == 200


def test_responses_are_scim_json_and_json_requests_are_accepted(client: httpx.Client) -> None:
    body = user_body("json@example.com")
    response = client.post("/Users", json=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/scim+json"
    scim = client.post(
        "/Users",
        content=json.dumps(user_body("scim@example.com")),
        headers={"Content-Type": "application/scim+json"},
    )
    assert scim.status_code == 201


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe", b"[1, 2]", b'"text"'])
def test_unparseable_or_non_object_body_is_invalid_syntax(client: httpx.Client, content: bytes) -> None:
    response = client.post("/Users", content=content, headers={"Content-Type": "application/scim+json"})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"
    assert response.json()["status"] == "400"


def test_unknown_route_is_404_scim_error(client: httpx.Client) -> None:
    for path in ("/Nope", "/users", "/Users/a/b", "http://testserver/elsewhere"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["schemas"] == [ERROR]


def test_wrong_method_is_405_scim_error(client: httpx.Client) -> None:
    response = client.delete("/Users")
    assert response.status_code == 405
    assert response.json()["status"] == "405"
    assert "POST" in response.headers["Allow"]
    assert client.post("/Schemas", json={}).status_code == 405


def test_unknown_query_parameters_are_ignored(client: httpx.Client) -> None:
    """A Tenant URL may carry aadOptscim062020; it may be forwarded on every request."""
    user = create_user(client)
    assert client.get("/Users?aadOptscim062020").json()["totalResults"] == 1
    assert client.get(f"/Users/{user['id']}?aadOptscim062020").status_code == 200
    response = client.post("/Users?aadOptscim062020", json=user_body("flag@example.com"))
    assert response.status_code == 201


def test_trailing_slash_reaches_the_collection(client: httpx.Client) -> None:
    """The Entra SCIM Validator posts to /Users/."""
    assert client.post("/Users/", json=user_body("slash@example.com")).status_code == 201


def test_204_responses_have_no_body_and_no_content_type(client: httpx.Client) -> None:
    response = client.delete(f"/Users/{create_user(client)['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert "Content-Type" not in response.headers


def test_entra_filter_query_arrives_with_plus_and_percent_22(client: httpx.Client) -> None:
    create_user(client, "cf4d78e8@example.com")
    response = client.get("/Users" + query(filter='userName eq "cf4d78e8@example.com"'))
    assert response.request.url.query == b"filter=userName+eq+%22cf4d78e8%40example.com%22"
    assert response.json()["totalResults"] == 1


def test_base_path_is_configurable() -> None:
    server = ReferenceServer(base_path="/api/scim/")
    transport = httpx.WSGITransport(app=server)
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with httpx.Client(transport=transport, base_url="http://h/api/scim", headers=headers) as c:
        response = c.post("/Users", json=user_body())
        assert response.headers["Location"].startswith("http://h/api/scim/Users/")
        assert c.get("/Users").status_code == 200
    root = ReferenceServer(base_path="")
    with httpx.Client(transport=httpx.WSGITransport(app=root), base_url="http://h", headers=headers) as c:
        assert c.get("/ServiceProviderConfig").status_code == 200


def test_resource_count_reports_what_is_held(server: ReferenceServer, client: httpx.Client) -> None:
    assert server.resource_count() == {"User": 0, "Group": 0}
    user = create_user(client)
    client.post("/Groups", json={"displayName": "g"})
    assert server.resource_count() == {"User": 1, "Group": 1}
    client.delete(f"/Users/{user['id']}")
    assert server.resource_count() == {"User": 0, "Group": 1}


def test_unknown_fault_names_itself_and_lists_valid_ones() -> None:
    with pytest.raises(UnknownFaultError) as caught:
        ReferenceServer(faults=["auth-not-checked", "no-such-fault"])
    message = str(caught.value)
    assert "no-such-fault" in message
    assert all(name in message for name in FAULTS)
    assert isinstance(caught.value, ValueError)


def test_faults_are_one_line_rules() -> None:
    assert len(FAULTS) == 76
    assert all(rule and "\n" not in rule for rule in FAULTS.values())


def test_serve_in_thread_answers_over_loopback_and_keeps_the_connection() -> None:
    server = ReferenceServer()
    with serve_in_thread(server) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/scim/v2")
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        with httpx.Client(base_url=base_url, headers=headers) as c:
            response = c.get("/Users" + query(filter='userName eq "nobody"'))
    assert response.status_code == 200
    assert response.json()["schemas"] == [LIST_RESPONSE]
    assert response.http_version == "HTTP/1.1" and "close" not in response.headers.get("Connection", "")
    with pytest.raises(httpx.ConnectError):
        httpx.get(base_url + "/Users")


def test_a_non_ascii_secret_is_compared_not_crashed_on() -> None:
    """hmac.compare_digest refuses non-ASCII str: a client secret with "é" once made the token endpoint answer 500."""
    app = ReferenceServer(token="tök-1", oauth_clients={"client": "s3crét"})
    with client_for(app, token=None) as anonymous:
        for secret, status in (("s3crét", 200), ("s3cret", 401)):
            form = {"grant_type": "client_credentials", "client_id": "client", "client_secret": secret}
            assert anonymous.post("http://testserver/oauth2/token", data=form).status_code == status
