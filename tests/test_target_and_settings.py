"""Tenant URLs, settings files and their error messages."""

from pathlib import Path

import pytest

from scimconform.errors import ConfigError
from scimconform.settings import load_settings
from scimconform.target import parse_tenant_url


@pytest.mark.parametrize(
    ("url", "base", "dialect"),
    [
        ("https://api.contoso.com/scim/", "https://api.contoso.com/scim", None),
        ("https://api.contoso.com/scim/v2?aadOptscim062020", "https://api.contoso.com/scim/v2", "aadOptscim062020"),
        ("http://127.0.0.1:8080/scim?AzureAdScimPatch2017", "http://127.0.0.1:8080/scim", "default"),
    ],
)
def test_tenant_url_flags_choose_the_dialect_and_stay_off_the_paths(url: str, base: str, dialect: str | None) -> None:
    target = parse_tenant_url(url, "t")
    assert (target.base_url, target.url_dialect) == (base, dialect)
    assert target.url_for("/Users/42") == base + "/Users/42"


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("api.contoso.com/scim", "malformed target URL"),
        ("ftp://x/scim", "malformed"),
        ("https://x/scim?debug=1", "unknown query flag"),
        ("https://x:99999/scim", "invalid port"),
    ],
)
def test_bad_urls_name_the_cause(url: str, cause: str) -> None:
    with pytest.raises(ConfigError, match=cause):
        parse_tenant_url(url, None)


def test_config_file_substitutes_environment_and_cli_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIM_BASE", "https://scim.example.com/v2")
    config = tmp_path / "scimconform.yaml"
    config.write_text("url: ${SCIM_BASE}\nprofile: alohi\nseed: 5\n")
    settings = load_settings(config, seed=9, dialect=None)
    assert (settings.url, settings.profile, settings.seed, settings.dialect) == (
        "https://scim.example.com/v2",
        "alohi",
        9,
        "all",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("url: ${NOT_SET_ANYWHERE}\n", "line 1: environment variable NOT_SET_ANYWHERE is not set"),
        ("profile: [unclosed\n", "invalid YAML"),
        ("colour: blue\n", "unknown setting 'colour'"),
        ("seed: many\n", "setting 'seed' has an invalid value"),
        ("dialect: klingon\n", "unknown dialect 'klingon'"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_broken_config_files_get_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "scimconform.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config)
