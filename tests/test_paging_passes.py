"""Paging over a collection that other clients change. RFC 7644 §3.4.2.4 lets results differ between
requests, so a pass that loses a resource is repeated: one lost pass and the case still passes; a
different loss in every pass leaves it undecided (an error). Servers that lose the same resources every time fail
(tests/test_verdicts.py, faults pagination-ignored and startindex-zero-based). ENTRA-USER-016 pages
completely; the gallery's case checks the startIndex only."""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from scimconform.server import ReferenceServer, serve_in_thread
from scimconform.server.resources import RESOURCE_TYPES
from tests.harness import TOKEN, run_cli


class BusyTenant(ReferenceServer):
    """Another client deletes one of its own users just before the harness reads a second page, on the
    passes numbered in `deleting_on`."""

    def __init__(self, deleting_on: set[int]) -> None:
        super().__init__(token=TOKEN)
        self.deleting_on = deleting_on
        self.bystanders: list[str] = []
        self._second_pages = itertools.count(1)

    def _list(self, request: Request, kind: str) -> Response:
        if request.args.get("startIndex") == "6" and next(self._second_pages) in self.deleting_on:
            self._store.delete(RESOURCE_TYPES[kind], self.bystanders.pop(0))
        return super()._list(request, kind)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)


@pytest.mark.parametrize(
    ("deleting_on", "status"), [({1}, "passed"), ({1, 2, 3, 4, 5}, "error")], ids=["once", "always"]
)
def test_a_changing_collection_is_paged_again(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, deleting_on: set[int], status: str
) -> None:
    app = BusyTenant(deleting_on)
    with serve_in_thread(app) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as other_client:
            for index in range(5):  # listed before the case's own users, so deleting one shifts the pages
                created = other_client.post("/Users", json={"userName": f"bystander-{index}@example.com"})
                app.bystanders.append(created.json()["id"])
        outcome = run_cli(capsys, tmp_path, "--url", url, "-k", "ENTRA-USER-016")
    [case] = outcome.summary["cases"]
    assert case["status"] == status, case
    steps = "".join(path.read_text() for path in (tmp_path / "allure-results").glob("*-result.json"))
    assert "Pass 1: 1 created resources never appeared on any page" in steps
    if status == "error":
        assert case["message"].startswith("the collection changed while paging (other clients at work")
