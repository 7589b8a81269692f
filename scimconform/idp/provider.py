"""What an identity provider sends and expects, as one object the replay engine and the load workload ask.

The engine and the workload never name a provider: case ids, the report epic, the PATCH dialects and the
Tenant-URL flags that pick one, the TLS offer, the case files, the default profile and the shapes of the
match, membership and create requests all come from the `Provider` in their context.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scimconform.dialects import Dialect
from scimconform.identities import Identity
from scimconform.profiles import ObjectMapping


@dataclass(frozen=True)
class MatchQuery:
    """One match request: the matching attribute it asks about, and the query string that asks."""

    attribute: str
    query: dict[str, str]

    @property
    def filter(self) -> str:
        return self.query["filter"]


@dataclass(frozen=True, kw_only=True, eq=False)
class Provider:
    """One identity provider. Compared and hashed by identity (`eq=False`): each provider is one object,
    and the catalogue caches the cases of each.

    `sequences` is the folder of its case files; a relative path is read under the `fixtures` data room.
    `default_dialect` is the one it speaks when the Tenant URL carries no flag.
    `url_flags` maps each Tenant-URL query flag, as its documentation spells it, to the dialect it picks.
    `tls_ciphers` is the OpenSSL cipher string it offers over TLS 1.2 (a step with `tls: provider`).
    `match_queries` lists the queries that look for an identity before it is created, in the order sent;
    `member_query` is the query that asks whether a group (by id) lists a user (by id); `create_body` is
    the POST body of an identity; `members_per_patch` is how many members one membership PATCH carries.
    """

    key: str
    name: str
    case_id: re.Pattern[str]
    epic: str
    sequences: Path
    default_profile: str
    dialects: Mapping[str, Dialect]
    default_dialect: str
    url_flags: Mapping[str, str]
    tls_ciphers: str
    members_per_patch: int
    match_queries: Callable[[ObjectMapping, Identity], list[MatchQuery]]
    member_query: Callable[[str, str], dict[str, str]]
    create_body: Callable[[ObjectMapping, Identity], dict[str, Any]]

    def __post_init__(self) -> None:
        """A provider that picks a dialect it does not speak fails when it is defined, not mid-run."""
        unknown = {self.default_dialect, *self.url_flags.values()} - set(self.dialects)
        if unknown:
            spoken = ", ".join(self.dialects)
            raise ValueError(f"provider {self.key} picks a dialect it does not speak (it speaks {spoken})")
