"""The SCIM endpoint under test: its Tenant URL as Entra reads it, and the embedded default.

Entra takes feature flags from the Tenant URL's query string (`…/scim?aadOptscim062020`). The flag
chooses the PATCH dialect (the provider's `url_flags`); it is not forwarded on requests (Entra's behaviour
is undocumented, and forwarding it would break servers that reject unknown parameters: docs/entra-notes.md,
"Tenant URL flags").
"""

from __future__ import annotations

import os
import re
import secrets
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from scimconform import idp
from scimconform.auth import OAuthClient
from scimconform.errors import ConfigError, UnsafeIdError
from scimconform.settings import Settings, has_credentials, url_problem


@dataclass(frozen=True, kw_only=True)
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

    def escape(self, url: httpx.URL) -> str | None:
        """Why a request to `url` would leave the Tenant URL (another origin, or outside its path), or None.

        `url` is what the client is about to send, dot segments already resolved; a segment that still
        decodes to `.` or `..` would be resolved by the server instead, so it counts as leaving too.
        """
        base = httpx.URL(self.base_url)
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            return f"{url.scheme}://{url.netloc.decode()} is not the Tenant URL's origin"
        prefix = base.raw_path.split(b"?", 1)[0].rstrip(b"/")
        path = url.raw_path.split(b"?", 1)[0]
        if path != prefix and not path.startswith(prefix + b"/"):
            return f"{url.path} is outside the Tenant URL's path {base.path}"
        if climbs(path.decode()):
            return f"{url.raw_path.decode()} holds a dot segment"
        return None


def climbs(path: str) -> bool:
    """Whether a path, decoded as often as it decodes, has a `.` or `..` segment (RFC 3986 §3.3) — which a
    server that decodes `%2F` or `%5C`, or decodes twice, would resolve, out of the path it was given."""
    decoded = unquote(path)
    while decoded != path:
        path, decoded = decoded, unquote(decoded)
    return any(part in (".", "..") for part in re.split(r"[/\\]", path))


def parse_tenant_url(url: str, token: str | None, provider: idp.Provider | None = None) -> Target:
    """Split a Tenant URL into base and dialect flag (one of the provider's, in any case); reject what no
    HTTP client could use."""
    if has_credentials(url):  # checked first: no message may quote a URL holding a password
        raise ConfigError(
            "the target URL (--url) holds credentials (user:password@): they do not belong in the URL, which "
            "every report shows; give the bearer token with --token-env or --token-file, or OAuth client "
            "credentials with --oauth-token-url and --oauth-client-id"
        )
    problem = url_problem(url.strip())
    if problem:
        raise ConfigError(
            f"malformed target URL {url!r} (--url): {problem}; expected http(s)://host/path, "
            "e.g. https://example.com/scim/v2"
        )
    parts = urlsplit(url.strip())
    known = (provider or idp.provider()).url_flags
    flags = {name.lower(): dialect for name, dialect in known.items()}
    dialect = None
    for flag in filter(None, parts.query.split("&")):
        name = flag.split("=", 1)[0].lower()
        if name not in flags:
            raise ConfigError(f"target URL {url!r}: unknown query flag {flag!r} (known: {', '.join(known)})")
        dialect = flags[name]
    base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    return Target(base_url=base, token=token, url_dialect=dialect)


def configured_target(settings: Settings) -> Target | None:
    """The target the settings name, with its credentials; None means the embedded server."""
    bundle = settings.ca_bundle
    if bundle is not None:
        if not bundle.is_file():
            raise ConfigError(f"CA bundle {bundle} (--ca-bundle) is not a file: name a PEM file of CA certificates")
        try:  # what the client will do with it, now rather than at the first request
            ssl.create_default_context(cafile=str(bundle))
        except ssl.SSLError as exc:
            raise ConfigError(
                f"CA bundle {bundle} (--ca-bundle) holds no usable PEM certificate ({exc.reason or exc}): "
                "name a file of -----BEGIN CERTIFICATE----- blocks"
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read CA bundle {bundle} (--ca-bundle): {exc.strerror or exc}") from None
    headers = settings.request_headers()  # checked for the embedded server too, which sends them as well
    if not settings.url:
        return None
    oauth = _oauth_client(settings)
    target = replace(
        parse_tenant_url(settings.url, None if oauth else settings.token()),
        oauth=oauth,
        headers=headers,
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
        token_url=token_url,
        client_id=settings.oauth_client_id,
        client_secret=secret,
        scopes=settings.oauth_scopes,
        auth_method=settings.oauth_auth_method,
        revocation_url=revocation_url,
    )


def _endpoint_url(url: str, kind: str) -> str:
    """An OAuth endpoint's URL, stripped, or a one-line error naming which endpoint is malformed."""
    option = f"--oauth-{kind}-url"
    if has_credentials(url):  # checked first: no message may quote a URL holding a password
        raise ConfigError(
            f"the OAuth {kind} endpoint ({option}) holds credentials (user:password@): they do not belong in the "
            "URL; give the client identifier with --oauth-client-id and the secret in the variable "
            "--oauth-secret-env names"
        )
    url = url.strip()
    problem = url_problem(url)
    if problem:
        raise ConfigError(
            f"malformed OAuth {kind} endpoint {url!r} ({option}): {problem}; expected http(s)://host/path"
        )
    return url


def path_segment(value: str) -> str:
    """A value from the target (a resource id) as exactly one path segment: every `/`, `?`, `#` and `%`
    percent-encoded (RFC 3986 §3.3), so an id can never point a request at another resource."""
    if value in ("", ".", ".."):
        raise UnsafeIdError(f"the id {value!r} cannot name a resource in a URL path (RFC 3986 §3.3)")
    try:
        return quote(value, safe="")
    except UnicodeEncodeError:  # a lone surrogate, which no URL can carry
        raise UnsafeIdError(f"the id {value!r} cannot be encoded in a URL path (RFC 3986 §2.5)") from None


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
        oauth = OAuthClient(
            token_url=origin + TOKEN_PATH,
            client_id=client_id,
            client_secret=secret,
            scopes="scim",
            auth_method="both",
            revocation_url=origin + REVOCATION_PATH,
        )
        yield Target(
            base_url=base_url,
            embedded=True,
            oauth=oauth,
            headers=settings.request_headers(),
            expired_token=app.issuer.issue(lifetime=0),
            proxy=settings.proxy,
        )
