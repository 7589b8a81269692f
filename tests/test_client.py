"""The recording client: Entra's headers and query encoding, redaction, reproducers, transport errors,
bounded retries and bounded bodies."""

import json
import threading
import time
from pathlib import Path

import allure
import httpx
import pytest

from scimconform.auth import OAuthClient
from scimconform.client import DEFAULT_RETRY_WAIT, MAX_RETRIES, MAX_RETRY_WAIT, RecordingClient, retry_delay
from scimconform.events import Event, EventStream, ExchangeRecorded
from scimconform.exchange import MAX_BODY_BYTES, Exchange, NotJsonError
from scimconform.reporting.allure import AllureSteps
from scimconform.reporting.har import HarRecorder
from scimconform.target import Target
from tests.harness import FailingReporter

SECRET = "s3cr3t-token-value"


def recording(handler: httpx.MockTransport) -> RecordingClient:
    return RecordingClient(Target(base_url="https://scim.example.com/v2", token=SECRET), transport=handler)


def test_requests_carry_entra_headers_and_query_encoding() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"echo": SECRET})

    client = recording(httpx.MockTransport(handler))
    exchange = client.send("GET", "/Users", {"filter": 'userName eq "ann@example.com"'})
    assert str(seen[0].url) == "https://scim.example.com/v2/Users?filter=userName+eq+%22ann%40example.com%22"
    assert seen[0].headers["authorization"] == f"Bearer {SECRET}"
    client.send("PATCH", "/Users/1", body={"Operations": []})
    assert seen[1].headers["content-type"] == "application/scim+json"
    assert SECRET not in json.dumps(exchange.request_headers) + exchange.response_body + exchange.curl()
    assert '"Authorization: Bearer $SCIM_TOKEN"' in exchange.curl()


def test_transport_failures_are_recorded_not_raised() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    exchange = recording(httpx.MockTransport(handler)).send("GET", "/Users")
    assert exchange.status is None
    assert exchange.transport_error == "cannot connect: Connection refused"
    assert exchange.label == "GET /v2/Users → cannot connect: Connection refused"


def test_request_without_credentials_drops_the_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401)

    recording(httpx.MockTransport(handler)).send("GET", "/Users", without_credentials=True)
    assert "authorization" not in seen[0].headers


def test_429_and_503_are_retried_a_bounded_number_of_times_each_attempt_recorded() -> None:
    answers = iter([429, 503, 503, 503, 200])
    waits: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), headers={"Retry-After": "3600"}, json={})

    target = Target(base_url="https://scim.example.com/v2", token=SECRET)
    client = RecordingClient(target, transport=httpx.MockTransport(handler), pause=waits.append)
    seen: list[Exchange] = []
    client.listeners.append(seen.append)
    exchange = client.send("POST", "/Users", body={"userName": "ann"})
    assert exchange.status == 503 and exchange.attempt == MAX_RETRIES + 1
    assert exchange.label == f"POST /v2/Users → 503 (retry {MAX_RETRIES})"
    assert [e.status for e in seen] == [429, 503, 503, 503]
    assert waits == pytest.approx([MAX_RETRY_WAIT] * MAX_RETRIES, abs=0.1), "Retry-After is honoured, up to the cap"


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [(None, DEFAULT_RETRY_WAIT), ("2", 2.0), ("0", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", 1.0)],
)
def test_retry_after_is_seconds_or_a_date(retry_after: str | None, wait: float) -> None:
    assert retry_delay(retry_after) == wait


def test_a_huge_body_is_cut_and_judged_as_such() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b"[" + b" " * MAX_BODY_BYTES, b"]"]))

    exchange = recording(httpx.MockTransport(handler)).send("GET", "/Users")
    assert exchange.truncated and len(exchange.response_body) < MAX_BODY_BYTES + 100
    with pytest.raises(NotJsonError, match="larger than 1024 KiB"):
        exchange.json()


class Seen:
    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def handle(self, event: Event) -> None:
        if isinstance(event, ExchangeRecorded):
            self.exchanges.append(event.exchange)


def test_a_failing_reporter_neither_stops_the_client_nor_the_other_reporters_and_is_noted_once() -> None:
    """The event stream is the one place a reporter's failure is caught and noted: the client hands it on."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"echo": SECRET})

    client = recording(httpx.MockTransport(handler))
    seen = Seen()
    events = EventStream([FailingReporter(SECRET), seen], redact=client.redact)
    client.listeners.append(events.exchange)
    first, second = client.send("GET", "/Users"), client.send("GET", "/Groups")
    assert (first.status, second.status, len(seen.exchanges)) == (200, 200, 2)
    assert events.errors == [
        "FailingReporter failed on ExchangeRecorded: RecursionError('maximum recursion depth exceeded near ***')"
    ], "the first failure of each reporter, redacted"


def test_a_body_nested_too_deeply_is_no_json_and_both_report_writers_keep_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    deep = "[" * 100_000 + "]" * 100_000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=deep, headers={"Content-Type": "application/scim+json"})

    attached: dict[str, str] = {}
    monkeypatch.setattr(allure, "attach", lambda body, name, kind: attached.__setitem__(name, body))
    client = recording(httpx.MockTransport(handler))
    har = HarRecorder(tmp_path / "run.har")
    events = EventStream([AllureSteps(), har])
    client.listeners.append(events.exchange)
    exchange = client.send("POST", "/Users", body=json.loads("[" * 500 + "]" * 500))
    with pytest.raises(NotJsonError, match="nested too deeply"):
        exchange.json()
    assert events.errors == []
    assert attached["request and response"].endswith(f"Response: HTTP 200\n{deep}"), "kept as it came"
    har.write()
    assert json.loads(har.path.read_text())["log"]["entries"][0]["response"]["content"]["text"] == deep


def test_a_halted_client_sends_no_retry_even_when_halted_during_the_retry_wait() -> None:
    """A second stop (`Ledger.stop`, the client's `halt`) lists what the run left after a short grace: a retry
    that went out later could create what that list misses."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(429, headers={"Retry-After": "2"}, json={})

    target = Target(base_url="https://scim.example.com/v2", token=SECRET)
    waits: list[float] = []
    client = RecordingClient(target, transport=httpx.MockTransport(handler), pause=waits.append)
    client.send("POST", "/Users", body={"userName": "ann"})
    assert len(sent) == MAX_RETRIES + 1, "not halted: every retry goes out"

    sent.clear()
    halting = RecordingClient(target, transport=httpx.MockTransport(handler), pause=lambda _: halting.halt.set())
    exchange = halting.send("POST", "/Users", body={"userName": "ann"})
    assert len(sent) == 1 and exchange.status == 429 and exchange.attempt == 1


def test_a_halt_during_a_retry_after_wait_ends_every_thread_s_wait_and_sends_nothing_more() -> None:
    """One thread's 429 holds every thread (Retry-After 3 s); a halt 0.3 s later wakes them all at once, and
    neither the retry nor another thread's first request, waiting in the same hold, goes out."""
    reached: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        reached.append(request.method)
        return (
            httpx.Response(429, headers={"Retry-After": "3"}, json={})
            if request.method == "GET"
            else httpx.Response(201)
        )

    client = recording(httpx.MockTransport(handler))
    answers: dict[str, Exchange] = {}
    first = threading.Thread(target=lambda: answers.setdefault("GET", client.send("GET", "/Users")))
    first.start()
    while not reached:
        time.sleep(0.01)
    second = threading.Thread(target=lambda: answers.setdefault("POST", client.send("POST", "/Users", body={})))
    second.start()
    time.sleep(0.3)
    started = time.monotonic()
    client.halt.set()
    first.join(2)
    second.join(2)
    assert time.monotonic() - started < 1, "the wait for the pace ends at the halt"
    assert reached == ["GET"]
    assert answers["GET"].status == 429 and answers["GET"].attempt == 1
    assert not answers["POST"].sent and answers["POST"].transport_error == "not sent: the run was stopped"


def test_a_halt_while_a_401_comes_back_renews_no_token_and_sends_nothing_more() -> None:
    """The 401 stands: no token request goes to the identity provider after the halt, and nothing is retried;
    a halted client sends nothing at all."""
    reached: list[str] = []
    halt_at_401 = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        reached.append(request.url.path)
        if request.url.path == "/token":
            return httpx.Response(
                200, json={"access_token": "tok-abcdefgh", "token_type": "Bearer", "expires_in": 3600}
            )
        if halt_at_401.is_set():
            client.halt.set()
        return httpx.Response(401, json={})

    oauth = OAuthClient(token_url="https://idp.example.com/token", client_id="cid", client_secret="csecret-123456")
    client = RecordingClient(
        Target(base_url="https://scim.example.com/v2", oauth=oauth), transport=httpx.MockTransport(handler)
    )
    client.send("GET", "/Users")
    assert reached == ["/token", "/v2/Users", "/token", "/v2/Users"], "not halted: the token is renewed once"
    reached.clear()
    halt_at_401.set()
    exchange = client.send("DELETE", "/Users/1")
    assert reached == ["/v2/Users/1"] and exchange.status == 401 and exchange.attempt == 1
    assert not client.send("GET", "/Users").sent and reached == ["/v2/Users/1"]
