"""The reference server's OAuth 2.0 token endpoint: the client credentials grant (RFC 6749 §4.4).

Clients authenticate with a Basic header (`client_secret_basic`), form fields (`client_secret_post`) or
both, as Entra may send them; when both are present they must agree. Issued tokens live in memory until
they expire; errors are OAuth error bodies (RFC 6749 §5.2), not SCIM ones.
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
from urllib.parse import unquote_plus

from werkzeug.wrappers import Request, Response

from .faults import Fault

TOKEN_PATH = "/oauth2/token"
DEFAULT_TOKEN_LIFETIME = 3600
TOO_LONG = 86400  # the fault token-lifetime-too-long: a day, beyond the gallery's 6 h bound


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: `error` code, HTTP status, and a description for humans."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


class TokenIssuer:
    """Issues bearer tokens to known clients and remembers until when each is valid."""

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
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, lifetime: int | None = None) -> str:
        """A new token valid for `lifetime` seconds (the configured lifetime by default; ≤ 0 is expired)."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._expiry[token] = self._clock() + (self.lifetime if lifetime is None else lifetime)
        return token

    @property
    def issued(self) -> list[str]:
        """Every token issued so far, so a test can prove none of them leaked."""
        with self._lock:
            return list(self._expiry)

    def status(self, token: str) -> str | None:
        """None for a valid token, else why it is not: "expired" or "unknown"."""
        with self._lock:
            expiry = self._expiry.get(token)
        if expiry is None:
            return "unknown"
        if Fault.EXPIRED_TOKEN_ACCEPTED in self._faults:
            return None
        return None if self._clock() < expiry else "expired"

    def respond(self, request: Request) -> Response:
        try:
            if request.method != "POST":
                raise OAuthError("invalid_request", "the token endpoint takes POST", 405)
            self._authenticate_client(request)
            if request.form.get("grant_type") != "client_credentials":
                raise OAuthError("unsupported_grant_type", "only grant_type=client_credentials is supported")
        except OAuthError as exc:
            headers = {"WWW-Authenticate": 'Basic realm="scimconform"'} if exc.status == 401 else {}
            return _json(exc.status, {"error": exc.error, "error_description": exc.description}, headers)
        body = {"access_token": self.issue(), "token_type": "Bearer", "expires_in": self.lifetime}
        if request.form.get("scope"):
            body["scope"] = request.form["scope"]
        return _json(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _authenticate_client(self, request: Request) -> None:
        presented = [(request.form.get("client_id"), request.form.get("client_secret"))]
        header = request.headers.get("Authorization", "")
        if header[:6].lower() == "basic ":
            presented.append(_basic(header[6:]))
        clients = {client for client, _ in presented if client is not None}
        given = {secret for _, secret in presented if secret is not None}
        if len(clients) != 1 or len(given) != 1:  # none, or a header and a form that disagree
            raise OAuthError("invalid_client", "client authentication failed", 401)
        expected = self._clients.get(clients.pop())
        if Fault.WRONG_CLIENT_SECRET_ACCEPTED in self._faults and expected is not None:
            return
        if expected is None or not hmac.compare_digest(given.pop(), expected):
            raise OAuthError("invalid_client", "client authentication failed", 401)


def _basic(encoded: str) -> tuple[str | None, str | None]:
    """RFC 6749 §2.3.1: base64 of the form-urlencoded id and secret, joined by a colon."""
    try:
        client, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return unquote_plus(client), unquote_plus(secret)


def _json(status: int, body: Mapping[str, object], headers: Mapping[str, str]) -> Response:
    return Response(json.dumps(body), status, headers, content_type="application/json")
