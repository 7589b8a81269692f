"""Request bodies as Microsoft Entra ID sends them, copied from the samples on Microsoft Learn.

Unless a docstring says otherwise, the page is "Tutorial: Develop and plan provisioning for a SCIM endpoint"
(https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CUSTOM = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

Json = dict[str, Any]


def user_body(user_name: str = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee") -> Json:
    """§ "Create User": enterprise URN listed without enterprise data, meta.resourceType, empty roles."""
    return {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": user_name,
        "active": True,
        "emails": [
            {
                "primary": True,
                "type": "work",
                "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com",
            }
        ],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
    }


def legacy_user_body() -> Json:
    """§ "Handling provisioning and deprovisioning of users", example 2: explicit nulls, top-level
    department/manager, the URN missing a colon (sic)."""
    return {
        "schemas": [CORE_USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "externalId": "jyoung",
        "userName": "jyoung@testuser.com",
        "active": True,
        "addresses": None,
        "displayName": "Joy Young",
        "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": True}],
        "meta": {"resourceType": "User"},
        "name": {"familyName": "Young", "givenName": "Joy"},
        "phoneNumbers": None,
        "preferredLanguage": None,
        "title": None,
        "department": None,
        "manager": None,
    }


def group_body(display_name: str = "displayName") -> Json:
    """§ "Create Group": the ADSCIM schema URI, no members key."""
    return {
        "schemas": [CORE_GROUP, ADSCIM_GROUP],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": display_name,
        "meta": {"resourceType": "Group"},
    }


def patch_body(*operations: Json) -> Json:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def query(**parameters: str) -> str:
    """Entra's wire form of a query string: + for spaces, %22 for quotes.

    https://github.com/AzureAD/SCIMReferenceCode/issues/63; docs/entra-notes.md, "Query-string encoding".
    """
    return "?" + urlencode(parameters)


def create_user(client: httpx.Client, user_name: str = "user@example.com", /, **attributes: Any) -> Json:
    response = client.post("/Users", json={**user_body(user_name), **attributes})
    assert response.status_code == 201, response.text
    created: Json = response.json()
    return created


def create_group(client: httpx.Client, display_name: str = "displayName", /, *member_ids: str) -> Json:
    members = {"members": [{"value": member_id} for member_id in member_ids]} if member_ids else {}
    response = client.post("/Groups", json={**group_body(display_name), **members})
    assert response.status_code == 201, response.text
    created: Json = response.json()
    return created


def member_ids(client: httpx.Client, group_id: str) -> list[str]:
    response = client.get(f"/Groups/{group_id}")
    assert response.status_code == 200, response.text
    return [member["value"] for member in response.json().get("members", [])]
