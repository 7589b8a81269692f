"""The case catalogue and the profiles: every file loads, every bad file is named precisely."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from scimconform import documents
from scimconform.catalogue import load_case, load_catalogue
from scimconform.datafiles import data_dir
from scimconform.dialects import DIALECTS, Change
from scimconform.engine.expectations import CHECKS
from scimconform.engine.steps import STEP_KINDS
from scimconform.errors import ConfigError
from scimconform.identities import IdentityFactory
from scimconform.idp import provider
from scimconform.profiles import available_profiles, load_profile
from scimconform.validation import schema_errors


def test_every_case_has_its_metadata() -> None:
    cases = load_catalogue()
    assert len(cases) >= 30
    for case in cases:
        assert provider().case_id.match(case.id), case.id
        assert case.requirement.endswith("."), case.id
        assert case.link and case.link.startswith("https://"), case.id


def test_engine_handles_every_expectation_the_sequence_schema_allows() -> None:
    schema = json.loads((data_dir("schemas") / "sequence.json").read_text())
    assert set(schema["$defs"]["expect"]["properties"]) == set(CHECKS)


def test_every_step_kind_of_the_schema_has_one_class() -> None:
    """A step kind is one class in engine/steps.py and one `$defs/<kind>Step` in the schema, marked by its key."""
    schema = json.loads((data_dir("schemas") / "sequence.json").read_text())
    kinds = [ref["$ref"].rsplit("/", 1)[-1] for ref in schema["$defs"]["step"]["oneOf"]]
    keys = {next(iter(schema["$defs"][kind]["required"])) for kind in kinds}
    assert keys == set(STEP_KINDS)
    assert all(STEP_KINDS[key].__name__.lower() == key for key in keys)


BASE = "".join(f"{k}: x\n" for k in ("title", "requirement", "source", "fix", "feature", "story"))
BASE += "id: ENTRA-TEST-001\nseverity: blocking\n"
STEP = "steps: [{request: {method: GET, path: /x}}]\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: ENTRA-TEST-001\n", "line 1: field (top level): 'title' is a required property"),
        (
            BASE.replace("blocking", "fatal") + STEP,
            "line 8: field severity: 'fatal' is not one of ['blocking', 'warning']",
        ),
        (BASE + STEP + "colour: red\n", "'colour' was unexpected"),
        (BASE + "steps: [{request: {method: GET}}]\n", "line 9: field steps.0.request: 'path' is a required property"),
        (
            BASE + "steps:\n  - request: {method: GET, path: /x}\n    expect: {shape: round}\n",
            "line 11: field steps.0.expect",
        ),
        (BASE + "steps: [{request: {method: GET, path: /x, body: {xml: 1}}}]\n", "field steps.0.request.body"),
        (BASE + "steps: []\n", "field steps: [] should be non-empty"),
    ],
)
def test_a_malformed_case_is_named_with_file_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(str(path)) + ".*" + re.escape(message)):
        load_case(path)


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match="unknown profile 'nope': choose one of alohi, custom-extension, entra-default"
    ):
        load_profile("nope")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\n", "line 1: field (top level): 'users' is a required property"),
        (
            "name: x\nusers:\n  attributes:\n    - {path: userName}\n",
            "line 4: field users.attributes.0: 'generate' is a required property",
        ),
        (
            "name: x\nusers:\n  attributes:\n    - {path: userName, generate: upn, matching: one}\n",
            "line 4: field users.attributes.0.matching: 'one' is not of type 'integer'",
        ),
        ("name: x\nusers: {attributes: [{path: userName, generate: upn}]}\n", "no attribute is marked matching"),
    ],
)
def test_a_malformed_profile_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(str(path)) + ".*" + re.escape(message)):
        load_profile(str(path))


# -- every request body Entra would send validates against schemas/, with only the declared deviations --


def _deviations(dialect: str) -> list[re.Pattern[str]]:
    entries: list[dict[str, Any]] = yaml.safe_load((data_dir("fixtures") / "entra-deviations.yaml").read_text())
    return [
        re.compile(re.escape(e["at"]).replace(r"\[\*\]", r"\[\d+\]") + ":") for e in entries if dialect in e["dialects"]
    ]


@pytest.mark.parametrize("profile_name", available_profiles())
def test_create_bodies_are_valid_scim_requests(profile_name: str) -> None:
    profile = load_profile(profile_name)
    factory = IdentityFactory(seed=1, run_tag="scf000000")
    for mapping, schema in ((profile.users, "user#/$defs/request"), (profile.groups, "group#/$defs/request")):
        if mapping is not None:
            body = mapping.create_body(factory.new(mapping).values)
            assert schema_errors(body, schema) == []


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("profile_name", available_profiles())
def test_patch_bodies_break_only_the_declared_deviations(profile_name: str, dialect: str) -> None:
    profile = load_profile(profile_name)
    identity = IdentityFactory(seed=1, run_tag="scf000000").new(profile.users)
    updatable = {a.path: identity.values[a.path] for a in profile.users.select("updatable")}
    changes = [
        [Change("replace", updatable)],
        [Change("add", dict(list(updatable.items())[:1]))],
        [Change("replace", {"active": False})],
        [Change("add-members", {"a": None, "b": None})],
        [Change("remove-members", {"a": None})],
    ]
    allowed = _deviations(dialect)
    for change in changes:
        errors = schema_errors(DIALECTS[dialect].render(change), "patch-op")
        assert [e for e in errors if not any(p.match(e) for p in allowed)] == []


def test_one_seed_gives_each_worker_values_of_its_own_and_a_serial_run_the_same_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pytest-xdist workers share the run's seed: the same values in two of them could collide on a server that
    keeps an externalId unique while their cases run at once."""
    groups = load_profile("entra-default").groups
    assert groups is not None
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    serial = [IdentityFactory(seed=7, run_tag="scf000000").new(groups).values for _ in range(2)]
    assert serial[0] == serial[1]
    by_worker = []
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        values = IdentityFactory(seed=7, run_tag="scf000000").new(groups).values
        by_worker.append({path: value for path, value in values.items() if path != "displayName"})
    assert by_worker[0] != by_worker[1] and all(by_worker), by_worker


def test_a_text_found_valid_is_trusted_only_as_it_is_against_its_schema(tmp_path: Path) -> None:
    """A pytest-xdist worker takes its controller's digests and skips validating what it already checked: the
    same bytes against the same schema. Any edit, or another schema, is validated again."""
    valid, invalid = tmp_path / "valid.yaml", tmp_path / "invalid.yaml"
    valid.write_text(BASE + STEP)
    invalid.write_text(BASE + STEP + "colour: red\n")
    documents.load_document(valid, "sequence.json")
    assert documents.validated_digests(), "a valid text is remembered"
    with pytest.raises(ConfigError, match="'colour' was unexpected"):
        documents.load_document(invalid, "sequence.json")  # nothing is remembered of an invalid text

    documents.trust_validated(["0" * 64])  # digests of other texts change nothing
    with pytest.raises(ConfigError, match="'colour' was unexpected"):
        documents.load_document(invalid, "sequence.json")
    with pytest.raises(ConfigError, match=re.escape(str(valid))):
        documents.load_document(valid, "profile.json")  # the same text against another schema
    valid.write_text(BASE.replace("title: x\n", "") + STEP)
    with pytest.raises(ConfigError, match="'title' is a required property"):
        documents.load_document(valid, "sequence.json")  # an edited file


def test_a_worker_validates_nothing_its_controller_validated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `pytest_configure_node` hands a worker: every digest the controller holds after loading the catalogue."""
    case = tmp_path / "case.yaml"
    case.write_text(BASE + STEP)
    documents.load_document(case, "sequence.json")
    handed = documents.validated_digests()

    monkeypatch.setattr(documents, "_VALID", set())  # a new worker process
    documents.trust_validated(handed)
    monkeypatch.setattr(documents, "validated", lambda *args: pytest.fail("validated again"))
    assert documents.load_document(case, "sequence.json")["id"] == "ENTRA-TEST-001"
