"""The pytest plugin as users meet it: `pytest suites --scim-url …`, `-k CASE-ID`, and inertness elsewhere."""

import pytest

from scimconform.datafiles import data_dir
from tests.harness import TOKEN, reference_server


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_TOKEN", TOKEN)


def test_select_one_case_by_id_against_a_url(pytester: pytest.Pytester) -> None:
    with reference_server() as url:
        result = pytester.runpytest(str(data_dir("suites")), "--scim-url", url, "-k", "ENTRA-USER-004", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_users.py::test_case[[]ENTRA-USER-004[]] PASSED*",
            "NOT RUN * blocking cases: not selected (-k, or only some suites were run): ENTRA-*, … (summary.json*",
            "Entra gallery readiness: NOT JUDGED for the gallery — * blocking cases did not run*",
        ]
    )
    assert result.ret == 0, "every case that ran passed: CI may go on, the verdict line says what was not judged"
    assert (pytester.path / "reports" / "summary.json").is_file()


def test_a_failure_reads_as_rule_observation_fix_and_reproducer(pytester: pytest.Pytester) -> None:
    with reference_server("false-string-stored") as url:
        result = pytester.runpytest(
            str(data_dir("suites")), "--scim-url", url, "--scim-dialect", "default", "-k", "ENTRA-USER-010"
        )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ENTRA-USER-010 [[]blocking[]] After a PATCH setting active to false*",
            "*request: GET /scim/v2/Users/* → 200",
            "*observed: user schema violated at $.active: 'False' is not of type 'boolean'*",
            '*fix: Accept "False"/"True" strings*',
            "*reproduce: curl -sS -X GET *Authorization: Bearer $SCIM_TOKEN*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_without_a_url_the_embedded_server_is_the_target(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(str(data_dir("suites")), "-k", "ENTRA-CONN-001")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*target embedded reference server*"])


def test_the_cases_collect_without_pytest_xdist(pytester: pytest.Pytester) -> None:
    """Each case carries pytest-xdist's group mark; without xdist loaded, --strict-markers must still know it."""
    result = pytester.runpytest(str(data_dir("suites")), "-p", "no:xdist", "-k", "ENTRA-CONN-001")
    result.assert_outcomes(passed=1)


def test_a_module_that_cannot_be_collected_is_reported_not_a_traceback(pytester: pytest.Pytester) -> None:
    """A collection error reaches the plugin's status hook as a CollectReport: pytest shows the error itself."""
    pytester.makepyfile(test_broken="import no_such_module_here\n")
    result = pytester.runpytest("--scim-dialect", "default", "test_broken.py")
    result.stdout.fnmatch_lines(["*ERROR collecting test_broken.py*"])
    assert "AttributeError" not in result.stdout.str() + result.stderr.str()


def test_the_plugin_leaves_other_test_suites_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "scimconform verdict" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()


def test_another_suites_failures_keep_their_tracebacks_and_outcomes(pytester: pytest.Pytester) -> None:
    """Only a case's typed failure is reported by its message alone: another suite's test that raises one of the
    harness's errors keeps its frames, and its NotApplicable is a failure, not a skip."""
    pytester.makepyfile(
        "from scimconform.errors import ConfigError, NotApplicable\n"
        "def helper_that_raises():\n    raise ConfigError('x')\n"
        "def test_config():\n    helper_that_raises()\n"
        "def test_not_applicable():\n    raise NotApplicable('y')\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    assert "helper_that_raises" in result.stdout.str()


def test_a_bad_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(str(data_dir("suites")), "--scim-dialect", "klingon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown dialect 'klingon'*"])


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--scim-users", "0", "users must be at least 1, not 0 (--scim-users on the command line)"),
        ("--scim-throughput-seconds", "nan", "not nan (--scim-throughput-seconds on the command line)"),
        ("--scim-seed", "many", "--scim-seed on the command line: setting 'seed' has an invalid value 'many'*"),
    ],
)
def test_a_bad_value_is_named_by_the_option_the_user_typed(
    pytester: pytest.Pytester, option: str, value: str, message: str
) -> None:
    """`pytest --scim-users 0` is told about --scim-users, not the CLI's --users."""
    result = pytester.runpytest(str(data_dir("suites")), option, value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])


def test_a_second_stop_halts_the_session_client(pytester: pytest.Pytester) -> None:
    """The ledger's stop (set by a second stop) is the client's halt: after it, not even a retry is sent."""
    pytester.makepyfile(
        "def test_wiring(scim_session):\n"
        "    context = scim_session.context\n"
        "    assert context.ledger.stop is context.client.halt\n"
    )
    pytester.runpytest("-p", "scimconform", "-p", "no:cacheprovider").assert_outcomes(passed=1)
