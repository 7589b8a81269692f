"""What every case of a run shares: the client, profile, identity factory, ledger, the identity provider
and the stream of events that reporters read."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from scimconform import idp
from scimconform.client import RecordingClient
from scimconform.events import EventStream
from scimconform.identities import IdentityFactory
from scimconform.ledger import Ledger
from scimconform.profiles import Profile
from scimconform.settings import Settings


@dataclass(kw_only=True)
class RunContext:
    client: RecordingClient
    profile: Profile
    factory: IdentityFactory
    ledger: Ledger
    events: EventStream = field(default_factory=lambda: EventStream([]))
    users: int = 12
    dialect: str = "default"  # the run's (first) dialect: what a case that runs once speaks in its setup PATCHes
    settings: Settings = field(default_factory=Settings)
    provider: idp.Provider = field(default_factory=idp.provider)  # whose traffic the cases replay
    # Around the steps of an `alone` case: no other worker's case sends anything meanwhile (`workers.CaseLocks`).
    alone: Callable[[], AbstractContextManager[None]] = nullcontext
    at_once: int = 1  # members of an identity list whose steps may run at once (`engine.members`)
    alone_at_once: int = 1  # the same in the steps of an `alone` case, which have the target to themselves
    # Set when the run stops: cases running ahead of pytest (`engine.ahead`) send nothing more.
    stopping: threading.Event = field(default_factory=threading.Event)
