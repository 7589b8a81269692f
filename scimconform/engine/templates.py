"""Template strings in case files, resolved against the case's identities.

`{user.id}`, `{user.userName}`, `{upper:user.userName}`, `{match:user}` (the filter on the identity's first
matching attribute), `{match:user.externalId}` (the match query on that attribute, as a profile matching on it
sends), `{captured.location}`, `{guid}`. In a request path every resolved value becomes exactly one
percent-encoded segment, so an id from the target can never point a request elsewhere.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from scimconform.checks import CheckFailure
from scimconform.errors import MissingDependency, NotApplicable, UnsafeIdError
from scimconform.identities import Identity
from scimconform.profiles import Attribute, ObjectMapping, Profile
from scimconform.target import path_segment

_TEMPLATE = re.compile(r"\{(?:(?P<func>\w+):)?(?P<name>[A-Za-z_]\w*)(?:\.(?P<attr>[^{}]+))?\}")


@dataclass(kw_only=True)
class Templates:
    """One case's names: its identities (and lists of them), captured values and a fresh guid."""

    profile: Profile
    identities: dict[str, Identity] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    captured: dict[str, Any] = field(default_factory=dict)
    guid: str = field(default_factory=lambda: str(uuid.uuid4()))

    def names(self, name: str) -> list[str]:
        """An identity list's member names, or the single name itself."""
        return self.lists.get(name, [name])

    def mapping(self, identity: Identity) -> ObjectMapping:
        return self.profile.mapping(identity.resource_type)

    def id_of(self, name: str) -> str:
        identity = self.identities[name]
        if identity.id is None:
            raise MissingDependency(f"{name} has no id: it was not created")
        return identity.id

    def select(self, name: str, selector: Any, take: int | None = None) -> list[Attribute]:
        """The attributes of the identity's mapping that `selector` names; the case is skipped when none is mapped."""
        mapping = self.mapping(self.identities[name])
        chosen = mapping.select(selector)[:take]
        if not chosen:
            raise NotApplicable(f"profile {self.profile.name} maps no {selector} {mapping.resource_type} attribute")
        return chosen

    def match_filter(self, identity: Identity, path: str | None = None) -> str:
        """The match query on `path` (the first matching attribute by default); a case about matching on an
        attribute the profile does not map is not applicable."""
        if path is not None and path not in identity.values:
            raise NotApplicable(f"profile {self.profile.name} maps no {path} {identity.resource_type} attribute")
        return self.mapping(identity).match_filter(identity.values, path)

    def tree(self, value: Any) -> Any:
        """A JSON value with every template in it resolved; a string that is one template keeps its type."""
        if isinstance(value, str):
            whole = _TEMPLATE.fullmatch(value)
            return self._resolve(whole) if whole else self.text(value)
        if isinstance(value, list):
            return [self.tree(v) for v in value]
        if isinstance(value, dict):
            return {self.text(k): self.tree(v) for k, v in value.items()}
        return value

    def text(self, text: str) -> str:
        return _TEMPLATE.sub(lambda m: str(self._resolve(m)), text)

    def path(self, text: str) -> str:
        """A request path: each value put into it becomes exactly one percent-encoded segment; an identity's id
        only under its own endpoint, since a user and a group may have the same id (`/Users/{group1.id}`)."""
        for match in _TEMPLATE.finditer(text):
            endpoint = text[: match.start()].rstrip("/").rpartition("/")[2].lower()
            identity = self.identities.get(match["name"]) if match["attr"] == "id" else None
            if identity and endpoint in ("users", "groups") and endpoint != identity.resource_type.lower() + "s":
                raise CheckFailure("tenant_url", f"{match[0]} is a {identity.resource_type}'s id: not sent to {text}")
        try:
            return _TEMPLATE.sub(lambda m: path_segment(str(self._resolve(m))), text)
        except UnsafeIdError as exc:
            raise CheckFailure("tenant_url", str(exc)) from None

    def _resolve(self, match: re.Match[str]) -> Any:
        func, name, attr = match["func"], match["name"], match["attr"]
        if name == "guid":
            return self.guid
        if name == "captured":
            return self.captured[attr]
        identity = self.identities[name]
        if func == "match":
            return self.match_filter(identity, attr)
        value = self.id_of(name) if attr == "id" else identity.values[attr] if attr else identity.label
        if func == "upper":
            return str(value).upper()
        return value
