"""Every named fault breaks its own rule, and only that one.

Each probe checks one rule and returns whether the server keeps it. Probes reach groups through a
displayName filter rather than by id, create them with the core schema alone, and never use PascalCase ops,
so that one fault (ids changing on PATCH, PascalCase or Entra's group schema URI rejected) cannot make another
rule's probe fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from scimconform.server import FAULTS, REVOCATION_PATH, TOKEN_PATH, ReferenceServer

from .conftest import client_for
from .entra import CORE_USER, CUSTOM, ENTERPRISE, ERROR, LIST_RESPONSE, Json, create_user, group_body, patch_body, query

Probe = Callable[[httpx.Client], bool]
PROBES: dict[str, Probe] = {}


def probe(fault: str) -> Callable[[Probe], Probe]:
    def register(check: Probe) -> Probe:
        PROBES[fault] = check
        return check

    return register


def plain_group(client: httpx.Client, name: str, /, *member_ids: str) -> Json:
    """A group as RFC 7643 §4.2 has it: core schema only."""
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}
    response = client.post(
        "/Groups", json=body | ({"members": [{"value": m} for m in member_ids]} if member_ids else {})
    )
    assert response.status_code == 201, response.text
    created: Json = response.json()
    return created


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
    plain_group(client, "Sales")
    return client.post("/Groups", json={"displayName": "sales"}).status_code == 409


@probe("unknown-schema-uri-refused")
def entra_group_body_is_accepted(client: httpx.Client) -> bool:
    return client.post("/Groups", json=group_body("Entra")).status_code == 201


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


@probe("pathless-add-ignored")
def pathless_add_applies_dotted_and_urn_keys(client: httpx.Client) -> bool:
    user = create_user(client)
    value = {"name.givenName": "Kkom", f"{CORE_USER}:title": "Aklq"}
    result = client.patch(f"/Users/{user['id']}", json=patch_body({"op": "add", "value": value})).json()
    return bool(result["name"]["givenName"] == "Kkom" and result.get("title") == "Aklq")


@probe("mixed-verb-patch-first-only")
def every_operation_of_a_mixed_verb_patch_applies(client: httpx.Client) -> bool:
    user = create_user(client)
    body = patch_body({"op": "replace", "path": "title", "value": "T"}, {"op": "add", "path": "nickName", "value": "N"})
    result = client.patch(f"/Users/{user['id']}", json=body).json()
    return bool(result.get("title") == "T" and result.get("nickName") == "N")


@probe("request-charset-refused")
def a_charset_parameter_is_accepted(client: httpx.Client) -> bool:
    body = {"schemas": [CORE_USER], "userName": "charset@example.com"}
    headers = {"Content-Type": "application/scim+json; charset=utf-8"}
    return client.post("/Users", content=json.dumps(body), headers=headers).status_code == 201


@probe("disabled-user-delete-refused")
def a_disabled_user_can_be_deleted(client: httpx.Client) -> bool:
    user = create_user(client, "disabled@example.com")
    body = patch_body({"op": "replace", "path": "active", "value": False})
    disabled = client.patch(f"/Users/{user['id']}", json=body).json()  # its id, should a fault have changed it
    return client.delete(f"/Users/{disabled['id']}").status_code in (200, 204)


@probe("missing-accept-406")
def no_accept_header_is_answered(client: httpx.Client) -> bool:
    request = client.build_request("GET", "/ServiceProviderConfig")
    del request.headers["Accept"]
    return client.send(request).status_code == 200


@probe("externalid-filter-unsupported")
def externalid_is_filterable(client: httpx.Client) -> bool:
    user = client.post("/Users", json={"schemas": [CORE_USER], "userName": "ext@example.com", "externalId": "x-7"})
    found = client.get("/Users" + query(filter='externalId eq "x-7"'))
    return found.status_code == 200 and [r["id"] for r in found.json()["Resources"]] == [user.json()["id"]]


@probe("value-path-filter-unsupported")
def value_paths_are_filterable(client: httpx.Client) -> bool:
    user = create_user(client, "work@example.com")
    found = client.get("/Users" + query(filter=f'emails[type eq "work"].value eq "{user["emails"][0]["value"]}"'))
    return found.status_code == 200 and [r["id"] for r in found.json()["Resources"]] == [user["id"]]


@probe("group-attribute-add-refused")
def add_sets_a_group_externalid(client: httpx.Client) -> bool:
    plain_group(client, "Externals")
    group = group_named(client, "Externals")
    client.patch(f"/Groups/{group['id']}", json=patch_body({"op": "add", "path": "externalId", "value": "g-7"}))
    return bool(group_named(client, "Externals").get("externalId") == "g-7")


@probe("other-email-dropped")
def a_second_email_is_kept(client: httpx.Client) -> bool:
    emails = [{"type": "work", "value": "w@example.com"}, {"type": "other", "value": "o@example.com"}]
    user = create_user(client, "two-mails@example.com", emails=emails)
    return {e["type"] for e in client.get(f"/Users/{user['id']}").json()["emails"]} == {"work", "other"}


@probe("fax-number-dropped")
def a_fax_number_is_kept(client: httpx.Client) -> bool:
    user = create_user(client, "fax@example.com", phoneNumbers=[{"type": "fax", "value": "+1 555 0100"}])
    return [p["type"] for p in client.get(f"/Users/{user['id']}").json().get("phoneNumbers", [])] == ["fax"]


@probe("address-formatted-dropped")
def an_address_formatted_text_is_kept(client: httpx.Client) -> bool:
    user = create_user(client, "office@example.com", addresses=[{"type": "work", "formatted": "Building 4, 210"}])
    return [a.get("formatted") for a in client.get(f"/Users/{user['id']}").json()["addresses"]] == ["Building 4, 210"]


@probe("member-remove-list-removes-all")
def remove_value_list_removes_exactly_those(client: httpx.Client) -> bool:
    one, two = two_users(client)
    group = plain_group(client, "g", one, two)
    body = patch_body({"op": "remove", "path": "members", "value": [{"value": one}]})
    client.patch(f"/Groups/{group['id']}", json=body)
    return members_of(client, "g") == [two]


@probe("members-filter-path-unsupported")
def members_filter_path_removes(client: httpx.Client) -> bool:
    one, two = two_users(client)
    group = plain_group(client, "g", one, two)
    body = patch_body({"op": "remove", "path": f'members[value eq "{one}"]'})
    status = client.patch(f"/Groups/{group['id']}", json=body).status_code
    return status == 204 and members_of(client, "g") == [two]


@probe("only-first-member-added")
def several_members_are_all_added(client: httpx.Client) -> bool:
    one, two = two_users(client)
    group = plain_group(client, "g")
    body = patch_body({"op": "add", "path": "members", "value": [{"value": one}, {"value": two}]})
    client.patch(f"/Groups/{group['id']}", json=body)
    return members_of(client, "g") == [one, two]


@probe("excluded-members-ignored")
def excluded_members_are_left_out(client: httpx.Client) -> bool:
    group = plain_group(client, "g", *two_users(client))
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
    group = plain_group(client, "g")
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
    user = create_user(client, **{CUSTOM: {"employeeLevel": 7}})
    return bool(user[CUSTOM]["employeeLevel"] == 7)


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


def error_body(response: httpx.Response) -> Json:
    """The JSON object an error answered with, or {} when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@probe("invalid-filter-ignored")
def unknown_filter_operator_is_refused(client: httpx.Client) -> bool:
    return client.get("/Users" + query(filter='userName regex "x"')).status_code == 400


@probe("error-without-scimtype")
def errors_name_their_scim_type(client: httpx.Client) -> bool:
    response = client.post("/Users", content=b"{not json", headers={"Content-Type": "application/scim+json"})
    return bool(error_body(response).get("scimType") == "invalidSyntax")


@probe("error-status-fixed")
def error_status_is_the_http_status(client: httpx.Client) -> bool:
    response = client.get("/Users/unknown")
    return bool(error_body(response).get("status") == str(response.status_code))


@probe("filter-attribute-case-sensitive")
def filter_attribute_names_ignore_case(client: httpx.Client) -> bool:
    create_user(client, "caps@example.com")
    return bool(client.get("/Users" + query(filter='USERNAME eq "caps@example.com"')).json()["totalResults"] == 1)


@probe("attribute-selection-ignored")
def attributes_choose_what_is_returned(client: httpx.Client) -> bool:
    user = create_user(client, "pick@example.com")
    return set(client.get(f"/Users/{user['id']}" + query(attributes="userName")).json()) <= {
        "schemas",
        "id",
        "userName",
    }


@probe("always-returned-dropped")
def id_cannot_be_excluded(client: httpx.Client) -> bool:
    user = create_user(client, "always@example.com")
    return "id" in client.get(f"/Users/{user['id']}" + query(excludedAttributes="id")).json()


@probe("startindex-below-one-refused")
def startindex_zero_is_one(client: httpx.Client) -> bool:
    return client.get("/Users" + query(startIndex="0")).status_code == 200


@probe("negative-count-ignored")
def negative_count_is_zero(client: httpx.Client) -> bool:
    create_user(client, "counted@example.com")
    listing = client.get("/Users" + query(count="-1")).json()
    return bool(listing["totalResults"] == 1 and not listing.get("Resources"))


@probe("meta-resource-type-plural")
def resource_type_is_singular(client: httpx.Client) -> bool:
    return bool(create_user(client)["meta"]["resourceType"] == "User")


@probe("last-modified-differs-at-create")
def new_resource_was_never_modified(client: httpx.Client) -> bool:
    meta = create_user(client)["meta"]
    return bool(meta["lastModified"] == meta["created"])


@probe("uniqueness-unchecked-on-patch")
def rename_to_a_taken_username_is_409(client: httpx.Client) -> bool:
    _, second = two_users(client)
    body = patch_body({"op": "replace", "path": "userName", "value": "one@example.com"})
    return client.patch(f"/Users/{second}", json=body).status_code == 409


@probe("put-honours-client-id")
def put_keeps_the_id(client: httpx.Client) -> bool:
    user = create_user(client, "put@example.com")
    client.put(f"/Users/{user['id']}", json={"schemas": [CORE_USER], "id": "chosen", "userName": "put@example.com"})
    return client.get(f"/Users/{user['id']}").status_code == 200 and client.get("/Users/chosen").status_code != 200


@probe("required-remove-accepted")
def username_cannot_be_removed(client: httpx.Client) -> bool:
    user = create_user(client, "keep@example.com")
    return (
        client.patch(f"/Users/{user['id']}", json=patch_body({"op": "remove", "path": "userName"})).status_code == 400
    )


@probe("readonly-patch-ignored")
def id_cannot_be_patched(client: httpx.Client) -> bool:
    user = create_user(client, "readonly@example.com")
    body = patch_body({"op": "replace", "path": "id", "value": "mine"})
    return client.patch(f"/Users/{user['id']}", json=body).status_code == 400


@probe("pathless-remove-ignored")
def remove_needs_a_path(client: httpx.Client) -> bool:
    user = create_user(client, "target@example.com")
    return client.patch(f"/Users/{user['id']}", json=patch_body({"op": "remove"})).status_code == 400


@probe("patch-not-atomic")
def failed_patch_changes_nothing(client: httpx.Client) -> bool:
    user = create_user(client, "atomic@example.com")
    renamed = {"op": "replace", "path": "displayName", "value": "Changed"}
    client.patch(
        f"/Users/{user['id']}", json=patch_body(renamed, {"op": "replace", "path": "emails[type eq", "value": 1})
    )
    return bool(client.get(f"/Users/{user['id']}").json().get("displayName") == user.get("displayName"))


@probe("unmatched-remove-filter-clears")
def unmatched_remove_keeps_members(client: httpx.Client) -> bool:
    group = plain_group(client, "keepers", *two_users(client))
    client.patch(f"/Groups/{group['id']}", json=patch_body({"op": "remove", "path": 'members[value eq "nobody"]'}))
    return len(members_of(client, "keepers")) == 2


@probe("delete-unknown-204")
def delete_of_unknown_id_is_404(client: httpx.Client) -> bool:
    return client.delete("/Users/unknown").status_code == 404


@probe("deleted-username-reserved")
def deleted_username_is_free(client: httpx.Client) -> bool:
    user = create_user(client, "again@example.com")
    client.delete(f"/Users/{user['id']}")
    return client.post("/Users", json={"schemas": [CORE_USER], "userName": "again@example.com"}).status_code == 201


@probe("password-returned")
def password_is_never_returned(client: httpx.Client) -> bool:
    user = create_user(client, "secret@example.com", password="Secret-1")
    return "password" not in user and "password" not in client.get(f"/Users/{user['id']}").json()


def refused(client: httpx.Client, attribute: str, value: Any) -> bool:
    """A user whose attribute holds a value of the wrong type is refused with 400 (RFC 7644 §3.12)."""
    body = {"schemas": [CORE_USER], "userName": f"{attribute}@example.com", attribute: value}
    return client.post("/Users", json=body).status_code == 400


@probe("string-not-validated")
def number_for_string_is_refused(client: httpx.Client) -> bool:
    return refused(client, "displayName", 42)


@probe("boolean-not-validated")
def maybe_for_boolean_is_refused(client: httpx.Client) -> bool:
    return refused(client, "active", "maybe")


@probe("number-not-validated")
def text_for_integer_is_refused(client: httpx.Client) -> bool:
    return refused(client, CUSTOM, {"employeeLevel": "abc"})


@probe("datetime-not-validated")
def text_for_datetime_is_refused(client: httpx.Client) -> bool:
    return refused(client, CUSTOM, {"hireDate": "not-a-date"})


@probe("multi-valued-not-enforced")
def string_for_multi_valued_is_refused(client: httpx.Client) -> bool:
    return refused(client, "emails", "notalist")


@probe("complex-not-enforced")
def string_for_complex_is_refused(client: httpx.Client) -> bool:
    return refused(client, "name", "x")


@probe("readonly-stored")
def read_only_groups_are_ignored(client: httpx.Client) -> bool:
    user = create_user(client, "readonly@example.com", groups=[{"value": "made-up-group"}])
    return "made-up-group" not in json.dumps(client.get(f"/Users/{user['id']}").json())


@probe("immutable-changed")
def a_members_value_is_not_changed_in_place(client: httpx.Client) -> bool:
    one, two = two_users(client)
    group = plain_group(client, "immutable", one)
    body = patch_body({"op": "replace", "path": f'members[value eq "{one}"].value', "value": two})
    client.patch(f"/Groups/{group['id']}", json=body)
    return members_of(client, "immutable") == [one]


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
    "pathless-dotted-keys-ignored": ["pathless-add-ignored"],
    "auth-not-checked": ["expired-token-accepted", "revoked-token-accepted"],
    "attribute-selection-ignored": ["excluded-members-ignored"],
    "duplicate-username-accepted": ["uniqueness-unchecked-on-patch"],
    "deleted-user-still-returned": ["deleted-username-reserved"],
    "pagination-ignored": ["negative-count-ignored"],
    "error-not-scim": ["error-without-scimtype", "error-status-fixed"],
    "error-status-fixed": ["error-not-scim"],
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
    group = plain_group(members, "g")
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
