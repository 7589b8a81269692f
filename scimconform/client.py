"""The recording HTTP client: sends Entra-shaped requests and keeps every exchange, redacted.

Every request carries `Authorization: Bearer <token>` and, with a body, `Content-Type:
application/scim+json`, as Entra sends them. Query strings are encoded the way Entra's traffic was
captured: spaces as `+`, quotes as `%22` (https://github.com/AzureAD/SCIMReferenceCode/issues/63; see
docs/entra-notes.md, "Query-string encoding"). Secrets are scrubbed from the recorded copy before anyone
else can see it; the curl reproducer reads the token from `$SCIM_TOKEN`.

A hostile or broken target must not break the run: redirects are not followed (a 3xx is just a wrong
status), a body is read only up to `MAX_BODY_BYTES`, and 429 or 503 answers are retried a bounded number
of times after the server's `Retry-After`, each attempt recorded as its own exchange.

With OAuth client credentials the token comes from a `TokenKeeper`, renewed before it expires and once
more when the target answers 401. TLS is verified (against `--ca-bundle` when given) unless `--insecure`;
a proxy comes from `--proxy` or the usual environment variables; `--rate` spaces requests out. All the
threads of a run (`--workers`: cases at once) share one `Pacer`, and so do pytest-xdist's worker processes,
through a file: `--rate` caps their total, and a Retry-After one of them meets holds them all back.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import httpx

from scimconform import __version__
from scimconform.auth import OAuthClient, TokenKeeper
from scimconform.exchange import MAX_BODY_BYTES, Exchange, ExchangeListener
from scimconform.target import Target
from scimconform.workers import flocked

SCIM_MEDIA_TYPE = "application/scim+json"
KEPT_CONNECTIONS = 100  # idle connections to the target kept for the next requests
REDACTED = "***"
REDACTED_PREFIX = "REDACTED-"  # numbered placeholders: REDACTED-1, REDACTED-2, …
SHORTEST_LEARNT = 8  # a numbered redactor learns no shorter secret from a header
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})  # the scheme stays readable
_COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})  # a cookie's value is its first word: all of it goes
# Tokens in any token response (RFC 6749 §5.1; OpenID Connect Core 1.0 §3.1.3.3 adds id_token), whether or
# not the harness asked for them.
_TOKEN_NAMES = ("access_token", "refresh_token", "id_token")
# In json.dumps's output: an escaped backslash, a \u escape, an escaped quote, or a character that .NET's
# default encoder escapes and Python's does not.
_NET_ESCAPES = re.compile(r'\\\\|\\u([0-9a-f]{4})|\\"|[&\'+<>`]')
_TOKEN_FIELDS = re.compile(r'("(?:access|refresh|id)_token"\s*:\s*")([^"]*)(")')
# "Slow down" answers (RFC 6585 §4, RFC 9110 §15.6.4): retried at most MAX_RETRIES times, each after the
# server's Retry-After capped at MAX_RETRY_WAIT seconds, or after DEFAULT_RETRY_WAIT when it names none.
RETRY_STATUSES = frozenset({429, 503})
MAX_RETRIES = 3
MAX_RETRY_WAIT = 3.0
DEFAULT_RETRY_WAIT = 1.0


class Redactor:
    """Replaces every known secret, and any token in a token response, with `***` in text that leaves the
    harness. Secrets learnt during the run (each token issued or revoked) are added as they arrive, from
    any thread.

    `hidden_headers` are headers whose whole value is a secret (the user's custom headers). `numbered` gives
    each secret a placeholder of its own, `REDACTED-1`, `REDACTED-2`…, the same in every encoding and every
    place, so that a recording stays readable (which request used which token); credentials and cookies met
    in headers are then learnt as they pass."""

    def __init__(self, secrets: list[str], hidden_headers: Iterable[str] = (), *, numbered: bool = False) -> None:
        self._secrets: list[str] = []
        self._placeholders: dict[str, str] = {}  # each form of each secret -> what replaces it
        self._numbered = numbered
        self._lock = threading.Lock()
        self._hidden = _COOKIE_HEADERS | {name.lower() for name in hidden_headers}
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Learn `secrets` in every form they take on the wire or in a report (see `encodings`)."""
        with self._lock:
            for secret in secrets:
                if not secret or secret in self._placeholders:
                    continue
                shown = f"{REDACTED_PREFIX}{len(set(self._placeholders.values())) + 1}" if self._numbered else REDACTED
                for form in encodings(secret):
                    self._placeholders.setdefault(form, shown)
            # longest first, so a secret inside another leaves no tail behind
            self._secrets = sorted(self._placeholders, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, self._placeholders[secret])
        return _TOKEN_FIELDS.sub(self._token_field, text)

    def _token_field(self, match: re.Match[str]) -> str:
        """A token field keeps a placeholder it already holds; any other value is hidden."""
        if match[2] == REDACTED or (self._numbered and match[2].startswith(REDACTED_PREFIX)):
            return match[0]
        return f"{match[1]}{REDACTED}{match[3]}"

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {k.lower(): self._header(k.lower(), v) for k, v in headers.items()}

    def _header(self, name: str, value: str) -> str:
        if name in self._hidden:
            return self._placeholder(value)
        if name in _CREDENTIAL_HEADERS:  # the scheme stays readable
            scheme, _, credentials = value.partition(" ") if " " in value else ("", "", value)
            return f"{scheme} {self._placeholder(credentials)}".strip()
        return self(value)

    def _placeholder(self, secret: str) -> str:
        """What replaces a secret met in a header: numbered, its own placeholder (learnt now); else `***`. A
        short one (a cookie `a=1`) is not learnt: replaced everywhere, it would break the text around it."""
        if not self._numbered or len(secret) < SHORTEST_LEARNT:
            return REDACTED
        self.add(secret)
        return self._placeholders[secret]


def encodings(secret: str) -> set[str]:
    """`secret` as it may appear in text: raw; form-encoded (`quote_plus`, as in query strings and form
    bodies) and percent-encoded (RFC 3986 §2.1); and as a JSON string's contents (RFC 8259 §7), with
    non-ASCII as `\\u` escapes or as it is, `/` escaped as `\\/` too (as PHP does), and as ASP.NET Core
    writes it (see `_system_text_json`). Percent-encoded with upper- or lower-case hex digits (RFC 3986 §2.1
    allows both)."""
    escaped = {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], _system_text_json(secret)}
    slashed = {text.replace("/", "\\/") for text in escaped}
    encoded = {quote_plus(secret), quote(secret, safe="")}
    lowered = {re.sub(r"%[0-9A-F]{2}", lambda match: match[0].lower(), text) for text in encoded}
    return {secret, *encoded, *lowered, *escaped, *slashed}


def _system_text_json(text: str) -> str:
    """`text` inside a JSON string as .NET's System.Text.Json writes it by default (JavaScriptEncoder.Default,
    https://learn.microsoft.com/dotnet/api/system.text.encodings.web.javascriptencoder): like `json.dumps`,
    but a quote, the HTML-sensitive characters and all non-ASCII as upper-case `\\uXXXX`."""
    return _NET_ESCAPES.sub(_net_escape, json.dumps(text)[1:-1])


def _net_escape(match: re.Match[str]) -> str:
    if match[0] == "\\\\":  # an escaped backslash stays as it is
        return match[0]
    return f"\\u{int(match[1], 16) if match[1] else ord(match[0][-1]):04X}"


def issued_tokens(body: str) -> list[str]:
    """The tokens a token response carries (RFC 6749 §5.1), decoded; from a body that is not a JSON object
    (cut short, say), the text of each token field as it stands."""
    try:
        grant = json.loads(body)
    except (ValueError, RecursionError):
        grant = None
    if isinstance(grant, dict):
        return [token for name in _TOKEN_NAMES if isinstance(token := grant.get(name), str)]
    return [match[2] for match in _TOKEN_FIELDS.finditer(body)]


def encode_query(params: Mapping[str, str]) -> str:
    """Encode query parameters in order, spaces as `+` and quotes as `%22`, like Entra's captures."""
    return urlencode(list(params.items()), quote_via=quote_plus)


class _Halted(Exception):
    """A request the client's `halt` stopped before it was sent."""


HALTED = "the run was stopped"


class RecordingClient:
    """Sends requests to one target and records each exchange for checks and reports."""

    def __init__(
        self,
        target: Target,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        pause: Callable[[float], None] | None = None,
        rate: float | None = None,
        tls: ssl.SSLContext | None = None,
        shared_pace: Path | None = None,
    ) -> None:
        """`tls` lets many clients of one target share a context: building one reads the whole trust store.
        `shared_pace` is the file through which the clients of a run's worker processes share one `Pacer`."""
        self.target = target
        self.rate = rate
        # Set when the run must stop at once (a second stop, `Ledger.stop`): nothing more is sent, not even a
        # retry after Retry-After, which could go out after the run has listed what it left.
        self.halt = threading.Event()
        # A wait for the pace ends early at a halt; `pause` (tests) stands in for every such wait.
        self._pacer = Pacer(rate, shared_pace, sleep=pause or self._wait_unless_halted)
        self.redact = Redactor(target.secrets, target.headers)
        # Who hears of each recorded exchange: the run's event stream, which keeps a failing reporter from
        # stopping the run and notes its failure once (scimconform.events.EventStream).
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
            # Cases and members run at once (`--workers`): keep connections for the next requests, as a new one
            # costs a TCP (and TLS) handshake, round trips to a remote target (httpx keeps 20 by default). No cap
            # on how many are open: the run's threads bound them, and a request waiting for a free one could
            # time out and read as the target's failure.
            "limits": httpx.Limits(max_connections=None, max_keepalive_connections=KEPT_CONNECTIONS),
        }
        self._http = httpx.Client(verify=tls or tls_context(target), **self._options)
        self._tls12_http: dict[str, httpx.Client] = {}  # cipher string -> its pool

    def _wait_unless_halted(self, seconds: float) -> None:
        self.halt.wait(seconds)

    def close(self) -> None:
        self._http.close()
        self._pacer.close()
        for http in self._tls12_http.values():
            http.close()

    def send(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str | None] | None = None,
        without_credentials: bool = False,
        retries: int = MAX_RETRIES,
        record: bool = True,
        ciphers: str | None = None,
    ) -> Exchange:
        """Send one request, retrying a 429 or 503 up to `retries` times and renewing a refused OAuth
        token once; transport failures are recorded, never raised. `record=False` tells no listener
        (for the throughput case's hundreds of requests); `ciphers` (an OpenSSL cipher string, a provider's
        `tls_ciphers`) allows only TLS 1.2 with those cipher suites."""
        url = self.target.url_for(path)
        if query:
            url += "?" + encode_query(query)
        content = None if body is None else json.dumps(body, ensure_ascii=False)
        http = self._tls12_client(ciphers) if ciphers else self._http
        given = {name: value for name, value in (headers or {}).items() if value is not None}
        request = http.build_request(method, url, content=content, headers=self._body_headers(body, given))
        for left_out in {name for name, value in (headers or {}).items() if value is None}:
            request.headers.pop(left_out, None)  # a header the client sends by default, left out on purpose
        if (escape := self.target.escape(request.url)) is not None:
            return self._unsent(request, f"the request would leave the Tenant URL ({escape})")
        if self.halt.is_set():  # before a token is fetched for it
            return self._unsent(request, HALTED)
        token = None
        if without_credentials:
            request.headers.pop("Authorization", None)
        elif self.tokens is not None and "Authorization" not in (headers or {}):
            token = self.tokens.token()
            request.headers["Authorization"] = f"Bearer {token}"
        try:
            exchange = self._attempt(http, request, 1, record)
        except _Halted:
            return self._unsent(request, HALTED)
        try:
            if exchange.status == 401 and token is not None and self.tokens is not None and not self.halt.is_set():
                request.headers["Authorization"] = f"Bearer {self.tokens.refused(token)}"
                exchange = self._attempt(http, request, 2, record)
            while exchange.status in RETRY_STATUSES and exchange.attempt <= retries:
                delay = retry_delay(exchange.header("retry-after"))
                self._pacer.hold(delay)  # every thread waits, this one too: its next attempt waits for the pace
                exchange = self._attempt(http, request, exchange.attempt + 1, record)
        except _Halted:  # the last answer stands
            pass
        return exchange

    def _unsent(self, request: httpx.Request, reason: str) -> Exchange:
        """The exchange of a request that was never sent: the token goes nowhere outside the Tenant URL, and
        nothing goes anywhere once the client is halted."""
        return Exchange(
            method=request.method,
            url=self.redact(str(request.url)),
            request_headers=self.redact.headers(request.headers),
            request_body=self.redact(request.content.decode()) if request.content else None,
            transport_error=self.redact(f"not sent: {reason}"),
            sent=False,
            redact=self.redact,
        )

    def fetch_token(self, oauth: OAuthClient, secret: str | None = None) -> Exchange:
        """Ask the token endpoint for an access token, as Entra does; every token in the answer joins the
        secrets before the exchange is recorded (see `_attempt`). Whoever asked judges a refusal.

        `secret` replaces the client secret, to probe that a wrong one is refused."""
        return self._post_form(oauth.token_url, *oauth.token_request(secret))

    def revoke_token(self, oauth: OAuthClient, token: str) -> Exchange:
        """Revoke `token` at the revocation endpoint (RFC 7009 §2.1). The token is hidden before it is sent."""
        assert oauth.revocation_url is not None, "revocation belongs to cases that require a revocation endpoint"
        self.redact.add(token)
        return self._post_form(oauth.revocation_url, *oauth.revocation_request(token))

    def _post_form(self, url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> Exchange:
        """One form POST to an OAuth endpoint, recorded like any exchange and never retried; the tokens in
        its answer are secrets."""
        request = self._http.build_request("POST", url, data=form, headers=headers)
        try:
            return self._attempt(self._http, request, 1, True, token_response=True)
        except _Halted:
            return self._unsent(request, HALTED)

    def _tls12_client(self, ciphers: str) -> httpx.Client:
        """A connection pool of its own that offers only what a provider offers: TLS 1.2 and its cipher suites."""
        if ciphers not in self._tls12_http:
            context = tls_context(self.target)
            context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
            context.set_ciphers(ciphers)
            self._tls12_http[ciphers] = httpx.Client(verify=context, **self._options)
        return self._tls12_http[ciphers]

    def _attempt(
        self, http: httpx.Client, request: httpx.Request, attempt: int, record: bool, token_response: bool = False
    ) -> Exchange:
        """One round trip, recorded and handed to the listeners. The tokens in a `token_response` become
        secrets before any copy of the answer is made, so one the endpoint repeats in another field or in a
        header is hidden there too."""
        exchange = Exchange(
            method=request.method,
            url=self.redact(str(request.url)),
            request_headers=self.redact.headers(request.headers),
            request_body=self.redact(request.content.decode()) if request.content else None,
            attempt=attempt,
            redact=self.redact,
        )
        self._pacer()
        if self.halt.is_set():  # checked after the wait for the pace: the halt may come during it
            raise _Halted
        started = time.perf_counter()
        try:
            response = http.send(request, stream=True)
        except httpx.HTTPError as exc:
            exchange.transport_error = self.redact(describe_transport_error(exc, http.timeout.read))
        else:
            exchange.status = response.status_code
            exchange.tls = negotiated_tls(response)
            try:
                exchange.raw_body, exchange.truncated = read_body(response)
            except httpx.HTTPError as exc:
                exchange.transport_error = self.redact(describe_transport_error(exc, http.timeout.read))
            finally:
                response.close()
            if token_response:
                self.redact.add(*issued_tokens(exchange.raw_body))
            exchange.response_headers = self.redact.headers(response.headers)
            exchange.response_body = self.redact(exchange.raw_body)
        exchange.elapsed_ms = (time.perf_counter() - started) * 1000
        exchange.answered_at = time.time()
        for listener in self.listeners if record else ():
            listener(exchange)
        return exchange

    @staticmethod
    def _body_headers(body: Any, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Content-Type": SCIM_MEDIA_TYPE} if body is not None else {}
        headers.update(extra or {})
        return headers


class Pacer:
    """Spaces requests at least 1/rate seconds apart across all threads (`--rate 20/s`, `load --rate`).

    Given a `shared` file, the schedule lives there, under an flock, so that the worker processes of one run
    pace as one: `--rate` caps their total, and `hold` (a 429 or 503's Retry-After) delays every worker's next
    request, not only the retry of the one that met it; without a file it delays every thread's. Times are
    time.monotonic(): a wall clock stepped back would stall every request, and on
    Linux the monotonic clock is one for all processes of the host, so the workers' file can hold it too."""

    _WIDTH = 32  # the shared file holds one fixed-width timestamp, rewritten in place

    def __init__(
        self, rate: float | None, shared: Path | None = None, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._sleep = sleep
        self._next = 0.0  # without a shared file: the earliest time.monotonic() the next request may go
        self._lock = threading.Lock()
        self._file = os.open(shared, os.O_RDWR | os.O_CREAT, 0o600) if shared is not None else None

    def __call__(self) -> None:
        """Wait for this request's slot, and book the next one."""
        if not self._interval and self._file is None and self._next <= time.monotonic():
            return
        with self._lock, self._locked():
            now = time.monotonic()
            slot = max(self._earliest(), now)
            if self._interval:
                self._book(slot + self._interval)
        if slot > now:
            self._sleep(slot - now)

    def hold(self, seconds: float) -> None:
        """No thread or worker sends before `seconds` from now (a server's Retry-After)."""
        with self._lock, self._locked():
            until = time.monotonic() + seconds
            if until > self._earliest():
                self._book(until)

    def close(self) -> None:
        if self._file is not None:
            os.close(self._file)
            self._file = None

    def _locked(self) -> AbstractContextManager[None]:
        """The shared file held against the other processes (the thread lock covers this one's threads)."""
        return flocked(self._file) if self._file is not None else nullcontext()

    def _earliest(self) -> float:
        if self._file is None:
            return self._next
        text = os.pread(self._file, self._WIDTH, 0).strip()
        return float(text) if text else 0.0

    def _book(self, when: float) -> None:
        if self._file is None:
            self._next = when
        else:
            os.pwrite(self._file, f"{when:.6f}".ljust(self._WIDTH).encode(), 0)


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
