"""One HTTP exchange as the harness keeps it: the request, the answer (or why none came), secrets removed.

Every part of the harness passes exchanges around (checks judge them, reporters write them, the ledger
reads ids from them), so this module imports nothing from the package.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Every answer the harness judges is far smaller; past this a body is cut, so a 50 MB answer costs
# neither memory nor report space.
MAX_BODY_BYTES = 1024 * 1024


class NotJsonError(ValueError):
    """A response body that should be JSON is not."""


@dataclass(kw_only=True)
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
    answered_at: float | None = None  # time.time() when the answer (or the error) came: a report may see it later
    transport_error: str | None = None
    tls: str | None = None  # the negotiated protocol and cipher, e.g. "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256"
    attempt: int = 1
    truncated: bool = False
    sent: bool = True  # False: never sent (the URL would leave the Tenant URL, or the run was stopped at once)
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
            except RecursionError:  # a hostile answer such as [[[[…]]]] must cost a verdict, not the run
                raise NotJsonError("the response body is nested too deeply to read") from None
            except ValueError:  # Python reads no integer of more than 4,300 digits (sys.get_int_max_str_digits)
                raise NotJsonError("the response body holds a number too long to read (over 4,300 digits)") from None
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
