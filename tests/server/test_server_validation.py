"""Attribute values are checked against the server's own /Schemas (RFC 7643 §2.3, §2.4) on POST, PUT and PATCH,
refused with 400 invalidValue (RFC 7644 §3.12); Entra's documented departures are still accepted. readOnly values
are ignored and immutable ones kept (RFC 7643 §2.2)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scimconform.server.validation import LENIENCIES

from .entra import CORE_USER, CUSTOM, ENTERPRISE, create_group, create_user, patch_body


def post_user(client: httpx.Client, **attributes: Any) -> httpx.Response:
    return client.post("/Users", json={"schemas": [CORE_USER], "userName": "typed@example.com", **attributes})


@pytest.mark.parametrize(
    ("attributes", "where"),
    [
        ({"displayName": ["Ann"]}, "displayName takes a single value"),
        ({"emails": [{"value": "a@example.com", "primary": "maybe"}]}, "emails.primary must be of type boolean"),
        ({"emails": ["a@example.com"]}, "emails is complex"),
        ({"x509Certificates": [{"value": "not base64!"}]}, "x509Certificates.value must be of type binary"),
        ({"profileUrl": 7}, "profileUrl must be of type reference"),
        ({CUSTOM: "x"}, f"{CUSTOM} is complex"),
        ({CUSTOM: {"hireDate": "2024-13-01T00:00:00Z"}}, f"{CUSTOM}:hireDate must be of type dateTime"),
        ({CUSTOM: {"hireDate": "2024-01-01"}}, f"{CUSTOM}:hireDate must be of type dateTime"),  # a time is required
        ({CUSTOM: {"employeeLevel": 1.5}}, f"{CUSTOM}:employeeLevel must be of type integer"),
        ({CUSTOM: {"employeeLevel": True}}, f"{CUSTOM}:employeeLevel must be of type integer"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(client: httpx.Client, attributes: dict[str, Any], where: str) -> None:
    response = post_user(client, **attributes)
    assert (response.status_code, response.json()["scimType"]) == (400, "invalidValue")
    assert where in response.json()["detail"]


@pytest.mark.parametrize(
    "attributes",
    [
        {"active": "True", "emails": [{"value": "a@example.com", "primary": "false"}]},  # Entra's boolean strings
        {ENTERPRISE: {"manager": "some-id"}},  # Entra's manager forms
        {ENTERPRISE: {"manager": ["some-id"]}},
        {ENTERPRISE: {"manager": [{"value": "some-id"}]}},
        {"title": None, "addresses": None, "emails": [{"value": "a@example.com", "$ref": None}]},  # null: unassigned
        {CUSTOM: {"hireDate": "2024-02-29T23:59:59.1234567+01:00", "employeeLevel": 3, "remoteWorker": False}},
        {"x509Certificates": [{"value": "TUlJQ0lqQ0NBWXVnQXdJQkFn"}]},
        {"nickName": "n", "unknownAttribute": {"any": ["shape"]}},  # attributes no schema defines: stored as sent
        {"emails": [{"value": "a@example.com", "type": "pigeon"}]},  # canonicalValues are suggestions (RFC 7643 §7)
    ],
)
def test_values_that_fit_and_entra_leniencies_are_accepted(client: httpx.Client, attributes: dict[str, Any]) -> None:
    response = post_user(client, **attributes)
    assert response.status_code == 201, response.text


def test_every_leniency_names_its_source() -> None:
    assert all("Microsoft Learn" in leniency.source for leniency in LENIENCIES)


def test_put_and_patch_are_checked_and_a_refused_patch_changes_nothing(client: httpx.Client) -> None:
    user = create_user(client)
    put = client.put(f"/Users/{user['id']}", json={"schemas": [CORE_USER], "userName": "u@example.com", "name": "x"})
    assert (put.status_code, put.json()["scimType"]) == (400, "invalidValue")
    operations = (
        {"op": "replace", "path": "title", "value": "T"},
        {"op": "replace", "path": "active", "value": "maybe"},
    )
    patched = client.patch(f"/Users/{user['id']}", json=patch_body(*operations))
    assert (patched.status_code, patched.json()["scimType"]) == (400, "invalidValue")
    assert client.get(f"/Users/{user['id']}").json() == user
    pathless = client.patch(f"/Users/{user['id']}", json=patch_body({"op": "add", "value": {"name": "x"}}))
    assert pathless.status_code == 400
    fine = client.patch(f"/Users/{user['id']}", json=patch_body({"op": "Replace", "path": "active", "value": "False"}))
    assert fine.json()["active"] is False


def test_a_patch_is_judged_on_what_it_changes(faulty: Any) -> None:
    """A value stored under a fault (an integer kept as text) does not make every later PATCH fail."""
    client = faulty("number-stored-as-string")
    user = create_user(client, **{CUSTOM: {"employeeLevel": 7}})
    assert user[CUSTOM]["employeeLevel"] == "7"
    body = patch_body({"op": "replace", "path": f"{CUSTOM}:hireDate", "value": "2024-01-01T00:00:00Z"})
    assert client.patch(f"/Users/{user['id']}", json=body).status_code == 200


@pytest.mark.parametrize("path", ["/.search", "/Users/.search", "/Groups/.search", "/Bulk"])
def test_optional_operations_not_offered_are_not_implemented(client: httpx.Client, path: str) -> None:
    """POST queries and bulk are optional (RFC 7644 §3.4.3, §3.7); /ServiceProviderConfig says bulk is not supported.
    501 is RFC 7644 §3.12's answer for an operation a server does not support."""
    response = client.post(path, json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})
    assert (response.status_code, response.json()["status"]) == (501, "501")
    assert client.get("/ServiceProviderConfig").json()["bulk"]["supported"] is False


def test_read_only_values_are_ignored_not_stored(client: httpx.Client) -> None:
    """RFC 7644 §3.3, §3.5.1: readOnly values a client sends "SHALL be ignored"; a bogus one is not even judged."""
    groups = {"groups": [{"value": "made-up-group"}]}
    manager = {ENTERPRISE: {"manager": {"value": "boss", "displayName": "Boss"}}}
    created = post_user(client, **groups, **manager)
    assert created.status_code == 201, created.text
    assert "groups" not in created.json() and created.json()[ENTERPRISE]["manager"] == {"value": "boss"}
    user = created.json()
    put = client.put(f"/Users/{user['id']}", json={"schemas": [CORE_USER], "userName": "typed@example.com", **groups})
    assert put.status_code == 200 and "groups" not in client.get(f"/Users/{user['id']}").json()
    assert post_user(client, userName="other@example.com", groups="not even a list").status_code == 201


MEMBER_OPERATIONS = [
    ({"op": "replace", "path": 'members[value eq "{one}"].value', "value": "{two}"}, True),
    ({"op": "replace", "path": 'members[value eq "{one}"]', "value": {"value": "{two}"}}, True),
    ({"op": "remove", "path": 'members[value eq "{one}"].value'}, True),
    ({"op": "replace", "path": 'members[value eq "{one}"].value', "value": "{one}"}, False),  # no change
    ({"op": "add", "path": 'members[value eq "{one}"].display', "value": "One"}, False),  # no value before
    ({"op": "remove", "path": 'members[value eq "{one}"]'}, False),  # members itself is readWrite
    ({"op": "add", "path": "members", "value": [{"value": "{two}"}]}, False),
]
"""PATCH operations on the member {one} of a group, {two} another user's id, and whether each is refused."""


def _filled(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, dict):
        return {key: _filled(value, ids) for key, value in template.items()}
    if isinstance(template, list):
        return [_filled(value, ids) for value in template]
    return template.format(**ids) if isinstance(template, str) else template


@pytest.mark.parametrize(("operation", "refused"), MEMBER_OPERATIONS)
def test_an_immutable_value_already_set_is_not_changed(
    client: httpx.Client, operation: dict[str, Any], refused: bool
) -> None:
    """RFC 7643 §2.2 (immutable: "SHALL NOT be updated"), §8.7.1 (members' sub-attributes are immutable);
    RFC 7644 §3.5.2 (a PATCH that tries fails, 400 mutability)."""
    one, two = (create_user(client, f"{name}@example.com")["id"] for name in ("one", "two"))
    group = create_group(client, "immutable", one)
    filled = _filled(operation, {"one": one, "two": two})
    patched = client.patch(f"/Groups/{group['id']}", json=patch_body(filled))
    if refused:
        assert (patched.status_code, patched.json()["scimType"]) == (400, "mutability")
        assert client.get(f"/Groups/{group['id']}").json()["members"] == [{"value": one}]
    else:
        assert patched.status_code == 204, patched.text
