"""PATCH /Users with every shape Entra sends.

Sources, all on Microsoft Learn unless named: "Tutorial: Develop and plan provisioning for a SCIM endpoint"
(the tutorial), "Known issues and resolutions with SCIM 2.0 protocol compliance", § "Flags to alter the
SCIM behavior" (known issues), "Tutorial - Customize user provisioning attribute-mappings for SaaS
applications" (attribute mappings), and docs/entra-notes.md for what Microsoft does not print.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .entra import CORE_USER, ENTERPRISE, Json, create_user, patch_body

WORK_EMAIL = 'emails[type eq "work"].value'


@pytest.fixture
def user(client: httpx.Client) -> Json:
    return create_user(client, "patch.me@example.com")


def patched(client: httpx.Client, user: Json, *operations: Json) -> Json:
    response = client.patch(f"/Users/{user['id']}", json=patch_body(*operations))
    assert response.status_code == 200, response.text
    body: Json = response.json()
    assert body == client.get(f"/Users/{user['id']}").json()
    return body


def refused(client: httpx.Client, user: Json, body: Any) -> str:
    response = client.patch(f"/Users/{user['id']}", json=body)
    assert response.status_code == 400
    scim_type: str = response.json()["scimType"]
    return scim_type


@pytest.mark.parametrize(
    ("op", "value"),
    [("Replace", "False"), ("replace", False), ("Replace", False), ("REPLACE", "false")],
    ids=["default-dialect", "flag-dialect", "tutorial-mixed", "shouting"],
)
def test_disable_user_in_every_dialect(client: httpx.Client, user: Json, op: str, value: object) -> None:
    """Known issues, "Requests made to disable users"; re-enabling with "True" is inferred (docs/entra-notes.md,
    "PATCH dialects"); soft-deleted users stay visible."""
    result = patched(client, user, {"op": op, "path": "active", "value": value})
    assert result["active"] is False
    reactivated = patched(client, user, {"op": op, "path": "active", "value": "True"})
    assert reactivated["active"] is True


def test_response_is_the_full_resource_with_new_last_modified(client: httpx.Client, user: Json) -> None:
    result = patched(client, user, {"op": "Add", "path": "nickName", "value": "Babs"})
    assert result["id"] == user["id"]
    assert result["meta"]["created"] == user["meta"]["created"]
    assert result["meta"]["lastModified"] > user["meta"]["lastModified"]
    assert result["userName"] == user["userName"]
    assert result["nickName"] == "Babs"


@pytest.mark.parametrize("op", ["Add", "add"])
def test_add_single_value_string(client: httpx.Client, user: Json, op: str) -> None:
    """Known issues, "Requests made to add a single-value string attribute"."""
    assert patched(client, user, {"op": op, "path": "nickName", "value": "Babs"})["nickName"] == "Babs"


def test_tutorial_multi_valued_update(client: httpx.Client, user: Json) -> None:
    """The tutorial, § "Update User [Multi-valued properties]": the matching element is updated in place."""
    result = patched(
        client,
        user,
        {"op": "Replace", "path": WORK_EMAIL, "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    )
    assert result["emails"] == [{"primary": True, "type": "work", "value": "updatedEmail@microsoft.com"}]
    assert result["name"] == {
        "formatted": "givenName familyName",
        "familyName": "updatedFamilyName",
        "givenName": "givenName",
    }


def test_replace_multiple_attributes_without_flag(client: httpx.Client, user: Json) -> None:
    """Known issues, "Requests to replace multiple attributes", without the flag: one capitalised op per
    attribute."""
    result = patched(
        client,
        user,
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": WORK_EMAIL, "value": "TestBcwqnm@test.microsoft.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "Eqpj"},
    )
    assert result["displayName"] == "Pvlo"
    assert result["emails"][0]["value"] == "TestBcwqnm@test.microsoft.com"
    assert (result["name"]["givenName"], result["name"]["familyName"]) == ("Gtfd", "Pkqf")
    assert result["externalId"] == "Eqpj"
    assert result[ENTERPRISE] == {"employeeNumber": "Eqpj"}
    assert result["schemas"] == [CORE_USER, ENTERPRISE]


def test_replace_multiple_attributes_with_flag_pathless_dotted_and_urn_keys(client: httpx.Client, user: Json) -> None:
    """Known issues, "Requests to replace multiple attributes", with the flag: one path-less replace with
    dotted and URN-qualified keys."""
    result = patched(
        client,
        user,
        {"op": "replace", "path": WORK_EMAIL, "value": "TestMhvaes@test.microsoft.com"},
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                f"{ENTERPRISE}:employeeNumber": "Aklq",
            },
        },
    )
    assert result["emails"][0]["value"] == "TestMhvaes@test.microsoft.com"
    assert result["displayName"] == "Bjfe"
    assert result["name"]["givenName"] == "Kkom"
    assert result["name"]["familyName"] == "Unua"
    assert result["name"]["formatted"] == "givenName familyName"  # sub-attributes not sent are kept
    assert result[ENTERPRISE] == {"employeeNumber": "Aklq"}


def test_pathless_add_with_nested_extension_object_and_plain_complex(client: httpx.Client, user: Json) -> None:
    result = patched(
        client,
        user,
        {
            "op": "add",
            "value": {
                ENTERPRISE: {"department": "Tour Operations", "costCenter": "4130"},
                "name": {"middleName": "J"},
                "title": "Guide",
            },
        },
    )
    assert result[ENTERPRISE] == {"department": "Tour Operations", "costCenter": "4130"}
    assert result["name"]["middleName"] == "J"
    assert result["name"]["givenName"] == "givenName"
    assert result["title"] == "Guide"


def test_default_mode_capture_adds_missing_filtered_elements(client: httpx.Client, user: Json) -> None:
    """Add on a value-filtered path that matches nothing adds the element the filter names.

    The PATCH follows the README sample of https://github.com/Great-Side-Projects/scim-service-server, taken for
    Entra traffic by inference (docs/entra-notes.md, "Default attribute mapping").
    """
    result = patched(
        client,
        user,
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "displayName", "value": "Cobi Brass"},
        {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "cuidad update"},
        {"op": "Add", "path": 'addresses[type eq "work"].postalCode', "value": "28001"},
        {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "telefono movil"},
        {"op": "Add", "path": f"{ENTERPRISE}:employeeNumber", "value": "id empleado"},
    )
    assert result["active"] is False
    assert result["displayName"] == "Cobi Brass"
    assert result["addresses"] == [{"type": "work", "locality": "cuidad update", "postalCode": "28001"}]
    assert result["phoneNumbers"] == [{"type": "mobile", "value": "telefono movil"}]
    assert result[ENTERPRISE]["employeeNumber"] == "id empleado"


def test_replace_on_unmatched_filter_also_adds(client: httpx.Client, user: Json) -> None:
    result = patched(client, user, {"op": "replace", "path": 'emails[type eq "other"].value', "value": "o@x.y"})
    assert {"type": "other", "value": "o@x.y"} in result["emails"]
    assert len(result["emails"]) == 2


def test_filtered_path_without_sub_attribute_merges_an_object(client: httpx.Client, user: Json) -> None:
    result = patched(client, user, {"op": "replace", "path": 'emails[type eq "work"]', "value": {"primary": "False"}})
    assert result["emails"][0]["primary"] is False
    assert result["emails"][0]["value"] == user["emails"][0]["value"]


def test_filter_that_describes_no_element_is_no_target(client: httpx.Client, user: Json) -> None:
    path = 'emails[type eq "home" or type eq "other"].value'
    assert refused(client, user, patch_body({"op": "add", "path": path, "value": "v"})) == "noTarget"


@pytest.mark.parametrize(
    "manager",
    [
        {"op": "Add", "path": "manager", "value": [{"$ref": "http://x/scim/Users/m-1", "value": "m-1"}]},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "m-1"},
        {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": "m-1"}},
        {"op": "replace", "value": {f"{ENTERPRISE}:manager": "m-1"}},
    ],
    ids=["bare-path-array", "urn-string", "urn-object", "pathless-urn"],
)
def test_manager_forms_are_stored_as_enterprise_manager(client: httpx.Client, user: Json, manager: Json) -> None:
    result = patched(client, user, manager)
    assert result[ENTERPRISE]["manager"]["value"] == "m-1"
    assert set(result[ENTERPRISE]["manager"]) <= {"value", "$ref"}
    assert "manager" not in result
    assert ENTERPRISE in result["schemas"]


def test_manager_change_and_removal(client: httpx.Client, user: Json) -> None:
    """LA's SCIM_Update_Manager_Test: set (Add), change (Replace), remove (Replace with empty)."""
    urn_path = f"{ENTERPRISE}:manager"
    patched(client, user, {"op": "Add", "path": urn_path, "value": "m-1"})
    changed = patched(client, user, {"op": "Replace", "path": urn_path, "value": "m-2"})
    assert changed[ENTERPRISE]["manager"] == {"value": "m-2"}
    for empty in ("", None, {"value": ""}):
        patched(client, user, {"op": "Add", "path": urn_path, "value": "m-3"})
        removed = patched(client, user, {"op": "Replace", "path": urn_path, "value": empty})
        assert ENTERPRISE not in removed
        assert removed["schemas"] == [CORE_USER]


def test_role_payloads(client: httpx.Client, user: Json) -> None:
    """Attribute mappings, § "Provisioning a role to a SCIM app": roles added as JSON-encoded strings, and an
    assertive lower-case replace."""
    encoded = '{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}'
    added = patched(client, user, {"op": "Add", "path": "roles", "value": [{"value": encoded}]})
    assert added["roles"] == [{"value": encoded}]
    assertive = [
        {"primary": False, "type": "WindowsAzureActiveDirectoryRole", "display": "User", "value": "User"},
        {"primary": "False", "type": "WindowsAzureActiveDirectoryRole", "display": "Test", "value": "Test"},
    ]
    replaced = patched(client, user, {"op": "replace", "path": "roles", "value": assertive})
    assert [role["value"] for role in replaced["roles"]] == ["User", "Test"]
    assert all(role["primary"] is False for role in replaced["roles"])


def test_attribute_names_in_paths_are_case_insensitive(client: httpx.Client, user: Json) -> None:
    result = patched(
        client,
        user,
        {"op": "replace", "path": "USERNAME", "value": "renamed@example.com"},
        {"op": "replace", "path": "Name.GivenName", "value": "G"},
        {"op": "replace", "path": 'EMAILS[TYPE eq "WORK"].VALUE', "value": "w@example.com"},
    )
    assert result["userName"] == "renamed@example.com"
    assert "USERNAME" not in result
    assert result["name"]["givenName"] == "G"
    assert result["emails"][0]["value"] == "w@example.com"


def test_remove_operations(client: httpx.Client, user: Json) -> None:
    result = patched(
        client,
        user,
        {"op": "Remove", "path": "externalId"},
        {"op": "Remove", "path": "name.formatted"},
        {"op": "Remove", "path": 'emails[type eq "work"].primary'},
        {"op": "Remove", "path": "nickName"},  # absent: nothing to do
    )
    assert "externalId" not in result
    assert "formatted" not in result["name"]
    assert result["emails"] == [{"type": "work", "value": user["emails"][0]["value"]}]
    emptied = patched(client, user, {"op": "remove", "path": 'emails[type eq "work"]'})
    assert emptied["emails"] == []


def test_renaming_to_a_taken_username_is_409_and_changes_nothing(client: httpx.Client, user: Json) -> None:
    create_user(client, "taken@example.com")
    response = client.patch(
        f"/Users/{user['id']}",
        json=patch_body(
            {"op": "Replace", "path": "displayName", "value": "Changed"},
            {"op": "Replace", "path": "userName", "value": "TAKEN@example.com"},
        ),
    )
    assert response.status_code == 409
    assert client.get(f"/Users/{user['id']}").json() == user


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "id", "value": "mine"},
        {"op": "replace", "value": {"meta": {"created": "1999-01-01T00:00:00Z"}}},
        {"op": "remove", "path": "meta"},
    ],
)
def test_id_and_meta_cannot_be_patched(client: httpx.Client, user: Json, operation: Json) -> None:
    """RFC 7644 §3.5.2: an operation on a readOnly attribute fails with mutability, and changes nothing."""
    response = client.patch(f"/Users/{user['id']}", json=patch_body(operation))
    assert (response.status_code, response.json()["scimType"]) == (400, "mutability")
    kept = client.get(f"/Users/{user['id']}").json()
    assert (kept["id"], kept["meta"]["created"]) == (user["id"], user["meta"]["created"])


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}, "invalidValue"),
        (patch_body(), "invalidValue"),
        (patch_body({"op": "merge", "path": "title", "value": "x"}), "invalidSyntax"),
        (patch_body({"path": "title", "value": "x"}), "invalidSyntax"),
        ({"Operations": ["add"]}, "invalidSyntax"),
        (patch_body({"op": "Remove"}), "noTarget"),
        (patch_body({"op": "Remove", "path": ""}), "noTarget"),
        (patch_body({"op": "replace", "value": "not an object"}), "invalidValue"),
        (patch_body({"op": "add", "path": 'emails[type eq "work"', "value": "x"}), "invalidPath"),
        (patch_body({"op": "add", "path": 42, "value": "x"}), "invalidPath"),
        (patch_body({"op": "add", "path": "name.givenName.x", "value": "x"}), "invalidPath"),
        (patch_body({"op": "add", "path": "userName.first", "value": "x"}), "invalidPath"),
        (patch_body({"op": "add", "path": 'userName[type eq "x"].value', "value": "x"}), "invalidPath"),
    ],
)
def test_malformed_patches_are_refused(client: httpx.Client, user: Json, body: Any, scim_type: str) -> None:
    assert refused(client, user, body) == scim_type
    assert client.get(f"/Users/{user['id']}").json() == user


def test_patch_unknown_user_is_404(client: httpx.Client) -> None:
    response = client.patch("/Users/nope", json=patch_body({"op": "add", "path": "title", "value": "x"}))
    assert response.status_code == 404
