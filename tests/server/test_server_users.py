"""/Users: create, read, replace, delete, with Entra's request bodies."""

from __future__ import annotations

import re

import httpx
import pytest

from .entra import CORE_USER, ENTERPRISE, create_group, create_user, legacy_user_body, member_ids, user_body


def test_entra_create_body_is_accepted_verbatim(client: httpx.Client) -> None:
    body = user_body()
    response = client.post("/Users", json=body)
    assert response.status_code == 201
    created = response.json()
    assert re.fullmatch(r"[0-9a-f]{32}", created["id"])
    assert response.headers["Location"] == f"http://testserver/scim/v2/Users/{created['id']}"
    meta = created["meta"]
    assert meta["resourceType"] == "User"
    assert meta["location"] == response.headers["Location"]
    assert meta["created"] == meta["lastModified"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", meta["created"])
    assert created["schemas"] == [CORE_USER]  # the enterprise URN only when enterprise data is present
    for name in ("externalId", "userName", "active", "emails", "name", "roles"):
        assert created[name] == body[name]


def test_client_id_and_meta_are_ignored(client: httpx.Client) -> None:
    created = create_user(client, id="client-chosen", meta={"created": "1999-01-01T00:00:00Z"})
    assert created["id"] != "client-chosen"
    assert created["meta"]["created"] != "1999-01-01T00:00:00Z"
    assert client.get("/Users/client-chosen").status_code == 404


def test_values_are_stored_exactly_as_sent(client: httpx.Client) -> None:
    created = create_user(
        client,
        "Mixed.Case@Contoso.COM",
        phoneNumbers=[{"type": "work", "value": "55555555555"}],
        title="True",
    )
    fetched = client.get(f"/Users/{created['id']}").json()
    assert fetched["userName"] == "Mixed.Case@Contoso.COM"
    assert fetched["phoneNumbers"] == [{"type": "work", "value": "55555555555"}]
    assert fetched["title"] == "True"  # a string attribute: never coerced


@pytest.mark.parametrize(("sent", "stored"), [("True", True), ("False", False), ("false", False), ("TRUE", True)])
def test_boolean_strings_become_booleans(client: httpx.Client, sent: str, stored: bool) -> None:
    created = create_user(client, active=sent, emails=[{"type": "work", "value": "a@b.c", "primary": sent}])
    assert created["active"] is stored
    assert created["emails"][0]["primary"] is stored


def test_legacy_body_with_nulls_is_accepted_and_nulls_are_absent(client: httpx.Client) -> None:
    response = client.post("/Users", json=legacy_user_body())
    assert response.status_code == 201
    created = response.json()
    for absent in ("addresses", "phoneNumbers", "preferredLanguage", "title", "department", "manager"):
        assert absent not in created
    assert created["emails"] == [{"type": "work", "value": "jyoung@Contoso.com", "primary": True}]
    assert created["schemas"] == [CORE_USER]


def test_enterprise_extension_is_stored_and_listed_in_schemas(client: httpx.Client) -> None:
    enterprise = {"employeeNumber": "701984", "department": "Tour Operations"}
    created = create_user(client, **{ENTERPRISE: enterprise})
    assert created["schemas"] == [CORE_USER, ENTERPRISE]
    assert client.get(f"/Users/{created['id']}").json()[ENTERPRISE] == enterprise


@pytest.mark.parametrize("user_name", [None, "", "   ", 42])
def test_username_is_required(client: httpx.Client, user_name: object) -> None:
    body = user_body()
    body["userName"] = user_name
    response = client.post("/Users", json=body)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    del body["userName"]
    assert client.post("/Users", json=body).status_code == 400


def test_username_is_unique_case_insensitively(client: httpx.Client) -> None:
    create_user(client, "Dup@Example.com")
    response = client.post("/Users", json=user_body("dup@example.COM"))
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    assert response.json()["status"] == "409"


def test_get_one_and_unknown_id(client: httpx.Client) -> None:
    created = create_user(client)
    fetched = client.get(f"/Users/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created
    missing = client.get("/Users/5171a35d82074e068ce2")
    assert missing.status_code == 404
    assert missing.json()["status"] == "404"


def test_soft_deleted_user_is_still_returned(client: httpx.Client) -> None:
    created = create_user(client, "soft@example.com", active=False)
    assert client.get(f"/Users/{created['id']}").json()["active"] is False
    found = client.get("/Users", params={"filter": 'userName eq "soft@example.com"'}).json()
    assert found["Resources"][0]["active"] is False


def test_password_is_accepted_but_never_returned(client: httpx.Client) -> None:
    created = create_user(client, password="t1meMa$heen")
    assert "password" not in created
    assert "password" not in client.get(f"/Users/{created['id']}").json()


def test_put_replaces_but_keeps_id_and_created(client: httpx.Client) -> None:
    created = create_user(client, "put@example.com", title="Engineer")
    body = {**user_body("put2@example.com"), "id": "other", "displayName": "Put"}
    response = client.put(f"/Users/{created['id']}", json=body)
    assert response.status_code == 200
    replaced = response.json()
    assert replaced["id"] == created["id"]
    assert replaced["meta"]["created"] == created["meta"]["created"]
    assert replaced["meta"]["lastModified"] > created["meta"]["lastModified"]
    assert replaced["userName"] == "put2@example.com"
    assert "title" not in replaced
    assert replaced["displayName"] == "Put"


def test_put_enforces_uniqueness_and_unknown_id(client: httpx.Client) -> None:
    create_user(client, "taken@example.com")
    other = create_user(client, "other@example.com")
    assert client.put(f"/Users/{other['id']}", json=user_body("TAKEN@example.com")).status_code == 409
    assert client.put(f"/Users/{other['id']}", json=user_body("other@example.com")).status_code == 200
    assert client.put("/Users/unknown", json=user_body("x@example.com")).status_code == 404


def test_delete_is_204_then_404(client: httpx.Client) -> None:
    created = create_user(client)
    assert client.delete(f"/Users/{created['id']}").status_code == 204
    assert client.get(f"/Users/{created['id']}").status_code == 404
    assert client.delete(f"/Users/{created['id']}").status_code == 404


def test_deleting_a_user_removes_it_from_every_group(client: httpx.Client) -> None:
    alice = create_user(client, "alice@example.com")
    bob = create_user(client, "bob@example.com")
    first = create_group(client, "first", alice["id"], bob["id"])
    second = create_group(client, "second", alice["id"])
    assert client.delete(f"/Users/{alice['id']}").status_code == 204
    assert member_ids(client, first["id"]) == [bob["id"]]
    assert member_ids(client, second["id"]) == []
