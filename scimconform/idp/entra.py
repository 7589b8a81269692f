"""Microsoft Entra ID: what its provisioning service sends and expects (docs/entra-notes.md gathers the sources)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from scimconform.dialects import DIALECTS
from scimconform.identities import Identity
from scimconform.idp.provider import MatchQuery, Provider
from scimconform.profiles import ObjectMapping


def match_queries(mapping: ObjectMapping, identity: Identity) -> list[MatchQuery]:
    """One filter per matching attribute, in the mapping's matching precedence (Microsoft Learn, "Tutorial -
    Customize user provisioning attribute-mappings for SaaS applications in Microsoft Entra ID"), skipping
    attributes the identity has no value for. A group query leaves its members out ("Tutorial: Develop and
    plan provisioning for a SCIM endpoint": "excludedAttributes=members when querying the group resource")."""
    extra = {"excludedAttributes": "members"} if identity.resource_type == "Group" else {}
    return [
        MatchQuery(attribute.path, {**extra, "filter": mapping.match_filter(identity.values, attribute.path)})
        for attribute in mapping.matching_order()
        if attribute.path in identity.values
    ]


def member_query(group: str, user: str) -> dict[str, str]:
    """Whether a group lists a user, as Entra asks: by the group's id and the member's. Entra needs no server
    to return a group's members ("It isn't necessary to support returning all the members of the group",
    Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint", Groups)."""
    return {"filter": f'id eq "{group}" and members eq "{user}"', "attributes": "id"}


def create_body(mapping: ObjectMapping, identity: Identity) -> dict[str, Any]:
    """The POST the profile's mapping makes of the identity's values (see `ObjectMapping.create_body`)."""
    return mapping.create_body(identity.values)


ENTRA = Provider(
    key="entra",
    name="Microsoft Entra ID",
    case_id=re.compile(r"^ENTRA-(CONN|HTTP|DISC|USER|GROUP|CYCLE|GAL|AUTH|TLS|RATE|RFC|REC)-\d{3}$"),
    epic="Entra ID provisioning",
    sequences=Path("sequences"),
    default_profile="entra-default",
    dialects=DIALECTS,
    default_dialect="default",
    # Tenant-URL flag -> the dialect it selects (Microsoft Learn, "Known issues and resolutions with SCIM 2.0
    # protocol compliance", § "Flags to alter the SCIM behavior").
    url_flags={"aadOptscim062020": "aadOptscim062020", "AzureAdScimPatch2017": "default"},
    # The cipher suites Entra accepts, in its order, by their OpenSSL names (Microsoft Learn, "Tutorial: Develop
    # and plan provisioning for a SCIM endpoint", § "Security requirements", "Cipher Suites").
    tls_ciphers=(
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:"
        "ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384"
    ),
    # Entra adds and removes group members in batches of several members per PATCH.
    members_per_patch=10,
    match_queries=match_queries,
    member_query=member_query,
    create_body=create_body,
)
