"""Importing a mapping exported from Entra (Graph synchronizationSchema) as a profile."""

from pathlib import Path

import pytest

from scimconform.cli import main
from scimconform.datafiles import data_dir
from scimconform.errors import ConfigError
from scimconform.profiles import load_profile

EXPORT = data_dir("fixtures") / "imports" / "graph-synchronization-schema.json"


def test_the_example_export_becomes_a_profile() -> None:
    profile = load_profile(str(EXPORT))
    users = {a.path: a for a in profile.users.attributes}
    assert [a.path for a in profile.users.matching_order()] == ["userName", "externalId"]
    assert users["userName"].required and users["userName"].generate == "upn"
    assert users["active"].type == "boolean"
    manager = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
    assert users[manager].type == "reference"
    assert "roles" not in users and profile.users.create_extras == {"roles": []}
    assert profile.groups is not None
    assert [a.path for a in profile.groups.attributes] == ["displayName", "externalId"]


def test_profile_import_writes_a_profile_that_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "contoso.yaml"
    assert main(["profile", "import", str(EXPORT), "-o", str(output)]) == 0
    profile = load_profile(str(output))
    assert profile.name == "contoso"
    assert len(profile.users.attributes) == len(load_profile(str(EXPORT)).users.attributes)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "line 1: not JSON"),
        ('{"directories": []}', "not a Microsoft Graph synchronizationSchema"),
        ('{"synchronizationRules": []}', "the export maps no users"),
    ],
)
def test_a_broken_export_is_named(tmp_path: Path, content: str, message: str) -> None:
    export = tmp_path / "export.json"
    export.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_profile(str(export))


def test_an_unknown_generator_is_refused_before_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "mine.yaml"
    profile.write_text(
        "name: mine\nusers:\n  attributes:\n    - {path: userName, generate: galaxy-name, matching: 1}\n"
    )
    assert main(["run", "--profile", str(profile), "--report-dir", str(tmp_path)]) == 2
    assert "unknown generator 'galaxy-name'" in capsys.readouterr().err
