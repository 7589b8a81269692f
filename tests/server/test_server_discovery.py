"""/ServiceProviderConfig, /ResourceTypes and /Schemas (RFC 7644 §4, RFC 7643 §8.7)."""

from __future__ import annotations

from typing import Any

import httpx

from .entra import CORE_GROUP, CORE_USER, ENTERPRISE, LIST_RESPONSE, Json

BASE = "http://testserver/scim/v2"


def attribute(schema: Json, name: str) -> Json:
    found: Json = next(a for a in schema["attributes"] if a["name"] == name)
    return found


def sub_attribute_names(schema: Json, name: str) -> list[str]:
    return [sub["name"] for sub in attribute(schema, name)["subAttributes"]]


def test_service_provider_config(client: httpx.Client) -> None:
    response = client.get("/ServiceProviderConfig")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/scim+json"
    config = response.json()
    assert config["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert config["patch"] == {"supported": True}
    assert config["bulk"]["supported"] is False
    assert config["filter"] == {"supported": True, "maxResults": 200}
    for unsupported in ("changePassword", "sort", "etag"):
        assert config[unsupported] == {"supported": False}
    assert [scheme["type"] for scheme in config["authenticationSchemes"]] == ["oauthbearertoken"]
    assert config["meta"]["location"] == f"{BASE}/ServiceProviderConfig"


# A custom extension of the kind Entra provisions directory extension attributes into (Microsoft Learn, "Tutorial -
# Customize user provisioning attribute-mappings", § "Provisioning a custom extension attribute to a SCIM
# compliant application").
CUSTOM_EXTENSION = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"


def test_resource_types(client: httpx.Client) -> None:
    listing = client.get("/ResourceTypes").json()
    assert listing["schemas"] == [LIST_RESPONSE]
    assert listing["totalResults"] == 2
    by_name = {rt["name"]: rt for rt in listing["Resources"]}
    assert by_name["User"]["endpoint"] == "/Users"
    assert by_name["User"]["schema"] == CORE_USER
    assert by_name["User"]["schemaExtensions"] == [
        {"schema": ENTERPRISE, "required": False},
        {"schema": CUSTOM_EXTENSION, "required": False},
    ]
    assert by_name["Group"]["schema"] == CORE_GROUP
    assert by_name["Group"]["meta"]["location"] == f"{BASE}/ResourceTypes/Group"
    assert client.get("/ResourceTypes/User").json() == by_name["User"]
    assert client.get("/ResourceTypes/Nope").status_code == 404


def test_schemas_hold_full_definitions(client: httpx.Client) -> None:
    listing = client.get("/Schemas").json()
    assert listing["schemas"] == [LIST_RESPONSE]
    assert (listing["totalResults"], listing["startIndex"], listing["itemsPerPage"]) == (4, 1, 4)
    schemas = {schema["id"]: schema for schema in listing["Resources"]}
    assert set(schemas) == {CORE_USER, CORE_GROUP, ENTERPRISE, CUSTOM_EXTENSION}
    custom = {a["name"]: a["type"] for a in schemas[CUSTOM_EXTENSION]["attributes"]}
    assert custom == {"tag": "string", "employeeLevel": "integer", "hireDate": "dateTime", "remoteWorker": "boolean"}
    user, group, enterprise = schemas[CORE_USER], schemas[CORE_GROUP], schemas[ENTERPRISE]
    assert [a["name"] for a in user["attributes"]] == [
        "userName", "name", "displayName", "nickName", "profileUrl", "title", "userType",
        "preferredLanguage", "locale", "timezone", "active", "password", "emails", "phoneNumbers",
        "ims", "photos", "addresses", "groups", "entitlements", "roles", "x509Certificates",
    ]  # fmt: skip
    user_name = attribute(user, "userName")
    assert (user_name["required"], user_name["caseExact"], user_name["uniqueness"]) == (True, False, "server")
    assert sub_attribute_names(user, "name") == [
        "formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix",
    ]  # fmt: skip
    assert sub_attribute_names(user, "emails") == ["value", "display", "type", "primary"]
    assert sub_attribute_names(user, "addresses") == [
        "formatted", "streetAddress", "locality", "region", "postalCode", "country", "type", "primary",
    ]  # fmt: skip
    assert attribute(user, "password")["returned"] == "never"
    assert attribute(user, "active")["type"] == "boolean"
    assert [a["name"] for a in group["attributes"]] == ["displayName", "members"]
    assert attribute(group, "displayName")["uniqueness"] == "server"
    assert sub_attribute_names(group, "members") == ["value", "$ref", "display", "type"]
    assert sub_attribute_names(enterprise, "manager") == ["value", "$ref", "displayName"]
    assert user["meta"] == {"resourceType": "Schema", "location": f"{BASE}/Schemas/{CORE_USER}"}


def test_every_attribute_is_fully_described(client: httpx.Client) -> None:
    required = {"name", "type", "multiValued", "description", "required", "mutability", "returned"}

    def check(attributes: list[Any]) -> None:
        for a in attributes:
            assert required <= set(a), a["name"]
            assert (a["type"] == "complex") == ("subAttributes" in a), a["name"]
            check(a.get("subAttributes", []))

    for schema in client.get("/Schemas").json()["Resources"]:
        check(schema["attributes"])


def test_one_schema_by_urn(client: httpx.Client) -> None:
    response = client.get(f"/Schemas/{ENTERPRISE}")
    assert response.status_code == 200
    assert response.json()["name"] == "EnterpriseUser"
    assert client.get("/Schemas/urn:nope").status_code == 404
