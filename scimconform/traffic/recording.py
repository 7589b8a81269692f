"""A HAR 1.2 recording read back as the exchanges `record` and `run --har` write: what the SCIM endpoint was
asked, relative to its Tenant URL, and what it answered."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from scimconform.errors import ConfigError

# The endpoints RFC 7644 §3.2 defines under a SCIM service's base URL; the first path segment that is one of
# them marks where the Tenant URL ends.
SCIM_ENDPOINTS = ("Users", "Groups", "Me", "ServiceProviderConfig", "ResourceTypes", "Schemas", "Bulk", ".search")
_ENDPOINT = re.compile(r"/(" + "|".join(re.escape(name) for name in SCIM_ENDPOINTS) + r")(?=/|$)", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class Recorded:
    """One recorded exchange. `path` is relative to the Tenant URL (`/Users/2819c223`), None for a request
    outside any SCIM endpoint (an OAuth token request, say)."""

    index: int
    method: str
    base_url: str
    path: str | None
    query: tuple[tuple[str, str], ...]
    request_headers: dict[str, str]
    request_body: str | None
    status: int
    response_body: str

    @property
    def label(self) -> str:
        query = "?" + "&".join(f"{k}={v}" for k, v in self.query) if self.query else ""
        return f"#{self.index} {self.method} {self.path or self.base_url}{query}"

    @property
    def segments(self) -> list[str]:
        """The path's segments, decoded: `['Users', '2819c223']`."""
        return [unquote(part) for part in (self.path or "").strip("/").split("/") if part]

    def request_json(self) -> Any:
        """The request body as JSON; None when there is none or it is not JSON."""
        return _json(self.request_body)

    def response_json(self) -> Any:
        return _json(self.response_body)


def map_strings(node: Any, change: Callable[[str], str]) -> Any:
    """A JSON value with `change` applied to every string in it (keys stay as they are)."""
    if isinstance(node, str):
        return change(node)
    if isinstance(node, list):
        return [map_strings(item, change) for item in node]
    if isinstance(node, dict):
        return {key: map_strings(value, change) for key, value in node.items()}
    return node


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def read_har(path: Path, option: str) -> list[Recorded]:
    """The exchanges of a HAR file in the order they were sent; a file that is no HAR is one error naming it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        entries = document["log"]["entries"]
        if not isinstance(entries, list):
            raise TypeError("log.entries is not a list")
        return [_recorded(index, entry) for index, entry in enumerate(entries, start=1)]
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot read it ({exc.strerror or exc}): name a HAR file") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{option} {path}: not a HAR 1.2 file ({type(exc).__name__}: {exc}): name a file "
            "`scimconform record` or `scimconform run --har` wrote, or a browser's HAR export"
        ) from None


def _recorded(index: int, entry: dict[str, Any]) -> Recorded:
    request, response = entry["request"], entry["response"]
    parts = urlsplit(str(request["url"]))
    found = _ENDPOINT.search(parts.path)
    base_path, path = (parts.path[: found.start()], parts.path[found.start() :]) if found else (parts.path, None)
    post = request.get("postData") or {}
    return Recorded(
        index=index,
        method=str(request["method"]).upper(),
        base_url=f"{parts.scheme}://{parts.netloc}{base_path}",
        path=path,
        query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
        request_headers={str(h["name"]).lower(): str(h["value"]) for h in request.get("headers", [])},
        request_body=post.get("text"),
        status=int(response.get("status") or 0),
        response_body=str((response.get("content") or {}).get("text") or ""),
    )
