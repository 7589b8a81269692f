"""What every run settles before it touches the target, the same for `run`, `load` and `cleanup`: the
profile, the target (None: the embedded server), the seed and the run tag, and the preflight that decides
whether the target can be judged at all.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from scimconform.auth import TokenEndpointError
from scimconform.client import RETRY_STATUSES, RecordingClient, encode_query
from scimconform.identities import check_generators, new_run_tag
from scimconform.profiles import Profile, load_profile
from scimconform.reporting.results import RunRecord
from scimconform.settings import Settings
from scimconform.target import Target, configured_target


@dataclass(frozen=True, kw_only=True)
class RunPlan:
    settings: Settings
    profile: Profile
    target: Target | None  # None: the embedded reference server, started when the run begins
    seed: int
    run_tag: str

    def record(self, dialects: tuple[str, ...]) -> RunRecord:
        """An empty record of this run, for the dialects it replays."""
        return RunRecord(
            target=self.target.base_url if self.target else "embedded",
            embedded=self.target is None,
            profile=self.profile.name,
            dialects=dialects,
            seed=self.seed,
            run_tag=self.run_tag,
        )


def plan_run(settings: Settings, run_tag: str | None = None) -> RunPlan:
    """Settle the run from its settings; a ConfigError names anything no run could use."""
    profile = load_profile(settings.profile)
    check_generators(profile)
    seed = settings.seed if settings.seed is not None else random.SystemRandom().randrange(10**6)
    return RunPlan(
        settings=settings,
        profile=profile,
        target=configured_target(settings),
        seed=seed,
        run_tag=run_tag or new_run_tag(),
    )


def preflight(client: RecordingClient) -> str | None:
    """One probe before any case: can the target be reached, does it accept the token, is it SCIM?"""
    try:
        exchange = client.send("GET", "/Users", {"filter": 'userName eq "scimconform-preflight"'})
    except TokenEndpointError as exc:
        return str(exc)
    if exchange.transport_error:
        return f"target {client.target.base_url} unreachable: {exchange.transport_error}"
    if exchange.status in (401, 403):
        return f"the target refused the bearer token (HTTP {exchange.status}): check the token and --token-env"
    if exchange.status in RETRY_STATUSES:
        return f"the target keeps answering HTTP {exchange.status} ({exchange.attempt} attempts): it is not serving now"
    try:
        exchange.json()
    except ValueError:
        if exchange.status in (200, 301, 302, 303, 307, 308, 404, 405):
            kind = exchange.header("content-type") or "no content type"
            return (
                f"{client.target.base_url} does not look like a SCIM endpoint: GET /Users?"
                f"{encode_query({'filter': 'userName eq …'})} answered HTTP {exchange.status} with {kind}, not JSON; "
                "check the Tenant URL"
            )
    return None
