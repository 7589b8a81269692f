"""The SCIM endpoint under test: its Tenant URL as Entra reads it, and the embedded default.

Entra takes feature flags from the Tenant URL's query string (`…/scim?aadOptscim062020`). The flag
chooses the PATCH dialect; it is not forwarded on requests (Entra's behaviour is undocumented, see
entra-wire §10 q2, and forwarding it would break servers that reject unknown parameters).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from scimconform.auth import OAuthClient
from scimconform.errors import ConfigError
from scimconform.settings import Settings

# Tenant-URL flag -> the dialect it selects (entra-wire §3.3).
URL_FLAGS = {"aadoptscim062020": "aadOptscim062020", "azureadscimpatch2017": "default"}


@dataclass(frozen=True)
class Target:
    """Where requests go, with which credentials, and how the connection is made."""

    base_url: str
    token: str | None = field(default=None, repr=False)
    url_dialect: str | None = None
    embedded: bool = False
    oauth: OAuthClient | None = None  # set: every request carries a token from its token endpoint
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    expired_token: str | None = field(default=None, repr=False)
    ca_bundle: Path | None = None
    insecure: bool = False
    proxy: str | None = None

    @property
    def secrets(self) -> list[str]:
        """Everything the reports must not show: tokens, the client secret, custom header values."""
        found = [self.token or "", self.expired_token or "", *self.headers.values()]
        return found + (self.oauth.secrets if self.oauth else [])

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
    """The target the settings name, with its credentials; None means the embedded server."""
    if settings.ca_bundle is not None and not settings.ca_bundle.is_file():
        raise ConfigError(f"CA bundle {settings.ca_bundle} is not a file")
    if not settings.url:
        return None
    oauth = _oauth_client(settings)
    target = replace(
        parse_tenant_url(settings.url, None if oauth else settings.token()),
        oauth=oauth,
        headers=settings.request_headers(),
        expired_token=os.environ.get(settings.expired_token_env) or None,
        ca_bundle=settings.ca_bundle,
        insecure=settings.insecure,
        proxy=settings.proxy,
    )
    if target.token is None and oauth is None:
        where = (
            f"token file {settings.token_file} is empty"
            if settings.token_file
            else (f"environment variable {settings.token_env} is not set")
        )
        raise ConfigError(
            f"{where}: give the target's bearer token (--token-env, --token-file) or OAuth client credentials "
            "(--oauth-token-url, --oauth-client-id)"
        )
    return target


def _oauth_client(settings: Settings) -> OAuthClient | None:
    if not settings.oauth_token_url or not settings.oauth_client_id:
        return None
    token_url = _endpoint_url(settings.oauth_token_url, "token")
    revocation_url = (
        _endpoint_url(settings.oauth_revocation_url, "revocation") if settings.oauth_revocation_url else None
    )
    secret = os.environ.get(settings.oauth_secret_env)
    if not secret:
        raise ConfigError(
            f"environment variable {settings.oauth_secret_env} is not set: export the OAuth client secret "
            "(or name another variable with --oauth-secret-env)"
        )
    return OAuthClient(
        token_url, settings.oauth_client_id, secret, settings.oauth_scopes, settings.oauth_auth_method, revocation_url
    )


def _endpoint_url(url: str, kind: str) -> str:
    """An OAuth endpoint's URL, stripped, or a one-line error naming which endpoint is malformed."""
    url = url.strip()
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise ConfigError(f"malformed OAuth {kind} endpoint {url!r}: expected http(s)://host/path")
    return url


@contextmanager
def embedded_target(settings: Settings | None = None) -> Iterator[Target]:
    """Start the reference server on a free loopback port, for runs that name no target.

    It speaks OAuth client credentials, as new gallery apps must, with a client made up for the run, and
    revokes tokens (RFC 7009) for the revocation case; the expired token for the expiry cases is one the
    server issued already expired. This is the only place harness code reaches into the server package.
    """
    from scimconform.server import REVOCATION_PATH, TOKEN_PATH, ReferenceServer, serve_in_thread

    settings = settings or Settings()
    client_id, secret = f"scimconform-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    app = ReferenceServer(token=None, oauth_clients={client_id: secret})
    assert app.issuer is not None
    with serve_in_thread(app) as base_url:
        parts = urlsplit(base_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        oauth = OAuthClient(origin + TOKEN_PATH, client_id, secret, "scim", "both", origin + REVOCATION_PATH)
        yield Target(
            base_url=base_url,
            embedded=True,
            oauth=oauth,
            headers=settings.request_headers(),
            expired_token=app.issuer.issue(lifetime=0),
            proxy=settings.proxy,
        )
