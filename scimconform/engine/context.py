"""What every case of a run shares: the identity provider, client, profile, identity factory, ledger and the
step observer."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from scimconform import idp
from scimconform.client import RecordingClient
from scimconform.identities import IdentityFactory
from scimconform.ledger import Ledger
from scimconform.profiles import Profile
from scimconform.settings import Settings


class StepObserver(Protocol):
    """Lets a reporter wrap each step (e.g. as an Allure step); the engine imports no reporter."""

    def step(self, title: str) -> AbstractContextManager[object]: ...


@dataclass(kw_only=True)
class RunContext:
    client: RecordingClient
    profile: Profile
    factory: IdentityFactory
    ledger: Ledger
    observer: StepObserver
    users: int = 12
    settings: Settings = field(default_factory=Settings)
    provider: idp.Provider = field(default_factory=idp.provider)  # whose traffic the cases replay
