"""No secret in any output, in any encoding (issue #11).

Canaries: a client secret, a custom header value, an expired token and every issued token, each holding
characters on which the encodings differ (quotes, a backslash, `/`, `+`, `&`, `=`, a space, non-ASCII).
A whole run and a load run go through a hostile front whose token endpoint repeats the token in another
field and a header and echoes the request's credentials back; then the console and every file the runs
wrote are searched for every canary, raw, form- and percent-encoded, JSON-escaped and as Basic credentials.
"""

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

import allure
import httpx
import pytest

from scimconform.auth import OAuthClient
from scimconform.cli import main
from scimconform.client import REDACTED, RecordingClient, Redactor
from scimconform.events import RunStarted
from scimconform.exchange import Exchange
from scimconform.reporting.allure import AllureSteps
from scimconform.reporting.har import har_entry
from scimconform.server import REVOCATION_PATH, TOKEN_PATH, ReferenceServer, serve_in_thread
from scimconform.target import Target
from tests.harness import QUICK
from tests.hostile import HostileServer, everything, hostile_server, leaky_oauth, system_text_json

CLIENT_ID = "canary client/1"
SECRET = 's3 cr/et+"x"\\ü&='
UPSTREAM_SECRET = "upstream-secret-2b7"  # the reference server compares secrets as ASCII; the front translates
API_KEY = 'k3y /+"k"\\&=7c1'  # header values are ASCII
EXPIRED = 'exp /+"e"\\&=93d'

# Every form a secret may take in a report, by name (RFC 3986 §2.1, RFC 8259 §7, .NET's default JSON encoder).
ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "quote_plus": quote_plus,
    "quote": lambda s: quote(s, safe=""),
    "json": lambda s: json.dumps(s)[1:-1],
    "json-utf8": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "json-slash": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "json-utf8-slash": lambda s: json.dumps(s, ensure_ascii=False)[1:-1].replace("/", "\\/"),
    "json-dotnet": system_text_json,
}


def disguise(token: str) -> str:
    """The upstream's token with characters that need escaping; still a valid header value."""
    return f'{token} /+"t"\\&='


def basic(client_id: str, secret: str) -> str:
    """Basic credentials as RFC 6749 §2.3.1 builds them, computed here independently of the harness."""
    return base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()).decode()


def test_the_encodings_differ_on_the_canaries() -> None:
    forms = {name: encode(SECRET) for name, encode in ENCODINGS.items()}
    assert len(set(forms.values())) == len(forms)
    assert forms["json-dotnet"] == "s3 cr/et\\u002B\\u0022x\\u0022\\\\\\u00FC\\u0026="


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("secret", [SECRET, API_KEY, "plain-token-4f1", "ü/ü", 'a"b\\c'])
def test_the_redactor_hides_a_secret_in_every_encoding(secret: str, encoding: str) -> None:
    redact = Redactor([secret])
    assert redact(f"<{ENCODINGS[encoding](secret)}>") == f"<{REDACTED}>"


def test_the_client_secret_is_hidden_in_its_basic_form_from_the_start() -> None:
    redact = Redactor(
        Target(
            base_url="https://scim.example.com/v2",
            oauth=OAuthClient(token_url="https://t", client_id=CLIENT_ID, client_secret=SECRET),
        ).secrets
    )
    credentials = basic(CLIENT_ID, SECRET)
    for encoding in ENCODINGS.values():
        assert redact(f"echo: Basic {encoding(credentials)}") == f"echo: Basic {REDACTED}"


def test_a_token_repeated_elsewhere_in_its_response_is_hidden_before_any_listener_sees_it() -> None:
    token = disguise("opaque.token")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            grant = {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "note": token}
            return httpx.Response(200, json=grant, headers={"X-Issued-Token": token})
        return httpx.Response(200, json={"echo": request.headers["authorization"]})

    oauth = OAuthClient(token_url="https://idp.example.com/token", client_id=CLIENT_ID, client_secret=SECRET)
    client = RecordingClient(
        Target(base_url="https://scim.example.com/v2", oauth=oauth), transport=httpx.MockTransport(handler)
    )
    seen: list[str] = []

    def listener(exchange: Exchange) -> None:
        seen.append(json.dumps([exchange.response_headers, exchange.response_body, exchange.request_headers]))

    client.listeners.append(listener)
    client.send("GET", "/Users")
    assert len(seen) == 2 and REDACTED in seen[0]
    assert not [text for text in seen for encode in ENCODINGS.values() if encode(token) in text]


def test_a_token_in_a_token_response_that_is_not_whole_json_is_hidden_too() -> None:
    body = '{"access_token": "tok/en+1", "token_type": "Bearer", "padding": "' + " " * 40

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body, headers={"X-Issued-Token": "tok/en+1"})

    target = Target(base_url="https://scim.example.com/v2", token="static-9e2")
    client = RecordingClient(target, transport=httpx.MockTransport(handler))
    exchange = client.fetch_token(
        OAuthClient(token_url="https://idp.example.com/token", client_id=CLIENT_ID, client_secret=SECRET)
    )
    assert exchange.response_headers["x-issued-token"] == REDACTED
    assert "tok/en+1" not in exchange.response_body


def test_what_a_report_decodes_is_redacted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """An encoding the redactor does not know (lower-case hex) decodes to the raw secret in a report."""
    hexed = "".join(f"\\u{ord(char):04x}" for char in SECRET)
    percent = "".join(f"%{byte:02x}" for byte in SECRET.encode())
    redact = Redactor([SECRET])
    exchange = Exchange(
        method="GET",
        url=f"https://scim.example.com/v2/Users?filter={percent}",
        request_headers={},
        request_body=None,
        status=200,
        response_body=f'{{"detail": "{hexed}"}}',
        redact=redact,
    )
    attached: dict[str, str] = {}
    monkeypatch.setattr(allure, "attach", lambda body, name, kind: attached.__setitem__(name, body))
    steps = AllureSteps()
    steps.handle(RunStarted(base_url="https://scim.example.com/v2"))
    steps.exchange(exchange)
    entry = har_entry(exchange, datetime.now(UTC))
    answer = attached["request and response"].split("\n\nResponse: HTTP 200\n", 1)[1]
    assert json.loads(answer) == {"detail": REDACTED} and SECRET not in attached["request and response"]
    assert steps.title(exchange) == f"GET /Users?filter={REDACTED} → 200"
    assert entry["request"]["queryString"] == [{"name": "filter", "value": REDACTED}]


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("SCIM_API_KEY", API_KEY)
    monkeypatch.setenv("SCIM_EXPIRED_TOKEN", EXPIRED)
    monkeypatch.delenv("SCIM_TOKEN", raising=False)


def oauth_args(url: str) -> list[str]:
    origin = url.removesuffix("/scim/v2")
    return [
        "--url", url, "--oauth-token-url", origin + TOKEN_PATH, "--oauth-client-id", CLIENT_ID,
        "--oauth-auth-method", "both", "--header", "X-Api-Key: ${SCIM_API_KEY}",
    ]  # fmt: skip


def leaks(texts: dict[str, str], secrets: dict[str, str]) -> list[str]:
    """`where: which secret, which encoding` for every canary found."""
    return [
        f"{where}: {name}, {encoding}"
        for where, text in texts.items()
        for name, secret in secrets.items()
        for encoding, encode in ENCODINGS.items()
        if encode(secret) in text
    ]


def test_no_secret_in_any_output_of_a_run_or_a_load_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, canaries: None
) -> None:
    app = ReferenceServer(token=None, oauth_clients={CLIENT_ID: UPSTREAM_SECRET})
    assert app.issuer is not None
    aliases = {SECRET: UPSTREAM_SECRET, EXPIRED: app.issuer.issue(lifetime=0)}
    texts: dict[str, str] = {}
    with serve_in_thread(app) as upstream:
        front = HostileServer(leaky_oauth(aliases, disguise, refuse_creates=True), picks=everything)
        with hostile_server(upstream, front) as url:
            revocation = url.removesuffix("/scim/v2") + REVOCATION_PATH
            run = tmp_path / "run"
            code = main(
                [
                    "run", *oauth_args(url), "--oauth-scopes", "scim", "--oauth-revocation-url", revocation,
                    "--report-dir", str(run), "--har", str(run / "run.har"), "--seed", "11", *QUICK,
                    "-k", "ENTRA-AUTH or ENTRA-CONN or ENTRA-USER-002",
                ]
            )  # fmt: skip
            captured = capsys.readouterr()
            texts |= {"run stdout": captured.out, "run stderr": captured.err}
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        statuses = {case["id"]: case["status"] for case in summary["cases"]}
        assert code == 1, captured.out + captured.err
        assert statuses["ENTRA-USER-002"] == "failed", "the front refused the create, echoing the credentials"
        assert {statuses[f"ENTRA-AUTH-00{n}"] for n in range(1, 7)} == {"passed"}, captured.out

        front = HostileServer(leaky_oauth(aliases, disguise), picks=everything)
        with hostile_server(upstream, front) as url:
            load = tmp_path / "load"
            code = main(["load", *oauth_args(url), "--users", "10", "--report-dir", str(load), "--seed", "5"])
            captured = capsys.readouterr()
            texts |= {"load stdout": captured.out, "load stderr": captured.err}
        assert code == 0, captured.out + captured.err
        assert app.resource_count() == {"User": 0, "Group": 0}
        issued = app.issuer.issued
    files = sorted(path for path in tmp_path.rglob("*") if path.is_file())
    texts |= {str(path.relative_to(tmp_path)): path.read_text(encoding="utf-8", errors="replace") for path in files}
    disguised = [token for token in aliases if token not in (SECRET, EXPIRED)]
    assert len(disguised) >= 3, "the run, its token cases and the load run each fetched a token"
    assert {"run/summary.json", "run/junit.xml", "run/run.har", "load/summary.json"} <= set(texts)
    secrets = {"client secret": SECRET, "Basic credentials": basic(CLIENT_ID, SECRET), "X-Api-Key": API_KEY}
    secrets |= {"expired token": EXPIRED, **{f"token {n}": t for n, t in enumerate([*disguised, *issued])}}
    assert leaks(texts, secrets) == []

    grants = [
        entry["response"]
        for entry in json.loads(texts["run/run.har"])["log"]["entries"]
        if entry["request"]["url"].endswith(TOKEN_PATH) and entry["response"]["status"] == 200
    ]
    assert len(grants) >= 2, "the run's token and the token cases' own were recorded"
    for grant in grants:  # recorded, the repeats and echoes hidden
        headers = {header["name"]: header["value"] for header in grant["headers"]}
        assert (headers["x-issued-token"], headers["x-echo-authorization"]) == (REDACTED, f"Basic {REDACTED}")
        body = json.loads(grant["content"]["text"])
        assert (body["access_token"], body["note"]) == (REDACTED, f"your token is {REDACTED}")
        assert body["echo"]["headers"]["authorization"] == f"Basic {REDACTED}"
        assert body["echo"]["fields"]["client_secret"] == REDACTED
