"""The traffic tools' safety under hostile recordings and targets: `replay` and `recorded.yaml` never touch a
resource the run did not create (ids are per collection), no secret or personal value survives in any
encoding, and bad input is one line, exit 2."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from scimconform.checks import CheckFailure
from scimconform.cli import main
from scimconform.client import RecordingClient
from scimconform.engine.templates import Templates
from scimconform.identities import Identity
from scimconform.profiles import load_profile
from scimconform.target import parse_tenant_url
from scimconform.traffic.proxy import Listener, RawExchange
from scimconform.traffic.record import RecordOptions, write_recording
from scimconform.traffic.recording import read_har, substitute
from scimconform.traffic.replay import Replay
from scimconform.traffic.to_sequence import to_sequence

RECORDED = "https://recorded.example/scim/v2"
TARGET = "https://target.example/scim/v2"


class Fake:
    """A SCIM server with per-collection integer ids (as many simple ones have) that filters on userName and
    displayName; `log` is every request it got, `answers` overrides the answer to a method."""

    def __init__(self, **answers: int) -> None:
        self.data: dict[str, dict[str, dict[str, Any]]] = {"Users": {}, "Groups": {}}
        self.log: list[str] = []
        self.answers = answers
        self.interrupt_on: str | None = None

    def add(self, collection: str, body: dict[str, Any]) -> str:
        new = str(len(self.data[collection]) + 1)
        self.data[collection][new] = {**body, "id": new}
        return new

    def __call__(self, request: httpx.Request) -> httpx.Response:
        line = f"{request.method} {request.url.raw_path.decode()}"
        self.log.append(line)
        if self.interrupt_on and line.startswith(self.interrupt_on):
            raise KeyboardInterrupt
        parts = request.url.path.split("/")[3:]
        collection = self.data.get(parts[0]) if parts else None
        if collection is None:
            return httpx.Response(404)
        if request.method in self.answers:
            return httpx.Response(self.answers[request.method])
        if len(parts) == 1 and request.method == "POST":
            new = self.add(parts[0], json.loads(request.content))
            return httpx.Response(201, json=collection[new])
        if len(parts) == 1:
            wanted = parse_qs(request.url.query.decode()).get("filter", [""])[0].split('"')[1::2]
            found = [r for r in collection.values() if not wanted or wanted[0] in r.values()]
            return httpx.Response(200, json={"totalResults": len(found), "Resources": found})
        if parts[1] not in collection:
            return httpx.Response(404)
        if request.method == "DELETE":
            del collection[parts[1]]
            return httpx.Response(204)
        return httpx.Response(200, json=collection[parts[1]])


def entry(method: str, path: str, status: int, body: Any = None, answer: Any = None) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "url": RECORDED + path, "headers": []}
    if body is not None:
        request["postData"] = {"mimeType": "application/scim+json", "text": json.dumps(body)}
    text = json.dumps(answer) if answer is not None else ""
    return {"request": request, "response": {"status": status, "content": {"text": text}}}


def har(tmp_path: Path, *entries: dict[str, Any]) -> Path:
    path = tmp_path / "t.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": list(entries)}}), encoding="utf-8")
    return path


def replay(fake: Fake, path: Path) -> tuple[int, str]:
    client = RecordingClient(parse_tenant_url(TARGET, "the-target-token"), transport=httpx.MockTransport(fake))
    out = StringIO()
    return Replay(client).run(read_har(path, "--har"), out).exit_code, out.getvalue()


USER = {"userName": "rec@example.com"}
GROUP = {"displayName": "Recorded"}
PATCH = {"Operations": [{"op": "replace", "path": "active", "value": False}]}


def test_replay_keys_created_ids_by_collection(tmp_path: Path) -> None:
    """A user and a group recorded with the same id: when only the group is created again, the recorded
    PATCH and DELETE of the user are not sent to the foreign user with that id (P1 #1)."""
    fake = Fake()
    foreign = fake.add("Users", {"userName": "foreign@victim"})
    fake.add("Users", {"userName": "rec@example.com"})  # exists already: the user's create is not sent
    path = har(
        tmp_path,
        entry("POST", "/Users", 201, USER, {"id": "1", **USER}),
        entry("POST", "/Groups", 201, GROUP, {"id": "1", **GROUP}),
        entry("PATCH", "/Users/1", 200, PATCH, {"id": "1"}),
        entry("DELETE", "/Users/1", 204),
        entry("DELETE", "/Groups/1", 204),
    )
    code, out = replay(fake, path)
    assert not [line for line in fake.log if line.startswith(("PATCH /scim/v2/Users", "DELETE /scim/v2/Users"))]
    assert foreign in fake.data["Users"] and fake.data["Groups"] == {}
    assert "SKIPPED #1 POST /Users: the target has a User with this userName already" in out
    assert "SKIPPED #3 PATCH /Users/1" in out and "SKIPPED #4 DELETE /Users/1" in out, out
    assert code == 0 and "0 left behind" in out


def test_replay_reports_what_it_cannot_track_and_what_ctrl_c_leaves(tmp_path: Path) -> None:
    """A create answered 200, or 201 without an id, is a leftover (exit 1); Ctrl-C still lists what stays
    (P1 #5)."""
    path = har(tmp_path, entry("POST", "/Users", 201, USER, {"id": "9", **USER}), entry("GET", "/Users/9", 200))
    code, out = replay(Fake(POST=200), path)
    assert code == 1 and "LEFT    #1 POST /Users answered 200 (no Location, no id): possibly created" in out
    fake = Fake(DELETE=500)
    fake.interrupt_on = "GET /scim/v2/Users/1"  # Ctrl-C in the replay, and again in its cleanup
    client = RecordingClient(parse_tenant_url(TARGET, "the-target-token"), transport=httpx.MockTransport(fake))
    out_stream = StringIO()
    with pytest.raises(KeyboardInterrupt):
        Replay(client).run(read_har(path, "--har"), out_stream)
    assert "LEFT    Users 1 was not deleted: the replay was stopped" in out_stream.getvalue()


def test_replay_does_not_own_what_an_upserting_target_had(tmp_path: Path) -> None:
    """A create answered with the id of a resource the target had listed is not the replay's (P1 #5)."""
    fake = Fake()
    fake.add("Users", {"userName": "other@example.com"})
    upsert = Fake()
    upsert.data = fake.data

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"id": "1"})
        return upsert(request)

    path = har(tmp_path, entry("GET", "/Users", 200), entry("POST", "/Users", 201, USER, {"id": "7"}))
    client = RecordingClient(parse_tenant_url(TARGET, "the-target-token"), transport=httpx.MockTransport(answer))
    out = StringIO()
    outcome = Replay(client).run(read_har(path, "--har"), out)
    assert "existed before: not this replay's" in out.getvalue() and outcome.exit_code == 1
    assert "1" in fake.data["Users"] and not any(line.startswith("DELETE") for line in upsert.log)


def test_replay_drops_credentials_from_queries_and_labels(tmp_path: Path) -> None:
    """A browser HAR's `access_token` is neither sent nor printed; a replay that sent nothing exits 1
    (P2 #9, P3 #17)."""
    fake = Fake()
    _, out = replay(fake, har(tmp_path, entry("GET", "/Users?access_token=CANARY-query-token&count=1", 200)))
    assert "CANARY" not in "".join(fake.log) + out and fake.log == ["GET /scim/v2/Users?count=1"]
    code, out = replay(Fake(), har(tmp_path, entry("POST", "/Bulk?access_token=CANARY-query-token", 200, {})))
    assert code == 1 and "nothing was replayed" in out and "CANARY" not in out and "access_token=***" in out


def test_replay_leaves_out_members_it_did_not_create(tmp_path: Path) -> None:
    fake = Fake()
    members = {"Operations": [{"op": "add", "path": "members", "value": [{"value": "foreign-1"}]}]}
    path = har(
        tmp_path,
        entry("POST", "/Groups", 201, GROUP, {"id": "g", **GROUP}),
        entry("PATCH", "/Groups/g", 200, members),
    )
    code, out = replay(fake, path)
    assert code == 0 and "SKIPPED #2 PATCH /Groups/g: it names as member or manager foreign-1" in out
    assert not any(line.startswith("PATCH") for line in fake.log) and fake.data["Groups"] == {}


def conversion(tmp_path: Path, *entries: dict[str, Any]) -> tuple[str, list[str]]:
    converted = to_sequence(
        read_har(har(tmp_path, *entries), "--har"), load_profile("entra-default"), case_id="ENTRA-REC-001", source="x"
    )
    assert converted.case is not None
    return json.dumps(converted.case["steps"]), converted.left_out


def test_recorded_yaml_keys_created_ids_by_kind(tmp_path: Path) -> None:
    """`/Users/1` is user1's, never group1's, though both were recorded with id 1 (P1 #2)."""
    steps, left_out = conversion(
        tmp_path,
        entry("POST", "/Users", 201, USER, {"id": "1", **USER}),
        entry("POST", "/Groups", 201, GROUP, {"id": "1", **GROUP}),
        entry("PATCH", "/Users/1", 200, PATCH),
        entry("GET", "/Groups/1", 200),
        entry("GET", '/Groups?filter=id eq "1"', 200),
    )
    assert '"/Users/{user1.id}"' in steps and '"/Groups/{group1.id}"' in steps and "/Users/{group1" not in steps
    assert any("a created user and a created group both had" in line for line in left_out)


def test_recorded_yaml_keeps_only_changes_of_what_the_recording_created(tmp_path: Path) -> None:
    """No DELETE /Me, PUT /Users, dot segments, foreign members, HEAD or braces in recorded.yaml (P1 #3,
    P3 #10, #14)."""
    members = {"Operations": [{"op": "add", "path": "members", "value": [{"value": "foreign-1"}]}]}
    steps, left_out = conversion(
        tmp_path,
        entry("POST", "/Groups", 201, GROUP, {"id": "g", **GROUP}),
        entry("DELETE", "/Me", 204),
        entry("PUT", "/Users", 200, USER),
        entry("DELETE", "/Schemas/..%2F..%2Fadmin", 204),
        entry("PATCH", "/Groups/g", 200, members),
        entry("PATCH", "/Groups/g", 200, {"manager": "someone"}),
        entry("HEAD", "/Users", 200),
        entry("PATCH", "/Groups/g", 200, {"Operations": [{"op": "add", "path": "displayName", "value": "{guid}"}]}),
    )
    assert [line.split(":")[0] for line in left_out] == [
        "#2 DELETE /Me → 204",
        "#3 PUT /Users → 200",
        "#4 DELETE /Schemas/..%2F..%2Fadmin → 204",
        "#5 PATCH /Groups/g → 200",
        "#6 PATCH /Groups/g → 200",
        "#7 HEAD /Users → 200",
        "#8 PATCH /Groups/g → 200",
    ]
    assert "admin" not in steps and "foreign-1" not in steps and "{guid}" not in steps


def test_a_path_template_names_only_its_own_kind() -> None:
    """The engine refuses `/Users/{group1.id}` (P1 #2, second guard)."""
    templates = Templates(profile=load_profile("entra-default"))
    templates.identities["group1"] = Identity(resource_type="Group", label="g", values={}, id="1")
    assert templates.path("/Groups/{group1.id}") == "/Groups/1"
    with pytest.raises(CheckFailure, match="is a Group's id"):
        templates.path("/Users/{group1.id}")


def test_substitution_is_one_pass() -> None:
    assert substitute('id eq "1" or id eq "2"', {"1": "2", "2": "3"}) == 'id eq "2" or id eq "3"'
    assert substitute("1", {"1": "2", "2": "3"}) == "2"


def test_a_bad_certificate_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """P3 #11."""
    (tmp_path / "c.pem").write_text("not a certificate", encoding="utf-8")
    args = ["record", "--upstream", "http://127.0.0.1:9/scim", "--listen", "127.0.0.1:0", "--out", str(tmp_path)]
    args += ["--certificate", str(tmp_path / "c.pem"), "--private-key", str(tmp_path / "c.pem")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--certificate" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_har_with_a_body_that_is_no_string_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """P3 #12."""
    broken = entry("POST", "/Users", 201)
    broken["request"]["postData"] = {"text": 5}
    assert main(["replay", "--har", str(har(tmp_path, broken)), "--url", "http://127.0.0.1:9/scim"]) == 2
    err = capsys.readouterr().err
    assert "postData.text is a int" in err and len(err.strip().splitlines()) == 1


def exchange(url: str, body: Any = None, headers: list[tuple[str, str]] | None = None) -> RawExchange:
    return RawExchange(
        started=datetime.now(UTC),
        method="POST" if body is not None else "GET",
        url=url,
        request_headers=[("Authorization", "Bearer CANARY-token-1234"), *(headers or [])],
        request_body=json.dumps(body).encode() if body is not None else b"",
        status=200,
        response_headers=[("Content-Type", "application/scim+json"), ("Set-Cookie", "a=1")],
        response_body=b'{"Resources": [], "note": "a=1", "count": "1"}',
    )


def record(tmp_path: Path, *exchanges: RawExchange, case_id: str | None = None) -> tuple[str, list[str]]:
    personal = ("userName", 'emails[type eq "work"].value', "name.givenName")
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    options = RecordOptions(
        listener=Listener("127.0.0.1", 0), upstream=TARGET, out=out, personal=personal, case_id=case_id
    )
    told = write_recording(list(exchanges), options)
    return "".join(path.read_text(encoding="utf-8") for path in sorted(out.iterdir())), told


def test_personal_values_in_every_filter_form_are_redacted(tmp_path: Path) -> None:
    """Value-path, URN-qualified and `.search` filters (P2 #6); lower-case and mixed percent-encoding
    (P2 #7)."""
    text, _ = record(
        tmp_path,
        exchange(f"{TARGET}/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22ada.one%40contoso.com%22"),
        exchange(
            f"{TARGET}/Users?filter=urn%3Aietf%3Aparams%3Ascim%3Aschemas%3Acore%3A2.0%3AUser%3AuserName"
            "+eq+%22ada.two%40contoso.com%22"
        ),
        exchange(f"{TARGET}/Users/.search", {"filter": 'userName eq "ada.three@contoso.com"'}),
        exchange(f"{TARGET}/Users?access_token=ab%2fcd%2Bef%2F12&filter=userName+eq+%22ada.fo%75r%40contoso.com%22"),
    )
    assert re.findall(r"ada\.|ab/cd|ab%2fcd|CANARY", text) == []


def test_short_secrets_are_not_replaced_inside_other_text(tmp_path: Path) -> None:
    """A cookie `a=1` and a short given name stay out of JSON and URLs but where they stand whole (P2 #8)."""
    user = {"userName": "someone.long@example.com", "name": {"givenName": "Al"}, "title": "Al's deputy"}
    text, told = record(
        tmp_path,
        exchange(f"{TARGET}/Users", user, [("Cookie", "s=1")]),
        exchange(f"{TARGET}/Users?filter=name.givenName+eq+%22Al%22&count=1"),
    )
    entries = json.loads((tmp_path / "out" / "traffic.har").read_text(encoding="utf-8"))["log"]["entries"]
    assert entries[0]["response"]["content"]["text"] == '{"Resources": [], "note": "a=1", "count": "1"}'
    created = entries[0]["request"]["postData"]["text"]
    assert "Al's deputy" in created and '"givenName": "REDACTED-short-1"' in created
    assert entries[1]["request"]["url"].endswith("?filter=name.givenName+eq+%22REDACTED-short-1%22&count=1")
    assert "%22Al%22" not in text and '"Al"' not in text and '\\"Al\\"' not in text
    assert any("1 personal values are shorter than 8" in line for line in told)


def test_the_case_id_is_the_next_free_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """P3 #15."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "earlier.yaml").write_text("id: ENTRA-REC-001\n", encoding="utf-8")
    text, _ = record(tmp_path, exchange(f"{TARGET}/Users"))
    assert "id: ENTRA-REC-002" in text
    text, _ = record(tmp_path, exchange(f"{TARGET}/Users"), case_id="ENTRA-REC-007")
    assert "id: ENTRA-REC-007" in text
    assert main(["record", "--upstream", TARGET, "--out", str(tmp_path), "--case-id", "REC-1"]) == 2
    assert "--case-id REC-1: not an Entra case id" in capsys.readouterr().err
