"""The recording HTTP client: sends Entra-shaped requests and keeps every exchange, redacted.

Every request carries `Authorization: Bearer <token>` and, with a body, `Content-Type:
application/scim+json`, as Entra sends them. Query strings are encoded the way Entra's traffic was
captured: spaces as `+`, quotes as `%22` (entra-wire §4.1). Secrets are scrubbed from the recorded copy
before anyone else can see it; the curl reproducer reads the token from `$SCIM_TOKEN`.

A hostile or broken target must not break the run: redirects are not followed (a 3xx is just a wrong
status), a body is read only up to `MAX_BODY_BYTES`, and 429 or 503 answers are retried a bounded number
of times after the server's `Retry-After`, each attempt recorded as its own exchange.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx

from scimconform import __version__
from scimconform.target import Target

SCIM_MEDIA_TYPE = "application/scim+json"
REDACTED = "***"
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})  # the scheme stays readable
_COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})  # a cookie's value is its first word: all of it goes

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
            if name == "authorization":
                parts += ["-H", '"Authorization: Bearer $SCIM_TOKEN"']
            elif name in ("content-type", "accept"):
                parts += ["-H", shlex.quote(f"{name.title()}: {value}")]
        if self.request_body is not None:
            parts += ["--data-binary", shlex.quote(self.request_body)]
        return " ".join(parts)


ExchangeListener = Callable[[Exchange], None]


class Redactor:
    """Replaces every known secret with `***` in text that leaves the harness."""

    def __init__(self, secrets: list[str]) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {k.lower(): self._header(k.lower(), v) for k, v in headers.items()}

    def _header(self, name: str, value: str) -> str:
        if name in _COOKIE_HEADERS:
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
    ) -> None:
        self.target = target
        self._pause = pause
        self.redact = Redactor([target.token] if target.token else [])
        self.listeners: list[ExchangeListener] = []
        headers = {"User-Agent": f"scimconform/{__version__}", "Accept": SCIM_MEDIA_TYPE}
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        self._http = httpx.Client(headers=headers, timeout=timeout, transport=transport, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def send(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        without_credentials: bool = False,
    ) -> Exchange:
        """Send one request, retrying a 429 or 503; transport failures are recorded, never raised."""
        url = self.target.url_for(path)
        if query:
            url += "?" + encode_query(query)
        content = None if body is None else json.dumps(body, ensure_ascii=False)
        request = self._http.build_request(method, url, content=content, headers=self._body_headers(body, headers))
        if without_credentials:
            request.headers.pop("Authorization", None)
        exchange = self._attempt(request, 1)
        while exchange.status in RETRY_STATUSES and exchange.attempt <= MAX_RETRIES:
            self._pause(retry_delay(exchange.header("retry-after")))
            exchange = self._attempt(request, exchange.attempt + 1)
        return exchange

    def _attempt(self, request: httpx.Request, attempt: int) -> Exchange:
        """One round trip, recorded and handed to the listeners."""
        exchange = Exchange(
            method=request.method,
            url=self.redact(str(request.url)),
            request_headers=self.redact.headers(request.headers),
            request_body=self.redact(request.content.decode()) if request.content else None,
            attempt=attempt,
        )
        started = time.perf_counter()
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            exchange.transport_error = describe_transport_error(exc, self._http.timeout.read)
        else:
            exchange.status = response.status_code
            exchange.response_headers = self.redact.headers(response.headers)
            try:
                exchange.response_body, exchange.truncated = read_body(response)
            except httpx.HTTPError as exc:
                exchange.transport_error = describe_transport_error(exc, self._http.timeout.read)
            finally:
                response.close()
            exchange.raw_body, exchange.redact = exchange.response_body, self.redact
            exchange.response_body = self.redact(exchange.response_body)
        exchange.elapsed_ms = (time.perf_counter() - started) * 1000
        for listener in self.listeners:
            listener(exchange)
        return exchange

    @staticmethod
    def _body_headers(body: Any, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Content-Type": SCIM_MEDIA_TYPE} if body is not None else {}
        headers.update(extra or {})
        return headers


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
                "if a private CA signed it, point SSL_CERT_FILE at that CA's certificate"
            )
        return f"cannot connect: {reason}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the HTTP exchange: {exc}"
    if isinstance(exc, httpx.NetworkError):
        return f"the connection broke: {exc}"
    return f"{type(exc).__name__}: {exc}"
