"""A HAR 1.2 recording read back as the exchanges `record` and `run --har` write: what the SCIM endpoint was
asked, relative to its Tenant URL, and what it answered."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from scimconform import attrpath
from scimconform.errors import ConfigError

# The endpoints RFC 7644 §3.2 defines under a SCIM service's base URL; the first path segment that is one of
# them marks where the Tenant URL ends.
SCIM_ENDPOINTS = ("Users", "Groups", "Me", "ServiceProviderConfig", "ResourceTypes", "Schemas", "Bulk", ".search")
_ENDPOINT = re.compile(r"/(" + "|".join(re.escape(name) for name in SCIM_ENDPOINTS) + r")(?=/|$)", re.IGNORECASE)
# The OAuth fields whose values are credentials: `client_secret` (RFC 6749 §2.3.1), `client_assertion`
# (RFC 7521 §4.2), `password` (RFC 6749 §4.3.2), and the tokens of a token response (RFC 6749 §5.1; OpenID
# Connect Core 1.0 §3.1.3.3), which a browser's HAR may hold in a query string too.
SECRET_FIELDS = frozenset(
    {"client_secret", "client_assertion", "password", "access_token", "refresh_token", "id_token"}
)
# The attributes whose values are other resources' ids: a group's members (RFC 7643 §4.2) and the enterprise
# manager (§4.3).
_REFERENCES = ("members", "manager")


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
        """How a line names the exchange; a credential in its query (a browser HAR's) shows as `***`."""
        shown = [(k, "***" if k.lower() in SECRET_FIELDS else v) for k, v in self.query]
        query = "?" + "&".join(f"{k}={v}" for k, v in shown) if shown else ""
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


def strings(node: Any) -> Iterator[str]:
    """Every string of a JSON value, keys included."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings(value)


def substitute(text: str, mapping: Mapping[str, str]) -> str:
    """`text` with each key of `mapping` it is whole, or holds as a quoted JSON string (a filter's value,
    RFC 7644 §3.4.2.2), replaced by its value — in one pass, so that no replacement is replaced again."""
    if text in mapping:
        return mapping[text]
    quoted = {json.dumps(key): json.dumps(value) for key, value in mapping.items()}
    if not quoted:
        return text
    pattern = "|".join(re.escape(key) for key in sorted(quoted, key=len, reverse=True))
    return re.sub(pattern, lambda match: quoted[match[0]], text)


def referenced_ids(node: Any) -> Iterator[str]:
    """The ids a request body names other resources by: `members[].value` and `manager` (`manager.value`,
    or a bare string as some clients send it), in a resource or a PATCH operation (RFC 7644 §3.5.2), where
    a `members[value eq "…"]` path names one too."""
    if isinstance(node, list):
        for item in node:
            yield from referenced_ids(item)
    elif isinstance(node, dict):
        fields = {str(key).lower(): value for key, value in node.items()}
        if "op" in fields and isinstance(fields.get("path"), str):
            path = attrpath.parse(fields["path"])
            if path.attr.lower() in _REFERENCES:
                if path.filter is not None and path.filter[0].lower() == "value":
                    yield path.filter[1]
                yield from _reference_values(fields.get("value"))
                return
        for key, value in fields.items():
            yield from _reference_values(value) if key in _REFERENCES else referenced_ids(value)


def _reference_values(node: Any) -> Iterator[str]:
    """A member's or manager's id: a string, an object's `value`, or a list of them."""
    for item in node if isinstance(node, list) else [node]:
        if isinstance(item, dict):
            item = next((v for k, v in item.items() if str(k).lower() == "value"), None)
        if isinstance(item, str):
            yield item


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
    text = post.get("text")
    if text is not None and not isinstance(text, str):
        raise TypeError(f"postData.text is a {type(text).__name__}, not a string")
    return Recorded(
        index=index,
        method=str(request["method"]).upper(),
        base_url=f"{parts.scheme}://{parts.netloc}{base_path}",
        path=path,
        query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
        request_headers={str(h["name"]).lower(): str(h["value"]) for h in request.get("headers", [])},
        request_body=text,
        status=int(response.get("status") or 0),
        response_body=str((response.get("content") or {}).get("text") or ""),
    )
