"""Whether a case, or one of its steps, applies to this run — its profile, credentials and transport — and the
identities it is about, made from the profile's mapping."""

from __future__ import annotations

from typing import Any

from scimconform.catalogue import Case
from scimconform.engine.context import RunContext
from scimconform.engine.templates import Templates
from scimconform.errors import CaseSkipped, NotApplicable
from scimconform.profiles import Profile


def check_applicable(case: Case, context: RunContext) -> None:
    """Skip a case the profile maps nothing for (not applicable), or one the run's options leave out (the
    message names the option that runs it)."""
    profile = context.profile
    for requirement in case.requires:
        if requirement == "groups" and profile.groups is None:
            raise NotApplicable(f"profile {profile.name} maps no groups")
        if requirement == "manager" and not profile.users.select("manager"):
            raise NotApplicable(f"profile {profile.name} maps no manager")
    target, client = context.client.target, context.client
    if "oauth" in case.requires and client.tokens is None:
        raise CaseSkipped(
            "the run uses a static bearer token: give --oauth-token-url and --oauth-client-id to test OAuth"
        )
    if "revocation" in case.requires and (client.tokens is None or not client.tokens.oauth.revocation_url):
        raise CaseSkipped(
            "no token revocation endpoint: give --oauth-revocation-url (RFC 7009) to test that a revoked "
            "token is refused"
        )
    if "tls" in case.requires and not target.base_url.startswith("https:"):
        raise CaseSkipped(f"the target is served over plain http; {context.provider.name} connects over TLS")


def applies(condition: str | None, profile: Profile) -> bool:
    """`when: groups` needs a group mapping; `when: <selector>` needs the profile to map such a user attribute."""
    if condition is None:
        return True
    if condition == "groups":
        return profile.groups is not None
    return bool(profile.users.select(condition))


def make_identities(case: Case, context: RunContext, names: Templates) -> None:
    """The case's identities (and lists of them), with values from the profile's mapping."""
    for name, spec in case.identities.items():
        kind, count = (spec, None) if isinstance(spec, str) else (spec["kind"], spec["count"])
        if kind == "Group" and context.profile.groups is None:
            continue  # steps about groups carry `when: groups` and are left out for this profile
        _make(name, kind, count, context, names)


def _make(name: str, kind: str, count: Any, context: RunContext, names: Templates) -> None:
    mapping = context.profile.mapping(kind)
    if count is None:
        names.identities[name] = context.factory.new(mapping)
        return
    total = context.users if count == "users" else int(count)
    names.lists[name] = [f"{name}_{index}" for index in range(1, total + 1)]
    for member in names.lists[name]:
        names.identities[member] = context.factory.new(mapping)
