"""The SCIM endpoint under test: its Tenant URL as Entra reads it, and the embedded default.

Entra takes feature flags from the Tenant URL's query string (`…/scim?aadOptscim062020`). The flag
chooses the PATCH dialect; it is not forwarded on requests (Entra's behaviour is undocumented, see
entra-wire §10 q2, and forwarding it would break servers that reject unknown parameters).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from scimconform.errors import ConfigError
from scimconform.settings import Settings

# Tenant-URL flag -> the dialect it selects (entra-wire §3.3).
URL_FLAGS = {"aadoptscim062020": "aadOptscim062020", "azureadscimpatch2017": "default"}


@dataclass(frozen=True)
class Target:
    """Where requests go and with which credentials."""

    base_url: str
    token: str | None = field(default=None, repr=False)
    url_dialect: str | None = None
    embedded: bool = False

    def url_for(self, path: str) -> str:
        """Join a resource path (`/Users/{id}`) onto the base, as Entra appends to the Tenant URL."""
        return self.base_url + "/" + path.lstrip("/")


def parse_tenant_url(url: str, token: str | None) -> Target:
    """Split a Tenant URL into base and dialect flag; reject what no HTTP client could use."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"malformed target URL {url!r}: expected http(s)://host/path, e.g. https://example.com/scim/v2"
        )
    try:
        parts.port  # noqa: B018 - validates the port number
    except ValueError:
        raise ConfigError(f"malformed target URL {url!r}: invalid port") from None
    dialect = None
    for flag in filter(None, parts.query.split("&")):
        name = flag.split("=", 1)[0].lower()
        if name not in URL_FLAGS:
            raise ConfigError(
                f"target URL {url!r}: unknown query flag {flag!r} (known: aadOptscim062020, AzureAdScimPatch2017)"
            )
        dialect = URL_FLAGS[name]
    base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    return Target(base_url=base, token=token, url_dialect=dialect)


def configured_target(settings: Settings) -> Target | None:
    """The target the settings name, with its token; None means the embedded server."""
    if not settings.url:
        return None
    target = parse_tenant_url(settings.url, settings.token())
    if target.token is None:
        raise ConfigError(
            f"environment variable {settings.token_env} is not set: export the target's bearer token "
            "(or name another variable with --token-env)"
        )
    return target


@contextmanager
def embedded_target() -> Iterator[Target]:
    """Start the reference server on a free loopback port, for runs that name no target.

    This is the only place harness code reaches into the server package.
    """
    from scimconform.server import ReferenceServer, serve_in_thread

    token = secrets.token_urlsafe(24)
    with serve_in_thread(ReferenceServer(token=token)) as base_url:
        yield Target(base_url=base_url, token=token, embedded=True)
