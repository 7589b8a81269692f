"""OAuth 2.0 client credentials, as Entra uses them for gallery apps (RFC 6749 §4.4).

Entra posts `grant_type=client_credentials` to the token endpoint with the client id and secret in a
Basic header (`client_secret_basic`), in the form body (`client_secret_post`) or in both, and sends the
access token as a bearer token until it expires (Microsoft Learn, "Tutorial: Develop and plan
provisioning for a SCIM endpoint", § "OAuth 2.0 client credentials grant flow" and the "How credentials
are sent" field in § "Getting started"). `TokenKeeper` does the same: it fetches a token before the
first request, again shortly before the token expires, and again when the target answers 401.
Entra's documented traffic holds no revocation request: neither that tutorial nor "User provisioning
requirements for Microsoft Entra App Gallery", § "OAuth 2.0 client credentials", mentions one. The
harness revokes a token of its own (RFC 7009) only to probe that the target then stops accepting it.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from scimconform.errors import TargetError
from scimconform.exchange import Exchange

# A token is renewed this long before it expires, so no request carries one that dies in flight.
EXPIRY_MARGIN = 60.0
# RFC 6749 §5.1 makes expires_in optional; a token without one is renewed after this long.
ASSUMED_LIFETIME = 3600.0


class TokenEndpointError(TargetError):
    """The token endpoint did not issue a token: unreachable, refusing the client, or answering nonsense."""


@dataclass(frozen=True, kw_only=True)
class OAuthClient:
    """What an Entra admin enters for client credentials: token endpoint, client id and secret, scopes;
    and, for the revocation case only, the target's RFC 7009 revocation endpoint."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = ""
    auth_method: str = "client_secret_basic"
    revocation_url: str | None = None

    def token_request(self, secret: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
        """The form and headers of a token request; `secret` replaces the real one to probe refusal."""
        form = {"grant_type": "client_credentials"}
        if self.scopes:
            form["scope"] = self.scopes
        return self._authenticated(form, self.client_secret if secret is None else secret)

    def revocation_request(self, token: str) -> tuple[dict[str, str], dict[str, str]]:
        """The form and headers that revoke an access token (RFC 7009 §2.1), the client authenticated as for
        a token request."""
        return self._authenticated({"token": token, "token_type_hint": "access_token"}, self.client_secret)

    def _authenticated(self, form: dict[str, str], secret: str) -> tuple[dict[str, str], dict[str, str]]:
        """`form` and headers carrying the client credentials the way `auth_method` says."""
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if self.auth_method in ("client_secret_basic", "both"):
            headers["Authorization"] = "Basic " + self._basic_credentials(secret)
        if self.auth_method in ("client_secret_post", "both"):
            form |= {"client_id": self.client_id, "client_secret": secret}
        return form, headers

    def _basic_credentials(self, secret: str) -> str:
        """The Basic header's credentials (RFC 7617 §2): RFC 6749 §2.3.1 form-urlencodes both halves before
        they are joined and base64-encoded."""
        return base64.b64encode(f"{quote_plus(self.client_id)}:{quote_plus(secret)}".encode()).decode()

    @property
    def secrets(self) -> list[str]:
        """For the redactor: the secret, and its Basic credentials, which a token endpoint may echo back."""
        return [self.client_secret, self._basic_credentials(self.client_secret)]


@dataclass(frozen=True)
class Grant:
    """A token response (RFC 6749 §5.1)."""

    access_token: str = field(repr=False)
    token_type: str
    expires_in: float | None


def read_grant(exchange: Exchange) -> Grant:
    """The grant in a token response, or a one-line reason why there is none."""
    where = f"token endpoint {exchange.url}"
    if exchange.transport_error:
        raise TokenEndpointError(f"{where} unreachable: {exchange.transport_error}")
    body: Any = None
    problem = "the body is not a JSON object"
    try:
        body = exchange.json()
    except ValueError as exc:
        problem = str(exc)
    if exchange.status != 200:
        error = body.get("error") if isinstance(body, dict) else None
        detail = f" ({error})" if isinstance(error, str) else ""
        raise TokenEndpointError(
            f"{where} refused the client credentials (HTTP {exchange.status}{detail}): "
            "check the client id, the secret and how credentials are sent"
        )
    if not isinstance(body, dict):
        raise TokenEndpointError(f"{where} answered 200 without a JSON token response: {problem}")
    token, token_type, expires_in = body.get("access_token"), body.get("token_type"), body.get("expires_in")
    if not isinstance(token, str) or not token:
        raise TokenEndpointError(f"{where} answered 200 without an access_token")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) else None
    return Grant(token, str(token_type), lifetime)


class TokenKeeper:
    """Holds the current access token; fetches a new one when there is none, it is about to expire, or
    the target refused it. Thread-safe: the throughput case sends from several threads."""

    def __init__(
        self, oauth: OAuthClient, fetch: Callable[[OAuthClient], Exchange], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.oauth = oauth
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._renew()
            assert self._token is not None
            return self._token

    def refused(self, token: str) -> str:
        """The target answered 401 to `token`: a new one, unless another thread already renewed it."""
        with self._lock:
            if self._token == token:
                self._renew()
            assert self._token is not None
            return self._token

    def _renew(self) -> None:
        grant = read_grant(self._fetch(self.oauth))
        lifetime = grant.expires_in if grant.expires_in is not None else ASSUMED_LIFETIME
        self._token = grant.access_token
        self._renew_at = self._clock() + max(lifetime - EXPIRY_MARGIN, lifetime / 2)
