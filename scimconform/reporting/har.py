"""Every exchange of a run as an HTTP Archive (HAR 1.2), for browser dev tools and HAR viewers.

Exchanges arrive already redacted by the recording client. Each case in one dialect is a HAR page (its cleanup
included), and its exchanges follow one another in the file even when workers ran cases at once (`--workers`);
the preflight's and the final sweep's exchanges belong to no page. Under pytest-xdist each worker sends its
pages and entries to the controller through `workeroutput`, and only the controller writes the file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from scimconform import __version__
from scimconform.events import CaseStarted, Event, ExchangeRecorded, RunFinished
from scimconform.exchange import Exchange
from scimconform.reporting.results import case_name, write_json

_WORKER_KEY = "scimconform_har_entries"
_PAGES_KEY = "scimconform_har_pages"


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


def har_document(entries: list[dict[str, Any]], pages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The archive: pages in the order their cases were reported (with `--workers`, cases ran at once before), each
    page's entries together and in the order they were sent; entries of no page (the preflight, the final sweep)
    by time among them."""
    pages = sorted(pages or [], key=lambda page: str(page["startedDateTime"]))
    began = {page["id"]: str(page["startedDateTime"]) for page in pages}

    def place(entry: dict[str, Any]) -> tuple[str, str, str]:
        """Its page's start, then the page (two workers can start cases in the same millisecond), then its own."""
        started, page = str(entry["startedDateTime"]), str(entry.get("pageref", ""))
        return began.get(page, started), page, started

    log: dict[str, Any] = {"version": "1.2", "creator": {"name": "scimconform", "version": __version__}}
    if pages:
        log["pages"] = pages
    log["entries"] = sorted(entries, key=place)
    return {"log": log}


class HarRecorder:
    """Reporter and pytest plugin: collects every exchange as an entry and writes the file at session end
    (xdist workers hand theirs to the controller)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[dict[str, Any]] = []
        self.pages: list[dict[str, Any]] = []
        self._page: str | None = None  # the case (in one dialect) whose exchanges arrive now

    def handle(self, event: Event) -> None:
        if isinstance(event, ExchangeRecorded):
            answered = event.exchange.answered_at
            ended = datetime.fromtimestamp(answered, UTC) if answered is not None else datetime.now(UTC)
            started = ended - timedelta(milliseconds=event.exchange.elapsed_ms)
            entry = har_entry(event.exchange, started)
            if self._page is not None:
                entry["pageref"] = self._page
            self.entries.append(entry)
        elif isinstance(event, CaseStarted):
            self._page = case_name(event.case_id, event.dialect)
            if any(page["id"] == self._page for page in self.pages):  # a stopped case's rest, after its start
                return
            began = datetime.now(UTC).isoformat(timespec="milliseconds")
            self.pages.append({"startedDateTime": began, "id": self._page, "title": event.title, "pageTimings": {}})
        elif isinstance(event, RunFinished):
            self.write()

    def pytest_runtest_logfinish(self) -> None:
        """A case's cleanup is on its page; what comes after its teardown (the final sweep) on none."""
        self.end_page()

    def end_page(self) -> None:
        """The exchanges recorded from now on belong to no case's page."""
        self._page = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist controller: take in what a finished worker recorded."""
        output = getattr(node, "workeroutput", {})
        self.entries += output.get(_WORKER_KEY, [])
        self.pages += output.get(_PAGES_KEY, [])

    @pytest.hookimpl(trylast=True)  # after the session fixture's final sweep has sent its DELETEs
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """xdist worker: hand what it recorded to the controller, which writes the file at RunFinished."""
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[_WORKER_KEY] = self.entries
            workeroutput[_PAGES_KEY] = self.pages

    def write(self) -> None:
        write_json(self.path, har_document(self.entries, self.pages), indent=None)


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
