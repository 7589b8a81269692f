"""A provisioning cycle, written by hand as Entra sends it, recorded through `scimconform record`'s proxy in
front of the reference server: the recording the record and replay tests share."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx

from scimconform.server import TOKEN_PATH, ReferenceServer, serve_in_thread
from scimconform.traffic.proxy import Listener, RecordingProxy, proxy_in_thread
from scimconform.traffic.record import RecordOptions, write_recording

# Canaries, with characters on which the encodings differ (a header value stays printable ASCII).
TOKEN = 'tok/+"t"\\&=CANARY-token-51e'
CLIENT_ID = "recorder"
CLIENT_SECRET = 'sec/+"s"\\&=CANARY-secret-8d0'
COOKIE = "CANARY-cookie-77a"
GIVEN_NAME = "Zoë/+&= CANARY-given-3f9"
PERSONAL = ("name.givenName",)
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def upstream(*faults: str) -> ReferenceServer:
    return ReferenceServer(token=TOKEN, faults=faults, oauth_clients={CLIENT_ID: CLIENT_SECRET})


def cycle(tenant_url: str) -> list[str]:
    """Entra's cycle for one user and one group, sent to `tenant_url`; the tokens the token endpoint issued."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(tenant_url))
    headers = {"Authorization": f"Bearer {TOKEN}", "Cookie": f"session={COOKIE}", "Accept": "application/scim+json"}
    with httpx.Client(headers=headers, timeout=30, trust_env=False) as http:
        form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        grant = http.post(origin + TOKEN_PATH, data=form, headers={"Authorization": ""})
        assert grant.status_code == 200, grant.text
        scim = f"{tenant_url}/Users"
        assert http.get(scim, params={"filter": 'userName eq "ada@example.com"'}).status_code == 200
        user = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@example.com",
            "active": True,
            "displayName": "Ada Lovelace",
            "name": {"givenName": GIVEN_NAME, "familyName": "Lovelace"},
        }
        created = http.post(scim, json=user)
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        assert http.get(scim, params={"filter": f'name.givenName eq "{GIVEN_NAME}"'}).status_code == 200
        pascal = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
        assert http.patch(f"{scim}/{user_id}", json=pascal).status_code in (200, 204)
        group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineers"}
        group_id = http.post(f"{tenant_url}/Groups", json=group).json()["id"]
        members = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Add", "path": "members", "value": [{"value": user_id}]}],
        }
        assert http.patch(f"{tenant_url}/Groups/{group_id}", json=members).status_code in (200, 204)
        query = {"filter": f'id eq "{group_id}" and members eq "{user_id}"', "attributes": "id"}
        assert http.get(f"{tenant_url}/Groups", params=query).status_code == 200
        assert http.delete(f"{tenant_url}/Groups/{group_id}").status_code == 204
        assert http.delete(f"{scim}/{user_id}").status_code == 204
    return [grant.json()["access_token"]]


def record_cycle(out: Path) -> list[str]:
    """Record `cycle` through the proxy in front of a fresh reference server into `out`; the issued tokens."""
    with serve_in_thread(upstream()) as scim_url:
        origin = scim_url.removesuffix("/scim/v2")
        proxy = RecordingProxy(origin)  # the origin: the token endpoint is proxied too
        try:
            with proxy_in_thread(proxy, Listener("127.0.0.1", 0)) as proxy_url:
                issued = cycle(proxy_url + "/scim/v2")
        finally:
            proxy.close()
        options = RecordOptions(listener=Listener("127.0.0.1", 0), upstream=origin, out=out, personal=PERSONAL)
        write_recording(proxy.exchanges, options)
    return issued
