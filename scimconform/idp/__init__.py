"""Identity providers: what each sends and expects, behind one seam (`Provider`) that replay and load share.

A provider is a `Provider` in a module of its own, registered in `PROVIDERS`; Microsoft Entra ID is the
only one. Adding another touches neither the engine nor the load workload.
"""

from __future__ import annotations

from scimconform.errors import ConfigError
from scimconform.idp.entra import ENTRA
from scimconform.idp.provider import MatchQuery, Provider

__all__ = ["PROVIDERS", "MatchQuery", "Provider", "provider"]

PROVIDERS: dict[str, Provider] = {ENTRA.key: ENTRA}


def provider(key: str = ENTRA.key) -> Provider:
    """The registered provider `key`; with no key, the one a run replays unless told otherwise."""
    try:
        return PROVIDERS[key]
    except KeyError:
        raise ConfigError(f"unknown identity provider {key!r}: choose one of {', '.join(sorted(PROVIDERS))}") from None
