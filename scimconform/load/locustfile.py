"""The identity provider's provisioning workload as a Locust user, for targets one machine cannot load.

    SCIM_TOKEN=… locust -f "$(python -c 'import scimconform.load.locustfile as m; print(m.__file__)')" \\
        --host https://api.example.com/scim/v2 --master …   # and on each load machine: --worker --master-host …

Every simulated user provisions a small tenant of its own, again and again: `SCIMCONFORM_LOAD_USERS`
users (default 20) under a fresh run tag, with the same phases, chains and bodies as `scimconform load`
(profile `SCIMCONFORM_PROFILE`, else the provider's default; dialect from the Tenant URL's flag), then
the end-state check and the deletion of everything it created. Unexpected answers, end-state problems and
leftovers are Locust failures (`CHECK end state`, `CHECK cleanup`), so `--exit-code-on-error` (on by
default) fails the run.
Give running tenants time to finish and clean up when the run ends: `--stop-timeout 60`.
"""

from __future__ import annotations

import os
import random

from locust import User, constant, task

from scimconform import idp
from scimconform.client import RecordingClient
from scimconform.exchange import Exchange
from scimconform.identities import IdentityFactory, new_run_tag
from scimconform.load.workload import Call, Workload, run_chain
from scimconform.profiles import load_profile
from scimconform.target import parse_tenant_url


class UnexpectedAnswer(Exception):
    """An answer the workload did not expect, or an end state that differs from what was sent."""


class TenantProvisioning(User):
    wait_time = constant(0)

    def on_start(self) -> None:
        token = os.environ.get(os.environ.get("SCIMCONFORM_TOKEN_ENV", "SCIM_TOKEN"))
        target = parse_tenant_url(self.host or "", token)
        self.scim = RecordingClient(target)
        self.provider = idp.provider()
        self.profile = load_profile(os.environ.get("SCIMCONFORM_PROFILE", self.provider.default_profile))
        self.dialect = self.provider.dialects[target.url_dialect or self.provider.default_dialect]
        self.tenant_users = int(os.environ.get("SCIMCONFORM_LOAD_USERS", "20"))

    def on_stop(self) -> None:
        self.scim.close()

    @task
    def provision_tenant(self) -> None:
        """One tenant: initial cycle, updates, deprovisioning, end-state check; always cleaned up."""
        factory = IdentityFactory(random.SystemRandom().randrange(10**6), new_run_tag())
        workload = Workload(
            profile=self.profile, dialect=self.dialect, factory=factory, users=self.tenant_users, provider=self.provider
        )
        try:
            for phase in workload.phases():
                for chain in phase.chains:
                    run_chain(self.scim, chain, self._record)
            self._check("end state", workload.problems)
        finally:
            self._check("cleanup", [f"left behind: {left}" for left in workload.ledger.clean(self.scim)])

    def _check(self, name: str, problems: list[str]) -> None:
        self._fire("CHECK", name, 0.0, UnexpectedAnswer("; ".join(problems[:5])) if problems else None)

    def _record(self, call: Call, exchange: Exchange, expected: bool) -> None:
        failure = None if expected else UnexpectedAnswer(f"{exchange.label}; expected {call.expect}")
        self._fire(call.method, call.op, exchange.elapsed_ms, failure)

    def _fire(self, kind: str, name: str, milliseconds: float, failure: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type=kind, name=name, response_time=milliseconds, response_length=0, exception=failure, context={}
        )
