"""The reference server's OAuth 2.0 token endpoint, the client credentials grant (RFC 6749 §4.4), and its
token revocation endpoint (RFC 7009).

Clients authenticate with a Basic header (`client_secret_basic`), form fields (`client_secret_post`) or
both, as Entra may send them; when both are present they must agree. Both endpoints authenticate the
client the same way. Issued tokens live in memory until they expire or their client revokes them; errors
are OAuth error bodies (RFC 6749 §5.2), not SCIM ones.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from werkzeug.wrappers import Request, Response

from .faults import Fault

TOKEN_PATH = "/oauth2/token"
REVOCATION_PATH = "/oauth2/revoke"
OAUTH_PATHS = frozenset({TOKEN_PATH, REVOCATION_PATH})
DEFAULT_TOKEN_LIFETIME = 3600
TOO_LONG = 86400  # the fault token-lifetime-too-long: a day, beyond the gallery's 6 h bound


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: `error` code, HTTP status, and a description for humans."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@dataclass(frozen=True)
class _Issued:
    """Until when a token is valid, and the client it was issued to (None: issued by `issue` directly)."""

    expiry: float
    client: str | None


class TokenIssuer:
    """Issues bearer tokens to known clients, remembers until when each is valid, and revokes them."""

    def __init__(
        self,
        clients: Mapping[str, str],
        lifetime: int = DEFAULT_TOKEN_LIFETIME,
        clock: Callable[[], float] = time.monotonic,
        faults: frozenset[Fault] = frozenset(),
    ) -> None:
        self._clients = dict(clients)
        self._faults = faults
        self.lifetime = TOO_LONG if Fault.TOKEN_LIFETIME_TOO_LONG in faults else lifetime
        self._clock = clock
        self._issued: dict[str, _Issued] = {}
        self._revoked: set[str] = set()
        self._lock = threading.Lock()

    def issue(self, lifetime: int | None = None, client: str | None = None) -> str:
        """A new token valid for `lifetime` seconds (the configured lifetime by default; ≤ 0 is expired)."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._issued[token] = _Issued(self._clock() + (self.lifetime if lifetime is None else lifetime), client)
        return token

    @property
    def issued(self) -> list[str]:
        """Every token issued so far, revoked ones included, so a test can prove none of them leaked."""
        with self._lock:
            return list(self._issued)

    def status(self, token: str) -> str | None:
        """None for a valid token, else why it is not: "revoked", "expired" or "unknown"."""
        with self._lock:
            issued, revoked = self._issued.get(token), token in self._revoked
        if issued is None:
            return "unknown"
        if revoked and Fault.REVOKED_TOKEN_ACCEPTED not in self._faults:
            return "revoked"
        if Fault.EXPIRED_TOKEN_ACCEPTED in self._faults:
            return None
        return None if self._clock() < issued.expiry else "expired"

    def respond(self, request: Request) -> Response:
        """Answer a token request at TOKEN_PATH or a revocation request at REVOCATION_PATH."""
        try:
            if request.method != "POST":
                raise OAuthError("invalid_request", f"{request.path} takes POST", 405)
            client = self._authenticate_client(request)
            if request.path == REVOCATION_PATH:
                self._revoke(client, request.form.get("token"))
                # RFC 7009 §2.2: 200 whether or not the token was valid; the client reads nothing else.
                return Response(status=200, headers={"Cache-Control": "no-store"})
            if request.form.get("grant_type") != "client_credentials":
                raise OAuthError("unsupported_grant_type", "only grant_type=client_credentials is supported")
        except OAuthError as exc:
            headers = {"WWW-Authenticate": 'Basic realm="scimconform"'} if exc.status == 401 else {}
            return _json(exc.status, {"error": exc.error, "error_description": exc.description}, headers)
        body = {"access_token": self.issue(client=client), "token_type": "Bearer", "expires_in": self.lifetime}
        if request.form.get("scope"):
            body["scope"] = request.form["scope"]
        return _json(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _revoke(self, client: str, token: str | None) -> None:
        """RFC 7009 §2.1: a client may revoke only tokens issued to it; an unknown token is no error (§2.2).

        `token_type_hint` is ignored: access tokens are the only kind there is to search."""
        if not token:
            raise OAuthError("invalid_request", "the token parameter is required")
        with self._lock:
            issued = self._issued.get(token)
            if issued is not None and issued.client not in (None, client):
                raise OAuthError("invalid_grant", "the token was issued to another client")
            if issued is not None:
                self._revoked.add(token)

    def _authenticate_client(self, request: Request) -> str:
        """The id of the client the request authenticates, by Basic header, form fields or both."""
        presented = [(request.form.get("client_id"), request.form.get("client_secret"))]
        header = request.headers.get("Authorization", "")
        if header[:6].lower() == "basic ":
            presented.append(_basic(header[6:]))
        clients = {client for client, _ in presented if client is not None}
        given = {secret for _, secret in presented if secret is not None}
        if len(clients) != 1 or len(given) != 1:  # none, or a header and a form that disagree
            raise OAuthError("invalid_client", "client authentication failed", 401)
        client = clients.pop()
        expected = self._clients.get(client)
        if Fault.WRONG_CLIENT_SECRET_ACCEPTED in self._faults and expected is not None:
            return client
        # compare_digest takes str only when it is ASCII: compare the UTF-8 bytes, so any secret works
        if expected is None or not hmac.compare_digest(given.pop().encode(), expected.encode()):
            raise OAuthError("invalid_client", "client authentication failed", 401)
        return client


def _basic(encoded: str) -> tuple[str | None, str | None]:
    """RFC 6749 §2.3.1: base64 of the form-urlencoded id and secret, joined by a colon."""
    try:
        client, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return unquote_plus(client), unquote_plus(secret)


def _json(status: int, body: Mapping[str, object], headers: Mapping[str, str]) -> Response:
    return Response(json.dumps(body), status, headers, content_type="application/json")
