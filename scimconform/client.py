"""The recording HTTP client: sends Entra-shaped requests and keeps every exchange, redacted.

Every request carries `Authorization: Bearer <token>` and, with a body, `Content-Type:
application/scim+json`, as Entra sends them. Query strings are encoded the way Entra's traffic was
captured: spaces as `+`, quotes as `%22` (entra-wire §4.1). Secrets are scrubbed from the recorded copy
before anyone else can see it; the curl reproducer reads the token from `$SCIM_TOKEN`.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx

from scimconform import __version__
from scimconform.target import Target

SCIM_MEDIA_TYPE = "application/scim+json"
REDACTED = "***"
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


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
    _json: Any = field(default=None, repr=False)
    _parsed: bool = field(default=False, repr=False)

    @property
    def label(self) -> str:
        """A short title such as `PATCH /Users/1f3a → 204`."""
        path = self.url.split("://", 1)[-1]
        path = "/" + path.split("/", 1)[1] if "/" in path else "/"
        outcome = str(self.status) if self.status is not None else (self.transport_error or "no answer")
        return f"{self.method} {path} → {outcome}"

    def json(self) -> Any:
        """The response body as JSON; `NotJsonError` says what was there instead."""
        if not self._parsed:
            if not self.response_body.strip():
                raise NotJsonError("the response has no body")
            try:
                self._json = json.loads(self.response_body)
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
        return {
            k.lower(): (self._scheme_only(v) if k.lower() in _SECRET_HEADERS else self(v)) for k, v in headers.items()
        }

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
    ) -> None:
        self.target = target
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
        """Send one request; transport failures are recorded on the exchange, never raised."""
        url = self.target.url_for(path)
        if query:
            url += "?" + encode_query(query)
        content = None if body is None else json.dumps(body, ensure_ascii=False)
        request = self._http.build_request(method, url, content=content, headers=self._body_headers(body, headers))
        if without_credentials:
            request.headers.pop("Authorization", None)
        exchange = Exchange(
            method=method,
            url=self.redact(url),
            request_headers=self.redact.headers(request.headers),
            request_body=None if content is None else self.redact(content),
        )
        started = time.perf_counter()
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            exchange.transport_error = describe_transport_error(exc, self._http.timeout.read)
        else:
            exchange.status = response.status_code
            exchange.response_headers = self.redact.headers(response.headers)
            exchange.response_body = self.redact(response.text)
        exchange.elapsed_ms = (time.perf_counter() - started) * 1000
        for listener in self.listeners:
            listener(exchange)
        return exchange

    @staticmethod
    def _body_headers(body: Any, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Content-Type": SCIM_MEDIA_TYPE} if body is not None else {}
        headers.update(extra or {})
        return headers


def describe_transport_error(exc: httpx.HTTPError, timeout: float | None) -> str:
    """One line naming why no HTTP answer came back."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s (timeout)"
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc) or "connection failed"
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            return "TLS certificate verification failed: the target's certificate is not trusted by this machine"
        return f"cannot connect: {reason}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the HTTP exchange: {exc}"
    return f"{type(exc).__name__}: {exc}"
