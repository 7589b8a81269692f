"""The recording HTTP client: sends Entra-shaped requests and keeps every exchange, redacted.

Every request carries `Authorization: Bearer <token>` and, with a body, `Content-Type:
application/scim+json`, as Entra sends them. Query strings are encoded the way Entra's traffic was
captured: spaces as `+`, quotes as `%22` (entra-wire §4.1). Secrets are scrubbed from the recorded copy
before anyone else can see it; the curl reproducer reads the token from `$SCIM_TOKEN`.

A hostile or broken target must not break the run: redirects are not followed (a 3xx is just a wrong
status), a body is read only up to `MAX_BODY_BYTES`, and 429 or 503 answers are retried a bounded number
of times after the server's `Retry-After`, each attempt recorded as its own exchange.

With OAuth client credentials the token comes from a `TokenKeeper`, renewed before it expires and once
more when the target answers 401. TLS is verified (against `--ca-bundle` when given) unless `--insecure`;
a proxy comes from `--proxy` or the usual environment variables; `--rate` spaces requests out.
"""

from __future__ import annotations

import json
import re
import shlex
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx

from scimconform import __version__
from scimconform.auth import OAuthClient, TokenEndpointError, TokenKeeper, read_grant
from scimconform.target import Target

SCIM_MEDIA_TYPE = "application/scim+json"
REDACTED = "***"
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})  # the scheme stays readable
_COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})  # a cookie's value is its first word: all of it goes
# Tokens in any token response (RFC 6749 §5.1), whether or not the harness asked for them.
_TOKEN_FIELDS = re.compile(r'("(?:access|refresh|id)_token"\s*:\s*")[^"]*(")')
# The cipher suites Entra accepts, in its order (entra-wire §6.4), by their OpenSSL names.
ENTRA_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:"
    "ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384"
)

# Every answer the harness judges is far smaller; past this a body is cut, so a 50 MB answer costs
# neither memory nor report space.
MAX_BODY_BYTES = 1024 * 1024
# "Slow down" answers (RFC 6585 §4, RFC 9110 §15.6.4): retried at most MAX_RETRIES times, each after the
# server's Retry-After capped at MAX_RETRY_WAIT seconds, or after DEFAULT_RETRY_WAIT when it names none.
RETRY_STATUSES = frozenset({429, 503})
MAX_RETRIES = 3
MAX_RETRY_WAIT = 3.0
DEFAULT_RETRY_WAIT = 1.0


class NotJsonError(ValueError):
    """A response body that should be JSON is not."""


@dataclass
class Exchange:
    """One request and what came back (or why nothing did), with secrets already removed."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    elapsed_ms: float = 0.0
    transport_error: str | None = None
    tls: str | None = None  # the negotiated protocol and cipher, e.g. "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256"
    attempt: int = 1
    truncated: bool = False
    # Checks judge the body as it came; only copies that leave the harness are redacted.
    raw_body: str = field(default="", repr=False)
    redact: Callable[[str], str] = field(default=lambda text: text, repr=False)
    _json: Any = field(default=None, repr=False)
    _parsed: bool = field(default=False, repr=False)

    @property
    def label(self) -> str:
        """A short title such as `PATCH /Users/1f3a → 204`."""
        path = self.url.split("://", 1)[-1]
        path = "/" + path.split("/", 1)[1] if "/" in path else "/"
        outcome = str(self.status) if self.status is not None else (self.transport_error or "no answer")
        retry = f" (retry {self.attempt - 1})" if self.attempt > 1 else ""
        return f"{self.method} {path} → {outcome}{retry}"

    def json(self) -> Any:
        """The response body as JSON; `NotJsonError` says what was there instead."""
        if not self._parsed:
            if self.truncated:
                raise NotJsonError(
                    f"the response body is larger than {MAX_BODY_BYTES // 1024} KiB; scimconform reads no further"
                )
            if not self.raw_body.strip():
                raise NotJsonError("the response has no body")
            try:
                self._json = json.loads(self.raw_body)
            except json.JSONDecodeError as exc:
                snippet = self.response_body[:80].replace("\n", " ")
                raise NotJsonError(f"the response body is not JSON ({exc.msg}): {snippet!r}") from None
            self._parsed = True
        return self._json

    def header(self, name: str) -> str | None:
        return self.response_headers.get(name.lower())

    def curl(self) -> str:
        """A command that replays this request, with the token taken from `$SCIM_TOKEN`."""
        parts = ["curl", "-sS", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.request_headers.items():
            if name == "authorization" and value.startswith("Basic"):
                parts += ["-u", '"$SCIM_CLIENT_ID:$SCIM_CLIENT_SECRET"']
            elif name == "authorization":
                parts += ["-H", '"Authorization: Bearer $SCIM_TOKEN"']
            elif name in ("content-type", "accept"):
                parts += ["-H", shlex.quote(f"{name.title()}: {value}")]
        if self.request_body is not None:
            parts += ["--data-binary", shlex.quote(self.request_body)]
        return " ".join(parts)


ExchangeListener = Callable[[Exchange], None]


class Redactor:
    """Replaces every known secret, and any token in a token response, with `***` in text that leaves the
    harness. Secrets learnt during the run (each access token issued) are added as they arrive.

    `hidden_headers` are headers whose whole value is a secret (the user's custom headers)."""

    def __init__(self, secrets: list[str], hidden_headers: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self._hidden = _COOKIE_HEADERS | {name.lower() for name in hidden_headers}
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        self._secrets = sorted({*self._secrets, *(s for s in secrets if s)}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _TOKEN_FIELDS.sub(rf"\g<1>{REDACTED}\g<2>", text)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {k.lower(): self._header(k.lower(), v) for k, v in headers.items()}

    def _header(self, name: str, value: str) -> str:
        if name in self._hidden:
            return REDACTED
        return self._scheme_only(value) if name in _CREDENTIAL_HEADERS else self(value)

    @staticmethod
    def _scheme_only(value: str) -> str:
        scheme = value.split(" ", 1)[0] if " " in value else ""
        return f"{scheme} {REDACTED}".strip()


def encode_query(params: Mapping[str, str]) -> str:
    """Encode query parameters in order, spaces as `+` and quotes as `%22`, like Entra's captures."""
    return urlencode(list(params.items()), quote_via=quote_plus)


class RecordingClient:
    """Sends requests to one target and records each exchange for checks and reports."""

    def __init__(
        self,
        target: Target,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        pause: Callable[[float], None] = time.sleep,
        rate: float | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`tls` lets many clients of one target share a context: building one reads the whole trust store."""
        self.target = target
        self.rate = rate
        self._pause = pause
        self._pacer = Pacer(rate)
        self.redact = Redactor(target.secrets, target.headers)
        self.listeners: list[ExchangeListener] = []
        self.tokens = TokenKeeper(target.oauth, self.fetch_token) if target.oauth else None
        headers = {"User-Agent": f"scimconform/{__version__}", "Accept": SCIM_MEDIA_TYPE, **target.headers}
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        self._options: dict[str, Any] = {
            "headers": headers,
            "timeout": timeout,
            "transport": transport,
            "proxy": target.proxy,
            "follow_redirects": False,
        }
        self._http = httpx.Client(verify=tls or tls_context(target), **self._options)
        self._entra_http: httpx.Client | None = None

    def close(self) -> None:
        self._http.close()
        if self._entra_http is not None:
            self._entra_http.close()

    def send(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        without_credentials: bool = False,
        retries: int = MAX_RETRIES,
        record: bool = True,
        entra_tls: bool = False,
    ) -> Exchange:
        """Send one request, retrying a 429 or 503 up to `retries` times and renewing a refused OAuth
        token once; transport failures are recorded, never raised. `record=False` tells no listener
        (for the throughput case's hundreds of requests); `entra_tls` allows only TLS 1.2 with Entra's
        cipher suites."""
        url = self.target.url_for(path)
        if query:
            url += "?" + encode_query(query)
        content = None if body is None else json.dumps(body, ensure_ascii=False)
        http = self._entra_client() if entra_tls else self._http
        request = http.build_request(method, url, content=content, headers=self._body_headers(body, headers))
        token = None
        if without_credentials:
            request.headers.pop("Authorization", None)
        elif self.tokens is not None and "Authorization" not in (headers or {}):
            token = self.tokens.token()
            request.headers["Authorization"] = f"Bearer {token}"
        exchange = self._attempt(http, request, 1, record)
        if exchange.status == 401 and token is not None and self.tokens is not None:
            request.headers["Authorization"] = f"Bearer {self.tokens.refused(token)}"
            exchange = self._attempt(http, request, 2, record)
        while exchange.status in RETRY_STATUSES and exchange.attempt <= retries:
            self._pause(retry_delay(exchange.header("retry-after")))
            exchange = self._attempt(http, request, exchange.attempt + 1, record)
        return exchange

    def fetch_token(self, oauth: OAuthClient, secret: str | None = None) -> Exchange:
        """Ask the token endpoint for an access token, as Entra does; the token joins the secrets.

        `secret` replaces the client secret, to probe that a wrong one is refused."""
        exchange = self._post_form(oauth.token_url, *oauth.token_request(secret))
        with suppress(TokenEndpointError):  # whoever asked judges a refusal
            self.redact.add(read_grant(exchange).access_token)
        return exchange

    def revoke_token(self, oauth: OAuthClient, token: str) -> Exchange:
        """Revoke `token` at the revocation endpoint (RFC 7009 §2.1). The token is hidden before it is sent,
        also form-encoded as it appears in the request body."""
        assert oauth.revocation_url is not None, "revocation belongs to cases that require a revocation endpoint"
        self.redact.add(token, quote_plus(token))
        return self._post_form(oauth.revocation_url, *oauth.revocation_request(token))

    def _post_form(self, url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> Exchange:
        """One form POST to an OAuth endpoint, recorded like any exchange and never retried."""
        request = self._http.build_request("POST", url, data=form, headers=headers)
        return self._attempt(self._http, request, 1, True)

    def _entra_client(self) -> httpx.Client:
        """A second connection pool that offers only what Entra offers: TLS 1.2 and its cipher suites."""
        if self._entra_http is None:
            context = tls_context(self.target)
            context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
            context.set_ciphers(ENTRA_CIPHERS)
            self._entra_http = httpx.Client(verify=context, **self._options)
        return self._entra_http

    def _attempt(self, http: httpx.Client, request: httpx.Request, attempt: int, record: bool) -> Exchange:
        """One round trip, recorded and handed to the listeners."""
        exchange = Exchange(
            method=request.method,
            url=self.redact(str(request.url)),
            request_headers=self.redact.headers(request.headers),
            request_body=self.redact(request.content.decode()) if request.content else None,
            attempt=attempt,
        )
        self._pacer()
        started = time.perf_counter()
        try:
            response = http.send(request, stream=True)
        except httpx.HTTPError as exc:
            exchange.transport_error = describe_transport_error(exc, http.timeout.read)
        else:
            exchange.status = response.status_code
            exchange.tls = negotiated_tls(response)
            exchange.response_headers = self.redact.headers(response.headers)
            try:
                exchange.response_body, exchange.truncated = read_body(response)
            except httpx.HTTPError as exc:
                exchange.transport_error = describe_transport_error(exc, http.timeout.read)
            finally:
                response.close()
            exchange.raw_body, exchange.redact = exchange.response_body, self.redact
            exchange.response_body = self.redact(exchange.response_body)
        exchange.elapsed_ms = (time.perf_counter() - started) * 1000
        if record:
            for listener in self.listeners:
                listener(exchange)
        return exchange

    @staticmethod
    def _body_headers(body: Any, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Content-Type": SCIM_MEDIA_TYPE} if body is not None else {}
        headers.update(extra or {})
        return headers


class Pacer:
    """Spaces requests at least 1/rate seconds apart across all threads (`--rate 20/s`, `load --rate`)."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


def tls_context(target: Target) -> ssl.SSLContext:
    """Verification on, against `--ca-bundle` or the usual trust store (SSL_CERT_FILE too); off with --insecure."""
    if target.ca_bundle is not None and not target.insecure:
        return ssl.create_default_context(cafile=str(target.ca_bundle))
    return httpx.create_ssl_context(verify=not target.insecure)


def negotiated_tls(response: httpx.Response) -> str | None:
    """`TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256` for an https answer, None over plain http."""
    stream = response.extensions.get("network_stream")
    # httpcore hands out the socket's internal _ssl object: it has version() and cipher(), but no public type.
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    version, cipher = ssl_object.version(), ssl_object.cipher()
    return f"{version} {cipher[0]}" if cipher else str(version)


def read_body(response: httpx.Response) -> tuple[str, bool]:
    """The body as text, cut after MAX_BODY_BYTES (with a note saying so); True when it was cut."""
    kept = bytearray()
    for chunk in response.iter_bytes():
        kept += chunk
        if len(kept) > MAX_BODY_BYTES:
            text = kept[:MAX_BODY_BYTES].decode(response.encoding or "utf-8", errors="replace")
            return f"{text}\n[scimconform: body cut after {MAX_BODY_BYTES} bytes]", True
    return kept.decode(response.encoding or "utf-8", errors="replace"), False


def retry_delay(retry_after: str | None) -> float:
    """Seconds to wait before a retry: Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3), capped."""
    if retry_after is None:
        return DEFAULT_RETRY_WAIT
    value = retry_after.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_WAIT)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_WAIT
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_WAIT)


def describe_transport_error(exc: httpx.HTTPError, timeout: float | None) -> str:
    """One line naming why no HTTP answer came back."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s (timeout)"
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc) or "connection failed"
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            why = reason.split("certificate verify failed:", 1)[-1].split("(_ssl", 1)[0].strip()
            return (
                f"TLS certificate verification failed ({why}): this machine does not trust the target's certificate; "
                "if a private CA signed it, give that CA's certificate with --ca-bundle (or SSL_CERT_FILE)"
            )
        return f"cannot connect: {reason}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the HTTP exchange: {exc}"
    if isinstance(exc, httpx.NetworkError):
        return f"the connection broke: {exc}"
    return f"{type(exc).__name__}: {exc}"
