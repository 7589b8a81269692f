"""`scimconform replay`: a recording replayed against another endpoint, ids rewritten; differences reported
(exit 1), none on an endpoint like the recorded one (exit 0); it never touches what it did not create and
leaves nothing behind."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from httpx import post

from scimconform.cli import main
from scimconform.server import ReferenceServer, serve_in_thread
from tests.traffic import TOKEN, record_cycle, upstream


@pytest.fixture(scope="module")
def har(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("recording")
    record_cycle(out)
    return out / "traffic.har"


def replay(capsys: pytest.CaptureFixture[str], har: Path, app: ReferenceServer) -> tuple[int, str]:
    with pytest.MonkeyPatch.context() as patch, serve_in_thread(app) as url:
        patch.setenv("SCIM_TOKEN", TOKEN)
        code = main(["replay", "--har", str(har), "--url", url])
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err
    return code, captured.out


def test_nothing_differs_on_a_clean_server(capsys: pytest.CaptureFixture[str], har: Path) -> None:
    app = upstream()
    code, out = replay(capsys, har, app)
    assert code == 0, out
    assert "replayed 9 of 10 exchanges: 0 differ, 1 skipped, 0 left behind" in out  # the token request
    assert app.resource_count() == {"User": 0, "Group": 0}


def test_a_fault_shows_as_a_difference(capsys: pytest.CaptureFixture[str], har: Path) -> None:
    code, out = replay(capsys, har, upstream("pascalcase-op-rejected"))
    assert code == 1
    assert re.search(r"DIFFERS #5 PATCH /Users/\S+ → status 400, recorded 200; new in the answer: .*scimType", out)


def entry(method: str, url: str, status: int, body: Any = None, answer: Any = None) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "url": url, "headers": []}
    if body is not None:
        request["postData"] = {"mimeType": "application/scim+json", "text": json.dumps(body)}
    return {
        "request": request,
        "response": {"status": status, "content": {"text": json.dumps(answer) if answer else ""}},
    }


def test_it_changes_only_what_it_created_and_deletes_what_it_left(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = ReferenceServer(token=TOKEN)
    base = "https://recorded.example/scim/v2"
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "someone@example.com"}
    with pytest.MonkeyPatch.context() as patch, serve_in_thread(app) as url:
        patch.setenv("SCIM_TOKEN", TOKEN)
        foreign = post(f"{url}/Users", json=user, headers={"Authorization": f"Bearer {TOKEN}"}).json()["id"]
        entries = [
            entry("POST", f"{base}/Users", 201, {**user, "userName": "new@example.com"}, {"id": "rec-1"}),
            entry(
                "PATCH",
                f"{base}/Users/rec-1",
                204,
                {"schemas": [], "Operations": [{"op": "replace", "path": "active", "value": False}]},
            ),
            entry("DELETE", f"{base}/Users/{foreign}", 204),
            entry("PATCH", f"{base}/Users/{foreign}", 204, {"Operations": []}),
            entry("POST", f"{base}/Bulk", 200, {"Operations": []}),
        ]
        har = tmp_path / "made.har"
        har.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}), encoding="utf-8")
        code = main(["replay", "--har", str(har), "--url", url])
        out = capsys.readouterr().out
        assert app.resource_count()["User"] == 1  # the foreign user is there still; the replay's own is gone
    assert "SKIPPED #3 DELETE" in out and "SKIPPED #4 PATCH" in out and "SKIPPED #5 POST" in out
    assert "replayed 2 of 5 exchanges" in out and "0 left behind" in out
    assert code == 1  # the PATCH answered 200 with the user where 204 was recorded


@pytest.mark.parametrize("text", ["not json", '{"log": {}}', '{"log": {"entries": [{"request": {}}]}}'])
def test_a_file_that_is_no_har_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str) -> None:
    har = tmp_path / "x.har"
    har.write_text(text, encoding="utf-8")
    assert main(["replay", "--har", str(har), "--url", "http://127.0.0.1:9/scim"]) == 2
    err = capsys.readouterr().err
    assert "not a HAR 1.2 file" in err and len(err.strip().splitlines()) == 1


def test_replay_needs_a_url(capsys: pytest.CaptureFixture[str], har: Path) -> None:
    assert main(["replay", "--har", str(har)]) == 2
    assert "replay needs --url" in capsys.readouterr().err
