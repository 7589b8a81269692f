"""Every exchange of a run as an HTTP Archive (HAR 1.2), for browser dev tools and HAR viewers.

Exchanges arrive already redacted by the recording client. Under pytest-xdist each worker sends its
entries to the controller through `workeroutput`, and only the controller writes the file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from scimconform import __version__
from scimconform.events import Event, ExchangeRecorded, RunFinished
from scimconform.exchange import Exchange
from scimconform.reporting.results import write_json

_WORKER_KEY = "scimconform_har_entries"


def har_entry(exchange: Exchange, started: datetime) -> dict[str, Any]:
    """One HAR entry; a request that got no answer has status 0 and says why in `_error`."""
    request_type = exchange.request_headers.get("content-type", "")
    response_type = exchange.header("content-type") or ""
    request: dict[str, Any] = {
        "method": exchange.method,
        "url": exchange.url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _headers(exchange.request_headers),
        "queryString": _query(exchange),
        "headersSize": -1,
        "bodySize": len(exchange.request_body.encode()) if exchange.request_body is not None else 0,
    }
    if exchange.request_body is not None:
        request["postData"] = {"mimeType": request_type, "text": exchange.request_body}
    body_size = len(exchange.response_body.encode())
    entry: dict[str, Any] = {
        "startedDateTime": started.isoformat(timespec="milliseconds"),
        "time": round(exchange.elapsed_ms, 3),
        "request": request,
        "response": {
            "status": exchange.status or 0,
            "statusText": _reason(exchange.status),
            "httpVersion": "HTTP/1.1" if exchange.status is not None else "",
            "cookies": [],
            "headers": _headers(exchange.response_headers),
            "content": {"size": body_size, "mimeType": response_type, "text": exchange.response_body},
            "redirectURL": exchange.header("location") or "",
            "headersSize": -1,
            "bodySize": body_size if exchange.status is not None else -1,
        },
        "cache": {},
        "timings": {"send": 0, "wait": round(exchange.elapsed_ms, 3), "receive": 0},
    }
    if exchange.transport_error:
        entry["_error"] = exchange.transport_error
    return entry


def har_document(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "scimconform", "version": __version__},
            "entries": sorted(entries, key=lambda e: str(e["startedDateTime"])),
        }
    }


class HarRecorder:
    """Reporter and pytest plugin: collects every exchange as an entry and writes the file at session end
    (xdist workers hand theirs to the controller)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[dict[str, Any]] = []

    def handle(self, event: Event) -> None:
        if isinstance(event, ExchangeRecorded):
            started = datetime.now(UTC) - timedelta(milliseconds=event.exchange.elapsed_ms)
            self.entries.append(har_entry(event.exchange, started))
        elif isinstance(event, RunFinished):
            self.write()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist controller: take in what a finished worker recorded."""
        self.entries += getattr(node, "workeroutput", {}).get(_WORKER_KEY, [])

    @pytest.hookimpl(trylast=True)  # after the session fixture's final sweep has sent its DELETEs
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """xdist worker: hand what it recorded to the controller, which writes the file at RunFinished."""
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[_WORKER_KEY] = self.entries

    def write(self) -> None:
        write_json(self.path, har_document(self.entries))


def _query(exchange: Exchange) -> list[dict[str, str]]:
    """The query's parameters, decoded; decoding can turn an encoding of a secret the redactor did not know
    back into the secret, so they are redacted again."""
    pairs = parse_qsl(urlsplit(exchange.url).query)
    return [{"name": exchange.redact(name), "value": exchange.redact(value)} for name, value in pairs]


def _headers(headers: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers.items()]


def _reason(status: int | None) -> str:
    try:
        return HTTPStatus(status).phrase if status is not None else ""
    except ValueError:
        return ""
