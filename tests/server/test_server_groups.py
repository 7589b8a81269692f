"""/Groups with Entra's bodies: creation, both member-removal dialects, several members per add."""

from __future__ import annotations

import httpx
import pytest

from .entra import CORE_GROUP, create_group, create_user, group_body, member_ids, patch_body, query


@pytest.fixture
def users(client: httpx.Client) -> list[str]:
    return [create_user(client, f"member{n}@example.com")["id"] for n in range(3)]


def test_entra_create_body_is_accepted(client: httpx.Client) -> None:
    response = client.post("/Groups", json=group_body())
    assert response.status_code == 201
    created = response.json()
    assert created["schemas"] == [CORE_GROUP]
    assert created["displayName"] == "displayName"
    assert created["externalId"] == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    assert created["meta"]["resourceType"] == "Group"
    assert response.headers["Location"].endswith(f"/Groups/{created['id']}")
    assert "members" not in created


def test_display_name_is_required_and_unique_case_insensitively(client: httpx.Client) -> None:
    assert client.post("/Groups", json={"schemas": [CORE_GROUP]}).json()["scimType"] == "invalidValue"
    create_group(client, "Sales")
    response = client.post("/Groups", json=group_body("SALES"))
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"


def test_rename_answers_204(client: httpx.Client) -> None:
    group = create_group(client)
    new_name = "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    response = client.patch(
        f"/Groups/{group['id']}",
        json=patch_body({"op": "Replace", "path": "displayName", "value": new_name}),
    )
    assert response.status_code == 204
    assert response.content == b""
    fetched = client.get(f"/Groups/{group['id']}").json()
    assert fetched["displayName"] == new_name
    assert fetched["meta"]["lastModified"] > group["meta"]["lastModified"]


def test_add_member_with_null_ref(client: httpx.Client, users: list[str]) -> None:
    """Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint", § "Update Group [Add
    Members]": "$ref": null is sent literally."""
    group = create_group(client)
    body = patch_body({"op": "Add", "path": "members", "value": [{"$ref": None, "value": users[0]}]})
    assert client.patch(f"/Groups/{group['id']}", json=body).status_code == 204
    assert client.get(f"/Groups/{group['id']}").json()["members"] == [{"value": users[0]}]


def test_several_members_in_one_add_are_all_added(client: httpx.Client, users: list[str]) -> None:
    group = create_group(client)
    body = patch_body({"op": "add", "path": "members", "value": [{"value": u} for u in users]})
    assert client.patch(f"/Groups/{group['id']}", json=body).status_code == 204
    assert member_ids(client, group["id"]) == users


def test_readding_a_member_is_a_no_op(client: httpx.Client, users: list[str]) -> None:
    group = create_group(client, "g", users[0])
    body = patch_body({"op": "Add", "path": "members", "value": [{"$ref": None, "value": users[0]}]})
    assert client.patch(f"/Groups/{group['id']}", json=body).status_code == 204
    assert member_ids(client, group["id"]) == [users[0]]


def test_unknown_member_is_invalid_value(client: httpx.Client, users: list[str]) -> None:
    group = create_group(client)
    body = patch_body({"op": "Add", "path": "members", "value": [{"value": users[0]}, {"value": "nobody"}]})
    response = client.patch(f"/Groups/{group['id']}", json=body)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert member_ids(client, group["id"]) == []  # nothing of a failed PATCH is applied
    assert client.post("/Groups", json={**group_body("x"), "members": [{"value": "ghost"}]}).status_code == 400


def test_remove_with_value_list_removes_exactly_those(client: httpx.Client, users: list[str]) -> None:
    """Microsoft Learn, "Known issues and resolutions with SCIM 2.0 protocol compliance", "Requests made to
    remove a group member" without the flag: path "members" and the members as value."""
    group = create_group(client, "g", *users)
    body = patch_body({"op": "Remove", "path": "members", "value": [{"value": users[1]}]})
    assert client.patch(f"/Groups/{group['id']}", json=body).status_code == 204
    assert member_ids(client, group["id"]) == [users[0], users[2]]
    tutorial = patch_body({"op": "Remove", "path": "members", "value": [{"$ref": None, "value": users[0]}]})
    assert client.patch(f"/Groups/{group['id']}", json=tutorial).status_code == 204
    assert member_ids(client, group["id"]) == [users[2]]


def test_remove_with_filter_path_removes_that_member(client: httpx.Client, users: list[str]) -> None:
    """The same known-issues sample with the flag: members[value eq "…"] and no value."""
    group = create_group(client, "g", *users)
    body = patch_body({"op": "remove", "path": f'members[value eq "{users[0]}"]'})
    assert client.patch(f"/Groups/{group['id']}", json=body).status_code == 204
    assert member_ids(client, group["id"]) == users[1:]
    again = client.patch(f"/Groups/{group['id']}", json=body)
    assert again.status_code == 204  # removing an absent member changes nothing


def test_remove_members_without_value_removes_all(client: httpx.Client, users: list[str]) -> None:
    group = create_group(client, "g", *users)
    body = patch_body({"op": "Remove", "path": "members"})
    assert client.patch(f"/Groups/{group['id']}", json=body).status_code == 204
    assert member_ids(client, group["id"]) == []


def test_replace_members_replaces_the_list(client: httpx.Client, users: list[str]) -> None:
    group = create_group(client, "g", users[0], users[1])
    body = patch_body({"op": "replace", "path": "members", "value": [{"value": users[2]}]})
    assert client.patch(f"/Groups/{group['id']}", json=body).status_code == 204
    assert member_ids(client, group["id"]) == [users[2]]


def test_excluded_members_on_get_and_on_list(client: httpx.Client, users: list[str]) -> None:
    group = create_group(client, "displayName", *users)
    one = client.get(f"/Groups/{group['id']}?excludedAttributes=members").json()
    assert "members" not in one
    assert one["displayName"] == "displayName"
    listed = client.get("/Groups" + query(excludedAttributes="members", filter='displayName eq "displayName"'))
    assert listed.json()["totalResults"] == 1
    assert "members" not in listed.json()["Resources"][0]


def test_group_member_check_filter(client: httpx.Client, users: list[str]) -> None:
    """The group form of the reference check: id eq "G" and members eq "U"."""
    group = create_group(client, "g", users[0])
    for member, expected in ((users[0], 1), (users[1], 0)):
        text = f'id eq "{group["id"]}" and members eq "{member}"'
        found = client.get("/Groups" + query(filter=text, attributes="id")).json()
        assert found["totalResults"] == expected


def test_delete_group(client: httpx.Client, users: list[str]) -> None:
    group = create_group(client, "g", *users)
    assert client.delete(f"/Groups/{group['id']}").status_code == 204
    assert client.get(f"/Groups/{group['id']}").status_code == 404
    assert all(client.get(f"/Users/{u}").status_code == 200 for u in users)
