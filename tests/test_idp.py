"""The identity-provider seam: a second provider, defined here and nowhere else, runs its own cases through the
replay engine and its own traffic through the load workload; neither names Entra."""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from scimconform import idp
from scimconform.catalogue import load_case, load_catalogue
from scimconform.client import RecordingClient
from scimconform.dialects import DIALECTS
from scimconform.engine.case_run import CaseRun
from scimconform.engine.context import RunContext
from scimconform.errors import ConfigError
from scimconform.events import EventStream
from scimconform.exchange import Exchange
from scimconform.identities import Identity, IdentityFactory, new_run_tag
from scimconform.idp.entra import create_body
from scimconform.ledger import Ledger
from scimconform.load.runner import Runner
from scimconform.load.workload import Workload
from scimconform.profiles import ObjectMapping, load_profile
from scimconform.server import ReferenceServer, serve_in_thread
from scimconform.target import parse_tenant_url
from tests.harness import TOKEN, Titles
from tests.test_members_not_returned import MembersNotReturned

PACKAGE = Path(__file__).parents[1] / "scimconform"
# What only a provider may name: Entra's name in any case, and its flag dialect.
PROVIDER_NAMES = re.compile(r"Entra|ENTRA|aadOptscim062020|(?<![A-Za-z])entra(?![A-Za-z])")

HEADER = """title: {title}
requirement: {title}.
source: the stub provider's own notes
link: https://stub.example/scim
severity: blocking
fix: Do what the stub sends.
feature: {feature}
story: {title}
"""
USER_CASE = """id: STUB-001
identities: {alice: User}
steps:
  - match: alice
  - create: alice
  - name: Read alice back
    request: {method: GET, path: '/Users/{alice.id}'}
    expect: {status: 200, id: alice, values: alice}
  - verify: alice
"""
GROUP_CASE = """id: STUB-002
requires: [groups]
identities: {team: Group, bob: User, carol: User}
setup:
  - create: bob
  - create: carol
  - create: team
steps:
  - name: The stub adds two members
    request: {method: PATCH, path: '/Groups/{team.id}', body: {patch: {add-members: {of: team, members: [bob, carol]}}}}
    expect: {status: [200, 204]}
  - verify: team
"""


def first_match_only(mapping: ObjectMapping, identity: Identity) -> list[idp.MatchQuery]:
    """The stub looks an object up by its first matching attribute only, one page of a hundred."""
    path = mapping.matching_order()[0].path
    query = {"filter": mapping.match_filter(identity.values, path), "startIndex": "1", "count": "100"}
    return [idp.MatchQuery(path, query)]


def member_query(group: str, user: str) -> dict[str, str]:
    return {"filter": f'id eq "{group}" and members eq "{user}"', "excludedAttributes": "members"}


@pytest.fixture
def stub(tmp_path: Path) -> idp.Provider:
    """A provider of its own, with its case files in tmp_path."""
    sequences = tmp_path / "sequences"
    for folder, name, text in (("users", "Create a user", USER_CASE), ("groups", "Add two members", GROUP_CASE)):
        (sequences / folder).mkdir(parents=True)
        header = HEADER.format(title=name, feature=folder.title())
        (sequences / folder / "001.yaml").write_text(header + text, encoding="utf-8")
    return idp.Provider(
        key="stub",
        name="Stub IdP",
        case_id=re.compile(r"^STUB-\d{3}$"),
        epic="Stub provisioning",
        sequences=sequences,
        default_profile="entra-default",
        dialects={"default": DIALECTS["default"]},
        default_dialect="default",
        url_flags={"stubFlag": "default"},
        tls_ciphers="ECDHE-RSA-AES128-GCM-SHA256",
        members_per_patch=2,
        match_queries=first_match_only,
        member_query=member_query,
        create_body=create_body,
    )


@pytest.fixture
def members_not_returned() -> Iterator[str]:
    """A reference server that leaves members out of a group read by id, so the engine asks member by member."""
    with serve_in_thread(MembersNotReturned(token=TOKEN)) as url:
        yield url


def test_a_registered_provider_is_found_by_key(monkeypatch: pytest.MonkeyPatch, stub: idp.Provider) -> None:
    monkeypatch.setitem(idp.PROVIDERS, stub.key, stub)
    assert idp.provider("stub") is stub
    assert idp.provider() is idp.PROVIDERS["entra"]
    with pytest.raises(ConfigError, match="unknown identity provider 'okta': choose one of entra, stub"):
        idp.provider("okta")


def test_the_catalogue_loads_the_providers_own_cases(stub: idp.Provider) -> None:
    cases = load_catalogue(stub)
    assert [(c.id, c.suite, c.epic) for c in cases] == [
        ("STUB-001", "users", "Stub provisioning"),
        ("STUB-002", "groups", "Stub provisioning"),
    ]
    assert all(c.id.startswith("ENTRA-") for c in load_catalogue())  # the default provider's are untouched


def test_a_case_of_another_provider_is_refused_with_its_file(stub: idp.Provider) -> None:
    path = next(p for p in sorted(stub.sequences.rglob("*.yaml")) if "STUB-001" in p.read_text())
    with pytest.raises(ConfigError, match=re.escape(f"{path}: case id STUB-001 is not a Microsoft Entra ID case id")):
        load_case(path)


def test_the_tenant_url_flags_are_the_providers(stub: idp.Provider) -> None:
    assert parse_tenant_url("https://scim.example.com/v2?STUBFLAG", None, stub).url_dialect == "default"
    with pytest.raises(ConfigError, match=r"unknown query flag 'aadOptscim062020' \(known: stubFlag\)"):
        parse_tenant_url("https://scim.example.com/v2?aadOptscim062020", None, stub)


def test_a_provider_that_picks_a_dialect_it_does_not_speak_is_refused(stub: idp.Provider) -> None:
    with pytest.raises(ValueError, match="provider stub picks a dialect it does not speak"):
        replace(stub, url_flags={"stubFlag": "tutorial"})


def test_the_engine_replays_the_stub_providers_cases(stub: idp.Provider, members_not_returned: str) -> None:
    """No engine change: the stub's match query, member query, epic and name all reach the wire or the report."""
    client = RecordingClient(parse_tenant_url(members_not_returned, TOKEN, stub))
    sent: list[Exchange] = []
    client.listeners.append(sent.append)
    observer, run_tag = Titles(), new_run_tag()
    context = RunContext(
        client=client,
        profile=load_profile(stub.default_profile),
        factory=IdentityFactory(3, run_tag),
        ledger=Ledger(run_tag=run_tag),
        events=EventStream([observer]),
        provider=stub,
    )
    try:
        for case in load_catalogue(stub):
            run = CaseRun(case, "default" if case.uses_dialect else None, context)
            run.run()
            assert run.cleanup() == [], case.id
    finally:
        client.close()
    lookups = [e.url for e in sent if e.method == "GET" and e.url.endswith("&startIndex=1&count=100")]
    assert len(lookups) == 2, lookups  # alice's match before her create, and again when she is verified
    assert "alice holds what Stub IdP sent" in observer.titles
    asked = [e.url for e in sent if "members+eq" in e.url]
    assert len(asked) == 2 and all(url.endswith("&excludedAttributes=members") for url in asked), asked


def test_the_load_workload_sends_the_stub_providers_traffic(stub: idp.Provider) -> None:
    workload = Workload(
        profile=load_profile(stub.default_profile),
        dialect=stub.dialects[stub.default_dialect],
        factory=IdentityFactory(4, new_run_tag()),
        users=5,
        provider=stub,
    )
    planned = {phase.name: phase.requests for phase in workload.phases()}
    assert (planned["users"], planned["members"]) == (5 * 2, 3)  # one match query per user; batches of two
    with serve_in_thread(ReferenceServer(token=TOKEN)) as url:
        result = Runner(parse_tenant_url(url, TOKEN, stub), workload, concurrency=2, rate=None).run(io.StringIO())
    assert result.ok and result.leftovers == [], workload.problems
    assert result.to_json()["operations"]["add-members"]["count"] == 3


def _named(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every string constant (docstrings and f-string parts too) and every name the code defines or uses."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value
        elif isinstance(node, ast.Name):
            yield node.lineno, node.id
        elif isinstance(node, ast.Attribute):
            yield node.lineno, node.attr
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.lineno, node.name
        elif isinstance(node, ast.arg):
            yield node.lineno, node.arg
        elif isinstance(node, ast.alias):
            yield node.lineno, f"{node.name} {node.asname or ''}"
        elif isinstance(node, ast.keyword) and node.arg:
            yield node.lineno, node.arg


@pytest.mark.parametrize("room", ["engine", "load"])
def test_the_engine_and_the_load_workload_name_no_provider(room: str) -> None:
    """Comments may cite a provider's documentation; code and docstrings ask the provider in their context."""
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}"
        for path in sorted((PACKAGE / room).rglob("*.py"))
        for line, text in _named(ast.parse(path.read_text(encoding="utf-8")))
        if PROVIDER_NAMES.search(text)
    ]
    assert found == []


def test_the_provider_name_check_finds_what_it_looks_for() -> None:
    code = 'class EntraUser:\n    """Sends aadOptscim062020."""\n    entra_tls = f"{x} ENTRA-USER"\n# Entra, a note\n'
    assert sorted(line for line, text in _named(ast.parse(code)) if PROVIDER_NAMES.search(text)) == [1, 2, 3, 3]
    assert not PROVIDER_NAMES.search("the central dialect")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("owns: [create User]\n", "'create User' is already owned by STUB-001"),
        (
            "steps:\n  - name: Read\n    owner: STUB-404\n    request: {method: GET, path: /Users}\n",
            "names owner STUB-404",
        ),
        ("steps:\n  - name: Read\n    needs: Write\n    request: {method: GET, path: /Users}\n", "needs 'Write'"),
        ("evidence: inferred\n", "an inferred request shape never fails a run on its own: make STUB-003 a warning"),
        ("alone: at-scale\n", "alone: at-scale needs a list of `count: users` identities, which --users grows"),
    ],
    ids=["owned-twice", "unknown-owner", "needs-no-earlier-step", "inferred-but-blocking", "at-scale-without-users"],
)
def test_who_judges_what_is_checked_when_the_catalogue_loads(stub: idp.Provider, extra: str, message: str) -> None:
    """`owns`, `owner` and `needs` tie a case to others and to its own steps, and `evidence` bounds its severity:
    a dangling tie or a blocking guess is refused with its file, before anything is sent."""
    (stub.sequences / "users" / "001.yaml").write_text(
        HEADER.format(title="Create a user", feature="Users") + "owns: [create User]\n" + USER_CASE, encoding="utf-8"
    )
    body = (
        extra
        if extra.startswith("steps")
        else extra + "steps:\n  - name: Read\n    request: {method: GET, path: /Users}\n"
    )
    path = stub.sequences / "users" / "002.yaml"
    path.write_text(HEADER.format(title="Read", feature="Users") + "id: STUB-003\n" + body, encoding="utf-8")
    load_catalogue.cache_clear()
    with pytest.raises(ConfigError, match=re.escape(message)) as refused:
        load_catalogue(stub)
    assert str(path) in str(refused.value)
