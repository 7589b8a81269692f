"""Authentication: OAuth 2.0 client credentials against the reference server's token endpoint (each way of
sending credentials), token revocation (RFC 7009), token renewal on expiry and on 401, a static token from a
file, custom headers, one clear line for every misconfiguration, and no secret in any output."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from scimconform.auth import OAuthClient, TokenKeeper
from scimconform.cli import main
from scimconform.client import RecordingClient
from scimconform.errors import ConfigError
from scimconform.server import REVOCATION_PATH, TOKEN_PATH, ReferenceServer, serve_in_thread
from scimconform.settings import load_settings
from scimconform.target import Target, configured_target
from tests.harness import Outcome, run_cli
from tests.test_cli import assert_one_line_error, closed_port
from tests.test_verdicts import EXPECTED

CLIENT_ID, SECRET = "alohi-tenant-1", "client-secret-5b1e9d"


@contextmanager
def oauth_server(*faults: str) -> Iterator[tuple[str, str, ReferenceServer]]:
    """A reference server that only takes tokens from its endpoint; yields Tenant URL, token URL, app."""
    app = ReferenceServer(token=None, oauth_clients={CLIENT_ID: SECRET}, faults=faults)
    with serve_in_thread(app) as url:
        yield url, url.removesuffix("/scim/v2") + TOKEN_PATH, app


def oauth_run(capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str, token_url: str, *args: str) -> Outcome:
    """A client-credentials run that also names the server's revocation endpoint, so every ENTRA-AUTH case runs."""
    revocation_url = token_url.removesuffix(TOKEN_PATH) + REVOCATION_PATH
    return run_cli(
        capsys, tmp_path, "--url", url, "--oauth-token-url", token_url, "--oauth-client-id", CLIENT_ID,
        "--oauth-revocation-url", revocation_url, *args,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_CLIENT_SECRET", SECRET)
    monkeypatch.delenv("SCIM_TOKEN", raising=False)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "both"])
def test_oauth_cases_pass_and_no_secret_leaks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    with oauth_server() as (url, token_url, app):
        assert app.issuer is not None
        expired = app.issuer.issue(lifetime=0)
        monkeypatch.setenv("SCIM_EXPIRED_TOKEN", expired)
        outcome = oauth_run(
            capsys, tmp_path, url, token_url, "--oauth-auth-method", method, "--oauth-scopes", "scim",
            "-k", "ENTRA-AUTH or ENTRA-CONN or ENTRA-USER-002", "--har", str(tmp_path / "run.har"),
        )  # fmt: skip
        secrets = [SECRET, *app.issuer.issued]
    assert outcome.code == 0, outcome.out
    assert {f"ENTRA-AUTH-00{n}" for n in range(1, 7)} <= outcome.names("passed")
    assert len(secrets) > 3, "tokens were issued for the run and for the token cases"
    texts = [outcome.out, outcome.err] + [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    assert any('"access_token": "***"' in text for text in texts), "the token responses were recorded, redacted"
    assert any("token=***&token_type_hint=access_token" in text for text in texts), "so was the revocation"
    for text in texts:
        assert not [secret for secret in secrets if secret in text]


# The reference server's OAuth faults and the token cases that must catch them (fixtures/faults.yaml).
OAUTH_FAULTS = {
    name: set(entry["cases"])
    for name, entry in EXPECTED.items()
    if isinstance(entry, dict) and entry.get("auth") == "oauth"
}


@pytest.mark.parametrize("fault", sorted(OAUTH_FAULTS))
def test_each_oauth_fault_is_caught_by_exactly_its_cases(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    with oauth_server(fault) as (url, token_url, app):
        assert app.issuer is not None
        monkeypatch.setenv("SCIM_EXPIRED_TOKEN", app.issuer.issue(lifetime=0))
        outcome = oauth_run(capsys, tmp_path, url, token_url, "-k", "ENTRA-AUTH")
    assert outcome.names("failed", "warning", "error") == OAUTH_FAULTS[fault]


def test_the_revocation_case_revokes_its_own_token_only(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with oauth_server() as (url, token_url, app):
        outcome = oauth_run(capsys, tmp_path, url, token_url, "-k", "ENTRA-AUTH-006")
        assert app.issuer is not None
        statuses = [app.issuer.status(token) for token in app.issuer.issued]
    assert outcome.names("passed") == {"ENTRA-AUTH-006"}
    assert statuses == [None, "revoked"], "the run's token (fetched first, by the preflight) still works"


def test_the_revocation_case_is_skipped_without_a_revocation_endpoint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with oauth_server() as (url, token_url, _):
        outcome = run_cli(
            capsys, tmp_path, "--url", url, "--oauth-token-url", token_url, "--oauth-client-id", CLIENT_ID,
            "-k", "ENTRA-AUTH-006",
        )  # fmt: skip
    assert outcome.code == 0
    (case,) = outcome.summary["cases"]
    assert case["status"] == "skipped"
    assert case["message"].startswith("no token revocation endpoint: give --oauth-revocation-url (RFC 7009)")


def test_the_reference_server_revokes_tokens_as_rfc_7009_says() -> None:
    app = ReferenceServer(token=None, oauth_clients={CLIENT_ID: SECRET, "other-tenant": "other-secret"})
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://scim.test")

    def issue(client: str = CLIENT_ID, secret: str = SECRET) -> str:
        answer = http.post(TOKEN_PATH, data={"grant_type": "client_credentials"}, auth=(client, secret))
        token: str = answer.json()["access_token"]
        return token

    def revoke(token: str | None, secret: str = SECRET) -> httpx.Response:
        return http.post(
            REVOCATION_PATH, data={"token": token, "token_type_hint": "access_token"}, auth=(CLIENT_ID, secret)
        )

    def users(token: str) -> int:
        return http.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"}).status_code

    revoked, kept, theirs = issue(), issue(), issue("other-tenant", "other-secret")
    posted = http.post(REVOCATION_PATH, data={"token": revoked, "client_id": CLIENT_ID, "client_secret": SECRET})
    assert (posted.status_code, posted.content) == (200, b"")
    refused = http.get("/scim/v2/Users", headers={"Authorization": f"Bearer {revoked}"})
    assert refused.status_code == 401
    assert refused.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert refused.json()["detail"] == "the bearer token was revoked"
    assert (users(kept), users(theirs)) == (200, 200), "only the revoked token stops working"
    assert (revoke("never-issued").status_code, revoke(revoked).status_code) == (200, 200)  # §2.2: any token
    # The client must authenticate (§2.1) and may revoke only its own tokens; neither refusal revokes anything.
    refusals = [(r.status_code, r.json()["error"]) for r in (revoke(kept, "wrong"), revoke(theirs), revoke(None))]
    assert refusals == [(401, "invalid_client"), (400, "invalid_grant"), (400, "invalid_request")]
    assert (users(kept), users(theirs)) == (200, 200)
    http.close()


def test_a_revoked_token_is_hidden_raw_and_form_encoded() -> None:
    token = "opaque/token+with=signs"
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    oauth = OAuthClient(
        token_url="https://idp.example.com/token", client_id=CLIENT_ID, client_secret=SECRET, auth_method="both",
        revocation_url="https://idp.example.com/revoke",
    )  # fmt: skip
    client = RecordingClient(
        Target(base_url="https://scim.example.com/v2", oauth=oauth), transport=httpx.MockTransport(handler)
    )
    exchange = client.revoke_token(oauth, token)
    assert (str(sent[0].url), sent[0].headers["authorization"][:6]) == ("https://idp.example.com/revoke", "Basic ")
    assert parse_qs(sent[0].content.decode()) == {
        "token": [token], "token_type_hint": ["access_token"], "client_id": [CLIENT_ID], "client_secret": [SECRET],
    }  # fmt: skip
    assert exchange.request_body == f"token=***&token_type_hint=access_token&client_id={CLIENT_ID}&client_secret=***"
    assert client.redact(f"Authorization: Bearer {token}") == "Authorization: Bearer ***"


def test_oauth_cases_are_skipped_with_a_static_token(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCIM_TOKEN", "static-7d2")
    with serve_in_thread(ReferenceServer(token="static-7d2")) as url:
        outcome = run_cli(capsys, tmp_path, "--url", url, "-k", "ENTRA-AUTH")
    assert outcome.code == 0
    assert all(c["message"].startswith("the run uses a static bearer token") for c in outcome.summary["cases"])


def test_a_static_token_from_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "token").write_text("file-token-91c\n")
    with serve_in_thread(ReferenceServer(token="file-token-91c")) as url:
        outcome = run_cli(capsys, tmp_path, "--url", url, "--token-file", str(tmp_path / "token"), "-k", "CONN-001")
    assert outcome.code == 0, outcome.err
    assert "file-token-91c" not in (tmp_path / "junit.xml").read_text()


@pytest.mark.parametrize(
    ("problem", "cause"),
    [
        ("unreachable", "unreachable: cannot connect"),
        ("bad-secret", "refused the client credentials (HTTP 401 (invalid_client))"),
        ("no-secret", "environment variable SCIM_CLIENT_SECRET is not set"),
        ("no-token-file", "cannot read token file"),
    ],
)
def test_misconfiguration_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problem: str, cause: str
) -> None:
    if problem == "bad-secret":
        monkeypatch.setenv("SCIM_CLIENT_SECRET", "not-the-secret")
    if problem == "no-secret":
        monkeypatch.delenv("SCIM_CLIENT_SECRET")
    with oauth_server() as (url, token_url, _):
        if problem == "unreachable":
            token_url = f"http://127.0.0.1:{closed_port()}/oauth2/token"
        if problem == "no-token-file":
            outcome = run_cli(capsys, tmp_path, "--url", url, "--token-file", str(tmp_path / "missing"))
        else:
            outcome = oauth_run(capsys, tmp_path, url, token_url, "-k", "CONN-001")
    assert outcome.code == 2
    assert_one_line_error(outcome.err, cause)
    assert "not-the-secret" not in outcome.out + outcome.err


def test_the_token_is_renewed_before_expiry_and_after_a_401() -> None:
    issued: list[str] = []
    accepted = {"t2", "t3"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            issued.append(f"t{len(issued) + 1}")
            return httpx.Response(200, json={"access_token": issued[-1], "token_type": "Bearer", "expires_in": 3600})
        token = request.headers["authorization"].removeprefix("Bearer ")
        return httpx.Response(200 if token in accepted else 401, json={})

    oauth = OAuthClient(token_url="https://idp.example.com/token", client_id=CLIENT_ID, client_secret=SECRET)
    client = RecordingClient(
        Target(base_url="https://scim.example.com/v2", oauth=oauth), transport=httpx.MockTransport(handler)
    )
    first = client.send("GET", "/Users")  # t1 is refused: a new token, and the request again
    assert (first.status, first.attempt, issued) == (200, 2, ["t1", "t2"])
    now = [0.0]
    assert client.tokens is not None
    keeper = TokenKeeper(oauth, client.fetch_token, clock=lambda: now[0])
    assert keeper.token() == "t3"
    now[0] = 3600 - 30  # inside the renewal margin
    assert keeper.token() == "t4"


def test_custom_headers_are_sent_and_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    target = Target(base_url="https://scim.example.com/v2", token="t", headers={"X-Api-Key": "key-4471"})
    exchange = RecordingClient(target, transport=httpx.MockTransport(handler)).send("GET", "/Users")
    assert seen[0].headers["x-api-key"] == "key-4471"
    assert exchange.request_headers["x-api-key"] == "***"


def test_settings_read_headers_rates_and_oauth_from_file_and_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENANT_KEY", "key-from-env")
    config = tmp_path / "scimconform.yaml"
    config.write_text("headers: {X-Tenant: acme}\nrate: 20/s\noauth_auth_method: both\n")
    settings = load_settings(config, headers=["X-Api-Key: ${TENANT_KEY}"], throughput_seconds=0)
    assert settings.request_headers() == {"X-Api-Key": "key-from-env"}  # the command line wins
    assert (settings.rate, settings.oauth_auth_method, settings.throughput_seconds) == (20.0, "both", 0.0)
    assert load_settings(config).request_headers() == {"X-Tenant": "acme"}


def test_the_revocation_endpoint_is_a_setting_like_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDP", "https://idp.example.com/oauth2")
    config = tmp_path / "scimconform.yaml"
    config.write_text(
        "url: https://scim.example.com/v2\noauth_token_url: ${IDP}/token\noauth_client_id: c1\n"
        "oauth_revocation_url: ${IDP}/revoke\n"
    )
    target = configured_target(load_settings(config))
    assert target is not None and target.oauth is not None
    assert target.oauth.revocation_url == "https://idp.example.com/oauth2/revoke"
    with pytest.raises(ConfigError, match="malformed OAuth revocation endpoint"):
        configured_target(load_settings(config, oauth_revocation_url="idp.example.com/revoke"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"oauth_auth_method": "private_key_jwt"}, "unknown oauth_auth_method"),
        ({"oauth_token_url": "https://idp.example.com/token"}, "oauth_client_id is not"),
        ({"oauth_revocation_url": "https://idp.example.com/revoke"}, "oauth_token_url is not"),
        ({"rate": "fast"}, "setting 'rate' has an invalid value"),
        ({"headers": ["no colon here"]}, "is not of the form 'Name: value'"),
    ],
)
def test_bad_connection_settings_name_the_setting(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, **overrides)


def test_serve_needs_the_client_secret_in_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCIM_CLIENT_SECRET")
    assert main(["serve", "--oauth-client-id", CLIENT_ID]) == 2
    assert_one_line_error(capsys.readouterr().err, "environment variable SCIM_CLIENT_SECRET is not set")


def test_cases_at_once_that_end_before_sending_anything_do_not_stall_the_run(tmp_path: Path) -> None:
    """Without an expired token three token cases end before they send a request: with cases at once, their
    threads may be done before the run has finished beginning them."""
    with oauth_server() as (url, token_url, _):
        command = [sys.executable, "-m", "scimconform.cli", "run", "--url", url, "--oauth-token-url", token_url]
        command += ["--oauth-client-id", CLIENT_ID, "--report-dir", str(tmp_path), "--workers", "4", "-k", "ENTRA-AUTH"]
        env = {key: value for key, value in os.environ.items() if key != "SCIM_EXPIRED_TOKEN"}
        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    skipped = {case["id"] for case in summary["cases"] if case["status"] == "skipped"}
    assert {"ENTRA-AUTH-003", "ENTRA-AUTH-004", "ENTRA-AUTH-005"} <= skipped, summary["cases"]
