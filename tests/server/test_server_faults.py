"""Every named fault breaks its own rule, and only that one.

Each probe checks one rule and returns whether the server keeps it. Probes reach groups through a
displayName filter rather than by id, and never use PascalCase ops, so that one fault (ids changing on
PATCH, PascalCase rejected) cannot make another rule's probe fail.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from scimconform.server import FAULTS, REVOCATION_PATH, TOKEN_PATH, ReferenceServer

from .conftest import client_for
from .entra import CORE_USER, ENTERPRISE, ERROR, LIST_RESPONSE, Json, create_group, create_user, patch_body, query

Probe = Callable[[httpx.Client], bool]
PROBES: dict[str, Probe] = {}


def probe(fault: str) -> Callable[[Probe], Probe]:
    def register(check: Probe) -> Probe:
        PROBES[fault] = check
        return check

    return register


def group_named(client: httpx.Client, name: str, extra: str = "") -> Json:
    listing = client.get("/Groups" + query(filter=f'displayName eq "{name}"') + extra).json()
    found: Json = listing["Resources"][0]
    return found


def members_of(client: httpx.Client, name: str) -> list[str]:
    return [member["value"] for member in group_named(client, name).get("members", [])]


def two_users(client: httpx.Client) -> tuple[str, str]:
    return create_user(client, "one@example.com")["id"], create_user(client, "two@example.com")["id"]


@probe("filter-zero-match-404")
def zero_match_is_empty_list(client: httpx.Client) -> bool:
    response = client.get("/Users" + query(filter='userName eq "nobody"'))
    return response.status_code == 200 and response.json()["totalResults"] == 0


@probe("filter-username-case-sensitive")
def username_filter_ignores_case(client: httpx.Client) -> bool:
    create_user(client, "Case.User@Example.com")
    return bool(client.get("/Users" + query(filter='userName eq "case.user@EXAMPLE.com"')).json()["totalResults"] == 1)


@probe("duplicate-username-accepted")
def duplicate_username_is_409(client: httpx.Client) -> bool:
    create_user(client, "dup@example.com")
    return client.post("/Users", json={"userName": "DUP@example.com"}).status_code == 409


@probe("duplicate-displayname-accepted")
def duplicate_display_name_is_409(client: httpx.Client) -> bool:
    create_group(client, "Sales")
    return client.post("/Groups", json={"displayName": "sales"}).status_code == 409


@probe("pascalcase-op-rejected")
def pascalcase_op_is_accepted(client: httpx.Client) -> bool:
    user = create_user(client)
    body = patch_body({"op": "Replace", "path": "displayName", "value": "X"})
    return client.patch(f"/Users/{user['id']}", json=body).status_code == 200


@probe("false-string-stored")
def boolean_strings_become_booleans(client: httpx.Client) -> bool:
    user = create_user(client)
    body = patch_body({"op": "replace", "path": "active", "value": "True"})
    return client.patch(f"/Users/{user['id']}", json=body).json()["active"] is True


@probe("value-filter-path-no-add")
def unmatched_value_filter_adds(client: httpx.Client) -> bool:
    user = create_user(client)
    body = patch_body({"op": "add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "555"})
    result = client.patch(f"/Users/{user['id']}", json=body).json()
    return bool(result.get("phoneNumbers") == [{"type": "mobile", "value": "555"}])


@probe("pathless-dotted-keys-ignored")
def pathless_dotted_and_urn_keys_apply(client: httpx.Client) -> bool:
    user = create_user(client)
    value = {"name.givenName": "Kkom", f"{CORE_USER}:displayName": "Aklq"}
    result = client.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "value": value})).json()
    return bool(result["name"]["givenName"] == "Kkom" and result.get("displayName") == "Aklq")


@probe("member-remove-list-removes-all")
def remove_value_list_removes_exactly_those(client: httpx.Client) -> bool:
    one, two = two_users(client)
    group = create_group(client, "g", one, two)
    body = patch_body({"op": "remove", "path": "members", "value": [{"value": one}]})
    client.patch(f"/Groups/{group['id']}", json=body)
    return members_of(client, "g") == [two]


@probe("members-filter-path-unsupported")
def members_filter_path_removes(client: httpx.Client) -> bool:
    one, two = two_users(client)
    group = create_group(client, "g", one, two)
    body = patch_body({"op": "remove", "path": f'members[value eq "{one}"]'})
    status = client.patch(f"/Groups/{group['id']}", json=body).status_code
    return status == 204 and members_of(client, "g") == [two]


@probe("only-first-member-added")
def several_members_are_all_added(client: httpx.Client) -> bool:
    one, two = two_users(client)
    group = create_group(client, "g")
    body = patch_body({"op": "add", "path": "members", "value": [{"value": one}, {"value": two}]})
    client.patch(f"/Groups/{group['id']}", json=body)
    return members_of(client, "g") == [one, two]


@probe("excluded-members-ignored")
def excluded_members_are_left_out(client: httpx.Client) -> bool:
    group = create_group(client, "g", *two_users(client))
    return "members" not in client.get(f"/Groups/{group['id']}?excludedAttributes=members").json()


@probe("soft-deleted-hidden")
def soft_deleted_user_is_returned(client: httpx.Client) -> bool:
    user = create_user(client, "soft@example.com", active=False)
    found = client.get("/Users" + query(filter='userName eq "soft@example.com"')).json()
    return client.get(f"/Users/{user['id']}").status_code == 200 and found.get("totalResults") == 1


@probe("delete-returns-200")
def delete_is_204_without_body(client: httpx.Client) -> bool:
    response = client.delete(f"/Users/{create_user(client)['id']}")
    return response.status_code == 204 and response.content == b""


@probe("deleted-user-still-returned")
def deleted_user_is_gone(client: httpx.Client) -> bool:
    user = create_user(client)
    client.delete(f"/Users/{user['id']}")
    return client.get(f"/Users/{user['id']}").status_code != 200


@probe("json-content-type")
def content_type_is_scim_json(client: httpx.Client) -> bool:
    return client.get("/Users").headers["Content-Type"] == "application/scim+json"


@probe("auth-not-checked")
def missing_token_is_401(client: httpx.Client) -> bool:
    request = client.build_request("GET", "/Users")
    del request.headers["Authorization"]
    return client.send(request).status_code == 401


@probe("error-not-scim")
def errors_are_scim_bodies(client: httpx.Client) -> bool:
    response = client.get("/Users/unknown")
    try:
        body = response.json()
    except ValueError:
        return False
    return bool(body["schemas"] == [ERROR] and body["status"] == str(response.status_code))


@probe("enterprise-extension-dropped")
def enterprise_extension_is_kept(client: httpx.Client) -> bool:
    user = create_user(client, **{ENTERPRISE: {"department": "Sales"}})
    return bool(client.get(f"/Users/{user['id']}").json().get(ENTERPRISE) == {"department": "Sales"})


@probe("schemas-endpoint-missing")
def schemas_endpoint_exists(client: httpx.Client) -> bool:
    return client.get("/Schemas").status_code == 200


@probe("username-transformed")
def username_is_stored_verbatim(client: httpx.Client) -> bool:
    user = create_user(client, "Mixed.Case@Example.com")
    return bool(client.get(f"/Users/{user['id']}").json()["userName"] == "Mixed.Case@Example.com")


@probe("list-without-schemas")
def list_response_has_schemas(client: httpx.Client) -> bool:
    return bool(client.get("/Users").json().get("schemas") == [LIST_RESPONSE])


@probe("unknown-id-500")
def unknown_id_is_404(client: httpx.Client) -> bool:
    return client.get("/Users/unknown").status_code == 404


@probe("pagination-ignored")
def paging_is_honoured(client: httpx.Client) -> bool:
    for n in range(3):
        create_user(client, f"page{n}@example.com")
    listing = client.get("/Users?startIndex=2&count=1").json()
    return bool(len(listing["Resources"]) == 1 and listing["startIndex"] == 2 and listing["totalResults"] == 3)


@probe("startindex-zero-based")
def start_index_is_one_based(client: httpx.Client) -> bool:
    for n in range(3):
        create_user(client, f"page{n}@example.com")
    listing = client.get("/Users?startIndex=1&count=1").json()
    return bool(listing["Resources"][0]["userName"] == "page0@example.com")


@probe("and-filter-unsupported")
def and_filters_work(client: httpx.Client) -> bool:
    user = create_user(client, "both@example.com")
    found = client.get("/Users" + query(filter=f'id eq "{user["id"]}" and userName eq "both@example.com"'))
    return found.status_code == 200 and found.json()["totalResults"] == 1


@probe("readd-member-conflict")
def readding_a_member_is_harmless(client: httpx.Client) -> bool:
    one, _ = two_users(client)
    group = create_group(client, "g")
    add = patch_body({"op": "add", "path": "members", "value": [{"value": one}]})
    client.patch(f"/Groups/{group['id']}", json=add)
    again = client.patch(f"/Groups/{group_named(client, 'g')['id']}", json=add)
    return again.status_code == 204 and members_of(client, "g") == [one]


@probe("null-value-rejected")
def null_clears(client: httpx.Client) -> bool:
    user = create_user(client, title="Boss")
    body = patch_body({"op": "replace", "path": "title", "value": None})
    answer = client.patch(f"/Users/{user['id']}", json=body)
    return answer.status_code == 200 and "title" not in answer.json()


@probe("location-header-missing")
def created_resources_have_a_location(client: httpx.Client) -> bool:
    created = client.post("/Users", json={"userName": "located@example.com"})
    return bool(created.headers.get("Location") == created.json()["meta"]["location"])


@probe("number-stored-as-string")
def integers_stay_numbers(client: httpx.Client) -> bool:
    custom = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
    user = create_user(client, **{custom: {"employeeLevel": 7}})
    return bool(user[custom]["employeeLevel"] == 7)


@probe("wrong-client-secret-accepted")
def wrong_secret_is_refused(client: httpx.Client) -> bool:
    return token_response(client, "not-the-secret").status_code == 401


@probe("expired-token-accepted")
def expired_token_is_refused(client: httpx.Client) -> bool:
    server: ReferenceServer = client._transport.app  # type: ignore[attr-defined]  # the in-process WSGI app
    assert server.issuer is not None
    expired = server.issuer.issue(lifetime=0)
    answer = client.get("/Users", headers={"Authorization": f"Bearer {expired}"})
    return answer.status_code == 401


@probe("revoked-token-accepted")
def revoked_token_is_refused(client: httpx.Client) -> bool:
    token = token_response(client).json()["access_token"]
    revoked = oauth_post(client, REVOCATION_PATH, {"token": token, "client_id": CLIENT, "client_secret": SECRET})
    answer = client.get("/Users", headers={"Authorization": f"Bearer {token}"})
    return revoked.status_code == 200 and answer.status_code == 401


@probe("token-lifetime-too-long")
def token_lifetime_is_within_six_hours(client: httpx.Client) -> bool:
    return 3600 <= int(token_response(client).json()["expires_in"]) <= 21600


@probe("manager-ignored")
def manager_is_stored(client: httpx.Client) -> bool:
    boss, worker = two_users(client)
    body = patch_body({"op": "add", "path": f"{ENTERPRISE}:manager", "value": boss})
    answer = client.patch(f"/Users/{worker}", json=body).json()
    return bool(answer.get(ENTERPRISE, {}).get("manager", {}).get("value") == boss)


@probe("id-changes-on-patch")
def id_survives_patch(client: httpx.Client) -> bool:
    user = create_user(client)
    body = patch_body({"op": "replace", "path": "displayName", "value": "X"})
    patched = client.patch(f"/Users/{user['id']}", json=body).json()
    return bool(patched["id"] == user["id"] and client.get(f"/Users/{user['id']}").status_code == 200)


def holds(rule: str, *faults: str) -> bool:
    server = ReferenceServer(faults=faults, oauth_clients={CLIENT: SECRET})
    with client_for(server) as client:
        return PROBES[rule](client)


CLIENT, SECRET = "probe-client", "probe-secret"


def token_response(client: httpx.Client, secret: str = SECRET) -> httpx.Response:
    """A client credentials request to the server's token endpoint."""
    form = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": secret}
    return oauth_post(client, TOKEN_PATH, form)


def oauth_post(client: httpx.Client, path: str, form: dict[str, str]) -> httpx.Response:
    """A form POST to one of the server's OAuth endpoints (beside the SCIM base path)."""
    return client.post(str(client.base_url).removesuffix("/scim/v2/") + path, data=form)


def test_every_fault_has_a_probe() -> None:
    assert set(PROBES) == set(FAULTS)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_compliant_server_keeps_the_rule(fault: str) -> None:
    assert holds(fault)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_breaks_its_rule(fault: str) -> None:
    assert not holds(fault, fault)


# A fault whose rule contains another: the enterprise extension holds the manager; a server that checks
# no token accepts expired and revoked ones too.
IMPLIED = {
    "enterprise-extension-dropped": ["manager-ignored"],
    "auth-not-checked": ["expired-token-accepted", "revoked-token-accepted"],
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_breaks_no_other_rule(fault: str) -> None:
    broken = [rule for rule in PROBES if rule != fault and not holds(rule, fault)]
    assert broken == IMPLIED.get(fault, [])


def test_faults_combine() -> None:
    combined = ("json-content-type", "auth-not-checked", "only-first-member-added")
    assert not any(holds(rule, *combined) for rule in combined)
    assert holds("filter-zero-match-404", *combined)


def test_fault_details(faulty: Callable[..., httpx.Client]) -> None:
    """The exact misbehaviour of the faults whose probe only sees that a rule broke."""
    client = faulty("filter-zero-match-404", "pascalcase-op-rejected", "delete-returns-200", "unknown-id-500")
    zero = client.get("/Users" + query(filter='userName eq "nobody"'))
    assert (zero.status_code, zero.json()["schemas"]) == (404, [ERROR])
    assert client.get("/Users").status_code == 200  # without a filter, an empty list is still a list
    user = create_user(client)
    pascal = client.patch(f"/Users/{user['id']}", json=patch_body({"op": "Add", "path": "title", "value": "x"}))
    assert (pascal.status_code, pascal.json()["scimType"]) == (400, "invalidSyntax")
    deleted = client.delete(f"/Users/{user['id']}")
    assert (deleted.status_code, deleted.json()["id"]) == (200, user["id"])
    assert client.get(f"/Users/{user['id']}").status_code == 500

    html = faulty("error-not-scim").get("/Users/unknown")
    assert (html.status_code, html.headers["Content-Type"]) == (404, "text/html; charset=utf-8")
    assert faulty("json-content-type").get("/Users").headers["Content-Type"] == "application/json"
    assert faulty("schemas-endpoint-missing").get(f"/Schemas/{ENTERPRISE}").status_code == 404

    members = faulty("members-filter-path-unsupported")
    group = create_group(members, "g")
    body = patch_body({"op": "remove", "path": 'members[value eq "x"]'})
    refused = members.patch(f"/Groups/{group['id']}", json=body)
    assert (refused.status_code, refused.json()["scimType"]) == (400, "invalidPath")

    lenient = faulty("pagination-ignored")
    for n in range(3):
        create_user(lenient, f"p{n}@example.com")
    listing = lenient.get("/Users?startIndex=2&count=1").json()
    assert (listing["startIndex"], listing["itemsPerPage"], listing["totalResults"]) == (1, 3, 3)

    stored = faulty("false-string-stored")
    assert create_user(stored, active="False")["active"] == "False"
