"""The store's indexes follow every write: a match query and the uniqueness check see renames and
deletes at once, and a deleted resource leaves every group that listed it."""

from __future__ import annotations

import httpx

from .entra import create_group, create_user, member_ids, patch_body, query


def matches(client: httpx.Client, text: str) -> list[str]:
    return [r["id"] for r in client.get("/Users" + query(filter=text)).json()["Resources"]]


def test_a_rename_moves_the_name_in_matches_and_uniqueness(client: httpx.Client) -> None:
    user = create_user(client, "Old.Name@contoso.com")
    rename = patch_body({"op": "replace", "path": "userName", "value": "New.Name@contoso.com"})
    assert client.patch(f"/Users/{user['id']}", json=rename).status_code == 200
    assert matches(client, 'userName eq "old.name@contoso.com"') == []
    assert matches(client, 'userName eq "NEW.NAME@contoso.com"') == [user["id"]]
    assert client.post("/Users", json={"userName": "new.name@CONTOSO.com"}).status_code == 409
    assert create_user(client, "old.name@contoso.com")["id"] != user["id"]


def test_a_deleted_name_is_free_again(client: httpx.Client) -> None:
    user = create_user(client, "gone@contoso.com")
    assert client.delete(f"/Users/{user['id']}").status_code == 204
    assert matches(client, 'userName eq "gone@contoso.com"') == []
    assert create_user(client, "Gone@contoso.com")["id"] != user["id"]


def test_an_and_filter_is_narrowed_by_either_side(client: httpx.Client) -> None:
    boss = create_user(client, "boss@contoso.com")
    report = create_user(client, "report@contoso.com")
    manager = {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}
    client.patch(f"/Users/{report['id']}", json=patch_body({**manager, "value": boss["id"]}))
    manager_filter = f'manager.value eq "{boss["id"]}"'
    assert matches(client, f'id eq "{report["id"]}" and {manager_filter}') == [report["id"]]
    assert matches(client, f'{manager_filter} and userName eq "report@contoso.com"') == [report["id"]]
    assert matches(client, f'id eq "{boss["id"]}" and {manager_filter}') == []


def test_deleting_a_user_drops_it_from_every_group_and_nowhere_else(client: httpx.Client) -> None:
    stay, leave = create_user(client, "stay@contoso.com"), create_user(client, "leave@contoso.com")
    first = create_group(client, "First", stay["id"], leave["id"])
    second = create_group(client, "Second", leave["id"])
    third = create_group(client, "Third", stay["id"])
    assert client.delete(f"/Users/{leave['id']}").status_code == 204
    assert member_ids(client, first["id"]) == [stay["id"]]
    assert member_ids(client, second["id"]) == []
    assert member_ids(client, third["id"]) == [stay["id"]]
    again = patch_body({"op": "add", "path": "members", "value": [{"value": stay["id"]}]})
    assert client.patch(f"/Groups/{second['id']}", json=again).status_code == 204
    assert client.delete(f"/Users/{stay['id']}").status_code == 204
    assert [member_ids(client, g["id"]) for g in (first, second, third)] == [[], [], []]
