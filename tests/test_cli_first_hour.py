"""A newcomer's first hour (issue 15, items 5 and 7): the case names the tool prints select those cases with
`-k`, a selection of nothing is one line and exit 2, `--format json` is a document on stdout, and every
settings mistake says where the bad value came from."""

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from scimconform.catalogue import load_catalogue
from scimconform.cli import main
from scimconform.datafiles import data_dir
from scimconform.reporting.results import case_name
from scimconform.settings import DIALECT_NAMES, load_settings
from tests.harness import TOKEN, run_cli


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)


def one_error_line(err: str) -> str:
    """The one `scimconform: error:` line of `err`, which holds no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("scimconform: error:")]
    assert len(lines) == 1, err
    return lines[0]


# --- -k with the names every report prints ----------------------------------------------------------------


def test_printed_names_select_exactly_those_cases(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    selection = "ENTRA-USER-010 or ENTRA-USER-011[tutorial] or ENTRA-CONN-001"
    outcome = run_cli(capsys, tmp_path, "-k", selection)
    assert outcome.code == 0, outcome.err
    ran = {case_name(case["id"], case["dialect"]) for case in outcome.summary["cases"]}
    assert ran == {f"ENTRA-USER-010[{d}]" for d in DIALECT_NAMES} | {"ENTRA-USER-011[tutorial]", "ENTRA-CONN-001"}


def test_no_printed_name_selects_another_case() -> None:
    """pytest's -k matches a word inside a test's name (`test_case[ENTRA-USER-010[default]]`, case aside): a
    printed name selects only its own case as long as no name holds another."""
    names = {case.id: case.uses_dialect for case in load_catalogue()}
    items = [case_name(i, d) for i, per in names.items() for d in (DIALECT_NAMES if per else (None,))]
    for printed in [*names, *items]:
        selected = {item for item in items if printed.lower() in f"test_case[{item}]".lower()}
        assert selected == {item for item in items if item == printed or item.startswith(f"{printed}[")}, printed


@pytest.fixture
def silent_target() -> Iterator[tuple[str, socket.socket]]:
    """A Tenant URL whose listener accepts nothing: a request sent to it would wait in its backlog."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/scim", listener


@pytest.mark.parametrize(
    ("selection", "cause", "nearest"),
    [
        ("ENTRA-USR-010", "-k 'ENTRA-USR-010' selects no case", "ENTRA-USER-010"),
        ("ENTRA-USER-010[defualt]", "selects no case", "ENTRA-USER-010[default]"),
        ("ENTRA-USER-010 ENTRA-USER-011", "is not a valid selection", "ENTRA-USER-011"),
        ("ENTRA-USER-010 or (", "is not a valid selection", "ENTRA-USER-010"),
    ],
)
def test_a_selection_of_nothing_is_one_line_exit_2_and_sends_nothing(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    silent_target: tuple[str, socket.socket],
    selection: str,
    cause: str,
    nearest: str,
) -> None:
    url, listener = silent_target
    outcome = run_cli(capsys, tmp_path, "--url", url, "-k", selection)
    assert outcome.code == 2
    line = one_error_line(outcome.err)
    assert cause in line and "nearest:" in line and nearest in line.partition("nearest:")[2], line
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected: nothing was sent
    assert not (tmp_path / "summary.json").exists(), "a run that never started has no verdict"


# --- --format json -----------------------------------------------------------------------------------------


def test_run_format_json_prints_the_summary_alone(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    outcome = run_cli(capsys, tmp_path, "--format", "json", "-k", "ENTRA-CONN-001")
    assert outcome.code == 0, outcome.err
    document = json.loads(outcome.out)
    schema = json.loads((data_dir("schemas") / "summary.json").read_text(encoding="utf-8"))
    Draft202012Validator(schema).validate(document)
    assert document == outcome.summary
    assert [case["id"] for case in document["cases"]] == ["ENTRA-CONN-001"]
    assert document["workers"] == 1, "the embedded server: one process"


def test_list_format_json_is_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--format", "json"]) == 0
    cases = {case["id"]: case for case in json.loads(capsys.readouterr().out)}
    assert set(cases) == {case.id for case in load_catalogue()}
    user = cases["ENTRA-USER-010"]
    assert {"title", "severity", "evidence", "source", "link", "fix", "requirement"} <= set(user)
    assert user["per_dialect"] and user["names"] == [f"ENTRA-USER-010[{d}]" for d in DIALECT_NAMES]
    assert not cases["ENTRA-CONN-001"]["per_dialect"] and cases["ENTRA-CONN-001"]["names"] == ["ENTRA-CONN-001"]


# --- where a setting came from ----------------------------------------------------------------------------


def test_a_bad_flag_names_the_command_line_not_a_settings_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no scimconform.yaml here
    assert main(["run", "--rate", "abc"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--rate on the command line: setting 'rate' has an invalid value 'abc'" in line
    assert "scimconform.yaml" not in line


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("users: 3\nrate: abc\n", "settings.yaml line 2: setting 'rate' has an invalid value 'abc'"),
        ("users: 3\nrate: ${RATE}\n", "settings.yaml line 2, environment variable RATE: setting 'rate'"),
        ("rate: 0\n", "rate must be a positive number of requests per second, not 0 (rate in "),
        ("users: 3\n\nusres: 4\n", "settings.yaml line 3: unknown setting 'usres' (did you mean 'users'?)"),
        ("timeout: 5\nheaders:\n  X-Key: ${UNSET_KEY}\n", "line 3: environment variable UNSET_KEY is not set"),
    ],
)
def test_settings_file_mistakes_name_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, where: str
) -> None:
    monkeypatch.setenv("RATE", "abc")
    monkeypatch.delenv("UNSET_KEY", raising=False)
    config = tmp_path / "settings.yaml"
    config.write_text(text)
    assert main(["run", "--config", str(config), "--report-dir", str(tmp_path / "reports")]) == 2
    assert where in one_error_line(capsys.readouterr().err)


def test_the_settings_file_in_the_working_directory_is_announced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scimconform.yaml").write_text("users: 3\n")
    assert main(["run", "--profile", "no-such-profile"]) == 2  # stops after the settings were applied
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "scimconform: settings from ./scimconform.yaml"
    assert "unknown profile 'no-such-profile'" in one_error_line(err)
    (tmp_path / "scimconform.yaml").write_text("users: 0\n")
    assert main(["run"]) == 2
    err = capsys.readouterr().err  # a file that is not applied is not announced: its error names it
    assert err.splitlines() == [one_error_line(err)] and "(users in scimconform.yaml line 1)" in err


def test_an_environment_value_is_kept_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`${VAR}` is replaced in the parsed value: a `#` or `: ` from the environment is not a comment or a key."""
    monkeypatch.setenv("SCOPES", "scim.write #all: of it")
    monkeypatch.setenv("API_KEY", "k#1: two")
    config = tmp_path / "scimconform.yaml"
    config.write_text("oauth_scopes: ${SCOPES}\nheaders:\n  X-Api-Key: ${API_KEY}\n# ${NOT_SET_IN_A_COMMENT}\n")
    settings = load_settings(config)
    assert settings.oauth_scopes == "scim.write #all: of it"
    assert settings.headers == {"X-Api-Key": "k#1: two"}


# --- --timeout and --help ---------------------------------------------------------------------------------


def test_timeout_is_a_run_flag(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "--timeout S" in capsys.readouterr().out
    outcome = run_cli(capsys, tmp_path, "--timeout", "0")
    assert outcome.code == 2
    assert "timeout must be a positive number of seconds, not 0 (--timeout on the command line)" in outcome.err


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"]])
def test_help_shows_examples_and_exit_codes(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert "examples:" in shown and "exit codes:" in shown
    for code in ("0 ", "1 ", "2 ", "130"):
        assert f"\n  {code}" in shown, code


def test_readme_names_every_plugin_option_and_profile(pytestconfig: pytest.Config) -> None:
    """The README lists every `--scim-*` option the plugin declares and every profile that ships."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    group = next(g for g in pytestconfig._parser._groups if g.name == "scimconform")
    options = [name for option in group.options for name in option.names() if name.startswith("--scim-")]
    assert options and [o for o in options if f"`{o}" not in readme] == []
    profiles = [path.stem for path in (data_dir("fixtures") / "profiles").glob("*.yaml")]
    assert len(profiles) >= 3 and [p for p in profiles if f"`{p}`" not in readme] == []
